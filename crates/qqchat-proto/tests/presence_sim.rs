//! Presence, link health and hostile input on the simulated clock.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use qqchat_proto::sim::{Link, Pair};
use qqchat_proto::wire;
use qqchat_proto::{Config, Event, Node, PeerId};

fn presence(p: &Pair, i: usize) -> Vec<bool> {
    p.events[i]
        .iter()
        .filter_map(|e| match e {
            Event::Presence { online, .. } => Some(*online),
            _ => None,
        })
        .collect()
}

fn friends(link: Link, seed: u64) -> Pair {
    let mut p = Pair::new(
        Node::new(Config::new(1)),
        Node::new(Config::new(2)),
        link,
        seed,
    );
    p.befriend();
    p
}

#[test]
fn hello_ping_timeout_and_goodbye() {
    let mut p = friends(Link::perfect(), 1);
    p.advance(Duration::from_millis(100));
    assert_eq!(presence(&p, 0), vec![true], "hello answered: online");
    assert_eq!(presence(&p, 1), vec![true]);
    // A quiet minute: pings keep both online.
    p.advance(Duration::from_secs(60));
    assert_eq!(presence(&p, 0), vec![true]);
    let health = p.nodes[0].link(p.ids[1]).expect("known peer");
    assert_eq!(health.online, Some(true));
    assert!(health.rtt.is_some());
    assert_eq!(health.loss, 0.0);
    // B vanishes without a word: offline after 30–40 s of silence, not before.
    p.filter = Some(Box::new(|from, _| from != 1));
    let last_heard = p.nodes[0]
        .link(p.ids[1])
        .and_then(|h| h.last_heard)
        .expect("heard");
    let mut silent = Duration::ZERO;
    while presence(&p, 0).len() == 1 && silent < Duration::from_secs(60) {
        p.advance(Duration::from_millis(500));
        silent = p.now - last_heard;
    }
    assert_eq!(presence(&p, 0), vec![true, false]);
    assert!(
        silent >= Duration::from_secs(30) && silent <= Duration::from_secs(40),
        "offline after {silent:?} of silence"
    );
    // B comes back and says hello: online at once.
    p.filter = None;
    let (now, a) = (p.now, p.ids[0]);
    p.nodes[1].watch(now, a);
    p.advance(Duration::from_millis(100));
    assert_eq!(presence(&p, 0), vec![true, false, true]);
    // B quits politely: offline at once, no 35 s wait.
    p.nodes[1].goodbye();
    p.advance(Duration::from_millis(100));
    assert_eq!(presence(&p, 0), vec![true, false, true, false]);
}

#[test]
fn a_contact_that_never_answers_is_offline_after_the_hello_times_out() {
    let mut p = friends(Link::perfect(), 2);
    p.filter = Some(Box::new(|from, _| from != 1));
    p.advance(Duration::from_secs(4));
    assert!(presence(&p, 0).is_empty());
    p.advance(Duration::from_secs(2));
    assert_eq!(presence(&p, 0), vec![false]);
    assert_eq!(
        p.nodes[0].link(p.ids[1]).map(|h| h.online),
        Some(Some(false))
    );
}

#[test]
fn loss_is_measured_from_pings_and_data() {
    let mut link = Link::perfect();
    link.loss = 0.3;
    let mut p = friends(link, 3);
    for i in 0..300 {
        let (now, to) = (p.now, p.ids[1]);
        p.nodes[0]
            .send(now, to, format!("m{i}"), 0, i)
            .expect("fits");
    }
    p.advance(Duration::from_secs(60));
    let health = p.nodes[0].link(p.ids[1]).expect("peer");
    let loss = health.loss;
    // A datagram or its ack is lost: about 1 - 0.7² = 51 % of first tries need another.
    assert!((0.3..0.75).contains(&loss), "loss {loss}");
}

#[test]
fn after_an_outage_the_link_shows_its_own_loss_and_round_trip() {
    let mut p = friends(Link::perfect(), 4);
    p.advance(Duration::from_secs(30));
    for i in 0..5 {
        let (now, to) = (p.now, p.ids[1]);
        p.nodes[0]
            .send(now, to, format!("m{i}"), 0, i)
            .expect("fits");
    }
    p.advance(Duration::from_secs(5));
    // B is cut off for two minutes while A keeps writing: its retries and pings go nowhere.
    p.filter = Some(Box::new(|_, _| false));
    for i in 5..15 {
        let (now, to) = (p.now, p.ids[1]);
        p.nodes[0]
            .send(now, to, format!("m{i}"), 0, i)
            .expect("fits");
        p.advance(Duration::from_secs(12));
    }
    assert_eq!(presence(&p, 0).last(), Some(&false), "offline meanwhile");
    // B is back: the probes find it, and the figures are the link's, not the outage's.
    p.filter = None;
    p.advance(Duration::from_secs(60));
    let health = p.nodes[0].link(p.ids[1]).expect("peer");
    assert_eq!(health.online, Some(true));
    assert!(
        health.loss < 0.05,
        "loss {} of {}",
        health.loss,
        health.samples
    );
    let rtt = health.rtt.expect("measured");
    assert!(
        rtt >= Duration::from_millis(19) && rtt <= Duration::from_millis(40),
        "rtt {rtt:?} on a link of 2 × 10 ms"
    );
}

#[test]
fn a_flood_from_one_address_is_rate_limited_and_others_get_through() {
    let mut node = Node::new(Config::new(1));
    let t0 = Instant::now();
    let friend: SocketAddr = "127.0.0.1:2000".parse().expect("addr");
    let flooder: SocketAddr = "127.0.0.1:6666".parse().expect("addr");
    node.watch(t0, PeerId::addr(friend));
    let mut friend_sender = Node::new(Config::new(9));
    let me: SocketAddr = "127.0.0.1:1000".parse().expect("addr");
    // 10 seconds of 10,000 datagrams a second from the flooder, and one message a second
    // from the friend.
    let mut flood_seen = 0;
    let mut friend_seen = 0;
    for ms in 0..10_000u64 {
        let now = t0 + Duration::from_millis(ms);
        for k in 0..10 {
            node.handle_datagram(now, flooder, format!("spam {ms} {k}").as_bytes());
        }
        if ms % 1000 == 0 {
            friend_sender
                .send(now, PeerId::addr(me), format!("hi {ms}"), 0, ms)
                .expect("fits");
            while let Some(t) = friend_sender.poll_transmit() {
                node.handle_datagram(now, friend, &t.payload);
            }
        }
        while let Some(e) = node.poll_event() {
            if let Event::Received { from, .. } = e {
                if from == PeerId::addr(flooder) {
                    flood_seen += 1;
                } else {
                    friend_seen += 1;
                }
            }
        }
        while node.poll_transmit().is_some() {}
    }
    assert_eq!(friend_seen, 10, "every message of the contact arrived");
    // The burst (1,000) plus 200 a second for 10 s, out of 100,000 sent.
    assert!(
        flood_seen <= 3_100,
        "{flood_seen} flood messages let through"
    );
    assert!(node.stats().rate_limited >= 96_000);
}

#[test]
fn spoofed_addresses_do_not_grow_memory_without_bound() {
    let mut node = Node::new(Config::new(1));
    let now = Instant::now();
    let mut sender = Node::new(Config::new(5));
    let me: SocketAddr = "127.0.0.1:1000".parse().expect("addr");
    for i in 0..20_000u32 {
        // A fragment of a large message from a new address each time: each would hold
        // reassembly state if allowed to.
        let text = "x".repeat(5_000);
        sender
            .send(now, PeerId::addr(me), text, 0, u64::from(i))
            .expect("fits");
        let from = SocketAddr::from(([127, 1, (i >> 8) as u8, i as u8], 3000));
        if let Some(t) = sender.poll_transmit() {
            node.handle_datagram(now, from, &t.payload);
        }
        while sender.poll_transmit().is_some() {}
    }
    assert!(node.peer_count() <= 256 + 1, "{} peers", node.peer_count());
    assert!(
        node.buffered_bytes() <= 256 * 1100 * 2,
        "{} bytes",
        node.buffered_bytes()
    );
}

#[test]
fn out_of_order_data_is_bounded_per_peer() {
    let mut node = Node::new(Config::new(1));
    let now = Instant::now();
    let from: SocketAddr = "127.0.0.1:4000".parse().expect("addr");
    node.watch(now, PeerId::addr(from));
    // Seq 0 never comes; later seqs pile up, each of 1,000 bytes.
    let payload = vec![b'y'; 1000];
    for seq in 1..20_000u64 {
        let bytes = wire::encode(&wire::Packet::Data(wire::Data {
            epoch: 3,
            seq,
            floor: 0,
            id: seq,
            sent_at_ms: 0,
            frag: 0,
            frags: 1,
            payload: &payload,
        }));
        node.handle_datagram(now, from, &bytes);
    }
    let cfg = node.config().recv.clone();
    assert!(node.buffered_bytes() <= cfg.max_buffered_bytes);
    assert!(node.stats().refused > 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// No datagram, however malformed, panics the decoder or the node.
    #[test]
    fn any_datagram_is_handled(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
        let _ = wire::decode(&bytes);
        let mut node = Node::new(Config::new(1));
        let now = Instant::now();
        let from: SocketAddr = "127.0.0.1:5000".parse().expect("addr");
        node.handle_datagram(now, from, &bytes);
        let mut with_magic = vec![0xFF, b'q', b'q', wire::VERSION];
        with_magic.extend_from_slice(&bytes);
        node.handle_datagram(now, from, &with_magic);
        node.handle_timeout(now + Duration::from_secs(100));
        while node.poll_transmit().is_some() {}
        while node.poll_event().is_some() {}
    }

    /// Packets that decode are re-encoded to the same bytes.
    #[test]
    fn decoding_is_the_inverse_of_encoding(seq in any::<u64>(), floor in any::<u64>(),
        id in any::<u64>(), frag in any::<u16>(), frags in any::<u16>(),
        payload in proptest::collection::vec(any::<u8>(), 0..1100)) {
        let packet = wire::Packet::Data(wire::Data {
            epoch: 1, seq, floor, id, sent_at_ms: -5, frag, frags, payload: &payload,
        });
        let bytes = wire::encode(&packet);
        prop_assert!(bytes.len() <= wire::MAX_DATAGRAM);
        prop_assert_eq!(wire::decode(&bytes), Ok(wire::Datagram::Packets(vec![packet])));
    }
}

/// Presence changes of node `i` since `seen`, as (when, online).
fn presence_times(p: &Pair, i: usize, seen: &mut usize, out: &mut Vec<(Instant, bool)>) {
    for e in &p.events[i][*seen..] {
        if let Event::Presence { online, .. } = e {
            out.push((p.now, *online));
        }
    }
    *seen = p.events[i].len();
}

fn reachable(p: &Pair, i: usize) -> Vec<bool> {
    p.events[i]
        .iter()
        .filter_map(|e| match e {
            Event::Reachable { reachable, .. } => Some(*reachable),
            _ => None,
        })
        .collect()
}

#[test]
fn a_lossy_link_does_not_flap() {
    let mut flaps = 0;
    let mut changes = 0;
    for seed in 0..20 {
        let mut link = Link::perfect();
        link.loss = 0.3;
        let mut p = friends(link, 100 + seed);
        let mut seen = [0, 0];
        let mut shown: [Vec<(Instant, bool)>; 2] = [Vec::new(), Vec::new()];
        // Ten quiet minutes on a link that loses three datagrams in ten.
        for _ in 0..1200 {
            p.advance(Duration::from_millis(500));
            for (i, (seen, shown)) in seen.iter_mut().zip(shown.iter_mut()).enumerate() {
                presence_times(&p, i, seen, shown);
            }
        }
        for s in &shown {
            assert_eq!(s.first().map(|c| c.1), Some(true), "online at first");
            changes += s.len() - 1;
            flaps += s
                .windows(2)
                .filter(|w| !w[0].1 && w[1].1 && w[1].0 - w[0].0 < Duration::from_secs(60))
                .count();
        }
    }
    assert_eq!(
        (flaps, changes),
        (0, 0),
        "offline and online again within a minute, and changes after the first"
    );
}

#[test]
fn goodbye_is_offline_at_once_on_a_lossy_link() {
    let mut link = Link::perfect();
    link.loss = 0.3;
    let mut p = friends(link, 7);
    p.advance(Duration::from_secs(30));
    assert_eq!(presence(&p, 0), vec![true]);
    // Only the goodbye gets through, so it is not lost here.
    p.nodes[1].goodbye();
    p.link.loss = 0.0;
    p.advance(Duration::from_millis(100));
    assert_eq!(presence(&p, 0), vec![true, false]);
    // B is gone for good.
    p.filter = Some(Box::new(|from, _| from != 1));
    p.advance(Duration::from_secs(60));
    assert_eq!(presence(&p, 0), vec![true, false]);
    let health = p.nodes[0].link(p.ids[1]).expect("peer");
    assert_eq!((health.online, health.reachable), (Some(false), false));
}

#[test]
fn a_contact_really_gone_on_a_lossy_link_is_offline_within_forty_seconds() {
    for seed in 0..10 {
        let mut link = Link::perfect();
        link.loss = 0.3;
        let mut p = friends(link, 200 + seed);
        p.advance(Duration::from_secs(60));
        assert_eq!(presence(&p, 0), vec![true], "seed {seed}");
        p.filter = Some(Box::new(|from, _| from != 1));
        let last_heard = p.nodes[0]
            .link(p.ids[1])
            .and_then(|h| h.last_heard)
            .expect("heard");
        while presence(&p, 0).len() == 1 && p.now - last_heard < Duration::from_secs(60) {
            p.advance(Duration::from_millis(500));
        }
        let silent = p.now - last_heard;
        assert_eq!(presence(&p, 0), vec![true, false], "seed {seed}");
        assert!(
            silent <= Duration::from_secs(40),
            "offline after {silent:?}"
        );
    }
}

#[test]
fn a_contact_answering_again_is_reachable_before_it_is_online() {
    let mut p = friends(Link::perfect(), 8);
    p.advance(Duration::from_secs(20));
    // B goes silent until A shows it offline.
    p.filter = Some(Box::new(|from, _| from != 1));
    p.advance(Duration::from_secs(40));
    assert_eq!(presence(&p, 0), vec![true, false]);
    // One stray datagram of B gets through: reachable, still offline, no presence event.
    let mut one = 1;
    p.filter = Some(Box::new(move |from, _| {
        if from != 1 {
            return true;
        }
        let pass = one > 0;
        one -= 1;
        pass
    }));
    p.advance(Duration::from_secs(20));
    assert_eq!(
        presence(&p, 0),
        vec![true, false],
        "one answer is not enough"
    );
    let health = p.nodes[0].link(p.ids[1]).expect("peer");
    assert_eq!((health.online, health.reachable), (Some(false), false));
    assert_eq!(
        reachable(&p, 0),
        vec![true, false],
        "reachable, then lapsed"
    );
    // B answers again for good: reachable first, online a couple of seconds later.
    p.filter = None;
    let mut waited = Duration::ZERO;
    while reachable(&p, 0).len() < 3 && waited < Duration::from_secs(20) {
        p.advance(Duration::from_millis(100));
        waited += Duration::from_millis(100);
    }
    let health = p.nodes[0].link(p.ids[1]).expect("peer");
    assert_eq!((health.online, health.reachable), (Some(false), true));
    assert_eq!(presence(&p, 0), vec![true, false]);
    p.advance(Duration::from_secs(3));
    assert_eq!(presence(&p, 0), vec![true, false, true]);
    let health = p.nodes[0].link(p.ids[1]).expect("peer");
    assert_eq!((health.online, health.reachable), (Some(true), false));
}
