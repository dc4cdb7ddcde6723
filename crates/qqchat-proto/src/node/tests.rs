//! The node's own invariants, checked from inside.

use super::*;

/// What `poll_timeout` answered before the index: a scan of every peer.
fn scanned(node: &Node) -> Option<Instant> {
    let peers = node
        .peers
        .values()
        .filter_map(|p| p.deadline(&node.config))
        .min();
    let handshake = node.secure.as_ref().and_then(Secure::poll_timeout);
    [peers, handshake, node.reach.deadline()]
        .into_iter()
        .flatten()
        .min()
}

fn addr(i: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 2000 + i))
}

fn peer(i: u16) -> PeerId {
    PeerId::addr(addr(i))
}

/// A data packet as peer `seq`'s sender would send it.
fn data(seq: u64, frag: u16, frags: u16) -> Vec<u8> {
    wire::encode(&Packet::Data(wire::Data {
        epoch: 9,
        seq,
        floor: 0,
        id: seq,
        sent_at_ms: 0,
        frag,
        frags,
        payload: b"hi",
    }))
}

#[test]
fn the_deadline_index_always_matches_a_scan_of_every_peer() {
    let mut config = Config::new(1);
    config.max_strangers = 4;
    let mut node = Node::new(config);
    let t0 = Instant::now();
    let check = |node: &Node, what: &str| {
        assert_eq!(node.poll_timeout(), scanned(node), "after {what}");
        for p in node.peers.values() {
            assert_eq!(p.scheduled, p.deadline(&node.config), "after {what}");
        }
        assert_eq!(
            node.deadlines.len(),
            node.peers
                .values()
                .filter(|p| p.scheduled.is_some())
                .count()
        );
    };
    check(&node, "nothing");
    for i in 0..3 {
        node.watch(t0, peer(i));
        check(&node, "watch");
    }
    node.send(t0, peer(0), "hello".into(), 0, 1).ok();
    check(&node, "send");
    // Strangers: a gap (seq 1 before 0) and a partial message, then more than fit.
    for i in 10..20 {
        let now = t0 + Duration::from_millis(u64::from(i));
        node.handle_datagram(now, addr(i), &data(1, 0, 1));
        check(&node, "a gap");
        node.handle_datagram(now, addr(i), &data(2, 0, 2));
        check(&node, "a fragment");
    }
    node.unwatch(peer(2));
    check(&node, "unwatch");
    while node.poll_transmit().is_some() {}
    let mut now = t0;
    for _ in 0..200 {
        let Some(next) = node.poll_timeout() else {
            break;
        };
        now = now.max(next);
        node.handle_timeout(now);
        check(&node, "a timeout");
        while node.poll_transmit().is_some() {}
    }
    assert!(node.stats().failed >= 1, "the unanswered message failed");
}
