//! IP Messenger in the engine core, on a simulated clock: its messages go through the same
//! history, receipts and outbox as a qqchat peer's, and its clients become neighbours.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use qqchat::contacts::Contact;
use qqchat::engine::{
    Command, CoreOptions, EngineCore, EngineEvent, LanOptions, NeighbourKind, Now, Output,
    SeededIds,
};
use qqchat::proto::{Config, PeerId};

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
            announce: true,
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
