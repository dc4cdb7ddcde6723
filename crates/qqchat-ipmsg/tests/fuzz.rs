//! Whatever arrives, the endpoint neither panics nor grows without bound.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use qqchat_ipmsg::{Config, Endpoint, RawPacket};

fn endpoint() -> Endpoint {
    let mut c = Config::new("me", "box", "Me");
    c.local_ips = vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))];
    c.max_peers = 8;
    c.max_seen = 32;
    Endpoint::new(c, 1_733_300_000)
}

/// Datagrams that look like IP Messenger: six fields with numbers and text, real commands
/// and options, random bytes (NULs, colons, invalid encodings) in the text fields.
fn packetish() -> impl Strategy<Value = Vec<u8>> {
    let field = prop::collection::vec(any::<u8>(), 0..24);
    let command = prop_oneof![
        Just(1u32),
        Just(2),
        Just(3),
        Just(4),
        Just(0x20),
        Just(0x21),
        Just(0x40),
        Just(0x50),
        any::<u32>(),
    ];
    let opts = prop_oneof![
        Just(0u32),
        Just(0x100),
        Just(0x80_0000),
        Just(0x100_0000),
        Just(0x20_0100),
        any::<u32>()
    ];
    let version = prop_oneof![
        Just(b"1".to_vec()),
        Just(b"1_iptux 0.8.3".to_vec()),
        Just(b"1_lbt6_0#128#000C29D2D6B3#0#0#0#4001#9".to_vec()),
        prop::collection::vec(any::<u8>(), 0..8),
    ];
    let number = prop_oneof![
        (0u64..10).prop_map(|n| n.to_string().into_bytes()),
        any::<u64>().prop_map(|n| n.to_string().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..6),
    ];
    (
        version,
        number,
        field.clone(),
        field.clone(),
        command,
        opts,
        prop::collection::vec(any::<u8>(), 0..200),
    )
        .prop_map(|(v, n, u, h, c, o, extra)| {
            let mut out = v;
            out.push(b':');
            out.extend(n);
            out.push(b':');
            out.extend(u);
            out.push(b':');
            out.extend(h);
            out.push(b':');
            out.extend(((c & 0xff) | (o & !0xff)).to_string().bytes());
            out.push(b':');
            out.extend(extra);
            out
        })
}

fn source() -> impl Strategy<Value = SocketAddr> {
    (0u8..12, any::<u16>())
        .prop_map(|(last, port)| SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)), port))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(datagrams in prop::collection::vec((source(), prop::collection::vec(any::<u8>(), 0..300)), 1..20)) {
        let mut e = endpoint();
        let t = Instant::now();
        for (i, (from, bytes)) in datagrams.iter().enumerate() {
            let _ = RawPacket::parse(bytes);
            e.handle_datagram(t + Duration::from_millis(i as u64), *from, bytes);
        }
        while e.poll_transmit().is_some() {}
        while e.poll_event().is_some() {}
    }

    #[test]
    fn packet_shaped_input_never_panics_and_stays_bounded(
        datagrams in prop::collection::vec((source(), packetish()), 1..60),
        sends in prop::collection::vec((0u8..12, ".{0,40}"), 0..8),
    ) {
        let mut e = endpoint();
        let t = Instant::now();
        for (i, (last, text)) in sends.iter().enumerate() {
            let _ = e.send(t, IpAddr::V4(Ipv4Addr::new(10, 0, 0, *last)), text, i as u64);
        }
        for (i, (from, bytes)) in datagrams.iter().enumerate() {
            let now = t + Duration::from_millis(100 * i as u64);
            e.handle_datagram(now, *from, bytes);
            e.handle_timeout(now);
            while let Some(tx) = e.poll_transmit() {
                // Everything sent parses back.
                prop_assert!(RawPacket::parse(&tx.payload).is_ok());
                prop_assert!(tx.payload.len() <= e.config().max_send);
            }
            while e.poll_event().is_some() {}
        }
        prop_assert!(e.peers().count() <= 8);
        e.handle_timeout(t + Duration::from_secs(3600));
        prop_assert_eq!(e.poll_timeout(), None);
        prop_assert_eq!(e.queued(), 0);
    }
}
