//! The datagram format, version 1.
//!
//! A qqchat datagram is `MAGIC` (3 bytes), a version byte, then one or more [`Packet`]s back
//! to back in postcard encoding (little-endian varints, length-prefixed byte strings): small
//! messages and receipts to one peer share a datagram, so a burst costs fewer datagrams. The magic starts with `0xFF`,
//! a byte that never occurs in UTF-8, so a qqchat datagram can never be mistaken for the bare
//! UTF-8 text that plain UDP peers send.
//!
//! A later version may wrap the packet in an authenticated-encryption layer: the version byte
//! is what tells a receiver which layer follows.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// First bytes of every qqchat datagram; `0xFF` is invalid UTF-8 on purpose.
pub const MAGIC: [u8; 3] = [0xFF, b'q', b'q'];
/// The protocol version this build speaks.
pub const VERSION: u8 = 1;
/// No datagram is larger than this (QUIC's safe minimum MTU payload).
pub const MAX_DATAGRAM: usize = 1200;
/// Largest message payload in one data packet; leaves room for the header and varints.
pub const MAX_PAYLOAD: usize = 1100;
/// Largest number of ack items in one ack packet, so that it stays under [`MAX_DATAGRAM`].
pub const MAX_ACK_ITEMS: usize = 80;
/// Most bytes of packets in one datagram: what fits in [`MAX_DATAGRAM`] also once wrapped in
/// Noise (33 bytes of header and tag instead of 4).
pub const MAX_BODY: usize = MAX_DATAGRAM - 33;

/// One packet of the reliable protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Packet<'a> {
    /// A message or one fragment of it.
    #[serde(borrow)]
    Data(Data<'a>),
    /// Receipts for data packets of one sender epoch.
    Ack(Ack),
    /// Are you there? `hello` is set on start-up, so the peer knows at once.
    Ping { nonce: u64, hello: bool },
    /// The answer to a ping, echoing its nonce.
    Pong { nonce: u64 },
    /// The sender is quitting: show it offline now rather than after a timeout.
    Bye,
    // Packets below were added after the first release: each goes alone in its datagram
    // (see [`shares_datagram`]), so a peer of that release drops only it.
    /// Where the sender can be reached now, and where it sees the receiver: how keyed
    /// contacts keep each other's candidates current. Sent only inside Noise.
    Addresses(Addresses),
    /// The sender starts punching the receiver's candidates now: punch back at once, so
    /// both NATs open their mappings at the same moment. Sent only inside Noise.
    Punch,
    /// A file transfer's packet (see the `transfer` module), carried as opaque bytes so the
    /// transfer's own format can grow without touching this one; inside Noise for keyed
    /// contacts, like everything else.
    #[serde(borrow)]
    Xfer(&'a [u8]),
}

/// A keyed peer's candidate addresses, as it tells them to a contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Addresses {
    /// Grows whenever the candidates change, across restarts too (it starts from the
    /// epoch): a receiver keeps only the newest.
    pub seq: u64,
    /// The newest `seq` of the receiver's own that the sender holds: once it is the
    /// receiver's latest, the receiver stops telling.
    pub got: u64,
    /// The sender's candidates, best first; a receiver keeps at most [`MAX_CANDIDATES`].
    pub mine: Vec<std::net::SocketAddr>,
    /// The address the receiver's datagrams come from, as the sender sees it: a free STUN
    /// answer from every contact.
    pub yours: std::net::SocketAddr,
}

/// The most candidates one [`Addresses`] packet carries or a receiver keeps.
pub const MAX_CANDIDATES: usize = 8;

/// The variant number of the first packet kind a first-release peer does not know.
const FIRST_LATER_KIND: u8 = 5;

/// Whether a packet body (no header) may share a datagram with others: only the packet
/// kinds of the first release, which every peer decodes. A datagram holding one unknown
/// packet is dropped whole, so later kinds travel alone.
pub fn shares_datagram(body: &[u8]) -> bool {
    body.first().is_some_and(|&kind| kind < FIRST_LATER_KIND)
}

/// A message, or one fragment of a message longer than [`MAX_PAYLOAD`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Data<'a> {
    /// The sender's run: ids are `(epoch, seq)`, so a restarted sender never reuses one.
    pub epoch: u64,
    /// Per-receiver sequence number, counting from 0 in each epoch.
    pub seq: u64,
    /// Every seq below this was acked or given up on: the receiver need not wait for it.
    pub floor: u64,
    /// The message's own id, the same in every retry and after a restart of the sender:
    /// a receiver that sees it twice shows it once.
    pub id: u64,
    /// Sender's wall clock at send, in milliseconds since the Unix epoch.
    pub sent_at_ms: i64,
    /// Index of this fragment.
    pub frag: u16,
    /// Number of fragments of the message (1 when not fragmented).
    pub frags: u16,
    /// This fragment's share of the message's UTF-8 bytes.
    #[serde(borrow)]
    pub payload: &'a [u8],
}

/// Receipts for one epoch of the peer's data packets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub epoch: u64,
    pub items: Vec<AckItem>,
}

/// The receipt of one fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AckItem {
    pub seq: u64,
    pub frag: u16,
}

/// What a datagram turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Datagram<'a> {
    /// qqchat packets, at least one.
    Packets(Vec<Packet<'a>>),
    /// Bare UTF-8 from a plain UDP peer.
    Plain(&'a str),
}

/// Why a datagram was dropped.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum WireError {
    #[error("datagram of {0} bytes is larger than {MAX_DATAGRAM}")]
    TooLarge(usize),
    #[error("qqchat datagram of unknown version {0}")]
    UnknownVersion(u8),
    #[error("malformed qqchat datagram")]
    Malformed,
    #[error("neither a qqchat datagram nor UTF-8 text")]
    NotText,
    #[error("empty datagram")]
    Empty,
}

/// The header before the packets of a version-1 datagram: the magic and the version byte.
pub const HEADER: usize = MAGIC.len() + 1;

/// A packet without its header: what the secure layer seals, the header being implied.
pub fn encode_body(packet: &Packet<'_>) -> Vec<u8> {
    encode(packet).split_off(HEADER)
}

/// Encodes a packet with its header.
pub fn encode(packet: &Packet<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    // postcard only fails on a full fixed buffer or a type it cannot express; neither applies.
    postcard::to_extend(packet, out).expect("a packet always encodes into a Vec")
}

/// Decodes one datagram: a qqchat packet, plain text, or an error saying why it is dropped.
/// Plain peers are not bound by qqchat's own datagram size: their text is taken whole.
pub fn decode(bytes: &[u8]) -> Result<Datagram<'_>, WireError> {
    if let Some(rest) = bytes.strip_prefix(&MAGIC) {
        if bytes.len() > MAX_DATAGRAM {
            return Err(WireError::TooLarge(bytes.len()));
        }
        let (&version, body) = rest.split_first().ok_or(WireError::Malformed)?;
        if version != VERSION {
            return Err(WireError::UnknownVersion(version));
        }
        return decode_body(body).map(Datagram::Packets);
    }
    if bytes.is_empty() {
        return Err(WireError::Empty);
    }
    std::str::from_utf8(bytes)
        .map(Datagram::Plain)
        .map_err(|_| WireError::NotText)
}

/// The packets of a datagram body (after the header, or decrypted): at least one, and no
/// bytes left over.
pub fn decode_body(mut body: &[u8]) -> Result<Vec<Packet<'_>>, WireError> {
    let mut packets = Vec::with_capacity(1);
    loop {
        let (packet, rest) =
            postcard::take_from_bytes::<Packet<'_>>(body).map_err(|_| WireError::Malformed)?;
        packets.push(packet);
        if rest.is_empty() {
            return Ok(packets);
        }
        body = rest;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(payload: &[u8]) -> Packet<'_> {
        Packet::Data(Data {
            epoch: u64::MAX,
            seq: u64::MAX,
            floor: u64::MAX,
            id: u64::MAX,
            sent_at_ms: i64::MIN,
            frag: u16::MAX,
            frags: u16::MAX,
            payload,
        })
    }

    #[test]
    fn data_round_trips_and_fits_at_max_payload() {
        let payload = vec![b'x'; MAX_PAYLOAD];
        let bytes = encode(&data(&payload));
        assert!(bytes.len() <= MAX_DATAGRAM, "{} bytes", bytes.len());
        assert_eq!(decode(&bytes), Ok(Datagram::Packets(vec![data(&payload)])));
    }

    #[test]
    fn full_ack_fits() {
        let ack = Packet::Ack(Ack {
            epoch: u64::MAX,
            items: vec![
                AckItem {
                    seq: u64::MAX,
                    frag: u16::MAX
                };
                MAX_ACK_ITEMS
            ],
        });
        let bytes = encode(&ack);
        assert!(bytes.len() <= MAX_DATAGRAM, "{} bytes", bytes.len());
        assert_eq!(decode(&bytes), Ok(Datagram::Packets(vec![ack])));
    }

    #[test]
    fn text_is_plain_and_junk_is_refused() {
        assert_eq!(decode("héllo".as_bytes()), Ok(Datagram::Plain("héllo")));
        assert_eq!(decode(&[0xC3, 0x28]), Err(WireError::NotText));
        assert_eq!(decode(&[0xFF, b'q', b'q']), Err(WireError::Malformed));
        assert_eq!(
            decode(&[0xFF, b'q', b'q', 9, 0]),
            Err(WireError::UnknownVersion(9))
        );
        assert_eq!(
            decode(&[0xFF, b'q', b'q', VERSION, 7]),
            Err(WireError::Malformed)
        );
        let mut big = MAGIC.to_vec();
        big.resize(1201, 0);
        assert_eq!(decode(&big), Err(WireError::TooLarge(1201)));
        // A plain peer may send more than a qqchat datagram holds.
        let long = "a".repeat(5000);
        assert_eq!(decode(long.as_bytes()), Ok(Datagram::Plain(long.as_str())));
        assert_eq!(decode(&[]), Err(WireError::Empty));
    }

    #[test]
    fn later_packet_kinds_round_trip_and_travel_alone() {
        let addresses = Packet::Addresses(Addresses {
            seq: u64::MAX,
            got: 7,
            mine: vec![
                "192.168.1.20:9001".parse().expect("an address"),
                "[2001:db8::1]:9001".parse().expect("an address"),
            ],
            yours: "203.0.113.7:40000".parse().expect("an address"),
        });
        for packet in [addresses, Packet::Punch] {
            let bytes = encode(&packet);
            assert_eq!(decode(&bytes), Ok(Datagram::Packets(vec![packet])));
            assert!(!shares_datagram(&bytes[HEADER..]));
        }
        for packet in [Packet::Bye, Packet::Pong { nonce: 1 }] {
            assert!(shares_datagram(&encode_body(&packet)));
        }
    }

    #[test]
    fn packets_share_a_datagram_and_trailing_junk_is_malformed() {
        let mut bytes = encode(&data(b"hi"));
        bytes.extend_from_slice(&encode(&Packet::Bye)[4..]);
        assert_eq!(
            decode(&bytes),
            Ok(Datagram::Packets(vec![data(b"hi"), Packet::Bye]))
        );
        bytes.push(0xFF);
        assert_eq!(decode(&bytes), Err(WireError::Malformed));
    }
}
