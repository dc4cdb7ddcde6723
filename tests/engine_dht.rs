//! `[me] dht = true` in the engine core, on a simulated clock: own candidates published when
//! they change, a keyed contact that never answers looked up less and less often, and what a
//! lookup finds tried at once, but not written anywhere until it answers.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use qqchat::contacts::Contact;
use qqchat::dht::{DhtCommand, DhtEvent};
use qqchat::engine::{CoreOptions, EngineCore, EngineEvent, Now, Output, SeededIds};
use qqchat::proto::dht::{Candidate, CandidateKind, Record};
use qqchat::proto::secure::Keypair;
use qqchat::proto::{Config, PublicKey, Transmit};

const START: i64 = 1_800_000_000;

struct Alice {
    core: EngineCore,
    start: Instant,
    elapsed: Duration,
    /// Every DHT command, with the seconds since start it was asked at.
    commands: Vec<(u64, DhtCommand)>,
    transmits: Vec<Transmit>,
    events: Vec<EngineEvent>,
}

impl Alice {
    fn new(dht: bool, bob: PublicKey) -> Alice {
        let mut protocol = Config::new(1);
        protocol.identity = Some(Keypair::generate().expect("a key pair"));
        let mut options = CoreOptions::new(protocol);
        options.contacts = vec![Contact {
            key: Some(bob),
            ..Contact::at("bob", addr([127, 0, 0, 1], 9002))
        }];
        options.local = vec![addr([192, 168, 1, 10], 9001)];
        options.dht = dht;
        let mut core = EngineCore::new(options, Box::new(SeededIds::new(1)));
        let start = Instant::now();
        core.start(now(start, Duration::ZERO), None);
        let mut alice = Alice {
            core,
            start,
            elapsed: Duration::ZERO,
            commands: Vec::new(),
            transmits: Vec::new(),
            events: Vec::new(),
        };
        alice.step();
        alice
    }

    fn now(&self) -> Now {
        now(self.start, self.elapsed)
    }

    fn step(&mut self) {
        let Output {
            dht,
            transmits,
            events,
            ..
        } = self.core.poll_output(self.now());
        let secs = self.elapsed.as_secs();
        self.commands.extend(dht.into_iter().map(|c| (secs, c)));
        self.transmits.extend(transmits);
        self.events.extend(events);
    }

    /// Runs the core's timers for `span`, nobody answering.
    fn run(&mut self, span: Duration) {
        let end = self.elapsed + span;
        while let Some(deadline) = self.core.poll_timeout() {
            let at = deadline
                .saturating_duration_since(self.start)
                .max(self.elapsed);
            if at > end {
                break;
            }
            self.elapsed = at;
            self.core.handle_timeout(self.now());
            self.step();
        }
        self.elapsed = end;
    }

    fn lookups(&self) -> Vec<u64> {
        self.commands
            .iter()
            .filter_map(|(at, c)| matches!(c, DhtCommand::Lookup(_)).then_some(*at))
            .collect()
    }
}

fn now(start: Instant, elapsed: Duration) -> Now {
    Now {
        mono: start + elapsed,
        wall: Timestamp::from_second(START)
            .expect("a valid time")
            .checked_add(elapsed)
            .expect("a valid time"),
    }
}

fn addr(ip: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::from((ip, port))
}

#[test]
fn own_candidates_are_published_once_with_a_clock_sequence_number() {
    let bob = Keypair::generate().expect("a key pair").public;
    let mut alice = Alice::new(true, bob);
    let published: Vec<&DhtCommand> = alice
        .commands
        .iter()
        .map(|(_, c)| c)
        .filter(|c| matches!(c, DhtCommand::Publish(_)))
        .collect();
    assert_eq!(
        published,
        [&DhtCommand::Publish(Record {
            seq: START,
            candidates: vec![Candidate {
                addr: addr([192, 168, 1, 10], 9001),
                kind: CandidateKind::Lan
            }],
        })]
    );
    // Nothing changed: nothing published again (the DHT client republishes by itself).
    alice.run(Duration::from_secs(600));
    assert_eq!(
        alice
            .commands
            .iter()
            .filter(|(_, c)| matches!(c, DhtCommand::Publish(_)))
            .count(),
        1
    );
}

#[test]
fn an_unreachable_contact_is_looked_up_with_a_doubling_wait() {
    let bob = Keypair::generate().expect("a key pair").public;
    let mut alice = Alice::new(true, bob);
    // Long enough for the wait to reach its hour.
    alice.run(Duration::from_secs(9000));
    let lookups = alice.lookups();
    assert!(
        alice
            .commands
            .iter()
            .all(|(_, c)| !matches!(c, DhtCommand::Lookup(k) if *k != bob))
    );
    assert!(lookups.len() >= 8, "{lookups:?}");
    // The first as soon as bob is taken for offline, within a minute or so of the start.
    assert!(lookups[0] <= 120, "{lookups:?}");
    let gaps: Vec<u64> = lookups.windows(2).map(|w| w[1] - w[0]).collect();
    let mut want = 60;
    for gap in gaps {
        // Steps come at the node's own timers, so a lookup may come a moment late.
        assert!(gap >= want && gap <= want + 30, "{lookups:?}");
        want = (want * 2).min(3600);
    }
}

#[test]
fn nothing_is_asked_of_the_dht_when_it_is_off() {
    let bob = Keypair::generate().expect("a key pair").public;
    let mut alice = Alice::new(false, bob);
    alice.run(Duration::from_secs(3600));
    assert!(alice.commands.is_empty());
}

#[test]
fn what_a_lookup_finds_is_tried_but_not_kept_until_it_answers() {
    let bob = Keypair::generate().expect("a key pair").public;
    let mut alice = Alice::new(true, bob);
    alice.run(Duration::from_secs(120));
    assert!(!alice.lookups().is_empty());
    let moved = addr([203, 0, 113, 9], 40000);
    alice.transmits.clear();
    let now = alice.now();
    alice.core.handle_dht(
        now,
        DhtEvent::Found {
            key: bob,
            record: Record {
                seq: START + 5,
                candidates: vec![Candidate {
                    addr: moved,
                    kind: CandidateKind::Public,
                }],
            },
        },
    );
    alice.step();
    alice.run(Duration::from_secs(5));
    assert!(
        alice.transmits.iter().any(|t| t.dst == moved),
        "nothing sent to the address found"
    );
    // Nobody answered there: the contacts file keeps what it had.
    assert!(
        !alice
            .events
            .iter()
            .any(|e| matches!(e, EngineEvent::Candidates { .. }))
    );
}

#[test]
fn a_failing_publish_is_said_once_until_one_works() {
    let bob = Keypair::generate().expect("a key pair").public;
    let mut alice = Alice::new(true, bob);
    let errors = |alice: &Alice| {
        alice
            .events
            .iter()
            .filter(|e| matches!(e, EngineEvent::Error(text) if text.contains("published")))
            .count()
    };
    let failed = || DhtEvent::PublishFailed {
        seq: START,
        reason: "no node answered".into(),
    };
    for _ in 0..3 {
        let now = alice.now();
        alice.core.handle_dht(now, failed());
        alice.step();
    }
    assert_eq!(errors(&alice), 1);
    let now = alice.now();
    alice
        .core
        .handle_dht(now, DhtEvent::Published { seq: START });
    alice.core.handle_dht(now, failed());
    alice.step();
    assert_eq!(errors(&alice), 2);
}
