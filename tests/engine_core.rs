//! The engine core on a simulated clock: no sockets, no files, no sleeps. Cores are joined
//! in memory; each keeps its "history" as the records it asked to store, and a restart is a
//! new core built from those records, as the driver builds one from the files.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use qqchat::contacts::{Contact, Strangers};
use qqchat::engine::{
    Command, CoreOptions, EngineCore, EngineEvent, IdGen, Now, SeededIds, StoreOp,
};
use qqchat::proto::PeerId;
use qqchat::proto::secure::Keypair;
use qqchat::proto::wire::{self, Datagram, Packet};
use qqchat::proto::{Config, Transmit};
use qqchat::store::{Conversation, ConversationKey, Direction, MessageState, Record, fold_records};

/// A made-up clock: both the monotonic and the wall clock move only when told.
struct Clock {
    mono: Instant,
    wall: Timestamp,
    elapsed: Duration,
}

impl Clock {
    fn new() -> Self {
        Clock {
            mono: Instant::now(),
            wall: Timestamp::from_second(1_800_000_000).expect("a valid time"),
            elapsed: Duration::ZERO,
        }
    }

    fn now(&self) -> Now {
        Now {
            mono: self.mono + self.elapsed,
            wall: self.wall.checked_add(self.elapsed).expect("a valid time"),
        }
    }

    /// Moves to `at` (never backwards).
    fn set(&mut self, at: Instant) {
        self.elapsed = self.elapsed.max(at.saturating_duration_since(self.mono));
    }
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn contact(name: &str, addr: SocketAddr) -> Contact {
    Contact::at(name, addr)
}

/// Where every datagram seen so far came from: a sender's `(epoch, seq)` names one message.
type Sent = HashMap<(u64, u64), u64>;

/// One running core, with what it asked to store and what it told its front end.
struct Peer {
    addr: SocketAddr,
    core: EngineCore,
    /// The history: every record stored, in order, by conversation.
    stored: Vec<(ConversationKey, Record)>,
    events: Vec<EngineEvent>,
}

impl Peer {
    /// Starts a core like the chat does: queueing, watching, from the history so far.
    fn start(
        addr: SocketAddr,
        contacts: Vec<Contact>,
        epoch: u64,
        stored: Vec<(ConversationKey, Record)>,
        clock: &Clock,
    ) -> Peer {
        let mut protocol = Config::new(epoch);
        protocol.give_up = Duration::from_secs(2);
        Peer::start_with(addr, contacts, protocol, stored, clock)
    }

    /// Starts a core like [`Peer::start`], with this protocol configuration.
    fn start_with(
        addr: SocketAddr,
        contacts: Vec<Contact>,
        protocol: Config,
        stored: Vec<(ConversationKey, Record)>,
        clock: &Clock,
    ) -> Peer {
        let mut options = CoreOptions::new(protocol);
        options.contacts = contacts;
        options.queue_failed = true;
        let epoch = options.protocol.epoch;
        let mut core = EngineCore::new(options, Box::new(SeededIds::new(epoch)));
        core.start(clock.now(), Some(conversations(&stored)));
        Peer {
            addr,
            core,
            stored,
            events: Vec::new(),
        }
    }

    /// Takes one step's output the way the driver applies it: records first, then datagrams.
    /// Checks on the way that every receipt is for a message already stored.
    fn step(&mut self, now: Now, sent: &Sent) -> Vec<Transmit> {
        let output = self.core.poll_output(now);
        for op in output.store {
            match op {
                StoreOp::Append { key, record } => self.stored.push((key, record)),
                // Groups have tests of their own (engine_groups).
                StoreOp::Group { .. } => {}
                StoreOp::Rename { from, to } => {
                    for (key, _) in &mut self.stored {
                        if *key == from {
                            key.clone_from(&to);
                        }
                    }
                }
                StoreOp::Forget { key } => self.stored.retain(|(k, _)| *k != key),
            }
        }
        let stored = received_ids(&self.stored);
        for t in &output.transmits {
            for (epoch, seq) in acked(t) {
                let Some(id) = sent.get(&(epoch, seq)) else {
                    continue;
                };
                assert!(
                    stored.contains(id),
                    "{} acked message {id} in a step that did not store it",
                    self.addr
                );
            }
        }
        self.events.extend(output.events);
        output.transmits
    }

    fn received(&self) -> Vec<&str> {
        self.events
            .iter()
            .filter_map(|e| match e {
                EngineEvent::Received { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// The history as a restarted driver would read it from the files.
fn conversations(stored: &[(ConversationKey, Record)]) -> Vec<Conversation> {
    let mut by_key: BTreeMap<&ConversationKey, Vec<&Record>> = BTreeMap::new();
    for (key, record) in stored {
        by_key.entry(key).or_default().push(record);
    }
    by_key
        .into_iter()
        .map(|(key, records)| Conversation {
            key: key.clone(),
            messages: fold_records(records),
        })
        .collect()
}

/// Ids of the messages received and stored.
fn received_ids(stored: &[(ConversationKey, Record)]) -> HashSet<u64> {
    stored
        .iter()
        .filter_map(|(_, r)| match r {
            Record::Msg {
                id,
                dir: Direction::In,
                ..
            } => Some(*id),
            _ => None,
        })
        .collect()
}

fn packets(t: &Transmit) -> Vec<Packet<'_>> {
    match wire::decode(&t.payload) {
        Ok(Datagram::Packets(p)) => p,
        _ => Vec::new(),
    }
}

/// The `(epoch, seq)` of every data packet a datagram acknowledges.
fn acked(t: &Transmit) -> Vec<(u64, u64)> {
    packets(t)
        .into_iter()
        .flat_map(|p| match p {
            Packet::Ack(ack) => ack.items.iter().map(|i| (ack.epoch, i.seq)).collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// Notes which message each data packet carries.
fn note_data(t: &Transmit, sent: &mut Sent) {
    for p in packets(t) {
        if let Packet::Data(d) = p {
            sent.insert((d.epoch, d.seq), d.id);
        }
    }
}

/// Runs the peers for `span` of simulated time: datagrams between them arrive at once (each
/// twice when `twice`), datagrams to anyone else are lost, timers fire when due.
fn run(clock: &mut Clock, peers: &mut [&mut Peer], span: Duration, twice: bool, sent: &mut Sent) {
    let end = clock.now().mono + span;
    for _ in 0..1_000_000 {
        let now = clock.now();
        let mut flight = Vec::new();
        for p in peers.iter_mut() {
            for t in p.step(now, sent) {
                note_data(&t, sent);
                flight.push((p.addr, t));
            }
        }
        if !flight.is_empty() {
            for (from, t) in flight {
                if let Some(to) = peers.iter_mut().find(|p| p.addr == t.dst) {
                    to.core.handle_datagram(now, from, &t.payload);
                    if twice {
                        to.core.handle_datagram(now, from, &t.payload);
                    }
                }
            }
            continue;
        }
        let next = peers.iter().filter_map(|p| p.core.poll_timeout()).min();
        match next {
            Some(at) if at <= end => {
                clock.set(at);
                let now = clock.now();
                for p in peers.iter_mut() {
                    if p.core.poll_timeout().is_some_and(|t| t <= now.mono) {
                        p.core.handle_timeout(now);
                    }
                }
            }
            _ => {
                clock.set(end);
                return;
            }
        }
    }
    panic!("the simulation did not settle");
}

fn count(events: &[EngineEvent], want: impl Fn(&EngineEvent) -> bool) -> usize {
    events.iter().filter(|e| want(e)).count()
}

#[test]
fn a_message_queued_before_a_restart_is_sent_when_the_peer_appears_and_delivered_once() {
    let mut clock = Clock::new();
    let mut sent = Sent::new();
    let mut ids = SeededIds::new(1);
    let (a, b) = (addr(1001), addr(1002));
    let id = ids.next_id();

    // Alice writes to bob, who is not running: retries run out and the message is queued.
    let mut alice = Peer::start(a, vec![contact("bob", b)], 1, Vec::new(), &clock);
    alice.core.handle_command(
        clock.now(),
        Command::Send {
            to: PeerId::addr(b),
            text: "hello".into(),
            plain: false,
            id,
        },
    );
    run(
        &mut clock,
        &mut [&mut alice],
        Duration::from_secs(10),
        false,
        &mut sent,
    );
    assert_eq!(
        count(&alice.events, |e| *e
            == EngineEvent::Queued {
                to: PeerId::addr(b),
                id
            }),
        1
    );

    // Alice restarts from what she stored; the message is owed, and shown queued.
    let mut alice = Peer::start(a, vec![contact("bob", b)], 2, alice.stored, &clock);
    run(
        &mut clock,
        &mut [&mut alice],
        Duration::from_secs(5),
        false,
        &mut sent,
    );
    assert_eq!(
        count(&alice.events, |e| *e
            == EngineEvent::Queued {
                to: PeerId::addr(b),
                id
            }),
        1
    );
    assert!(
        !alice
            .events
            .iter()
            .any(|e| matches!(e, EngineEvent::Delivered { .. }))
    );

    // Bob starts; alice hears his hello and sends what she owes him, once.
    let mut bob = Peer::start(b, vec![contact("alice", a)], 3, Vec::new(), &clock);
    run(
        &mut clock,
        &mut [&mut alice, &mut bob],
        Duration::from_secs(30),
        true,
        &mut sent,
    );
    assert_eq!(bob.received(), ["hello"]);
    assert_eq!(received_ids(&bob.stored), HashSet::from([id]));
    assert_eq!(
        count(&alice.events, |e| *e
            == EngineEvent::Delivered {
                to: PeerId::addr(b),
                id
            }),
        1
    );
    let history = conversations(&alice.stored);
    let states: Vec<MessageState> = history[0].messages.iter().map(|m| m.state).collect();
    assert_eq!(states, [MessageState::Delivered]);
}

#[test]
fn a_message_arriving_again_after_the_receiver_restarts_is_acked_again_but_kept_once() {
    let mut clock = Clock::new();
    let mut sent = Sent::new();
    let (a, b) = (addr(2001), addr(2002));
    let id = SeededIds::new(2).next_id();
    let mut alice = Peer::start(a, vec![contact("bob", b)], 1, Vec::new(), &clock);
    let mut bob = Peer::start(b, vec![contact("alice", a)], 2, Vec::new(), &clock);
    // Hellos both ways first, so what follows is only the message.
    run(
        &mut clock,
        &mut [&mut alice, &mut bob],
        Duration::from_millis(10),
        false,
        &mut sent,
    );

    alice.core.handle_command(
        clock.now(),
        Command::Send {
            to: PeerId::addr(b),
            text: "only once".into(),
            plain: false,
            id,
        },
    );
    let data: Vec<Transmit> = alice.step(clock.now(), &sent);
    data.iter().for_each(|t| note_data(t, &mut sent));
    assert!(!data.is_empty());
    for t in &data {
        bob.core.handle_datagram(clock.now(), a, &t.payload);
    }
    let acks = bob.step(clock.now(), &sent);
    assert!(acks.iter().any(|t| !acked(t).is_empty()), "bob acks");
    assert_eq!(bob.received(), ["only once"]);
    // The receipt is lost; bob restarts from his history before alice retries.
    let mut bob = Peer::start(b, vec![contact("alice", a)], 3, bob.stored, &clock);
    let _ = bob.step(clock.now(), &sent);
    let before = bob.stored.len();
    for t in &data {
        bob.core.handle_datagram(clock.now(), a, &t.payload);
    }
    let acks = bob.step(clock.now(), &sent);
    let want: Vec<(u64, u64)> = data
        .iter()
        .flat_map(packets)
        .filter_map(|p| match p {
            Packet::Data(d) => Some((d.epoch, d.seq)),
            _ => None,
        })
        .collect();
    let got: Vec<(u64, u64)> = acks.iter().flat_map(acked).collect();
    assert!(
        want.iter().all(|w| got.contains(w)),
        "acked again: {got:?}, want {want:?}"
    );
    assert_eq!(bob.stored.len(), before, "nothing stored twice");
    assert!(bob.received().is_empty(), "not shown again");

    // The new receipt reaches alice: delivered.
    for t in &acks {
        alice.core.handle_datagram(clock.now(), b, &t.payload);
    }
    let _ = alice.step(clock.now(), &sent);
    assert_eq!(
        count(&alice.events, |e| *e
            == EngineEvent::Delivered {
                to: PeerId::addr(b),
                id
            }),
        1
    );
}

#[test]
fn every_receipt_leaves_in_a_step_that_stored_its_message_or_after() {
    let mut clock = Clock::new();
    let mut sent = Sent::new();
    let mut ids = SeededIds::new(3);
    let (a, b) = (addr(3001), addr(3002));
    let mut alice = Peer::start(a, vec![contact("bob", b)], 1, Vec::new(), &clock);
    let mut bob = Peer::start(b, vec![contact("alice", a)], 2, Vec::new(), &clock);
    let texts: Vec<String> = (0..40)
        // Some long enough to be split into several datagrams.
        .map(|i| format!("message {i} ") + &"x".repeat(if i % 7 == 0 { 3000 } else { 10 }))
        .collect();
    for text in &texts {
        alice.core.handle_command(
            clock.now(),
            Command::Send {
                to: PeerId::addr(b),
                text: text.clone(),
                plain: false,
                id: ids.next_id(),
            },
        );
    }
    // `Peer::step` checks every ack against what bob has stored by then; every datagram
    // arrives twice, so acks of duplicates are checked too.
    run(
        &mut clock,
        &mut [&mut alice, &mut bob],
        Duration::from_secs(5),
        true,
        &mut sent,
    );
    assert_eq!(bob.received(), texts);
    assert_eq!(received_ids(&bob.stored).len(), texts.len());
    assert_eq!(
        count(&alice.events, |e| matches!(
            e,
            EngineEvent::Delivered { .. }
        )),
        texts.len()
    );
}

#[test]
fn a_key_on_one_side_only_reaches_both_front_ends_as_trouble() {
    let mut clock = Clock::new();
    let mut sent = Sent::new();
    let (a, b) = (addr(1001), addr(1002));
    let keys = || Keypair::generate().expect("a key pair");
    let (ka, kb) = (keys(), keys());
    let keyed = |epoch, keys: &Keypair| {
        let mut config = Config::new(epoch);
        config.identity = Some(keys.clone());
        config
    };
    // Alice added bob with his key; bob has alice without hers.
    let bob_keyed = Contact {
        key: Some(kb.public),
        ..contact("bob", b)
    };
    let alice_contacts = vec![bob_keyed];
    let mut alice = Peer::start_with(a, alice_contacts, keyed(1, &ka), Vec::new(), &clock);
    let bob_contacts = vec![contact("alice", a)];
    let mut bob = Peer::start_with(b, bob_contacts, keyed(2, &kb), Vec::new(), &clock);
    run(
        &mut clock,
        &mut [&mut alice, &mut bob],
        Duration::from_secs(5),
        false,
        &mut sent,
    );
    let trouble = |p: &Peer| -> Vec<(PeerId, String)> {
        p.events
            .iter()
            .filter_map(|e| match e {
                EngineEvent::Trouble { peer, text, .. } => Some((*peer, text.clone())),
                _ => None,
            })
            .collect()
    };
    let alice_sees = trouble(&alice);
    assert!(
        alice_sees
            .iter()
            .any(|(peer, text)| *peer == PeerId::Key(kb.public)
                && text.starts_with("bob sends without encryption: bob has no key for you")),
        "{alice_sees:?}"
    );
    assert!(
        alice_sees.iter().any(|(_, text)| text.starts_with(
            "no handshake answer from bob: bob may be offline, or have a different key"
        )),
        "{alice_sees:?}"
    );
    let bob_sees = trouble(&bob);
    assert_eq!(bob_sees.len(), 1, "{bob_sees:?}");
    assert_eq!(bob_sees[0].0, PeerId::addr(a));
    assert!(
        bob_sees[0]
            .1
            .starts_with("alice sends encrypted messages: add alice's key"),
        "{bob_sees:?}"
    );
}

#[test]
fn a_relayed_message_is_shown_to_the_front_end_and_fails_rather_than_queue() {
    let mut clock = Clock::new();
    let mut sent = Sent::new();
    let mut ids = SeededIds::new(7);
    let (a, b) = (addr(1101), addr(1102));
    let mut alice = Peer::start(a, vec![contact("bob", b)], 1, Vec::new(), &clock);
    let (typed, relayed, relayed_queued) = (ids.next_id(), ids.next_id(), ids.next_id());
    let send = |id: u64, text: &str| Command::Send {
        to: PeerId::addr(b),
        text: text.into(),
        plain: false,
        id,
    };
    // Typed in the chat: the chat shows it itself.
    alice.core.handle_command(clock.now(), send(typed, "typed"));
    // Through the control socket: once without --queue, once with.
    let relay = |id: u64, queue: bool| Command::Relayed { id, queue };
    alice
        .core
        .handle_command(clock.now(), relay(relayed, false));
    alice
        .core
        .handle_command(clock.now(), send(relayed, "relayed"));
    alice
        .core
        .handle_command(clock.now(), relay(relayed_queued, true));
    alice
        .core
        .handle_command(clock.now(), send(relayed_queued, "queued"));
    // Bob never answers: every retry runs out.
    run(
        &mut clock,
        &mut [&mut alice],
        Duration::from_secs(10),
        false,
        &mut sent,
    );

    let outgoing: Vec<u64> = alice
        .events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::Outgoing { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(outgoing, [relayed, relayed_queued]);
    let to = PeerId::addr(b);
    assert_eq!(
        count(&alice.events, |e| *e
            == EngineEvent::Queued { to, id: typed }),
        1
    );
    assert_eq!(
        count(&alice.events, |e| *e
            == EngineEvent::Failed { to, id: relayed }),
        1
    );
    assert_eq!(
        count(&alice.events, |e| *e
            == EngineEvent::Queued {
                to,
                id: relayed_queued
            }),
        1
    );
}

#[test]
fn an_ip_messenger_contact_is_never_sent_a_qqchat_datagram() {
    let mut clock = Clock::new();
    let mut wang = contact("wang", SocketAddr::from(([192, 0, 2, 30], 2425)));
    wang.ipmsg = true;
    let bob = contact("bob", addr(9002));
    let mut alice = Peer::start(
        addr(9001),
        vec![wang.clone(), bob.clone()],
        1,
        Vec::new(),
        &clock,
    );
    let mut to = Vec::new();
    for _ in 0..50 {
        let now = clock.now();
        to.extend(alice.step(now, &Sent::new()).into_iter().map(|t| t.dst));
        if let Some(next) = alice.core.poll_timeout() {
            clock.set(next);
        } else {
            clock.set(now.mono + Duration::from_secs(1));
        }
    }
    // Also after the contacts are set again, as a reload does.
    alice
        .core
        .handle_command(clock.now(), Command::SetContacts(vec![bob, wang.clone()]));
    to.extend(
        alice
            .step(clock.now(), &Sent::new())
            .into_iter()
            .map(|t| t.dst),
    );
    assert!(to.contains(&addr(9002)), "bob is greeted: {to:?}");
    assert!(!to.contains(&wang.addr()), "{to:?}");
}

/// Trust on first use, with teeth: the contacts file naming another key (and address) for
/// bob does not move bob there. Messages still go to the key first trusted, the new key's
/// owner is not taken for bob, and only once the user accepts the key does it become bob's.
#[test]
fn a_changed_key_in_the_contacts_is_not_used_until_accepted() {
    let mut clock = Clock::new();
    let mut sent = Sent::new();
    let (a, b, m) = (addr(1301), addr(1302), addr(1303));
    let keys = || Keypair::generate().expect("a key pair");
    let (ka, kb, km) = (keys(), keys(), keys());
    let keyed = |epoch, keys: &Keypair| {
        let mut config = Config::new(epoch);
        config.identity = Some(keys.clone());
        config
    };
    let with_key = |name: &str, at: SocketAddr, key: &Keypair| Contact {
        key: Some(key.public),
        ..contact(name, at)
    };
    let alice_contacts = vec![with_key("bob", b, &kb)];
    let mut alice = Peer::start_with(a, alice_contacts, keyed(1, &ka), Vec::new(), &clock);
    let bob_contacts = vec![with_key("alice", a, &ka)];
    let mut bob = Peer::start_with(b, bob_contacts, keyed(2, &kb), Vec::new(), &clock);
    let mallory_contacts = vec![with_key("alice", a, &ka)];
    let mut mallory = Peer::start_with(m, mallory_contacts, keyed(3, &km), Vec::new(), &clock);
    run(
        &mut clock,
        &mut [&mut alice, &mut bob, &mut mallory],
        Duration::from_secs(3),
        false,
        &mut sent,
    );

    // Someone rewrites bob's key in the file: mallory's.
    let now = clock.now();
    alice
        .core
        .handle_command(now, Command::SetContacts(vec![with_key("bob", b, &km)]));
    for (to, text, id) in [
        (PeerId::Key(kb.public), "to the bob I trust", 71),
        (PeerId::Key(km.public), "to the new key", 72),
    ] {
        alice.core.handle_command(
            now,
            Command::Send {
                to,
                text: text.into(),
                plain: false,
                id,
            },
        );
    }
    mallory.core.handle_command(
        now,
        Command::Send {
            to: PeerId::Key(ka.public),
            text: "it is me, bob".into(),
            plain: false,
            id: 73,
        },
    );
    run(
        &mut clock,
        &mut [&mut alice, &mut bob, &mut mallory],
        Duration::from_secs(5),
        false,
        &mut sent,
    );
    assert_eq!(bob.received(), ["to the bob I trust"]);
    assert!(
        !alice
            .stored
            .iter()
            .any(|(key, r)| *key == ConversationKey::contact("bob")
                && matches!(r, Record::Msg { id: 72 | 73, .. })),
        "nothing with the new key is bob's: {:?}",
        alice.stored
    );
    assert!(
        alice
            .stored
            .iter()
            .any(|(key, r)| *key == ConversationKey::contact("bob")
                && matches!(r, Record::Msg { id: 71, .. })),
        "{:?}",
        alice.stored
    );

    // The user compared safety numbers and accepted the new key (at its own address).
    let now = clock.now();
    alice.core.handle_command(
        now,
        Command::TrustKey {
            name: "bob".into(),
            key: Some(km.public),
        },
    );
    alice
        .core
        .handle_command(now, Command::SetContacts(vec![with_key("bob", m, &km)]));
    alice.core.handle_command(
        now,
        Command::Send {
            to: PeerId::Key(km.public),
            text: "now you are bob".into(),
            plain: false,
            id: 74,
        },
    );
    run(
        &mut clock,
        &mut [&mut alice, &mut bob, &mut mallory],
        Duration::from_secs(5),
        false,
        &mut sent,
    );
    assert!(
        mallory.received().contains(&"now you are bob"),
        "{:?}",
        mallory.events
    );
    assert!(
        alice
            .stored
            .iter()
            .any(|(key, r)| *key == ConversationKey::contact("bob")
                && matches!(r, Record::Msg { id: 74, .. })),
        "{:?}",
        alice.stored
    );
}

/// Bob, with alice as a contact, and what becomes of strangers as `strangers` says.
fn bob_with(strangers: Strangers, clock: &Clock) -> Peer {
    let mut options = CoreOptions::new(Config::new(7));
    options.contacts = vec![contact("alice", addr(1001))];
    options.queue_failed = true;
    options.strangers = strangers;
    let mut core = EngineCore::new(options, Box::new(SeededIds::new(7)));
    core.start(clock.now(), Some(Vec::new()));
    Peer {
        addr: addr(1002),
        core,
        stored: Vec::new(),
        events: Vec::new(),
    }
}

/// Junk from `ports` source ports, as many times each.
fn flood(bob: &mut Peer, clock: &Clock, ports: u16, times: usize, sent: &Sent) {
    for round in 0..times {
        for n in 0..ports {
            let text = format!("junk {round} from port {n}");
            bob.core
                .handle_datagram(clock.now(), addr(20_000 + n), text.as_bytes());
        }
        bob.step(clock.now(), sent);
    }
}

fn conversations_stored(bob: &Peer) -> BTreeMap<ConversationKey, usize> {
    let mut by_key = BTreeMap::new();
    for (key, _) in &bob.stored {
        *by_key.entry(key.clone()).or_insert(0) += 1;
    }
    by_key
}

#[test]
fn a_flood_from_500_ports_leaves_a_bounded_list_of_requests_and_a_contact_still_gets_through() {
    let mut clock = Clock::new();
    let mut sent = Sent::new();
    let mut bob = bob_with(Strangers::Requests, &clock);
    flood(&mut bob, &clock, 500, 1, &sent);
    let dropped = count(&bob.events, |e| {
        matches!(e, EngineEvent::RequestDropped { .. })
    });
    assert_eq!(
        dropped, 450,
        "every request dropped is told to the front end"
    );
    // The flood goes on: the bounds hold.
    flood(&mut bob, &clock, 500, 2, &sent);
    let stored = conversations_stored(&bob);
    assert!(
        stored.len() <= 50,
        "{} conversations kept from strangers",
        stored.len()
    );
    let bytes: usize = bob
        .stored
        .iter()
        .map(|(_, r)| match r {
            Record::Msg { text, .. } => text.len(),
            Record::State { .. } => 0,
        })
        .sum();
    assert!(bytes <= 2 * 1024 * 1024, "{bytes} bytes kept");
    // The newest are the ones kept.
    assert!(stored.contains_key(&ConversationKey::new("addr-127.0.0.1:20499")));
    assert!(!stored.contains_key(&ConversationKey::new("addr-127.0.0.1:20000")));

    // Alice, a contact, still gets through.
    let mut alice = Peer::start(
        addr(1001),
        vec![contact("bob", addr(1002))],
        1,
        Vec::new(),
        &clock,
    );
    let id = SeededIds::new(1).next_id();
    alice.core.handle_command(
        clock.now(),
        Command::Send {
            to: PeerId::addr(addr(1002)),
            text: "still here".into(),
            plain: false,
            id,
        },
    );
    run(
        &mut clock,
        &mut [&mut alice, &mut bob],
        Duration::from_secs(5),
        false,
        &mut sent,
    );
    assert_eq!(
        count(&alice.events, |e| matches!(
            e,
            EngineEvent::Delivered { .. }
        )),
        1
    );
    assert!(
        bob.stored
            .iter()
            .any(|(k, r)| *k == ConversationKey::new("alice")
                && matches!(r, Record::Msg { text, .. } if text == "still here"))
    );
}

#[test]
fn one_stranger_cannot_fill_the_requests_alone() {
    let clock = Clock::new();
    let sent = Sent::new();
    let mut bob = bob_with(Strangers::Requests, &clock);
    // 100 messages of 1 KiB from one port: the first 64 KiB are kept.
    for n in 0..100 {
        let text = format!("{n:04}{}", "x".repeat(1020));
        bob.core
            .handle_datagram(clock.now(), addr(30_000), text.as_bytes());
    }
    bob.step(clock.now(), &sent);
    let kept = bob.stored.len();
    assert!((60..=64).contains(&kept), "{kept} kept");
    let shown = count(&bob.events, |e| matches!(e, EngineEvent::Received { .. }));
    assert_eq!(shown, kept, "what is not kept is not shown either");
}

#[test]
fn strangers_dropped_or_accepted_as_the_setting_says() {
    let clock = Clock::new();
    let sent = Sent::new();
    let mut bob = bob_with(Strangers::Drop, &clock);
    flood(&mut bob, &clock, 10, 1, &sent);
    assert!(bob.stored.is_empty());
    assert_eq!(
        count(&bob.events, |e| matches!(e, EngineEvent::Received { .. })),
        0
    );
    let mut bob = bob_with(Strangers::Accept, &clock);
    flood(&mut bob, &clock, 60, 1, &sent);
    assert_eq!(conversations_stored(&bob).len(), 60);
}

#[test]
fn a_flood_kept_by_an_earlier_run_is_cut_back_at_start() {
    let clock = Clock::new();
    let mut bob = bob_with(Strangers::Requests, &clock);
    let kept: Vec<(ConversationKey, Timestamp, u64)> = (0..462u16)
        .map(|n| {
            (
                ConversationKey::from_address(addr(20_000 + n)),
                Timestamp::from_second(1_700_000_000 + i64::from(n)).expect("valid"),
                20,
            )
        })
        .collect();
    bob.core.load_requests(kept);
    let out = bob.core.poll_output(clock.now());
    let forgotten = out
        .store
        .iter()
        .filter(|op| matches!(op, StoreOp::Forget { .. }))
        .count();
    assert_eq!(forgotten, 412);
}
