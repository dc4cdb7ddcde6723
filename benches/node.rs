//! One protocol node's throughput in memory: two nodes joined back to back, no sockets and no
//! loss, every datagram handed over at the same instant. What it measures is the protocol's
//! own cost per message (framing, acks, windows, and with keys the Noise handshake and
//! encryption), the ceiling above which no network can push it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use qqchat::proto::PeerId;
use qqchat::proto::secure::Keypair;
use qqchat::proto::{Config, Event, Node};

const MESSAGES: u64 = 10_000;
const SIZE: usize = 100;

/// Two nodes that know each other, and their addresses (labels only).
struct Link {
    nodes: [Node; 2],
    addrs: [SocketAddr; 2],
    /// How node 0 names node 1.
    to: PeerId,
    now: Instant,
}

fn link(keys: Option<&[Keypair; 2]>) -> Link {
    let addrs = [
        SocketAddr::from(([127, 0, 0, 1], 1001)),
        SocketAddr::from(([127, 0, 0, 1], 1002)),
    ];
    let now = Instant::now();
    let mut nodes = [1, 2].map(|epoch| {
        let mut config = Config::new(epoch);
        config.identity = keys.map(|k| k[epoch as usize - 1].clone());
        Node::new(config)
    });
    let peers = [0, 1].map(|i| match keys {
        Some(keys) => PeerId::Key(keys[i].public),
        None => PeerId::addr(addrs[i]),
    });
    for (i, node) in nodes.iter_mut().enumerate() {
        let peer = peers[1 - i];
        node.add_peer(now, peer, addrs[1 - i]);
        // Contacts: spared the rate limit for strangers, as two people chatting are.
        node.befriend(now, peer);
    }
    Link {
        nodes,
        addrs,
        to: peers[1],
        now,
    }
}

/// Sends every message from node 0 to node 1 and moves datagrams both ways until each one
/// is delivered. Returns how many datagrams crossed.
fn run(link: &mut Link, texts: Vec<String>) -> u64 {
    let Link {
        nodes,
        addrs,
        to,
        now,
    } = link;
    let now = *now;
    for (id, text) in texts.into_iter().enumerate() {
        nodes[0]
            .send(now, *to, text, 0, id as u64)
            .expect("room in the queue");
    }
    let (mut delivered, mut received, mut datagrams) = (0, 0, 0);
    while delivered < MESSAGES {
        let [a, b] = &mut *nodes;
        let moved = pump(a, b, addrs[0], now) + pump(b, a, addrs[1], now);
        datagrams += moved;
        while let Some(e) = nodes[0].poll_event() {
            delivered += u64::from(matches!(e, Event::Delivered { .. }));
        }
        while let Some(e) = nodes[1].poll_event() {
            received += u64::from(matches!(e, Event::Received { .. }));
        }
        assert!(moved > 0, "stalled after {delivered} delivered");
    }
    assert_eq!(received, MESSAGES);
    datagrams
}

/// Hands every datagram `src` has to send to `dst`, as coming from `from`; returns how many.
fn pump(src: &mut Node, dst: &mut Node, from: SocketAddr, now: Instant) -> u64 {
    let mut count = 0;
    while let Some(t) = src.poll_transmit() {
        dst.handle_datagram(now, from, &t.payload);
        count += 1;
    }
    count
}

fn texts() -> Vec<String> {
    (0..MESSAGES)
        .map(|i| {
            let mut text = format!("message {i} ");
            text.extend(std::iter::repeat_n('x', SIZE - text.len()));
            text
        })
        .collect()
}

fn throughput(c: &mut Criterion) {
    let keys = [
        Keypair::generate().expect("a key pair"),
        Keypair::generate().expect("a key pair"),
    ];
    let mut group = c.benchmark_group("node");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(MESSAGES));
    for (name, keys) in [("unkeyed", None), ("keyed", Some(&keys))] {
        // Report once how many datagrams a run takes, so packing shows.
        let datagrams = run(&mut link(keys), texts());
        println!("node/{name}: {MESSAGES} messages of {SIZE} B took {datagrams} datagrams");
        group.bench_function(format!("{name} {MESSAGES} x {SIZE} B"), |b| {
            b.iter_batched(
                || (link(keys), texts()),
                |(mut link, texts)| {
                    run(&mut link, texts);
                    link
                },
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
