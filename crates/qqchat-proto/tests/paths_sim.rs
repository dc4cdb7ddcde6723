//! Candidate paths on the simulated clock: punching picks the candidate that answers (a LAN
//! one before a public one), survives loss, follows a roaming peer, loses and doubles nothing
//! while the path changes, and keeps an idle path alive.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use qqchat_proto::secure::Keypair;
use qqchat_proto::sim::{Link, Pair};
use qqchat_proto::{Config, Event, Node, PeerId};

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("an address")
}

const A_PUB: &str = "198.51.100.1:4000";
const B_PUB: &str = "203.0.113.2:4000";
const A_LAN: &str = "192.168.1.10:4000";
const B_LAN: &str = "192.168.1.20:4000";
const STALE: &str = "203.0.113.99:4999";

fn node(epoch: u64, keys: &Keypair, tune: &dyn Fn(&mut Config)) -> Node {
    let mut config = Config::new(epoch);
    config.identity = Some(keys.clone());
    tune(&mut config);
    Node::new(config)
}

/// Two keyed contacts at public addresses, each knowing the other at `cands[i]` (node `i`'s
/// list of the other's candidates), watching each other from the start.
fn pair(link: Link, seed: u64, cands: [&[&str]; 2], tune: &dyn Fn(&mut Config)) -> Pair {
    let (ka, kb) = (
        Keypair::generate().expect("keys"),
        Keypair::generate().expect("keys"),
    );
    let mut p = Pair::new(node(1, &ka, tune), node(2, &kb, tune), link, seed);
    p.addrs = [addr(A_PUB), addr(B_PUB)];
    p.ids = [PeerId::Key(ka.public), PeerId::Key(kb.public)];
    for (i, list) in cands.iter().enumerate() {
        for c in *list {
            let (now, other) = (p.now, p.ids[1 - i]);
            p.nodes[i].add_peer(now, other, addr(c));
        }
    }
    p
}

fn start(p: &mut Pair) {
    p.befriend();
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

fn path(p: &Pair, i: usize) -> Option<SocketAddr> {
    p.nodes[i].path(p.ids[1 - i])
}

#[test]
fn the_candidate_that_answers_wins_over_a_stale_one_listed_first() {
    let mut p = pair(Link::perfect(), 1, [&[STALE, B_PUB], &[STALE]], &|_| {});
    let t0 = p.now;
    start(&mut p);
    send(&mut p, 0, "hello", 1);
    assert!(p.run_until(100_000, |p| delivered(p, 0) == 1));
    assert!(p.now - t0 < Duration::from_secs(1), "took {:?}", p.now - t0);
    assert_eq!(path(&p, 0), Some(addr(B_PUB)));
    // Bob knew only a stale address of alice's: her authenticated datagrams taught him.
    assert_eq!(path(&p, 1), Some(addr(A_PUB)));
    assert_eq!(p.received(1), ["hello"]);
}

#[test]
fn a_lan_candidate_wins_over_a_public_one_when_both_answer() {
    let mut p = pair(
        Link::perfect(),
        2,
        [&[B_PUB, B_LAN], &[A_PUB, A_LAN]],
        &|_| {},
    );
    p.extra = [vec![addr(A_LAN)], vec![addr(B_LAN)]];
    start(&mut p);
    p.advance(Duration::from_secs(6));
    assert_eq!(path(&p, 0), Some(addr(B_LAN)));
    assert_eq!(path(&p, 1), Some(addr(A_LAN)));
    for i in 0..20 {
        send(&mut p, 0, &format!("m{i}"), i);
    }
    assert!(p.run_until(100_000, |p| delivered(p, 0) == 20));
    // An idle minute of pings and keepalives does not move it off the LAN.
    p.advance(Duration::from_secs(60));
    assert_eq!(path(&p, 0), Some(addr(B_LAN)));
    assert_eq!(path(&p, 1), Some(addr(A_LAN)));
}

#[test]
fn punching_through_loss_finds_the_working_candidate() {
    for seed in 1..=6 {
        let link = Link {
            loss: 0.3,
            ..Link::perfect()
        };
        let mut p = pair(link, seed, [&[STALE, B_PUB], &[STALE, A_PUB]], &|_| {});
        let t0 = p.now;
        start(&mut p);
        send(&mut p, 0, "through the storm", 1);
        assert!(
            p.run_until(1_000_000, |p| delivered(p, 0) == 1),
            "seed {seed}"
        );
        assert!(p.now - t0 < Duration::from_secs(10), "seed {seed}");
        assert_eq!(path(&p, 0), Some(addr(B_PUB)), "seed {seed}");
        assert_eq!(p.received(1), ["through the storm"], "seed {seed}");
    }
}

#[test]
fn a_peer_roaming_off_its_candidates_mid_burst_loses_and_doubles_nothing() {
    let mut p = pair(Link::hostile(), 3, [&[STALE, B_PUB], &[A_PUB]], &|_| {});
    start(&mut p);
    for i in 0..200u64 {
        send(&mut p, 0, &format!("a{i}"), i);
        send(&mut p, 1, &format!("b{i}"), i);
    }
    assert!(p.run_until(1_000_000, |p| delivered(p, 0) >= 50));
    // Bob moves to an address in nobody's list: alice follows his authenticated datagrams.
    let moved = addr("203.0.113.77:5000");
    p.addrs[1] = moved;
    assert!(p.run_until(3_000_000, |p| delivered(p, 0) == 200
        && delivered(p, 1) == 200));
    p.advance(Duration::from_secs(2));
    let want_b: Vec<String> = (0..200).map(|i| format!("a{i}")).collect();
    let want_a: Vec<String> = (0..200).map(|i| format!("b{i}")).collect();
    assert_eq!(p.received(1), want_b);
    assert_eq!(p.received(0), want_a);
    assert_eq!(path(&p, 0), Some(moved));
}

#[test]
fn an_idle_path_gets_a_keepalive_every_interval_and_no_more() {
    let quiet = |c: &mut Config| {
        // Presence pings would keep the path busy by themselves: push them out of the way.
        c.presence.idle = Duration::from_secs(3600);
        c.presence.offline_after = Duration::from_secs(7200);
        c.keepalive = Some(Duration::from_secs(25));
    };
    let mut p = pair(Link::perfect(), 4, [&[B_PUB], &[A_PUB]], &quiet);
    start(&mut p);
    send(&mut p, 0, "hi", 1);
    assert!(p.run_until(100_000, |p| delivered(p, 0) == 1));
    p.advance(Duration::from_secs(5));
    let sent = Rc::new(RefCell::new(0usize));
    let counter = sent.clone();
    // Transport datagrams only: a rekey's handshake (every two minutes) is not the point.
    p.filter = Some(Box::new(move |from, bytes| {
        if from == 0 && bytes.get(4) == Some(&3) {
            *counter.borrow_mut() += 1;
        }
        true
    }));
    let mut last = 0;
    for _ in 0..8 {
        p.advance(Duration::from_secs(25));
        let now = *sent.borrow();
        assert!(now - last >= 1, "an interval without a datagram");
        assert!(now - last <= 2, "{} datagrams in one interval", now - last);
        last = now;
    }
}

#[test]
fn keepalive_zero_sends_nothing_on_an_idle_path() {
    let quiet = |c: &mut Config| {
        c.presence.idle = Duration::from_secs(3600);
        c.presence.offline_after = Duration::from_secs(7200);
        c.keepalive = None;
    };
    let mut p = pair(Link::perfect(), 5, [&[B_PUB], &[A_PUB]], &quiet);
    start(&mut p);
    send(&mut p, 0, "hi", 1);
    assert!(p.run_until(100_000, |p| delivered(p, 0) == 1));
    p.advance(Duration::from_secs(5));
    let sent = Rc::new(RefCell::new(0usize));
    let counter = sent.clone();
    p.filter = Some(Box::new(move |_, _| {
        *counter.borrow_mut() += 1;
        true
    }));
    p.advance(Duration::from_secs(100));
    assert_eq!(*sent.borrow(), 0);
}

#[test]
fn candidates_given_while_a_message_waits_are_all_tried_at_once() {
    // Each knows the other only at a stale address when Alice sends; then she learns his
    // candidates (the contacts file edited): his LAN address, of no use from her home,
    // before the one that works.
    let mut p = pair(Link::perfect(), 3, [&[STALE], &[STALE]], &|_| {});
    start(&mut p);
    send(&mut p, 0, "hello", 1);
    p.advance(Duration::from_secs(1));
    assert_eq!(delivered(&p, 0), 0);
    let (now, bob) = (p.now, p.ids[1]);
    p.nodes[0].remove_peer(bob);
    for c in [B_LAN, B_PUB] {
        p.nodes[0].add_peer(now, bob, addr(c));
    }
    assert!(p.run_until(100_000, |p| delivered(p, 0) == 1));
    assert!(
        p.now - now < Duration::from_secs(2),
        "took {:?}",
        p.now - now
    );
    assert_eq!(path(&p, 0), Some(addr(B_PUB)));
    assert_eq!(p.received(1), ["hello"]);
}

const A_RELAYED: &str = "198.51.100.200:50001";
const B_RELAYED: &str = "198.51.100.200:50002";
const NOWHERE_A: &str = "192.0.2.1:1";
const NOWHERE_B: &str = "192.0.2.2:1";

fn relayed(s: &str) -> std::collections::HashSet<SocketAddr> {
    [addr(s)].into_iter().collect()
}

/// Two keyed contacts that each know the other's public and relayed candidates, where only
/// the relay carries anything until [`open_direct`].
fn behind_a_relay(seed: u64) -> Pair {
    let mut p = pair(
        Link::perfect(),
        seed,
        [&[B_PUB, B_RELAYED], &[A_PUB, A_RELAYED]],
        &|_| {},
    );
    p.addrs = [addr(NOWHERE_A), addr(NOWHERE_B)];
    p.extra = [vec![addr(A_RELAYED)], vec![addr(B_RELAYED)]];
    p.nodes[0].set_relayed(relayed(B_RELAYED));
    p.nodes[1].set_relayed(relayed(A_RELAYED));
    p
}

/// The routers start to let the public addresses through.
fn open_direct(p: &mut Pair) {
    p.addrs = [addr(A_PUB), addr(B_PUB)];
}

#[test]
fn a_relayed_contact_moves_to_a_direct_path_once_one_works_and_loses_nothing() {
    let mut p = behind_a_relay(11);
    start(&mut p);
    send(&mut p, 0, "over the relay", 1);
    assert!(p.run_until(100_000, |p| delivered(p, 0) == 1));
    assert_eq!(path(&p, 0), Some(addr(B_RELAYED)));
    assert_eq!(path(&p, 1), Some(addr(A_RELAYED)));
    // No direct path: upgrade rounds come and go and the relay stays.
    p.advance(Duration::from_secs(130));
    assert_eq!(path(&p, 0), Some(addr(B_RELAYED)));

    open_direct(&mut p);
    let t0 = p.now;
    let mut id = 2;
    while path(&p, 0) != Some(addr(B_PUB)) || path(&p, 1) != Some(addr(A_PUB)) {
        assert!(p.now - t0 < Duration::from_secs(90), "still relayed");
        send(&mut p, 0, &format!("m{id}"), id);
        send(&mut p, 1, &format!("n{id}"), 1000 + id);
        id += 1;
        p.advance(Duration::from_secs(1));
    }
    // Within a minute and a round of the direct path opening (the next upgrade round).
    assert!(
        p.now - t0 <= Duration::from_secs(66),
        "took {:?}",
        p.now - t0
    );
    let sent = usize::try_from(id - 2).expect("small");
    assert!(p.run_until(100_000, |p| delivered(p, 0) == 1 + sent
        && delivered(p, 1) == sent));
    let received = p.received(1);
    let mut unique = received.clone();
    unique.dedup();
    assert_eq!(received.len(), 1 + sent, "{received:?}");
    assert_eq!(received, unique, "nothing doubled");
    // Once direct, it stays direct.
    p.advance(Duration::from_secs(120));
    assert_eq!(path(&p, 0), Some(addr(B_PUB)));
    assert_eq!(path(&p, 1), Some(addr(A_PUB)));
}

#[test]
fn a_datagram_over_the_relay_does_not_take_a_live_direct_path_back() {
    let mut p = behind_a_relay(12);
    open_direct(&mut p);
    start(&mut p);
    send(&mut p, 0, "hello", 1);
    assert!(p.run_until(100_000, |p| delivered(p, 0) == 1));
    p.advance(Duration::from_secs(6));
    assert_eq!(path(&p, 0), Some(addr(B_PUB)));
    let moves = |p: &Pair| {
        p.events[0]
            .iter()
            .filter(|e| matches!(e, Event::PathChanged { .. }))
            .count()
    };
    let before = moves(&p);
    // Bob's next round probes every candidate, the relayed one too: Alice stays direct.
    let (now, alice) = (p.now, p.ids[0]);
    p.nodes[1].ping(now, alice);
    p.advance(Duration::from_secs(30));
    assert_eq!(path(&p, 0), Some(addr(B_PUB)));
    assert_eq!(moves(&p), before);
}

fn told(p: &Pair, i: usize) -> Vec<Vec<SocketAddr>> {
    p.events[i]
        .iter()
        .filter_map(|e| match e {
            Event::Candidates { addrs, .. } => Some(addrs.clone()),
            _ => None,
        })
        .collect()
}

fn seen(p: &Pair, i: usize) -> Vec<SocketAddr> {
    p.events[i]
        .iter()
        .filter_map(|e| match e {
            Event::Seen { addr, .. } => Some(*addr),
            _ => None,
        })
        .collect()
}

#[test]
fn keyed_contacts_tell_each_other_their_candidates_once_per_change() {
    let mut p = pair(Link::perfect(), 13, [&[B_PUB], &[A_PUB]], &|_| {});
    let now = p.now;
    p.nodes[0].set_candidates(now, vec![addr(A_LAN), addr(A_PUB), addr(A_RELAYED)]);
    start(&mut p);
    p.advance(Duration::from_secs(5));
    assert_eq!(
        told(&p, 1),
        [vec![addr(A_LAN), addr(A_PUB), addr(A_RELAYED)]]
    );
    // Bob told Alice where her datagrams come from: a STUN answer for free.
    assert_eq!(seen(&p, 0), [addr(A_PUB)]);
    // Told once: a few minutes of pings do not repeat it.
    p.advance(Duration::from_secs(180));
    assert_eq!(told(&p, 1).len(), 1);
    // A new relayed address (a restart of the allocation) is told at once.
    let now = p.now;
    p.nodes[0].set_candidates(now, vec![addr(A_LAN), addr(A_PUB), addr(STALE)]);
    p.advance(Duration::from_secs(1));
    assert_eq!(told(&p, 1).len(), 2);
    assert_eq!(told(&p, 1)[1], [addr(A_LAN), addr(A_PUB), addr(STALE)]);
    // Bob has none of his own to tell: Alice hears nothing of his.
    assert!(told(&p, 0).is_empty());
}

#[test]
fn a_change_right_after_a_telling_is_told_at_once_too() {
    let quiet = |c: &mut Config| {
        // Pings would carry a late retelling by themselves: keep the link silent.
        c.presence.idle = Duration::from_secs(3600);
        c.presence.offline_after = Duration::from_secs(7200);
        c.keepalive = None;
    };
    let mut p = pair(Link::perfect(), 14, [&[B_PUB], &[A_PUB]], &quiet);
    start(&mut p);
    p.advance(Duration::from_secs(5));
    // A first set, then a relayed address 100 ms later (an allocation that just finished).
    let now = p.now;
    p.nodes[0].set_candidates(now, vec![addr(A_LAN)]);
    p.advance(Duration::from_millis(100));
    let now = p.now;
    p.nodes[0].set_candidates(now, vec![addr(A_LAN), addr(A_RELAYED)]);
    p.advance(Duration::from_secs(1));
    assert_eq!(
        told(&p, 1).last(),
        Some(&vec![addr(A_LAN), addr(A_RELAYED), addr(A_PUB)])
    );
}

#[test]
fn candidates_told_under_loss_still_arrive() {
    for seed in 20..24 {
        let link = Link {
            loss: 0.3,
            ..Link::perfect()
        };
        let mut p = pair(link, seed, [&[B_PUB], &[A_PUB]], &|_| {});
        let now = p.now;
        p.nodes[0].set_candidates(now, vec![addr(A_LAN), addr(A_PUB)]);
        p.nodes[1].set_candidates(now, vec![addr(B_LAN), addr(B_PUB)]);
        start(&mut p);
        p.advance(Duration::from_secs(120));
        assert_eq!(told(&p, 1), [vec![addr(A_LAN), addr(A_PUB)]], "seed {seed}");
        assert_eq!(told(&p, 0), [vec![addr(B_LAN), addr(B_PUB)]], "seed {seed}");
    }
}
