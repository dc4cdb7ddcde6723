//! IP Messenger in the engine core, on a simulated clock: its messages go through the same
//! history, receipts and outbox as a qqchat peer's, and its clients become neighbours.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use qqchat::contacts::Contact;
use qqchat::engine::{
    Command, CoreOptions, DiskFiles, EngineCore, EngineEvent, FilesSetup, LanFileJob,
    LanFileReport, LanOptions, NeighbourKind, Now, OFFER_LIFETIME, Output, SeededIds,
};
use qqchat::proto::transfer::Manifest;
use qqchat::proto::{Config, PeerId};
use qqchat_ipmsg::consts::{BR_ENTRY, BR_EXIT, CAPUTF8OPT, SENDCHECKOPT, SENDMSG, UTF8OPT};

const WANG: &str = "192.0.2.30:2425";

struct Sim {
    core: EngineCore,
    start: Instant,
    elapsed: Duration,
    events: Vec<EngineEvent>,
    /// IP Messenger datagrams sent, as text (they are ASCII and UTF-8 here).
    sent: Vec<(SocketAddr, String)>,
}

impl Sim {
    fn new() -> Sim {
        Sim::announcing(true)
    }

    /// With `announce` false, the core of a one-off command (`qqchat send`, `send-file`).
    fn announcing(announce: bool) -> Sim {
        let mut wang = Contact::at("wang", WANG.parse().expect("an address"));
        wang.ipmsg = true;
        let mut options = CoreOptions::new(Config::new(1));
        options.contacts = vec![wang];
        options.queue_failed = true;
        options.lan = Some(LanOptions {
            nick: "alice".into(),
            group: "dev".into(),
            user: "alice".into(),
            host: "box".into(),
            broadcasts: vec!["192.0.2.255".parse().expect("an address")],
            local_ips: vec![IpAddr::from([192, 0, 2, 10])],
            port: 2425,
            first_packet_no: 1_800_000_000,
            announce,
        });
        let mut sim = Sim {
            core: EngineCore::new(options, Box::new(SeededIds::new(1))),
            start: Instant::now(),
            elapsed: Duration::ZERO,
            events: Vec::new(),
            sent: Vec::new(),
        };
        let now = sim.now();
        sim.core.start(now, None);
        sim.collect();
        sim
    }

    fn now(&self) -> Now {
        Now {
            mono: self.start + self.elapsed,
            wall: Timestamp::from_second(1_800_000_000)
                .expect("a time")
                .checked_add(self.elapsed)
                .expect("a time"),
        }
    }

    fn collect(&mut self) {
        let now = self.now();
        let Output { lan, events, .. } = self.core.poll_output(now);
        self.events.extend(events);
        self.sent.extend(
            lan.into_iter()
                .map(|t| (t.dst, String::from_utf8_lossy(&t.payload).into_owned())),
        );
    }

    /// Runs the timers for `span`.
    fn advance(&mut self, span: Duration) {
        let end = self.elapsed + span;
        while let Some(next) = self.core.poll_timeout() {
            let at = next.saturating_duration_since(self.start);
            if at > end {
                break;
            }
            self.elapsed = self.elapsed.max(at);
            let now = self.now();
            self.core.handle_timeout(now);
            self.collect();
        }
        self.elapsed = end;
    }

    fn wang_says(&mut self, packet: &str) {
        let now = self.now();
        self.core
            .handle_lan_datagram(now, WANG.parse().expect("an address"), packet.as_bytes());
        self.collect();
    }

    /// The packet numbers of our SENDMSGs to wang with `text`.
    fn sendmsgs(&self, text: &str) -> Vec<String> {
        self.sent
            .iter()
            .filter(|(to, p)| to.to_string() == WANG && p.contains(text))
            .filter_map(|(_, p)| p.split(':').nth(1).map(str::to_owned))
            .collect()
    }
}

fn wang() -> PeerId {
    PeerId::addr(WANG.parse().expect("an address"))
}

fn wang_addr() -> SocketAddr {
    WANG.parse().expect("an address")
}

/// Each datagram sent as (destination, command without its options).
fn commands(sim: &Sim) -> Vec<(String, u32)> {
    sim.sent
        .iter()
        .filter_map(|(to, p)| {
            let command = p.split(':').nth(4)?.parse::<u32>().ok()?;
            Some((to.to_string(), command & 0xFF))
        })
        .collect()
}

fn say_to_wang(sim: &mut Sim, id: u64, text: &str) {
    let now = sim.now();
    sim.core.handle_command(
        now,
        Command::Send {
            to: wang(),
            text: text.into(),
            plain: false,
            id,
        },
    );
    sim.collect();
}

fn goodbye(sim: &mut Sim) {
    let now = sim.now();
    sim.core.goodbye(now);
    sim.collect();
}

#[test]
fn a_one_off_send_enters_to_its_peer_alone_before_the_message_and_leaves_at_the_end() {
    let mut sim = Sim::announcing(false);
    assert!(sim.sent.is_empty(), "nothing broadcast: {:?}", sim.sent);
    say_to_wang(&mut sim, 7, "在吗");
    // The entry first, to wang alone, with the broadcast entry's fields; then the message.
    let utf8 = CAPUTF8OPT | UTF8OPT;
    assert_eq!(
        sim.sent,
        [
            (
                wang_addr(),
                format!(
                    "1_qqchat:1800000000:alice:box:{}:alice\0dev\0",
                    BR_ENTRY | utf8
                )
            ),
            (
                wang_addr(),
                format!(
                    "1_qqchat:1800000001:alice:box:{}:在吗\0",
                    SENDMSG | SENDCHECKOPT | utf8
                )
            ),
        ]
    );
    // iptux answers the entry and acknowledges the message.
    sim.wang_says("1_iptux 0.8.3:100:wang:wang-pc:3:王小明\0技术部\0icon-tux.png\0utf-8\0");
    sim.wang_says("1_iptux 0.8.3:101:wang:wang-pc:289:1800000001\0");
    assert!(
        sim.events
            .contains(&EngineEvent::Delivered { to: wang(), id: 7 })
    );
    // Once per peer: the next message goes alone.
    say_to_wang(&mut sim, 8, "还有一件事");
    assert_eq!(sim.sendmsgs("还有一件事").len(), 1);
    let entries = commands(&sim)
        .iter()
        .filter(|(_, c)| *c == BR_ENTRY)
        .count();
    assert_eq!(entries, 1, "{:?}", sim.sent);

    // Stopping tells wang alone that this sender is gone, in what he was last told.
    sim.sent.clear();
    goodbye(&mut sim);
    assert_eq!(sim.sent.len(), 1, "{:?}", sim.sent);
    let (to, exit) = &sim.sent[0];
    assert_eq!(*to, wang_addr());
    let header = format!(":alice:box:{}:alice\0dev\0", BR_EXIT | CAPUTF8OPT);
    assert!(
        exit.starts_with("1_qqchat:") && exit.contains(&header),
        "{exit:?}"
    );
    // Said once, however often the core is told to stop.
    sim.sent.clear();
    goodbye(&mut sim);
    assert!(sim.sent.is_empty(), "{:?}", sim.sent);
}

#[test]
fn a_listening_core_sends_no_entry_of_its_own_its_broadcast_said_it() {
    let mut sim = Sim::new();
    sim.sent.clear();
    say_to_wang(&mut sim, 7, "在吗");
    assert_eq!(commands(&sim), [(WANG.to_owned(), SENDMSG)]);
    sim.sent.clear();
    goodbye(&mut sim);
    assert_eq!(
        commands(&sim),
        [
            ("192.0.2.255:2425".to_owned(), BR_EXIT),
            ("255.255.255.255:2425".to_owned(), BR_EXIT)
        ]
    );
}

#[test]
fn the_entry_is_broadcast_and_an_ip_messenger_client_becomes_a_neighbour() {
    let mut sim = Sim::new();
    let entries: Vec<_> = sim
        .sent
        .iter()
        .filter(|(_, p)| {
            let command = p.split(':').nth(4).and_then(|c| c.parse::<u32>().ok());
            command.is_some_and(|c| c & 0xFF == 1)
        })
        .map(|(to, _)| to.to_string())
        .collect();
    // BR_ENTRY, to the interface's broadcast address and to all.
    assert!(
        entries.contains(&"192.0.2.255:2425".to_owned()),
        "{entries:?}"
    );
    assert!(
        entries.contains(&"255.255.255.255:2425".to_owned()),
        "{entries:?}"
    );
    sim.wang_says("1_iptux 0.8.3:100:wang:wang-pc:1:王小明\0技术部\0icon-tux.png\0utf-8\0");
    let neighbour = sim
        .events
        .iter()
        .find_map(|e| match e {
            EngineEvent::Neighbour(n) => Some(n.clone()),
            _ => None,
        })
        .expect("a neighbour");
    assert_eq!(neighbour.peer, wang());
    assert_eq!(neighbour.name, "王小明");
    assert!(matches!(
        neighbour.kind,
        NeighbourKind::IpMsg { client: "iptux", ref group, .. } if group == "技术部"
    ));
    assert!(sim.events.contains(&EngineEvent::Presence {
        peer: wang(),
        online: true
    }));
    // Its exit: gone, offline.
    sim.wang_says("1_iptux 0.8.3:101:wang:wang-pc:2:王小明\0技术部\0");
    assert!(
        sim.events
            .contains(&EngineEvent::NeighbourGone { peer: wang() })
    );
}

#[test]
fn a_message_to_a_silent_client_waits_in_the_outbox_and_goes_when_it_is_heard() {
    let mut sim = Sim::new();
    // Wang is known (his entry came), then falls silent.
    sim.wang_says("1_iptux 0.8.3:100:wang:wang-pc:1:王小明\0技术部\0icon-tux.png\0utf-8\0");
    let now = sim.now();
    sim.core.handle_command(
        now,
        Command::Send {
            to: wang(),
            text: "开会了".into(),
            plain: false,
            id: 7,
        },
    );
    sim.collect();
    let first = sim.sendmsgs("开会了");
    assert_eq!(first.len(), 1, "sent at once: {:?}", sim.sent);
    // Nobody answers: retried with the same number, then queued, not failed.
    sim.advance(Duration::from_secs(40));
    let tries = sim.sendmsgs("开会了");
    assert!(tries.len() > 2, "{tries:?}");
    assert!(
        tries.iter().all(|n| *n == first[0]),
        "one number: {tries:?}"
    );
    assert!(
        sim.events
            .contains(&EngineEvent::Queued { to: wang(), id: 7 })
    );
    assert!(
        !sim.events
            .contains(&EngineEvent::Failed { to: wang(), id: 7 })
    );

    // Wang writes: his message is shown, and ours leaves again at once.
    let before = sim.sendmsgs("开会了").len();
    sim.wang_says("1_iptux 0.8.3:200:wang:wang-pc:288:在吗？\0");
    assert!(sim.events.iter().any(|e| matches!(
        e,
        EngineEvent::Received { from, text, .. } if *from == wang() && text == "在吗？"
    )));
    let again = sim.sendmsgs("开会了");
    assert_eq!(again.len(), before + 1, "sent again when wang was heard");
    // iptux acknowledges with 289 (RECVMSG with an option bit): delivered.
    let no = again.last().expect("a number").clone();
    sim.wang_says(&format!("1_iptux 0.8.3:201:wang:wang-pc:289:{no}\0"));
    assert!(
        sim.events
            .contains(&EngineEvent::Delivered { to: wang(), id: 7 })
    );
}

/// A core that keeps files, with the file service's work of each step kept aside.
fn files_sim() -> (Sim, Vec<LanFileJob>) {
    files_sim_announcing(true)
}

fn files_sim_announcing(announce: bool) -> (Sim, Vec<LanFileJob>) {
    let mut sim = Sim::announcing(announce);
    sim.core
        .set_files(Box::new(DiskFiles::new(FilesSetup::default())));
    (sim, Vec::new())
}

/// Collects one step, keeping the file service's jobs too.
fn step(sim: &mut Sim, jobs: &mut Vec<LanFileJob>) {
    let now = sim.now();
    let Output {
        lan,
        lan_files,
        events,
        ..
    } = sim.core.poll_output(now);
    sim.events.extend(events);
    sim.sent.extend(
        lan.into_iter()
            .map(|t| (t.dst, String::from_utf8_lossy(&t.payload).into_owned())),
    );
    jobs.extend(lan_files);
}

fn offered(sim: &Sim) -> Vec<(u64, String, u64)> {
    sim.events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::FileOffered {
                from,
                id,
                name,
                size,
                ..
            } if *from == wang() => Some((*id, name.clone(), *size)),
            _ => None,
        })
        .collect()
}

#[test]
fn an_ip_messenger_offer_becomes_one_offer_per_file_and_is_fetched_or_released() {
    let (mut sim, mut jobs) = files_sim();
    // As iptux writes it: a file of 0x1a2b bytes and a directory, after the text.
    let now = sim.now();
    sim.core.handle_lan_datagram(
        now,
        WANG.parse().expect("an address"),
        b"1_iptux 0.8.3:77:wang:wang-pc:2097440:see attached\x001:report.pdf:1a2b:5f0e1a2b:1:\x072:photos:0:5f0e1a2b:2:\x07\x00",
    );
    step(&mut sim, &mut jobs);
    let files = offered(&sim);
    assert_eq!(files.len(), 2, "{:?}", sim.events);
    assert_eq!(files[0].1, "report.pdf");
    assert_eq!(files[0].2, 0x1a2b);
    assert_eq!(files[1].1, "photos/", "a directory is marked");
    // The text is a message as any other.
    assert!(
        sim.events
            .iter()
            .any(|e| matches!(e, EngineEvent::Received { text, .. } if text == "see attached"))
    );

    let dir = std::env::temp_dir();
    let now = sim.now();
    sim.core.handle_command(
        now,
        Command::AcceptFile {
            from: wang(),
            id: files[0].0,
            dir: dir.clone(),
        },
    );
    step(&mut sim, &mut jobs);
    let fetch = jobs
        .iter()
        .find_map(|j| match j {
            LanFileJob::Fetch(f) => Some(f.clone()),
            _ => None,
        })
        .expect("a fetch for the service");
    assert_eq!(fetch.addr, WANG.parse().expect("an address"));
    assert_eq!((fetch.packet_no, fetch.file_id), (77, 1));
    assert_eq!((fetch.size, fetch.dir, fetch.into), (0x1a2b, false, dir));

    // The directory is declined: nothing of the offer is left, so wang hears RELEASEFILES
    // (0x61) naming its packet.
    let now = sim.now();
    sim.core.handle_command(
        now,
        Command::DeclineFile {
            from: wang(),
            id: files[1].0,
        },
    );
    step(&mut sim, &mut jobs);
    assert!(
        sim.sent.iter().any(|(_, p)| p
            .split(':')
            .nth(4)
            .is_some_and(|c| c.parse::<u32>().is_ok_and(|c| c & 0xff == 0x61))
            && p.split(':')
                .nth(5)
                .is_some_and(|x| x.trim_end_matches('\0') == "77")),
        "{:?}",
        sim.sent
    );

    // The service's report ends the transfer.
    let now = sim.now();
    sim.core.handle_lan_file_report(
        now,
        LanFileReport::Fetched {
            peer: wang(),
            id: files[0].0,
            path: "/x/report.pdf".into(),
        },
    );
    step(&mut sim, &mut jobs);
    assert!(sim.events.iter().any(|e| matches!(
        e,
        EngineEvent::FileDone { id, outgoing: false, .. } if *id == files[0].0
    )));
}

#[test]
fn a_file_sent_to_an_ip_messenger_peer_is_served_to_it_alone_until_read_released_or_expired() {
    let (mut sim, mut jobs) = files_sim();
    let manifest = Manifest::of_bytes(b"hello", 1 << 20);
    let send = |sim: &mut Sim, jobs: &mut Vec<LanFileJob>, id: u64| {
        let now = sim.now();
        sim.core.handle_command(
            now,
            Command::SendFile {
                to: wang(),
                id,
                path: "/tmp/hello.txt".into(),
                name: "hello.txt".into(),
                manifest: manifest.clone(),
            },
        );
        step(sim, jobs);
    };
    send(&mut sim, &mut jobs, 1);
    // The offer: SENDMSG with FILEATTACHOPT, the file list after the (empty) text.
    let offer = sim
        .sent
        .iter()
        .find(|(_, p)| p.contains("hello.txt:5:"))
        .map(|(_, p)| p.clone())
        .expect("an offer to wang");
    let cmd: u32 = offer
        .split(':')
        .nth(4)
        .and_then(|c| c.parse().ok())
        .expect("a command");
    assert_eq!(cmd & 0xff, 0x20);
    assert_ne!(cmd & 0x0020_0000, 0, "FILEATTACHOPT");
    let packet_no = offer.split(':').nth(1).expect("a packet number").to_owned();
    let serve = jobs
        .iter()
        .find_map(|j| match j {
            LanFileJob::Serve { id: 1, ip, .. } => Some(*ip),
            _ => None,
        })
        .expect("served");
    assert_eq!(serve, IpAddr::from([192, 0, 2, 30]), "to wang's IP only");

    // wang acknowledges the offer (RECVMSG), as iptux does.
    sim.wang_says(&format!("1_iptux 0.8.3:70:wang:wang-pc:33:{packet_no}\0"));

    // Read whole: done.
    let now = sim.now();
    sim.core
        .handle_lan_file_report(now, LanFileReport::Served { id: 1 });
    step(&mut sim, &mut jobs);
    assert!(sim.events.iter().any(|e| matches!(
        e,
        EngineEvent::FileDone {
            id: 1,
            outgoing: true,
            ..
        }
    )));
    assert!(jobs.contains(&LanFileJob::Unserve { id: 1 }));

    // Released by wang (RELEASEFILES with the offer's number, decimal): declined.
    send(&mut sim, &mut jobs, 2);
    let offer2 = sim
        .sent
        .iter()
        .filter(|(_, p)| p.contains("hello.txt:5:"))
        .nth(1)
        .and_then(|(_, p)| p.split(':').nth(1).map(str::to_owned))
        .expect("a second offer");
    assert_ne!(offer2, packet_no);
    sim.wang_says(&format!("1_iptux 0.8.3:71:wang:wang-pc:33:{offer2}\0"));
    sim.wang_says(&format!("1_iptux 0.8.3:78:wang:wang-pc:97:{offer2}\0"));
    assert!(sim.events.iter().any(|e| matches!(
        e,
        EngineEvent::FileFailed { id: 2, outgoing: true, reason, .. } if reason == "declined"
    )));

    // Never fetched: it expires.
    send(&mut sim, &mut jobs, 3);
    // wang acknowledges the offer, so only the expiry is left.
    let offer3 = sim
        .sent
        .iter()
        .filter(|(_, p)| p.contains("hello.txt:5:"))
        .nth(2)
        .and_then(|(_, p)| p.split(':').nth(1).map(str::to_owned))
        .expect("a third offer");
    sim.wang_says(&format!("1_iptux 0.8.3:79:wang:wang-pc:33:{offer3}\0"));
    assert!(
        !sim.events
            .iter()
            .any(|e| matches!(e, EngineEvent::FileFailed { id: 3, .. }))
    );
    sim.advance(OFFER_LIFETIME + Duration::from_secs(1));
    assert!(sim.events.iter().any(|e| matches!(
        e,
        EngineEvent::FileFailed { id: 3, outgoing: true, reason, .. } if reason.contains("not fetched")
    )));
}

#[test]
fn a_file_for_an_ip_messenger_contact_while_it_is_off_here_fails_and_sends_nothing() {
    let mut wang_contact = Contact::at("wang", WANG.parse().expect("an address"));
    wang_contact.ipmsg = true;
    let mut options = CoreOptions::new(Config::new(1));
    options.contacts = vec![wang_contact];
    // No `lan`: port 2425 is held by another client here, or IP Messenger is turned off.
    let mut core = EngineCore::new(options, Box::new(SeededIds::new(1)));
    let dir = qqchat_testkit::TempDir::new("ipmsg-off");
    let plan = dir.write("plan.txt", "plan");
    core.set_files(Box::new(DiskFiles::new(FilesSetup {
        state_dir: Some(dir.path().join("state")),
        downloads: None,
        max_file_size: None,
        resend: false,
    })));
    let start = Instant::now();
    let now = Now {
        mono: start,
        wall: Timestamp::from_second(1_800_000_000).expect("a time"),
    };
    core.start(now, None);
    core.handle_command(
        now,
        Command::SendFile {
            to: wang(),
            id: 5,
            path: plan,
            name: "plan.txt".into(),
            manifest: Manifest::of_bytes(b"plan", 1 << 20),
        },
    );
    let mut events = Vec::new();
    let mut sent = Vec::new();
    for step in 0..50u64 {
        let now = Now {
            mono: start + Duration::from_millis(step * 500),
            ..now
        };
        core.handle_timeout(now);
        let out = core.poll_output(now);
        events.extend(out.events);
        sent.extend(out.transmits.into_iter().map(|t| t.dst));
        sent.extend(out.lan.into_iter().map(|t| t.dst));
    }
    let wang_addr: SocketAddr = WANG.parse().expect("an address");
    assert!(
        !sent.contains(&wang_addr),
        "a datagram went to wang: {sent:?}"
    );
    let why = events.iter().find_map(|e| match e {
        EngineEvent::FileFailed { id: 5, reason, .. } => Some(reason.clone()),
        _ => None,
    });
    assert!(
        why.as_deref()
            .is_some_and(|w| w.starts_with("IP Messenger is off")),
        "{events:?}"
    );
}

#[test]
fn a_one_off_send_file_enters_to_its_peer_before_the_offer_and_leaves_at_the_end() {
    let (mut sim, mut jobs) = files_sim_announcing(false);
    for id in [1, 2] {
        let now = sim.now();
        sim.core.handle_command(
            now,
            Command::SendFile {
                to: wang(),
                id,
                path: "/tmp/hello.txt".into(),
                name: "hello.txt".into(),
                manifest: Manifest::of_bytes(b"hello", 1 << 20),
            },
        );
        step(&mut sim, &mut jobs);
    }
    let sent: Vec<(String, u32)> = commands(&sim);
    assert_eq!(
        sent,
        [(WANG.to_owned(), BR_ENTRY), (WANG.to_owned(), SENDMSG)],
        "the entry, once, then the first offer (the second waits for its receipt)"
    );
    assert!(sim.sent[1].1.contains("hello.txt:5:"), "{:?}", sim.sent);
    sim.sent.clear();
    goodbye(&mut sim);
    assert_eq!(commands(&sim), [(WANG.to_owned(), BR_EXIT)]);
}
