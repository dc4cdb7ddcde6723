//! Files between two engine cores on a simulated clock, with the real on-disk store in
//! temporary directories: what the user's side is promised (progress, pause, cancel, trusted
//! senders, the size limit, expiry) and that a transfer continues from what arrived after
//! either side restarts, instead of starting over.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use qqchat::contacts::Contact;
use qqchat::engine::{
    Command, CoreOptions, DiskFiles, EngineCore, EngineEvent, FileAction, FilesSetup,
    KEEP_INTERRUPTED, Now, SeededIds,
};
use qqchat::files::outgoing::manifest;
use qqchat::proto::secure::Keypair;
use qqchat::proto::{Config, PeerId};
use qqchat_testkit::{TempDir, noise};

struct Clock {
    start: Instant,
    elapsed: Duration,
}

impl Clock {
    fn now(&self) -> Now {
        Now {
            mono: self.start + self.elapsed,
            wall: Timestamp::from_second(1_800_000_000)
                .and_then(|t| t.checked_add(self.elapsed))
                .expect("a valid time"),
        }
    }
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// One core with its files: records under `state`, trusted files into `downloads`.
struct Side {
    addr: SocketAddr,
    core: EngineCore,
    events: Vec<EngineEvent>,
}

fn start(
    addr: SocketAddr,
    friend: Contact,
    dir: &Path,
    max_file_size: Option<u64>,
    config: Config,
    clock: &Clock,
) -> Side {
    start_with(addr, friend, dir, max_file_size, config, clock, false)
}

/// [`start`], with `resend`: it keeps records of what it sends, and offers it again after
/// a restart (as the chat does).
fn start_with(
    addr: SocketAddr,
    friend: Contact,
    dir: &Path,
    max_file_size: Option<u64>,
    config: Config,
    clock: &Clock,
    resend: bool,
) -> Side {
    let epoch = config.epoch;
    let mut options = CoreOptions::new(config);
    options.contacts = vec![friend];
    options.keep_history = false;
    let mut core = EngineCore::new(options, Box::new(SeededIds::new(epoch)));
    core.set_files(Box::new(DiskFiles::new(FilesSetup {
        state_dir: Some(dir.join("state")),
        downloads: Some(dir.join("downloads")),
        max_file_size,
        resend,
    })));
    core.start(clock.now(), None);
    Side {
        addr,
        core,
        events: Vec::new(),
    }
}

/// Bytes per second between the two sides: slow enough that a transfer of a few megabytes
/// spans several progress reports, and can be caught half way.
const LINK_RATE: u64 = 10_000_000;

/// Runs both sides until `stop` says so (or a bounded number of steps), datagrams arriving
/// at once and timers firing when due.
fn run(
    clock: &mut Clock,
    sides: &mut [&mut Side],
    mut stop: impl FnMut(Duration, &[&mut Side]) -> bool,
) {
    for _ in 0..2_000_000 {
        if stop(clock.elapsed, sides) {
            return;
        }
        let now = clock.now();
        let mut flight = Vec::new();
        for s in sides.iter_mut() {
            let out = s.core.poll_output(now);
            s.events.extend(out.events);
            let datagrams = out.transmits.into_iter().chain(out.bulk);
            flight.extend(datagrams.map(|t| (s.addr, t)));
        }
        if !flight.is_empty() {
            // The link moves LINK_RATE: time passes while a round of datagrams is on it.
            let bytes: usize = flight.iter().map(|(_, t)| t.payload.len()).sum();
            clock.elapsed += Duration::from_nanos(bytes as u64 * 1_000_000_000 / LINK_RATE);
            for (from, t) in flight {
                if let Some(to) = sides.iter_mut().find(|s| s.addr == t.dst) {
                    to.core.handle_datagram(now, from, &t.payload);
                }
            }
            continue;
        }
        let Some(next) = sides.iter().filter_map(|s| s.core.poll_timeout()).min() else {
            return;
        };
        clock.elapsed = clock
            .elapsed
            .max(next.saturating_duration_since(clock.start));
        for s in sides.iter_mut() {
            if s.core.poll_timeout().is_some_and(|d| d <= clock.now().mono) {
                s.core.handle_timeout(clock.now());
            }
        }
    }
    panic!("did not settle");
}

/// Offers the file at `path` from `side` to `to` as transfer `id`.
fn offer(side: &mut Side, clock: &Clock, to: PeerId, id: u64, path: &Path, name: &str) {
    let size = std::fs::metadata(path).expect("the file").len();
    side.core.handle_command(
        clock.now(),
        Command::SendFile {
            to,
            id,
            path: path.to_path_buf(),
            name: name.into(),
            manifest: manifest(path, size).expect("hashes"),
        },
    );
}

fn offered(side: &Side) -> Vec<(u64, Option<PathBuf>)> {
    side.events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::FileOffered { id, saving_to, .. } => Some((*id, saving_to.clone())),
            _ => None,
        })
        .collect()
}

fn done_path(side: &Side, id: u64) -> Option<PathBuf> {
    side.events.iter().find_map(|e| match e {
        EngineEvent::FileDone {
            id: i,
            outgoing: false,
            path,
            ..
        } if *i == id => path.clone(),
        _ => None,
    })
}

fn delivered(side: &Side, id: u64) -> bool {
    side.events
        .iter()
        .any(|e| matches!(e, EngineEvent::FileDone { id: i, outgoing: true, .. } if *i == id))
}

fn failure(side: &Side, id: u64) -> Option<String> {
    side.events.iter().find_map(|e| match e {
        EngineEvent::FileFailed { id: i, reason, .. } if *i == id => Some(reason.clone()),
        _ => None,
    })
}

/// The most bytes the receiver said it held of transfer `id`.
fn held(side: &Side, id: u64) -> u64 {
    side.events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::FileProgress(p) if p.id == id && !p.outgoing => Some(p.done),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// The first progress report of transfer `id`: what it started from.
fn started_from(side: &Side, id: u64) -> Option<u64> {
    side.events.iter().find_map(|e| match e {
        EngineEvent::FileProgress(p) if p.id == id && !p.outgoing => Some(p.done),
        _ => None,
    })
}

struct Pair {
    clock: Clock,
    root: TempDir,
    a: Side,
    b: Side,
    a_peer: PeerId,
    b_peer: PeerId,
}

/// Alice and Bob, each other's contacts; Bob trusts Alice's files when `trusted`.
fn pair(label: &str, trusted: bool, max: Option<u64>) -> Pair {
    let clock = Clock {
        start: Instant::now(),
        elapsed: Duration::ZERO,
    };
    let root = TempDir::new(label);
    let (a_addr, b_addr) = (addr(7001), addr(7002));
    let mut alice = Contact::at("alice", a_addr);
    alice.accept_files = trusted;
    let a = start(
        a_addr,
        Contact::at("bob", b_addr),
        &root.path().join("a"),
        None,
        Config::new(1),
        &clock,
    );
    let b = start(
        b_addr,
        alice,
        &root.path().join("b"),
        max,
        Config::new(2),
        &clock,
    );
    Pair {
        clock,
        root,
        a,
        b,
        a_peer: PeerId::addr(a_addr),
        b_peer: PeerId::addr(b_addr),
    }
}

impl Pair {
    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.root.path().join(name);
        std::fs::write(&path, bytes).expect("write the file");
        path
    }

    fn inbox(&self) -> PathBuf {
        self.root.path().join("inbox")
    }

    fn run_until(&mut self, stop: impl Fn(&Side, &Side) -> bool) {
        run(&mut self.clock, &mut [&mut self.a, &mut self.b], |_, s| {
            stop(&*s[0], &*s[1])
        });
    }

    /// Runs both sides for `span` of simulated time.
    fn run_for(&mut self, span: Duration) {
        let end = self.clock.elapsed + span;
        run(&mut self.clock, &mut [&mut self.a, &mut self.b], |t, _| {
            t >= end
        });
    }

    fn restart_b(&mut self) {
        let alice = Contact::at("alice", self.a.addr);
        let dir = self.root.path().join("b");
        self.b = start(self.b.addr, alice, &dir, None, Config::new(3), &self.clock);
    }

    /// Alice started again as the chat is, offering what she was sending when she stopped.
    fn restart_a_resending(&mut self, epoch: u64) {
        let bob = Contact::at("bob", self.b.addr);
        let dir = self.root.path().join("a");
        let config = Config::new(epoch);
        self.a = start_with(self.a.addr, bob, &dir, None, config, &self.clock, true);
    }

    fn restart_a(&mut self) {
        let bob = Contact::at("bob", self.b.addr);
        let dir = self.root.path().join("a");
        self.a = start(self.a.addr, bob, &dir, None, Config::new(4), &self.clock);
    }
}

#[test]
fn an_accepted_file_arrives_with_progress_and_lands_in_the_chosen_place() {
    let mut p = pair("plain", false, None);
    let bytes = noise(3_000_000, 1);
    let path = p.file("report.pdf", &bytes);
    offer(&mut p.a, &p.clock, p.b_peer, 10, &path, "report.pdf");
    p.run_until(|_, b| !offered(b).is_empty());
    assert_eq!(offered(&p.b), vec![(10, None)], "an untrusted offer waits");
    let inbox = p.inbox();
    p.b.core.handle_command(
        p.clock.now(),
        Command::AcceptFile {
            from: p.a_peer,
            id: 10,
            dir: inbox.clone(),
        },
    );
    p.run_until(|a, _| delivered(a, 10));
    let path = done_path(&p.b, 10).expect("verified");
    assert_eq!(path, inbox.join("report.pdf"));
    assert!(std::fs::read(&path).expect("the file") == bytes);
    assert_eq!(held(&p.b, 10), 3_000_000);
    let sender_saw =
        p.a.events
            .iter()
            .filter(|e| matches!(e, EngineEvent::FileProgress(x) if x.outgoing))
            .count();
    assert!(sender_saw >= 2, "the sender saw its progress");
}

#[test]
fn file_data_waits_for_room_in_the_drivers_queue_and_a_message_does_not() {
    let mut p = pair("room", true, None);
    let path = p.file("video.mp4", &noise(3_000_000, 3));
    offer(&mut p.a, &p.clock, p.b_peer, 13, &path, "video.mp4");
    p.run_until(|_, b| held(b, 13) > 0);
    // The driver's queue to the socket is full: no file data, and the driver is asked to
    // step again once it drains; a message sent meanwhile goes at once.
    p.a.core.set_data_room(0);
    p.clock.elapsed += Duration::from_millis(50);
    let now = p.clock.now();
    p.a.core.handle_command(
        now,
        Command::Send {
            to: p.b_peer,
            text: "still there?".into(),
            plain: false,
            id: 77,
        },
    );
    let out = p.a.core.poll_output(now);
    assert!(out.bulk.is_empty(), "file data past the room");
    assert!(
        out.data_held,
        "the driver is not told to wake when it drains"
    );
    for t in out.transmits {
        p.b.core.handle_datagram(now, p.a.addr, &t.payload);
    }
    let b_out = p.b.core.poll_output(now);
    assert!(
        b_out
            .events
            .iter()
            .any(|e| matches!(e, EngineEvent::Received { text, .. } if text == "still there?"))
    );
    // Room for three: never more than that in a step, and the transfer goes on.
    let mut sent = 0;
    for _ in 0..100 {
        p.a.core.set_data_room(3);
        p.clock.elapsed += Duration::from_millis(1);
        let now = p.clock.now();
        let out = p.a.core.poll_output(now);
        assert!(
            out.bulk.len() <= 3,
            "{} data packets for room for 3",
            out.bulk.len()
        );
        sent += out.bulk.len();
        for t in out.transmits.into_iter().chain(out.bulk) {
            p.b.core.handle_datagram(now, p.a.addr, &t.payload);
        }
        for t in p.b.core.poll_output(now).transmits {
            p.a.core.handle_datagram(now, p.b.addr, &t.payload);
        }
    }
    assert!(sent > 0, "no file data once there was room");
    p.a.core.set_data_room(usize::MAX);
    p.run_until(|a, _| delivered(a, 13));
}

#[test]
fn a_trusted_contacts_file_goes_to_downloads_without_asking() {
    let mut p = pair("trusted", true, None);
    let path = p.file("notes.txt", b"take this");
    offer(&mut p.a, &p.clock, p.b_peer, 11, &path, "notes.txt");
    p.run_until(|a, _| delivered(a, 11));
    let downloads = p.root.path().join("b").join("downloads");
    assert_eq!(offered(&p.b), vec![(11, Some(downloads.clone()))]);
    assert_eq!(done_path(&p.b, 11), Some(downloads.join("notes.txt")));
}

#[test]
fn an_offer_over_the_size_limit_is_refused_with_the_reason() {
    let mut p = pair("limit", true, Some(1000));
    let path = p.file("big.iso", &noise(5000, 2));
    offer(&mut p.a, &p.clock, p.b_peer, 12, &path, "big.iso");
    p.run_until(|a, _| failure(a, 12).is_some());
    assert_eq!(failure(&p.a, 12).as_deref(), Some("declined"));
    let why = failure(&p.b, 12).expect("the receiver says why");
    assert!(
        why.contains("big.iso") && why.contains("max_file_size"),
        "{why}"
    );
    assert!(offered(&p.b).is_empty(), "never offered to the user");
}

#[test]
fn an_unanswered_offer_expires_on_both_sides() {
    let mut p = pair("expiry", false, None);
    let path = p.file("later.txt", b"maybe");
    offer(&mut p.a, &p.clock, p.b_peer, 13, &path, "later.txt");
    p.run_until(|a, b| failure(a, 13).is_some() && failure(b, 13).is_some());
    assert!(p.clock.elapsed >= Duration::from_secs(600));
    assert!(failure(&p.b, 13).is_some_and(|w| w.contains("expired")));
}

#[test]
fn pause_holds_the_transfer_and_resume_finishes_it() {
    let mut p = pair("pause", true, None);
    let bytes = noise(4_000_000, 3);
    let path = p.file("video.mp4", &bytes);
    offer(&mut p.a, &p.clock, p.b_peer, 14, &path, "video.mp4");
    p.run_until(|_, b| held(b, 14) > 0);
    let action = |peer, action| Command::FileAction {
        peer,
        id: 14,
        outgoing: false,
        action,
    };
    p.b.core
        .handle_command(p.clock.now(), action(p.a_peer, FileAction::Pause));
    p.run_for(Duration::from_secs(5));
    let paused_with = held(&p.b, 14);
    // A paused transfer outlives the idle timeout: the pause is repeated as a keepalive.
    p.run_for(Duration::from_secs(60));
    assert_eq!(held(&p.b, 14), paused_with, "nothing moves while paused");
    assert!(paused_with < 4_000_000);
    assert!(failure(&p.b, 14).is_none() && failure(&p.a, 14).is_none());
    let last = p.b.events.iter().rev().find_map(|e| match e {
        EngineEvent::FileProgress(x) if x.id == 14 => Some(x.clone()),
        _ => None,
    });
    assert!(last.is_some_and(|x| x.paused && x.rate == 0.0));
    p.b.core
        .handle_command(p.clock.now(), action(p.a_peer, FileAction::Resume));
    p.run_until(|a, _| delivered(a, 14));
    let got = std::fs::read(done_path(&p.b, 14).expect("verified")).expect("the file");
    assert!(got == bytes);
}

#[test]
fn cancelling_ends_it_on_both_sides_and_leaves_nothing_behind() {
    let mut p = pair("cancel", true, None);
    let path = p.file("huge.bin", &noise(6_000_000, 4));
    offer(&mut p.a, &p.clock, p.b_peer, 15, &path, "huge.bin");
    p.run_until(|_, b| held(b, 15) > 0);
    p.a.core.handle_command(
        p.clock.now(),
        Command::FileAction {
            peer: p.b_peer,
            id: 15,
            outgoing: true,
            action: FileAction::Cancel,
        },
    );
    p.run_until(|_, b| failure(b, 15).is_some());
    assert_eq!(failure(&p.a, 15).as_deref(), Some("cancelled here"));
    assert_eq!(
        failure(&p.b, 15).as_deref(),
        Some("cancelled by the other side")
    );
    let downloads = p.root.path().join("b").join("downloads");
    let left: Vec<_> = std::fs::read_dir(&downloads)
        .expect("downloads")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_restarted_receiver_continues_from_what_it_held() {
    let mut p = pair("receiver-restart", true, None);
    let bytes = noise(24_000_000, 5);
    let path = p.file("disk.img", &bytes);
    offer(&mut p.a, &p.clock, p.b_peer, 16, &path, "disk.img");
    // Past the first persist of the ranges held (every 8 MiB).
    p.run_until(|_, b| held(b, 16) > 12_000_000);
    let had = held(&p.b, 16);
    p.restart_b();
    p.run_until(|a, _| delivered(a, 16));
    let from = started_from(&p.b, 16).expect("the restored transfer reported");
    // What was persisted (every 8 MiB), which may be more than the last report said.
    assert!(
        (8 << 20..24_000_000).contains(&from),
        "restarted from {from}, held {had} before"
    );
    assert_eq!(offered(&p.b).len(), 1, "taken up without asking");
    let got = std::fs::read(done_path(&p.b, 16).expect("verified")).expect("the file");
    assert!(got == bytes, "the file differs");
}

#[test]
fn a_restarted_senders_new_offer_of_the_same_file_resumes() {
    let mut p = pair("sender-restart", false, None);
    let bytes = noise(24_000_000, 6);
    let path = p.file("backup.tar", &bytes);
    offer(&mut p.a, &p.clock, p.b_peer, 17, &path, "backup.tar");
    p.run_until(|_, b| !offered(b).is_empty());
    let inbox = p.inbox();
    p.b.core.handle_command(
        p.clock.now(),
        Command::AcceptFile {
            from: p.a_peer,
            id: 17,
            dir: inbox.clone(),
        },
    );
    p.run_until(|_, b| held(b, 17) > 12_000_000);
    let had = held(&p.b, 17);
    p.restart_a();
    // The new run does not know the transfer: the receiver hears so and keeps what it has.
    p.run_until(|_, b| failure(b, 17).is_some());
    let why = failure(&p.b, 17).unwrap_or_default();
    assert!(why.contains("sender restarted"), "{why}");
    p.run_for(Duration::from_secs(30));
    // Later it offers the same file under a new id: no question, and not from zero.
    offer(&mut p.a, &p.clock, p.b_peer, 18, &path, "backup.tar");
    p.run_until(|a, _| delivered(a, 18));
    assert_eq!(offered(&p.b).last(), Some(&(18, Some(inbox.clone()))));
    let from = started_from(&p.b, 18).expect("reported");
    assert!(
        (8 << 20..24_000_000).contains(&from),
        "started from {from}, held {had}"
    );
    assert_eq!(done_path(&p.b, 18), Some(inbox.join("backup.tar")));
    let got = std::fs::read(inbox.join("backup.tar")).expect("the file");
    assert!(got == bytes);
    let names: Vec<_> = std::fs::read_dir(&inbox)
        .expect("inbox")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["backup.tar"], "one file, no leftovers");
}

#[test]
fn a_folder_lands_as_its_tree_and_a_hostile_name_is_refused() {
    let mut p = pair("tree", true, None);
    // Two copies of one file in a folder are two files, not a sender starting over.
    let path = p.file("x", b"payload");
    offer(&mut p.a, &p.clock, p.b_peer, 19, &path, "album/2024/x.jpg");
    offer(
        &mut p.a,
        &p.clock,
        p.b_peer,
        20,
        &path,
        "album/copy of x.jpg",
    );
    let other = p.file("y", b"other bytes");
    offer(&mut p.a, &p.clock, p.b_peer, 21, &other, "../escape");
    p.run_until(|a, _| delivered(a, 19) && delivered(a, 20) && failure(a, 21).is_some());
    let album = p.root.path().join("b").join("downloads").join("album");
    assert_eq!(done_path(&p.b, 19), Some(album.join("2024").join("x.jpg")));
    assert_eq!(done_path(&p.b, 20), Some(album.join("copy of x.jpg")));
    assert!(failure(&p.b, 19).is_none() && failure(&p.b, 20).is_none());
    assert!(failure(&p.b, 21).is_some_and(|w| w.contains("..")));
    assert!(!p.root.path().join("b").join("escape").exists());
}

#[test]
fn a_transfer_follows_a_keyed_sender_to_a_new_address() {
    let clock = Clock {
        start: Instant::now(),
        elapsed: Duration::ZERO,
    };
    let root = TempDir::new("roam");
    let keys = || Keypair::generate().expect("a key pair");
    let (ka, kb) = (keys(), keys());
    let keyed = |epoch, keys: &Keypair| {
        let mut config = Config::new(epoch);
        config.identity = Some(keys.clone());
        config
    };
    let (a_addr, b_addr) = (addr(7101), addr(7102));
    let mut alice = Contact::at("alice", a_addr);
    alice.key = Some(ka.public);
    alice.accept_files = true;
    let mut bob = Contact::at("bob", b_addr);
    bob.key = Some(kb.public);
    let a_dir = root.path().join("a");
    let a = start(a_addr, bob, &a_dir, None, keyed(1, &ka), &clock);
    let b_dir = root.path().join("b");
    let b = start(b_addr, alice, &b_dir, None, keyed(2, &kb), &clock);
    let mut p = Pair {
        clock,
        root,
        a,
        b,
        a_peer: PeerId::Key(ka.public),
        b_peer: PeerId::Key(kb.public),
    };
    let bytes = noise(6_000_000, 8);
    let path = p.file("travel.mov", &bytes);
    offer(&mut p.a, &p.clock, p.b_peer, 22, &path, "travel.mov");
    p.run_until(|_, b| held(b, 22) > 0);
    let before = held(&p.b, 22);
    assert!(before < 6_000_000, "already done");
    // Alice's router gives her a new port half way: the session, and the file, follow her.
    p.a.addr = addr(7199);
    p.run_until(|a, b| delivered(a, 22) || failure(a, 22).is_some() || failure(b, 22).is_some());
    assert!(failure(&p.a, 22).is_none() && failure(&p.b, 22).is_none());
    let got = std::fs::read(done_path(&p.b, 22).expect("verified")).expect("the file");
    assert!(got == bytes, "the file differs");
}

/// The names in `dir`, hidden ones too.
fn names_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn an_interrupted_file_not_offered_again_for_two_weeks_is_given_up() {
    let mut p = pair("stale", true, None);
    let path = p.file("old.iso", &noise(24_000_000, 9));
    offer(&mut p.a, &p.clock, p.b_peer, 23, &path, "old.iso");
    p.run_until(|_, b| held(b, 23) > 12_000_000);
    // The sender restarts and never offers it again: what arrived is kept, for a while.
    p.restart_a();
    p.run_until(|_, b| failure(b, 23).is_some());
    let downloads = p.root.path().join("b").join("downloads");
    let state = p.root.path().join("b").join("state");
    p.restart_b();
    assert!(names_in(&downloads).contains(&"old.iso.part".to_owned()));
    // Two weeks and a day later, nobody has offered it again.
    let then = std::time::SystemTime::now() - KEEP_INTERRUPTED - Duration::from_secs(86_400);
    for name in names_in(&state) {
        let file = std::fs::File::options()
            .write(true)
            .open(state.join(&name))
            .expect("a record");
        file.set_modified(then).expect("age the record");
    }
    p.restart_b();
    assert!(
        names_in(&downloads).is_empty(),
        "{:?}",
        names_in(&downloads)
    );
    assert!(names_in(&state).is_empty(), "{:?}", names_in(&state));
}

#[test]
fn a_chat_that_restarts_offers_its_unfinished_file_again_and_it_continues() {
    let mut p = pair("resend", true, None);
    p.restart_a_resending(5);
    let bytes = noise(24_000_000, 10);
    let path = p.file("album.zip", &bytes);
    offer(&mut p.a, &p.clock, p.b_peer, 24, &path, "album.zip");
    p.run_until(|_, b| held(b, 24) > 12_000_000);
    // The sender quits or crashes; started again, it offers the file by itself.
    p.restart_a_resending(6);
    p.run_for(Duration::from_millis(10));
    let again = p.a.events.iter().find_map(|e| match e {
        EngineEvent::FileProgress(x) if x.outgoing && x.name == "album.zip" => Some(x.id),
        _ => None,
    });
    let again = again.expect("the unfinished file is offered again, and shown");
    assert_ne!(again, 24);
    p.run_until(|a, _| delivered(a, again));
    // What the receiver already held is not counted as speed.
    let fastest =
        p.a.events
            .iter()
            .filter_map(|e| match e {
                EngineEvent::FileProgress(x) if x.id == again => Some(x.rate),
                _ => None,
            })
            .fold(0.0, f64::max);
    assert!(fastest < 1.5 * LINK_RATE as f64, "{fastest} B/s");
    let from = started_from(&p.b, again).expect("reported");
    assert!((8 << 20..24_000_000).contains(&from), "started from {from}");
    let downloads = p.root.path().join("b").join("downloads");
    assert_eq!(names_in(&downloads), ["album.zip"]);
    assert!(std::fs::read(downloads.join("album.zip")).expect("the file") == bytes);
    // Done: nothing is offered at the next start.
    p.restart_a_resending(7);
    p.run_for(Duration::from_millis(10));
    assert!(
        p.a.events
            .iter()
            .all(|e| !matches!(e, EngineEvent::FileProgress(_)))
    );
}

#[test]
fn a_file_changed_since_it_was_offered_is_not_offered_again() {
    let mut p = pair("resend-changed", true, None);
    p.restart_a_resending(5);
    let path = p.file("draft.txt", &noise(24_000_000, 11));
    offer(&mut p.a, &p.clock, p.b_peer, 25, &path, "draft.txt");
    p.run_until(|_, b| held(b, 25) > 0);
    std::fs::write(&path, b"rewritten").expect("change the file");
    p.restart_a_resending(6);
    p.run_for(Duration::from_millis(10));
    assert!(
        p.a.events
            .iter()
            .all(|e| !matches!(e, EngineEvent::FileProgress(_)))
    );
}
