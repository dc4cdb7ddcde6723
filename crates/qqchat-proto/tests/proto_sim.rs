//! The protocol on a simulated clock: two real nodes through a seeded hostile link.

use std::time::Duration;

use qqchat_proto::sim::{Link, Pair};
use qqchat_proto::wire::{self, Datagram, Packet};
use qqchat_proto::{Config, Event, Node};

fn pair(link: Link, seed: u64) -> Pair {
    Pair::new(
        Node::new(Config::new(1)),
        Node::new(Config::new(7)),
        link,
        seed,
    )
}

pub fn delivered(p: &Pair, i: usize) -> Vec<u64> {
    p.events[i]
        .iter()
        .filter_map(|e| match e {
            Event::Delivered { id, .. } => Some(*id),
            _ => None,
        })
        .collect()
}

fn failed(p: &Pair, i: usize) -> Vec<u64> {
    p.events[i]
        .iter()
        .filter_map(|e| match e {
            Event::Failed { id, .. } => Some(*id),
            _ => None,
        })
        .collect()
}

fn send(p: &mut Pair, from: usize, text: &str, id: u64) {
    let to = p.ids[1 - from];
    let now = p.now;
    p.nodes[from]
        .send(now, to, text.to_owned(), 0, id)
        .expect("message within limits");
}

/// The seq of a data packet, if it is one.
fn data_seq(bytes: &[u8]) -> Option<u64> {
    match wire::decode(bytes) {
        Ok(Datagram::Packets(packets)) => packets.iter().find_map(|p| match p {
            Packet::Data(d) => Some(d.seq),
            _ => None,
        }),
        _ => None,
    }
}

#[test]
fn thousand_messages_through_a_hostile_link_arrive_once_and_in_order() {
    for seed in [1, 2, 3] {
        let mut p = pair(Link::hostile(), seed);
        p.befriend();
        let want: Vec<String> = (0..1000).map(|i| format!("message {i}")).collect();
        for (i, text) in want.iter().enumerate() {
            send(&mut p, 0, text, i as u64);
        }
        assert!(p.run_until(2_000_000, |p| p.received(1).len() >= 1000
            && delivered(p, 0).len() >= 1000));
        p.advance(Duration::from_secs(5));
        assert_eq!(p.received(1), want, "seed {seed}");
        let mut ids = delivered(&p, 0);
        ids.sort_unstable();
        assert_eq!(ids, (0..1000).collect::<Vec<u64>>(), "seed {seed}");
        assert!(failed(&p, 0).is_empty());
        let stats = p.nodes[1].stats();
        assert!(
            stats.duplicates > 0,
            "the link duplicated, so duplicates were seen"
        );
        assert!(p.nodes[0].stats().retransmits > 0);
    }
}

#[test]
fn both_directions_at_once() {
    let mut p = pair(Link::hostile(), 9);
    p.befriend();
    for i in 0..200 {
        send(&mut p, 0, &format!("a{i}"), i);
        send(&mut p, 1, &format!("b{i}"), i);
    }
    assert!(p.run_until(1_000_000, |p| p.received(0).len() == 200
        && p.received(1).len() == 200));
    assert_eq!(
        p.received(1),
        (0..200).map(|i| format!("a{i}")).collect::<Vec<_>>()
    );
    assert_eq!(
        p.received(0),
        (0..200).map(|i| format!("b{i}")).collect::<Vec<_>>()
    );
}

#[test]
fn a_64_kib_message_travels_in_fragments() {
    let text: String = "qqchat 你好🚀 ".chars().cycle().take(70_000).collect();
    assert!(text.len() >= 64 * 1024);
    let mut p = pair(Link::hostile(), 4);
    send(&mut p, 0, &text, 42);
    send(&mut p, 0, "after", 43);
    assert!(p.run_until(1_000_000, |p| delivered(p, 0).len() == 2));
    assert_eq!(p.received(1), vec![text.as_str(), "after"]);
    assert!(p.nodes[0].stats().datagrams_out > 64);
}

#[test]
fn a_restarted_sender_is_not_taken_for_a_duplicate() {
    let mut p = pair(Link::perfect(), 5);
    for i in 0..5 {
        send(&mut p, 0, &format!("first life {i}"), i);
    }
    assert!(p.run_until(10_000, |p| delivered(p, 0).len() == 5));
    // The sender restarts: a new node, a later epoch, seq numbers from 0 again.
    p.nodes[0] = Node::new(Config::new(2));
    p.events[0].clear();
    for i in 0..5 {
        send(&mut p, 0, &format!("second life {i}"), i);
    }
    assert!(p.run_until(10_000, |p| delivered(p, 0).len() == 5));
    let got = p.received(1);
    assert_eq!(got.len(), 10, "{got:?}");
    assert_eq!(got[5], "second life 0");
}

#[test]
fn a_message_given_up_on_does_not_block_the_next() {
    let mut p = pair(Link::perfect(), 6);
    // Every data packet of message seq 0 is lost; everything else gets through.
    p.filter = Some(Box::new(|from, bytes| {
        !(from == 0 && data_seq(bytes) == Some(0))
    }));
    send(&mut p, 0, "lost", 1);
    // Let it leave in a datagram of its own before the next is queued.
    p.step();
    send(&mut p, 0, "second", 2);
    assert!(p.run_until(10_000, |p| delivered(p, 0) == vec![2]));
    assert!(
        p.received(1).is_empty(),
        "held back while the first may still come"
    );
    p.advance(Duration::from_secs(31));
    assert_eq!(failed(&p, 0), vec![1]);
    // The next message tells the receiver to stop waiting: no timeout needed.
    send(&mut p, 0, "third", 3);
    assert!(p.run_until(10_000, |p| p.received(1).len() == 2));
    assert_eq!(p.received(1), vec!["second", "third"]);
}

#[test]
fn held_messages_are_released_when_the_sender_falls_silent() {
    let mut p = pair(Link::perfect(), 7);
    p.filter = Some(Box::new(|from, bytes| {
        !(from == 0 && data_seq(bytes) == Some(0))
    }));
    send(&mut p, 0, "lost", 1);
    // Let it leave in a datagram of its own before the next is queued.
    p.step();
    send(&mut p, 0, "second", 2);
    p.advance(Duration::from_secs(20));
    assert!(p.received(1).is_empty());
    p.advance(Duration::from_secs(20));
    assert_eq!(p.received(1), vec!["second"]);
}

#[test]
fn retransmission_backs_off_and_gives_up_after_about_30_seconds() {
    let mut p = pair(Link::perfect(), 8);
    p.filter = Some(Box::new(|from, _| from != 0));
    send(&mut p, 0, "into the void", 1);
    p.advance(Duration::from_secs(29));
    assert!(failed(&p, 0).is_empty());
    let sends = p.nodes[0].stats().datagrams_out;
    // 333 ms doubling, capped at 4 s: about a dozen tries in 30 s, not hundreds.
    assert!((6..=15).contains(&sends), "{sends} transmissions");
    p.advance(Duration::from_secs(2));
    assert_eq!(failed(&p, 0), vec![1]);
}

#[test]
fn the_round_trip_is_measured_and_drives_the_timeout() {
    let mut p = pair(Link::perfect(), 10);
    for i in 0..20 {
        send(&mut p, 0, "x", i);
    }
    assert!(p.run_until(10_000, |p| delivered(p, 0).len() == 20));
    let rtt = p.nodes[0].rtt(p.ids[1]).expect("measured");
    assert!(
        rtt >= Duration::from_millis(19) && rtt <= Duration::from_millis(25),
        "{rtt:?}"
    );
}

#[test]
fn plain_text_is_a_message_and_plain_sends_are_bare() {
    let mut p = pair(Link::perfect(), 11);
    let to = p.ids[1];
    p.nodes[0].send_plain(to, "hello plain", 5);
    assert!(p.run_until(100, |p| p.received(1).len() == 1));
    assert!(matches!(
        p.events[1][0],
        Event::Received {
            plain: true,
            sent_at_ms: None,
            ..
        }
    ));
    assert!(matches!(p.events[0][0], Event::Sent { id: 5, .. }));
}

#[test]
fn junk_is_counted_and_dropped() {
    let mut node = Node::new(Config::new(1));
    let now = std::time::Instant::now();
    let from = "127.0.0.1:9".parse().expect("addr");
    node.handle_datagram(now, from, &[0xFF, 0x00, 0x80]);
    node.handle_datagram(now, from, &[0xFF, b'q', b'q', 99, 1, 2]);
    node.handle_datagram(now, from, &[0xFF, b'q', b'q', wire::VERSION, 0, 200, 200]);
    assert_eq!(node.poll_event(), None);
    assert_eq!(node.stats().malformed, 2);
    assert_eq!(node.stats().unknown_version, 1);
}

#[test]
#[ignore]
fn report_hostile_timing() {
    for seed in [1u64, 2, 3] {
        let mut p = pair(Link::hostile(), seed);
        p.befriend();
        let start = p.now;
        for i in 0..1000u64 {
            send(&mut p, 0, &format!("message {i}"), i);
        }
        let mut steps = 0;
        p.run_until(2_000_000, |p| {
            steps += 1;
            delivered(p, 0).len() >= 1000
        });
        eprintln!(
            "seed {seed}: {:?} sim, {steps} steps, {:?}",
            p.now - start,
            p.nodes[0].stats()
        );
    }
}
