//! The protocol's seeded generator, and datagrams no receiver may take for a message.

use qqchat_proto::wire::{self, Data, Datagram, MAX_DATAGRAM, Packet};

/// The protocol's own seeded generator, with what the tests draw from it.
pub use qqchat_proto::sim::Rng;

/// Lengths, percentages and bytes from an [`Rng`].
pub trait Draw {
    /// A length in `lo..=hi`.
    fn len_in(&mut self, lo: usize, hi: usize) -> usize;
    /// True `percent` times in a hundred.
    fn percent(&mut self, percent: u64) -> bool;
    fn bytes(&mut self, len: usize) -> Vec<u8>;
}

impl Draw for Rng {
    fn len_in(&mut self, lo: usize, hi: usize) -> usize {
        let span = u64::try_from(hi - lo + 1).expect("a small span");
        lo + usize::try_from(self.below(span)).expect("a small length")
    }

    fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64().to_le_bytes()[0]).collect()
    }
}

/// `count` datagrams that no receiver may take for a message: random bytes that are never
/// UTF-8 (the first byte is 0xFF or 0xC0, neither of which can start UTF-8 text), the magic
/// with version 1 and garbage after it, an unknown version, truncated valid packets, and
/// oversized datagrams. A magic-prefixed datagram that happens to decode as a real packet is
/// replaced, so that every one of them is junk by the wire format's own rules.
pub fn junk_datagrams(rng: &mut Rng, count: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let datagram = match out.len() % 10 {
            // Garbage after the magic and the current version.
            0 | 1 => {
                let mut d = vec![0xFF, b'q', b'q', wire::VERSION];
                let len = rng.len_in(0, 64);
                d.extend(rng.bytes(len));
                d
            }
            // The magic with a version this build does not speak, and a valid packet after it.
            2 => {
                let mut d = valid_data_packet(rng, 16);
                d[3] = 9;
                d
            }
            // A valid data packet cut short (never to nothing: an empty datagram is UTF-8).
            3 => {
                let d = valid_data_packet(rng, 40);
                let keep = rng.len_in(1, d.len() - 1);
                d[..keep].to_vec()
            }
            // Oversized: a valid packet header and 1,300 bytes in all.
            4 => {
                let mut d = valid_data_packet(rng, 1_300 - 40);
                d.resize(1_300, b'x');
                d
            }
            // Random bytes of any length that are never text: 0xFF starts no character in
            // UTF-8, nor in GB18030 (which qqchat also reads from strangers).
            _ => {
                let len = rng.len_in(1, 1_500);
                let mut d = rng.bytes(len);
                d[0] = 0xFF;
                d
            }
        };
        let accepted = datagram.len() <= MAX_DATAGRAM
            && matches!(wire::decode(&datagram), Ok(Datagram::Packets(_)));
        if !accepted {
            out.push(datagram);
        }
    }
    out
}

/// An encoded data packet with a payload of `payload_len` ASCII bytes.
fn valid_data_packet(rng: &mut Rng, payload_len: usize) -> Vec<u8> {
    let payload: Vec<u8> = (0..payload_len)
        .map(|_| b'a' + rng.next_u64().to_le_bytes()[0] % 26)
        .collect();
    wire::encode(&Packet::Data(Data {
        epoch: rng.next_u64(),
        seq: rng.below(4),
        floor: 0,
        id: rng.next_u64(),
        sent_at_ms: 1_700_000_000_000,
        frag: 0,
        frags: 1,
        payload: &payload,
    }))
}

/// Bytes that no two seeds share and no compressor shrinks: file contents for transfers.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
