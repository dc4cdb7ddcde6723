//! Any datagram, through the decoder and a whole protocol node: nothing may panic, and the
//! node's memory must stay bounded whatever arrives.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use qqchat::proto::{Config, Node, wire};

fuzz_target!(|data: &[u8]| {
    let _ = wire::decode(data);
    let mut node = Node::new(Config::new(1));
    let now = Instant::now();
    let from = SocketAddr::from(([127, 0, 0, 1], 9000));
    // The input as one datagram, then cut into several, as a stream of packets.
    node.handle_datagram(now, from, data);
    for (i, chunk) in data.split(|&b| b == 0xFE).enumerate() {
        let at = now + Duration::from_millis(i as u64);
        node.handle_datagram(at, from, chunk);
    }
    node.handle_timeout(now + Duration::from_secs(120));
    while node.poll_transmit().is_some() {}
    while node.poll_event().is_some() {}
    assert!(node.buffered_bytes() <= 64 << 20);
});
