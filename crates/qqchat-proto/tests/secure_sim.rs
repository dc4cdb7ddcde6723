//! Noise on the simulated network: handshakes under loss, replays, forgeries, wrong keys and
//! rekeying, all deterministic.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use qqchat_proto::secure::{Keypair, SecureConfig};
use qqchat_proto::sim::{Link, Pair};
use qqchat_proto::wire::{self, Data, Packet};
use qqchat_proto::{Config, Event, Node, PeerId, PublicKey};

fn keys() -> Keypair {
    Keypair::generate().expect("a key pair")
}

fn node(epoch: u64, identity: &Keypair, secure: SecureConfig) -> Node {
    let mut config = Config::new(epoch);
    config.identity = Some(identity.clone());
    config.secure = secure;
    Node::new(config)
}

/// Tells node `i` of the pair that the other node has `key` (at its address), and names the
/// other node by that key from then on.
fn introduce(p: &mut Pair, i: usize, key: PublicKey) {
    let (now, path) = (p.now, p.addrs[1 - i]);
    let old = p.ids[1 - i];
    if old != PeerId::Key(key) {
        p.nodes[i].remove_peer(old);
    }
    p.nodes[i].add_peer(now, PeerId::Key(key), path);
    p.ids[1 - i] = PeerId::Key(key);
}

/// Two contacts who know each other's keys.
fn keyed_pair(link: Link, seed: u64, secure: SecureConfig) -> (Pair, Keypair, Keypair) {
    let (ka, kb) = (keys(), keys());
    let mut p = Pair::new(
        node(1, &ka, secure.clone()),
        node(2, &kb, secure),
        link,
        seed,
    );
    introduce(&mut p, 0, kb.public);
    introduce(&mut p, 1, ka.public);
    p.befriend();
    (p, ka, kb)
}

fn send(p: &mut Pair, from: usize, text: &str, id: u64) {
    let (now, to) = (p.now, p.ids[1 - from]);
    p.nodes[from]
        .send(now, to, text.to_owned(), 0, id)
        .expect("fits");
}

fn delivered(p: &Pair, i: usize) -> usize {
    p.events[i]
        .iter()
        .filter(|e| matches!(e, Event::Delivered { .. }))
        .count()
}

#[test]
fn keyed_peers_deliver_everything_in_order_through_a_hostile_link() {
    for seed in [1, 2] {
        let (mut p, _, _) = keyed_pair(Link::hostile(), seed, SecureConfig::default());
        for i in 0..500u64 {
            send(&mut p, 0, &format!("a{i}"), i);
            send(&mut p, 1, &format!("b{i}"), i);
        }
        assert!(p.run_until(2_000_000, |p| delivered(p, 0) == 500
            && delivered(p, 1) == 500));
        p.advance(Duration::from_secs(2));
        let want_b: Vec<String> = (0..500).map(|i| format!("a{i}")).collect();
        let want_a: Vec<String> = (0..500).map(|i| format!("b{i}")).collect();
        assert_eq!(p.received(1), want_b, "seed {seed}");
        assert_eq!(p.received(0), want_a, "seed {seed}");
        // The link duplicates datagrams: to Noise each copy is a replay, refused.
        let s = p.nodes[0].secure_stats().expect("keyed");
        assert!(s.sessions >= 1);
        assert!(s.replays > 0);
    }
}

#[test]
fn replayed_datagrams_are_refused_and_shown_once() {
    let (mut p, _, _) = keyed_pair(Link::perfect(), 3, SecureConfig::default());
    let captured: Rc<RefCell<Vec<Vec<u8>>>> = Rc::default();
    let tap = Rc::clone(&captured);
    p.filter = Some(Box::new(move |from, bytes| {
        if from == 0 {
            tap.borrow_mut().push(bytes.to_vec());
        }
        true
    }));
    for i in 0..20 {
        send(&mut p, 0, &format!("m{i}"), i);
    }
    assert!(p.run_until(100_000, |p| delivered(p, 0) == 20));
    let before = p.received(1).len();
    let refused = p.nodes[1].stats().unauthenticated;
    let (now, from) = (p.now, p.addrs[0]);
    let replays = captured.borrow().clone();
    for bytes in &replays {
        p.nodes[1].handle_datagram(now, from, bytes);
    }
    p.advance(Duration::from_secs(1));
    assert_eq!(p.received(1).len(), before, "nothing shown twice");
    assert_eq!(
        p.nodes[1].stats().unauthenticated - refused,
        replays.len() as u64,
        "every replay refused"
    );
}

#[test]
fn a_forged_datagram_from_a_contacts_address_is_refused() {
    let (mut p, _, _) = keyed_pair(Link::perfect(), 4, SecureConfig::default());
    p.advance(Duration::from_millis(200));
    let (now, a) = (p.now, p.addrs[0]);
    // Plain version 1, claiming to come from alice's address.
    let forged = wire::encode(&Packet::Data(Data {
        epoch: 99,
        seq: 0,
        floor: 0,
        id: 42,
        sent_at_ms: 0,
        frag: 0,
        frags: 1,
        payload: b"send me your password",
    }));
    p.nodes[1].handle_datagram(now, a, &forged);
    p.nodes[1].handle_datagram(now, a, b"plain text pretending to be alice");
    // Version 2 with garbage: a made-up session and counter.
    let mut junk = vec![0xFF, b'q', b'q', 2, 3];
    junk.extend_from_slice(&[7; 40]);
    p.nodes[1].handle_datagram(now, a, &junk);
    p.advance(Duration::from_millis(100));
    assert!(p.received(1).is_empty());
    assert_eq!(p.nodes[1].stats().unauthenticated, 3);
}

#[test]
fn a_wrong_key_gets_nowhere_and_a_changed_key_is_refused_loudly() {
    let (ka, kb, impostor) = (keys(), keys(), keys());
    let mut p = Pair::new(
        node(1, &ka, SecureConfig::default()),
        node(2, &kb, SecureConfig::default()),
        Link::perfect(),
        5,
    );
    let a = p.addrs[0];
    // Alice has the wrong key for bob: bob cannot even read her handshake.
    introduce(&mut p, 0, impostor.public);
    introduce(&mut p, 1, ka.public);
    send(&mut p, 0, "hello?", 1);
    p.advance(Duration::from_secs(31));
    assert!(p.received(1).is_empty());
    assert!(p.nodes[1].stats().unauthenticated > 0);
    // Bob has the wrong key for alice: her handshake is read, and refused as a key change.
    introduce(&mut p, 0, kb.public);
    introduce(&mut p, 1, impostor.public);
    send(&mut p, 0, "it's me", 2);
    p.advance(Duration::from_secs(3));
    assert!(p.received(1).is_empty());
    let refused = p.events[1].iter().find_map(|e| match e {
        Event::KeyRefused {
            from,
            offered,
            expected,
        } => Some((*from, *offered, *expected)),
        _ => None,
    });
    assert_eq!(refused, Some((a, ka.public, Some(impostor.public))));
}

#[test]
fn rekeying_mid_conversation_loses_nothing() {
    let secure = SecureConfig {
        rekey_after: Duration::from_secs(2),
        rekey_any_after: Duration::from_secs(3),
        reject_after: Duration::from_secs(5),
        ..SecureConfig::default()
    };
    let mut link = Link::hostile();
    link.loss = 0.1;
    let (mut p, _, _) = keyed_pair(link, 6, secure);
    for i in 0..1000u64 {
        send(&mut p, 0, &format!("m{i}"), i);
        send(&mut p, 1, &format!("r{i}"), i);
        p.advance(Duration::from_millis(20));
    }
    assert!(p.run_until(1_000_000, |p| delivered(p, 0) == 1000
        && delivered(p, 1) == 1000));
    p.advance(Duration::from_secs(1));
    assert_eq!(
        p.received(1),
        (0..1000).map(|i| format!("m{i}")).collect::<Vec<_>>()
    );
    assert_eq!(
        p.received(0),
        (0..1000).map(|i| format!("r{i}")).collect::<Vec<_>>()
    );
    let sessions = p.nodes[0].secure_stats().expect("keyed").sessions;
    assert!(
        sessions >= 5,
        "{sessions} sessions in 20 s of 2-second keys"
    );
}

#[test]
fn handshake_floods_are_cheap_and_rate_limited() {
    let (ka, kb) = (keys(), keys());
    let mut p = Pair::new(
        node(1, &ka, SecureConfig::default()),
        node(2, &kb, SecureConfig::default()),
        Link::perfect(),
        7,
    );
    let a = p.addrs[0];
    introduce(&mut p, 0, kb.public);
    // Bob does not know alice: every handshake of hers costs him a Diffie-Hellman at most.
    send(&mut p, 0, "let me in", 1);
    let init = p.nodes[0].poll_transmit().expect("a handshake initiation");
    let now = p.now;
    // Junk of the right size without a valid mac1 is refused before any cryptography.
    let mut junk = init.payload.clone();
    junk[20] ^= 0xFF;
    for _ in 0..1000 {
        p.nodes[1].handle_datagram(now, a, &junk);
    }
    let s = p.nodes[1].secure_stats().expect("keyed").clone();
    assert_eq!(s.rate_limited, 0, "junk never reached the rate limiter");
    // The real initiation replayed a thousand times: only a burst gets to the DH.
    for _ in 0..1000 {
        p.nodes[1].handle_datagram(now, a, &init.payload);
    }
    let s = p.nodes[1].secure_stats().expect("keyed");
    assert!(s.rate_limited >= 1000 - 20, "{s:?}");
    assert!(p.received(1).is_empty());
}

#[test]
fn a_restarted_receiver_gets_a_new_session_from_the_first_datagram_it_cannot_read() {
    let (mut p, ka, kb) = keyed_pair(Link::perfect(), 8, SecureConfig::default());
    send(&mut p, 0, "before", 1);
    assert!(p.run_until(10_000, |p| delivered(p, 0) == 1));
    // Bob restarts with no sessions, and (like `send`) says no hello of his own.
    p.nodes[1] = node(3, &kb, SecureConfig::default());
    p.ids[0] = PeerId::addr(p.addrs[0]);
    introduce(&mut p, 1, ka.public);
    p.events[1].clear();
    send(&mut p, 0, "after", 2);
    p.advance(Duration::from_secs(3));
    assert_eq!(p.received(1), vec!["after"], "well before a rekey was due");
}

#[test]
fn a_keyed_peer_that_changes_address_keeps_its_conversation() {
    let (mut p, _, _) = keyed_pair(Link::perfect(), 9, SecureConfig::default());
    send(&mut p, 0, "from home", 1);
    assert!(p.run_until(10_000, |p| delivered(p, 0) == 1));
    // Alice's address changes (another network, a NAT rebinding); bob still writes to the
    // old one, where his datagrams are lost until alice's next one tells him.
    let moved = SocketAddr::from(([127, 0, 0, 1], 1501));
    p.addrs[0] = moved;
    send(&mut p, 1, "welcome back", 1);
    send(&mut p, 0, "from the train", 2);
    assert!(p.run_until(100_000, |p| delivered(p, 0) == 2 && delivered(p, 1) == 1));
    assert_eq!(p.received(1), ["from home", "from the train"]);
    assert_eq!(p.received(0), ["welcome back"]);
    let alice = p.ids[0];
    assert!(p.events[1].contains(&Event::PathChanged {
        peer: alice,
        path: moved
    }));
    assert_eq!(p.nodes[1].path(alice), Some(moved));
    // Her messages are still hers, not a stranger's at the new address.
    assert!(p.events[1].iter().all(|e| match e {
        Event::Received { from, .. } => *from == alice,
        _ => true,
    }));
}

#[test]
fn an_unkeyed_datagram_from_a_keyed_contacts_address_is_refused() {
    let (mut p, _, _) = keyed_pair(Link::perfect(), 10, SecureConfig::default());
    let home = p.addrs[0];
    send(&mut p, 0, "hello", 1);
    assert!(p.run_until(10_000, |p| delivered(p, 0) == 1));
    let moved = SocketAddr::from(([127, 0, 0, 1], 1501));
    p.addrs[0] = moved;
    send(&mut p, 0, "moved", 2);
    assert!(p.run_until(10_000, |p| delivered(p, 0) == 2));
    let refused = p.nodes[1].stats().unauthenticated;
    let now = p.now;
    // Plain text, from the address alice was given at and from the one she moved to.
    p.nodes[1].handle_datagram(now, home, b"it's alice, honest");
    p.nodes[1].handle_datagram(now, moved, b"it's alice, honest");
    // The same from an address no keyed contact uses is a stranger's message.
    let stranger = SocketAddr::from(([127, 0, 0, 1], 4444));
    p.nodes[1].handle_datagram(now, stranger, b"hi, I'm new");
    p.advance(Duration::from_millis(100));
    assert_eq!(p.nodes[1].stats().unauthenticated - refused, 2);
    assert_eq!(p.received(1), ["hello", "moved", "hi, I'm new"]);
    assert!(p.events[1].iter().any(|e| matches!(
        e,
        Event::Received { from, path, .. } if *from == PeerId::addr(stranger) && *path == stranger
    )));
}

#[test]
fn a_key_added_late_inflates_neither_the_round_trip_nor_the_loss() {
    let (ka, kb) = (keys(), keys());
    let mut p = Pair::new(
        node(1, &ka, SecureConfig::default()),
        node(2, &kb, SecureConfig::default()),
        Link::perfect(),
        11,
    );
    // Alice has bob's key; bob has nothing for alice yet and refuses her handshakes, so her
    // hello, probes and message wait behind a handshake for 40 s.
    introduce(&mut p, 0, kb.public);
    let (now, bob) = (p.now, p.ids[1]);
    p.nodes[0].watch(now, bob);
    send(&mut p, 0, "are you there?", 1);
    p.advance(Duration::from_secs(40));
    assert!(p.received(1).is_empty());
    // Bob adds alice's key at last.
    introduce(&mut p, 1, ka.public);
    let (now, alice) = (p.now, p.ids[0]);
    p.nodes[1].watch(now, alice);
    send(&mut p, 0, "now?", 2);
    p.advance(Duration::from_secs(30));
    assert!(p.received(1).contains(&"now?"));
    for (i, peer) in [(0, bob), (1, alice)] {
        let health = p.nodes[i].link(peer).expect("peer");
        assert_eq!(health.online, Some(true));
        let rtt = health.rtt.expect("measured");
        assert!(
            rtt <= Duration::from_millis(40),
            "node {i}: rtt {rtt:?} on a link of 2 × 10 ms"
        );
        assert!(health.loss < 0.05, "node {i}: loss {}", health.loss);
    }
}

#[test]
fn a_hello_and_a_message_queued_behind_the_handshake_do_not_sample_its_wait() {
    let mut link = Link::perfect();
    link.delay = Duration::from_millis(50);
    let (mut p, _, _) = keyed_pair(link, 12, SecureConfig::default());
    // Both wait one round trip for the handshake, then take another to be answered.
    send(&mut p, 0, "hello", 1);
    assert!(p.run_until(10_000, |p| delivered(p, 0) == 1));
    // Measured by what leaves once the session is up: the next message, the idle pings.
    send(&mut p, 0, "again", 2);
    p.advance(Duration::from_secs(12));
    for i in 0..2 {
        let rtt = p.nodes[i].rtt(p.ids[1 - i]).expect("measured");
        assert!(
            rtt <= Duration::from_millis(110),
            "node {i}: rtt {rtt:?} on a link of 2 × 50 ms"
        );
    }
}

#[test]
fn a_message_that_waited_for_the_handshake_is_retried_soon_once_the_session_is_made() {
    use std::cell::Cell;
    let (mut p, _, _) = keyed_pair(Link::perfect(), 13, SecureConfig::default());
    // Nothing gets through for 8 s: the message waits and its timers back off to the most.
    let open = Rc::new(Cell::new(false));
    // Once open, alice's first ten sealed datagrams are lost too: every copy of the message
    // that waited behind the handshake among them.
    let lost = Rc::new(Cell::new(0));
    let (gate, count) = (Rc::clone(&open), Rc::clone(&lost));
    p.filter = Some(Box::new(move |from, bytes| {
        if !gate.get() {
            return false;
        }
        let sealed = bytes.get(4) == Some(&3);
        if from == 0 && sealed && count.get() < 10 {
            count.set(count.get() + 1);
            return false;
        }
        true
    }));
    send(&mut p, 0, "are you there?", 1);
    p.advance(Duration::from_secs(8));
    assert_eq!(delivered(&p, 0), 0);
    open.set(true);
    let opened = p.now;
    assert!(p.run_until(100_000, |p| delivered(p, 0) == 1));
    assert!(lost.get() > 0, "the filter dropped the first copies");
    // A handshake retry (1 s) plus the base timeout, not the 4 s the silence backed off to.
    let waited = p.now - opened;
    assert!(
        waited <= Duration::from_millis(2500),
        "delivered {waited:?} after the link opened"
    );
}

fn xfers(p: &Pair, i: usize) -> Vec<Vec<u8>> {
    p.events[i]
        .iter()
        .filter_map(|e| match e {
            Event::Xfer { bytes, .. } => Some(bytes.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn transfer_packets_travel_sealed_between_keyed_peers_and_after_queued_messages() {
    let (mut p, _, _) = keyed_pair(Link::perfect(), 14, SecureConfig::default());
    let seen: Rc<RefCell<Vec<Vec<u8>>>> = Rc::default();
    let tap = Rc::clone(&seen);
    p.filter = Some(Box::new(move |_, bytes| {
        tap.borrow_mut().push(bytes.to_vec());
        true
    }));
    let secret = b"file bytes nobody on the path may read".to_vec();
    send(&mut p, 0, "a message first", 1);
    let (now, bob) = (p.now, p.ids[1]);
    p.nodes[0].send_xfer(now, bob, &secret);
    assert!(p.run_until(10_000, |p| xfers(p, 1).len() == 1));
    assert_eq!(xfers(&p, 1), std::slice::from_ref(&secret));
    // From alice's key, as everything inside her session.
    let from = p.events[1].iter().find_map(|e| match e {
        Event::Xfer { peer, .. } => Some(*peer),
        _ => None,
    });
    assert_eq!(from, Some(p.ids[0]));
    // Sealed: the bytes are on no datagram in the clear.
    assert!(
        !seen
            .borrow()
            .iter()
            .any(|d| d.windows(secret.len()).any(|w| w == secret.as_slice())),
        "transfer bytes went out in the clear"
    );
    // The message queued before it was delivered too (and first: data comes last).
    let order: Vec<&str> = p.events[1]
        .iter()
        .filter_map(|e| match e {
            Event::Received { .. } => Some("message"),
            Event::Xfer { .. } => Some("xfer"),
            _ => None,
        })
        .collect();
    assert_eq!(order, ["message", "xfer"]);
}
