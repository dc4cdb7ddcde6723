//! The DHT client against a small Mainline DHT of its own, every node on 127.0.0.1: a record
//! published under one identity is found by another that knows only the X25519 key, a newer
//! record wins, and nothing but the friend's own newest record is ever reported.
//!
//! No public node is ever contacted: the testnet binds loopback, and every client here is
//! given the testnet as its only bootstrap nodes and binds loopback too.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use mainline::{MutableItem, SigningKey, Testnet};
use qqchat::contacts::Contact;
use qqchat::dht::{Dht, DhtConfig, DhtEvent, Missing, newest_record, next_seq, to_mainline};
use qqchat::engine::{self, Command, EngineEvent, EngineHandle};
use qqchat::proto::dht::{Candidate, CandidateKind, Record, publish_item};
use qqchat::proto::secure::Keypair;
use qqchat::proto::{PeerId, PublicKey};
use qqchat_testkit::{Person, free_port, friends, loopback_socket, run_within, text};

/// Long enough for a put or get over a few loopback nodes on a busy machine.
const WAIT: Duration = Duration::from_secs(30);

fn keys() -> Keypair {
    Keypair::generate().expect("a key pair")
}

fn record(seq: i64, port: u16) -> Record {
    Record {
        seq,
        candidates: vec![
            Candidate {
                addr: SocketAddr::from(([192, 168, 1, 20], port)),
                kind: CandidateKind::Lan,
            },
            Candidate {
                addr: SocketAddr::from(([203, 0, 113, 7], port)),
                kind: CandidateKind::Public,
            },
        ],
    }
}

/// A testnet on loopback only: `Testnet::builder` binds 127.0.0.1 (`Testnet::new` would bind
/// every interface).
fn testnet() -> Testnet {
    let net = Testnet::builder(4).build().expect("a loopback testnet");
    for node in &net.bootstrap {
        let addr: SocketAddr = node.parse().expect("a node address");
        assert!(addr.ip().is_loopback(), "testnet node off loopback: {addr}");
    }
    net
}

/// A client that joins only `net`, from loopback.
fn client(keys: Keypair, net: &Testnet) -> Dht {
    let mut config = DhtConfig::new(keys, Some(net.bootstrap.clone()));
    config.bind = Ipv4Addr::LOCALHOST;
    Dht::start(config)
}

/// A raw mainline client that joins only `net`, from loopback, to put what qqchat never
/// would.
fn raw_client(net: &Testnet) -> mainline::Dht {
    mainline::Dht::builder()
        .bootstrap(&net.bootstrap)
        .bind_address(Ipv4Addr::LOCALHOST)
        .build()
        .expect("a loopback client")
}

/// The next event other than bootstrapping news; panics on trouble or after [`WAIT`].
fn next(dht: &Dht) -> DhtEvent {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match dht.events().recv_timeout(left) {
            Ok(DhtEvent::Bootstrapped(joined)) => assert!(joined, "could not join the testnet"),
            Ok(DhtEvent::Trouble(trouble)) => panic!("DHT trouble: {trouble}"),
            Ok(event) => return event,
            Err(err) => panic!("no DHT event within {WAIT:?}: {err}"),
        }
    }
}

fn publish(dht: &Dht, record: Record) {
    let seq = record.seq;
    dht.publish(record);
    assert_eq!(next(dht), DhtEvent::Published { seq });
}

fn lookup(dht: &Dht, friend: PublicKey) -> DhtEvent {
    dht.lookup(friend);
    next(dht)
}

#[test]
fn a_friend_is_found_by_key_and_the_newest_record_wins() {
    let net = testnet();
    let alice_keys = keys();
    let alice_key = alice_keys.public;
    let alice = client(alice_keys, &net);
    let bob = client(keys(), &net);

    publish(&alice, record(10, 4000));
    assert_eq!(
        lookup(&bob, alice_key),
        DhtEvent::Found {
            key: alice_key,
            record: record(10, 4000)
        }
    );
    // Found again, the same record brings nothing new to try.
    assert_eq!(
        lookup(&bob, alice_key),
        DhtEvent::NotFound {
            key: alice_key,
            why: Missing::Stale { seq: 10 }
        }
    );

    // Alice moved: her newer record replaces the old one.
    publish(&alice, record(11, 5000));
    assert_eq!(
        lookup(&bob, alice_key),
        DhtEvent::Found {
            key: alice_key,
            record: record(11, 5000)
        }
    );

    // An older record put again (a replay, or a clock gone back) does not win: the nodes
    // refuse it, and what they hold is not newer than what Bob has seen.
    alice.publish(record(3, 6000));
    match next(&alice) {
        DhtEvent::Published { seq: 3 } | DhtEvent::PublishFailed { seq: 3, .. } => {}
        other => panic!("unexpected event {other:?}"),
    }
    assert_eq!(
        lookup(&bob, alice_key),
        DhtEvent::NotFound {
            key: alice_key,
            why: Missing::Stale { seq: 11 }
        }
    );
}

#[test]
fn nobody_published_and_forgeries_are_not_reported() {
    let net = testnet();
    let carol_keys = keys();
    let carol_key = carol_keys.public;
    let bob = client(keys(), &net);

    // Carol never published.
    assert_eq!(
        lookup(&bob, carol_key),
        DhtEvent::NotFound {
            key: carol_key,
            why: Missing::Absent
        }
    );

    // Carol's record, then a forgery under her key with a higher sequence number: the nodes
    // check the signature and refuse it, so her own record is still the one found.
    let carol = client(carol_keys.clone(), &net);
    publish(&carol, record(20, 4100));
    let mut forged = publish_item(&carol_keys, &record(21, 4100)).expect("an item");
    forged.value[20] ^= 1;
    let raw = raw_client(&net);
    #[allow(deprecated)]
    let put = raw.put_mutable(to_mainline(&forged), None);
    assert!(put.is_err(), "a forged item was stored");
    assert_eq!(
        lookup(&bob, carol_key),
        DhtEvent::Found {
            key: carol_key,
            record: record(20, 4100)
        }
    );

    // Another identity's record is stored under its own key, never under Carol's.
    let mallory = client(keys(), &net);
    publish(&mallory, record(99, 6666));
    assert_eq!(
        lookup(&bob, carol_key),
        DhtEvent::NotFound {
            key: carol_key,
            why: Missing::Stale { seq: 20 }
        }
    );
}

/// What a node could hand back: items checked by mainline's signature check alone.
#[test]
fn only_the_friends_own_newest_readable_record_is_taken() {
    let alice = keys();
    let good = to_mainline(&publish_item(&alice, &record(5, 4000)).expect("an item"));

    // Signed by some other Ed25519 key, with a higher sequence number.
    let stranger = MutableItem::new(SigningKey::from_bytes(&[7; 32]), b"garbage", 99, None);
    // Alice's key, a valid signature, and contents that are not a sealed record.
    let mut tampered = publish_item(&alice, &record(6, 4000)).expect("an item");
    tampered.value.truncate(10);
    let tampered = to_mainline(&tampered);
    // Another qqchat user's perfectly good record.
    let other = to_mainline(&publish_item(&keys(), &record(7, 4000)).expect("an item"));

    let items = vec![
        stranger.clone(),
        tampered.clone(),
        other.clone(),
        good.clone(),
    ];
    assert_eq!(
        newest_record(&alice.public, items.clone(), None),
        Ok(record(5, 4000))
    );
    assert_eq!(
        newest_record(&alice.public, items.clone(), Some(5)),
        Err(Missing::Stale { seq: 5 })
    );
    assert_eq!(
        newest_record(&alice.public, items, Some(4)),
        Ok(record(5, 4000))
    );
    assert_eq!(
        newest_record(&alice.public, vec![stranger, tampered, other], None),
        Err(Missing::Unreadable)
    );
    assert_eq!(
        newest_record(&alice.public, Vec::new(), None),
        Err(Missing::Absent)
    );
}

#[test]
fn sequence_numbers_keep_rising_across_restarts() {
    let now = 1_800_000_000;
    assert_eq!(next_seq(None, now), 1_800_000_000);
    assert_eq!(next_seq(Some(5), now), 1_800_000_000);
    // Two records in one second, or a clock gone back: still newer.
    assert_eq!(next_seq(Some(1_800_000_000), now), 1_800_000_001);
    assert_eq!(next_seq(Some(1_900_000_000), now), 1_900_000_001);
}

/// An engine on loopback with `keys`, `contacts`, and a DHT client that joins only `net`.
fn engine(keys: Keypair, contacts: Vec<Contact>, net: &Testnet) -> (EngineHandle, SocketAddr) {
    let mut options = engine::Options::new(engine::default_config());
    options.protocol.identity = Some(keys.clone());
    options.contacts = contacts;
    let mut config = DhtConfig::new(keys, Some(net.bootstrap.clone()));
    config.bind = Ipv4Addr::LOCALHOST;
    options.dht = Some(config);
    let handle = engine::spawn(loopback_socket(), options).expect("an engine");
    let addr = handle.local_addr;
    (handle, addr)
}

/// Engine events until one `want` accepts; panics after [`WAIT`].
fn engine_until(engine: &EngineHandle, what: &str, want: impl Fn(&EngineEvent) -> bool) {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match engine.events.recv_timeout(left) {
            Ok(event) if want(&event) => return,
            Ok(EngineEvent::Dht(DhtEvent::Trouble(why))) => panic!("DHT trouble: {why}"),
            Ok(_) => {}
            Err(err) => panic!("no {what} within {WAIT:?}: {err}"),
        }
    }
}

#[test]
fn a_friend_whose_address_changed_while_away_is_found_and_messaged() {
    let net = testnet();
    let (alice_keys, bob_keys) = (keys(), keys());
    let (alice_key, bob_key) = (alice_keys.public, bob_keys.public);
    // Where each last knew the other: ports held by sockets that never answer, so no
    // engine here can be given them.
    let (gone, away) = (loopback_socket(), loopback_socket());
    let old = gone.local_addr().expect("an address");
    let (alice, alice_addr) = engine(
        alice_keys,
        vec![Contact {
            key: Some(bob_key),
            ..Contact::at("bob", away.local_addr().expect("an address"))
        }],
        &net,
    );
    // Alice's new address is on the DHT, and her first lookup of Bob, who has not
    // published yet, found nothing: her next is a minute away, so it is Bob who must find
    // her.
    engine_until(&alice, "publish", |e| {
        matches!(e, EngineEvent::Dht(DhtEvent::Published { .. }))
    });
    engine_until(
        &alice,
        "a first lookup",
        |e| matches!(e, EngineEvent::Dht(DhtEvent::NotFound { key, .. }) if *key == bob_key),
    );
    let (bob, _) = engine(
        bob_keys,
        vec![Contact {
            key: Some(alice_key),
            ..Contact::at("alice", old)
        }],
        &net,
    );
    engine_until(
        &bob,
        "Alice's record",
        |e| matches!(e, EngineEvent::Dht(DhtEvent::Found { key, .. }) if *key == alice_key),
    );
    // Reached there, Alice tells her candidates, and Bob keeps them.
    engine_until(&bob, "Alice's new address kept", |e| {
        matches!(e, EngineEvent::Candidates { peer, addrs }
            if *peer == PeerId::Key(alice_key) && addrs.contains(&alice_addr))
    });
    bob.commands
        .send(Command::Send {
            to: PeerId::Key(alice_key),
            text: "found you".into(),
            plain: false,
            id: 1,
        })
        .expect("the engine is running");
    engine_until(&bob, "delivery", |e| {
        matches!(e, EngineEvent::Delivered { id: 1, .. })
    });
    engine_until(
        &alice,
        "the message",
        |e| matches!(e, EngineEvent::Received { text, .. } if text == "found you"),
    );
    bob.shutdown();
    alice.shutdown();
    drop((gone, away));
}

/// Moves `person`'s `[me] listen` to loopback port `new`, as a restart on another port would.
fn move_listen(person: &Person, new: u16) {
    let path = person.contacts();
    let text = std::fs::read_to_string(&path).expect("the contacts file");
    let from = format!("listen = \"127.0.0.1:{}\"", person.port);
    assert!(text.contains(&from), "no {from:?} in {text}");
    let text = text.replacen(&from, &format!("listen = \"127.0.0.1:{new}\""), 1);
    std::fs::write(&path, text).expect("the contacts file");
}

/// Waits until `person`'s contacts file holds `needle`.
fn file_holds(person: &Person, needle: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let text = std::fs::read_to_string(person.contacts()).expect("the contacts file");
        if text.contains(needle) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in {}'s contacts within {WAIT:?}:\n{text}",
            person.name
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn two_friends_who_both_moved_while_away_find_each_other_by_key() {
    let net = testnet();
    let (alice, bob) = friends("alice", "bob");
    alice.use_dht(&net.bootstrap);
    bob.use_dht(&net.bootstrap);
    // Both come back on other ports: each file holds only the other's old address, so
    // only the DHT can bring them together.
    let (alice_port, bob_port) = (free_port(), free_port());
    assert_ne!(alice_port, bob_port);
    move_listen(&alice, alice_port);
    move_listen(&bob, bob_port);
    let alice_listens = alice.listen();
    let _bob_listens = bob.listen();
    file_holds(&bob, &format!("127.0.0.1:{alice_port}"));
    file_holds(&alice, &format!("127.0.0.1:{bob_port}"));
    let out = run_within(
        &bob.dir,
        &[
            "--contacts",
            &bob.contacts(),
            "send",
            "--timeout",
            "10",
            "alice",
            "found you",
        ],
        None,
        Duration::from_secs(20),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    if let Err(seen) = alice_listens.stdout.wait_for("found you", WAIT) {
        panic!("alice did not get the message; her listen printed {seen:#?}");
    }
}
