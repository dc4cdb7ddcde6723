//! The transfer packets: a version byte, then one [`XferPacket`] in postcard.
//!
//! Each encoded packet is at most [`MAX_BODY`] bytes, so it fits one
//! 1,200-byte datagram also once wrapped in Noise. Decoding checks every bound after postcard
//! has parsed the bytes: a packet that breaks one is refused whole.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::wire::MAX_BODY;

/// The transfer packet format this build speaks; a packet of another version is refused.
pub const XFER_VERSION: u8 = 1;
/// Most file bytes in one [`XferPacket::Data`]: with the version, the kind, three varints and
/// the length it stays below [`MAX_BODY`] with room for an outer packet kind.
pub const MAX_CHUNK: u16 = 1100;
/// Most ranges in an [`Accept`] or [`Ack`].
pub const MAX_RANGES: usize = 32;
/// Most block hashes in one [`XferPacket::Hashes`].
pub const MAX_HASHES: usize = 32;
/// Longest file name in an offer, in bytes of UTF-8.
pub const MAX_NAME: usize = 255;
/// Smallest and largest block size an offer may name.
pub const MIN_BLOCK: u32 = 4 * 1024;
pub const MAX_BLOCK: u32 = 16 * 1024 * 1024;

/// A transfer's id: chosen by the sender, unique among its transfers (random, so that a
/// restarted sender does not reuse one by chance).
pub type TransferId = u64;

/// A BLAKE3 hash.
pub type Hash = [u8; 32];

/// One transfer packet. Packets that concern the sender's side of a transfer carry
/// `to_sender`, since each end numbers its outgoing transfers itself and an id alone does not
/// say which of the two maps it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum XferPacket<'a> {
    /// Sender → receiver: here is a file. Resent until answered; sent again by a restarted
    /// sender, which the receiver answers with what it holds.
    Offer(Offer),
    /// Receiver → sender: send it; these ranges are already here. Also sent by a restarted
    /// receiver, so the sender continues from its holdings.
    Accept(Accept),
    /// Receiver → sender: no thanks.
    Decline { id: TransferId },
    /// Sender → receiver: bytes of the file at `offset`.
    #[serde(borrow)]
    Data(Data<'a>),
    /// Receiver → sender: which data packets arrived, and how far the sender may go.
    Ack(Ack),
    /// Receiver → sender: send the hashes of blocks `first..first + count`.
    HashReq {
        id: TransferId,
        first: u32,
        count: u16,
    },
    /// Sender → receiver: the BLAKE3 hashes of blocks `first..`.
    Hashes {
        id: TransferId,
        first: u32,
        hashes: Vec<Hash>,
    },
    /// Either side: the transfer is over. `to_sender` says the packet is for the sender's end.
    /// `forgotten`: the end never had this transfer in its present run (it restarted), rather
    /// than ended it; a receiver keeps what arrived, for the file's next offer to resume.
    Cancel {
        id: TransferId,
        to_sender: bool,
        forgotten: bool,
    },
    /// Either side: stop for now (repeated while paused, so it also keeps the transfer alive).
    Pause { id: TransferId, to_sender: bool },
    /// Either side: carry on.
    Resume { id: TransferId, to_sender: bool },
    /// Receiver → sender: every block and the whole file matched their hashes. Repeated until
    /// the sender answers [`XferPacket::Done`].
    Verified { id: TransferId },
    /// Sender → receiver: the sender has seen [`XferPacket::Verified`]; the receiver may forget.
    Done { id: TransferId },
    /// Either side: the transfer failed, and why.
    Failed {
        id: TransferId,
        to_sender: bool,
        reason: FailReason,
    },
}

/// What an offer says about a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    pub id: TransferId,
    /// The name the sender gives; never to be trusted as a path.
    pub name: String,
    pub size: u64,
    /// BLAKE3 of the whole file.
    pub hash: Hash,
    /// The block size of the block hashes, which the receiver asks for with
    /// [`XferPacket::HashReq`] and checks each block against once it holds it all.
    pub block: u32,
    /// The sender's run: a restarted sender numbers its packets from zero again, and the
    /// session tells its packet numbers from those of the run before.
    pub session: u32,
}

impl Offer {
    /// Whether two offers describe the same file (whatever run of the sender made them).
    pub fn same_file(&self, other: &Offer) -> bool {
        self.id == other.id && self.same_content(other)
    }

    /// The same bytes under the same name, whatever the transfer's id: what a restarted
    /// sender offers again under a new one.
    pub fn same_content(&self, other: &Offer) -> bool {
        self.name == other.name
            && self.size == other.size
            && self.hash == other.hash
            && self.block == other.block
    }

    /// Number of blocks.
    pub fn blocks(&self) -> u64 {
        self.size.div_ceil(u64::from(self.block.max(1)))
    }

    /// The byte range of block `b`.
    pub fn block_range(&self, b: u64) -> std::ops::Range<u64> {
        let block = u64::from(self.block);
        let start = b.saturating_mul(block).min(self.size);
        start..start.saturating_add(block).min(self.size)
    }
}

/// The receiver's answer to an offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accept {
    pub id: TransferId,
    /// How many times the receiver has been restored from its persisted holdings: a sender
    /// resets what it knows only for a newer round, not for a late copy of an old accept.
    pub round: u32,
    /// Byte ranges the receiver holds already: at most [`MAX_RANGES`] in one packet, the
    /// rest in further accepts of the same round.
    pub held: Vec<(u64, u64)>,
    /// The sender may send bytes below this offset.
    pub limit: u64,
}

/// A slice of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Data<'a> {
    pub id: TransferId,
    /// The sender's run, as in its offer.
    pub session: u32,
    /// Packet number, growing by one per data packet of this transfer (retransmissions get a
    /// new one), so acks tell which copy arrived.
    pub pn: u64,
    pub offset: u64,
    #[serde(borrow, serialize_with = "as_bytes")]
    pub bytes: &'a [u8],
}

/// The file bytes in one piece: serde's default writes a slice element by element, which
/// took half the sending engine's time; postcard puts the same bytes on the wire either way.
fn as_bytes<S: serde::Serializer>(bytes: &&[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bytes(bytes)
}

/// Selective acknowledgement of data packets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub id: TransferId,
    /// Packet numbers received, as `[start, end)` ranges, highest first (at most [`MAX_RANGES`]).
    pub pns: Vec<(u64, u64)>,
    /// How long the receiver held the ack of the highest packet number, in microseconds.
    pub delay_us: u32,
    /// The lowest byte range the receiver lacks, if any: a sender that believed it delivered
    /// sends it again (the receiver threw it away when its block failed the hash).
    pub gap: Option<(u64, u64)>,
    /// The sender may send bytes below this offset: the receive window.
    pub limit: u64,
}

/// Why a transfer failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Error)]
pub enum FailReason {
    #[error("nothing heard from the peer for too long")]
    Timeout,
    #[error("block {0} did not match its hash, again and again")]
    BadBlock(u32),
    #[error("the whole file did not match its hash")]
    FileHash,
    #[error("reading or writing the file failed")]
    Io,
    #[error("the peer broke the transfer protocol")]
    Protocol,
}

/// Why a transfer packet was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum XferWireError {
    #[error("transfer packet of {0} bytes is too large")]
    TooLarge(usize),
    #[error("transfer packet of unknown version {0}")]
    UnknownVersion(u8),
    #[error("malformed transfer packet")]
    Malformed,
    #[error("transfer packet out of bounds: {0}")]
    OutOfBounds(&'static str),
    #[error("empty transfer packet")]
    Empty,
}

/// Encodes a packet: the version byte, then postcard.
pub fn encode(packet: &XferPacket<'_>) -> Vec<u8> {
    let mut out = vec![XFER_VERSION];
    // Encoding into a Vec fails only on types postcard cannot represent; ours are plain.
    if let Ok(body) = postcard::to_allocvec(packet) {
        out.extend_from_slice(&body);
    }
    out
}

/// Decodes and checks one packet.
pub fn decode(bytes: &[u8]) -> Result<XferPacket<'_>, XferWireError> {
    if bytes.len() > MAX_BODY {
        return Err(XferWireError::TooLarge(bytes.len()));
    }
    let (&version, body) = bytes.split_first().ok_or(XferWireError::Empty)?;
    if version != XFER_VERSION {
        return Err(XferWireError::UnknownVersion(version));
    }
    let packet: XferPacket<'_> =
        postcard::from_bytes(body).map_err(|_| XferWireError::Malformed)?;
    check(&packet)?;
    Ok(packet)
}

fn ranges_ok(ranges: &[(u64, u64)]) -> bool {
    ranges.len() <= MAX_RANGES && ranges.iter().all(|&(s, e)| s < e)
}

fn check(packet: &XferPacket<'_>) -> Result<(), XferWireError> {
    use XferWireError::OutOfBounds;
    match packet {
        XferPacket::Offer(o) => {
            if o.name.is_empty() || o.name.len() > MAX_NAME {
                return Err(OutOfBounds("name"));
            }
            if !(MIN_BLOCK..=MAX_BLOCK).contains(&o.block) {
                return Err(OutOfBounds("block size"));
            }
            if o.blocks() > u64::from(u32::MAX) {
                return Err(OutOfBounds("size"));
            }
        }
        XferPacket::Accept(a) if !ranges_ok(&a.held) => return Err(OutOfBounds("held")),
        XferPacket::Ack(a) => {
            if !ranges_ok(&a.pns) {
                return Err(OutOfBounds("ack ranges"));
            }
            if a.gap.is_some_and(|(s, e)| s >= e) {
                return Err(OutOfBounds("gap"));
            }
        }
        XferPacket::Data(d) => {
            if d.bytes.is_empty() || d.bytes.len() > usize::from(MAX_CHUNK) {
                return Err(OutOfBounds("data length"));
            }
            if d.offset.checked_add(d.bytes.len() as u64).is_none() {
                return Err(OutOfBounds("offset"));
            }
        }
        XferPacket::HashReq { count, .. } if usize::from(*count) > MAX_HASHES => {
            return Err(OutOfBounds("hash count"));
        }
        XferPacket::Hashes { hashes, .. } if hashes.is_empty() || hashes.len() > MAX_HASHES => {
            return Err(OutOfBounds("hash count"));
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_bytes_are_encoded_as_they_were_element_by_element() {
        // What the element-by-element encoding of earlier versions put on the wire.
        #[derive(Serialize)]
        struct Before<'a> {
            id: TransferId,
            session: u32,
            pn: u64,
            offset: u64,
            bytes: &'a [u8],
        }
        #[derive(Serialize)]
        enum Packet<'a> {
            _Offer,
            _Accept,
            _Decline,
            Data(Before<'a>),
        }
        let bytes: Vec<u8> = (0..=255).chain(0..100).collect();
        let data = Data {
            id: 7,
            session: 3,
            pn: 300,
            offset: 1 << 40,
            bytes: &bytes,
        };
        let before = Packet::Data(Before {
            id: 7,
            session: 3,
            pn: 300,
            offset: 1 << 40,
            bytes: &bytes,
        });
        let mut old = vec![XFER_VERSION];
        old.extend(postcard::to_allocvec(&before).expect("encodes"));
        let enc = encode(&XferPacket::Data(data.clone()));
        assert_eq!(enc, old);
        assert_eq!(decode(&old), Ok(XferPacket::Data(data)));
    }

    #[test]
    fn the_largest_packets_fit_a_noise_datagram() {
        let bytes = vec![0xAB; usize::from(MAX_CHUNK)];
        let data = XferPacket::Data(Data {
            id: u64::MAX,
            session: u32::MAX,
            pn: u64::MAX,
            offset: u64::MAX - 2000,
            bytes: &bytes,
        });
        let enc = encode(&data);
        assert!(enc.len() + 4 <= MAX_BODY, "{}", enc.len());
        assert_eq!(decode(&enc), Ok(data));
        let hashes = XferPacket::Hashes {
            id: u64::MAX,
            first: u32::MAX,
            hashes: vec![[0xFF; 32]; MAX_HASHES],
        };
        assert!(encode(&hashes).len() + 4 <= MAX_BODY);
        let ack = XferPacket::Ack(Ack {
            id: u64::MAX,
            pns: vec![(u64::MAX - 1, u64::MAX); MAX_RANGES],
            delay_us: u32::MAX,
            gap: Some((u64::MAX - 1, u64::MAX)),
            limit: u64::MAX,
        });
        assert!(encode(&ack).len() + 4 <= MAX_BODY);
        let offer = XferPacket::Offer(Offer {
            id: u64::MAX,
            name: "é".repeat(MAX_NAME / 2),
            size: u64::from(u32::MAX) * 1024,
            hash: [0xFF; 32],
            block: MAX_BLOCK,
            session: u32::MAX,
        });
        assert!(encode(&offer).len() + 4 <= MAX_BODY);
        assert_eq!(decode(&encode(&offer)), Ok(offer));
    }

    #[test]
    fn out_of_bounds_packets_are_refused() {
        let offer = |name: &str, block: u32, size: u64| {
            encode(&XferPacket::Offer(Offer {
                id: 1,
                name: name.into(),
                size,
                hash: [0; 32],
                block,
                session: 0,
            }))
        };
        assert!(decode(&offer("", 65536, 1)).is_err());
        assert!(decode(&offer("a", 1, 1)).is_err());
        assert!(decode(&offer("a", MIN_BLOCK, u64::MAX)).is_err());
        assert!(decode(&offer(&"a".repeat(256), MIN_BLOCK, 1)).is_err());
        let empty = encode(&XferPacket::Data(Data {
            id: 1,
            session: 0,
            pn: 0,
            offset: 0,
            bytes: &[],
        }));
        assert!(decode(&empty).is_err());
        let mut v2 = encode(&XferPacket::Done { id: 1 });
        v2[0] = 2;
        assert_eq!(decode(&v2), Err(XferWireError::UnknownVersion(2)));
        assert_eq!(decode(&[]), Err(XferWireError::Empty));
    }
}
