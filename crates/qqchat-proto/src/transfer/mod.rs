//! File transfer, sans-IO: offers, resumable delivery with selective acks, CUBIC congestion
//! control with pacing, and BLAKE3 verification of every block and of the whole file.
//!
//! [`Transfers`] is the state of all transfers with one peer, both ways. Like the rest of
//! the crate it owns no socket, no clock and no file: the caller passes `now`, hands in
//! received transfer packets ([`Transfers::handle`]), takes packets out
//! ([`Transfers::poll_control`], then [`Transfers::poll_data`]), runs the timers
//! ([`Transfers::poll_timeout`], [`Transfers::handle_timeout`]) and reads or writes file bytes
//! when asked, through [`Storage`]. Tests run it on a simulated clock with in-memory files.
//!
//! # Priority
//!
//! [`Transfers::poll_control`] gives acks, offers and the other small control packets;
//! [`Transfers::poll_data`] gives file data, one packet at a time, when congestion control
//! and pacing allow. A node sends its own chat messages and receipts, then the control
//! packets, and asks for data last, only when nothing else waits: file data never delays a
//! chat message or an ack. [`Transfers::poll_transmit`] does the last two steps in order.
//!
//! # Packets ([`wire::XferPacket`]) and why each exists
//!
//! - **Offer** (sender → receiver): id, name, size, BLAKE3 of the whole file, and the block
//!   size (1 MiB by default) of the block hashes. Resent with backoff until answered or until
//!   it expires; a restarted sender sends it again and the receiver answers with what it holds.
//!   The block hashes are not in the offer (a 4 GiB file has 4,096 of them): the receiver asks.
//! - **Accept** (receiver → sender): the byte ranges already held (in several packets when
//!   they are many) and the first window. A restored receiver sends it with a higher `round`,
//!   so the sender trusts those ranges over what it believed delivered. **Decline**: no.
//! - **Data** (sender → receiver): at most [`wire::MAX_CHUNK`] bytes at an offset, with a
//!   packet number that grows for every packet, retransmissions too, so an ack says exactly
//!   which copy arrived (QUIC's way, free of TCP's retransmission ambiguity).
//! - **Ack** (receiver → sender): the highest ranges of packet numbers received, the delay
//!   before the ack, the receive window as an absolute byte limit, and the lowest byte range
//!   the receiver lacks. Acks go for every second data packet, at once on a gap, and within
//!   [`XferConfig::max_ack_delay`] otherwise; while idle they repeat as keepalives.
//! - **HashReq / Hashes**: the receiver asks for the hashes of the blocks it is about to
//!   complete or that it holds after a restart (at most 64 kept at once), and checks each
//!   block when all of it is here. A block that fails is thrown away and fetched again (it
//!   appears as the "lacking" range in acks); failing three times fails the transfer.
//! - **Pause / Resume** (either side): a paused side repeats Pause as a keepalive; data or an
//!   ack from a side that paused means it resumed, should a Resume be lost. A sender with
//!   nothing to send (a closed window, or all sent) repeats Resume as its keepalive, so the
//!   receiver does not time out while it waits.
//! - **Cancel** (either side): over. A packet for a transfer an end does not know is answered
//!   with Cancel, so a lost Cancel is repaired by the next packet.
//! - **Verified** (receiver → sender): every block and the whole file matched. Repeated until
//!   the sender answers **Done**, after which the receiver forgets the transfer.
//! - **Failed** (either side): why it failed (timeout, a block that kept failing, the whole
//!   file's hash, a read or write error, a protocol error).
//!
//! # Congestion control
//!
//! One [`Cubic`] controller (RFC 9438, with HyStart++ from RFC 9406 ending slow start when
//! the round trip grows) and one pacer serve all transfers to the peer, which take turns.
//! Loss is detected from acks by packet and time thresholds (RFC 9002) that widen when a
//! packet declared lost turns up after all (as RACK, RFC 8985, does), so a path that reorders
//! is not taken for a congested one; a retransmission timeout covers the tail of a flight.
//!
//! # Memory
//!
//! A receiver writes what arrives at once and keeps only ranges: of bytes held (fragmented at
//! most over one window), of packet numbers (the highest 64 ranges) and at most 64 block
//! hashes. A sender keeps its packets in flight, bounded by the congestion window, which is
//! capped at [`cc::MAX_WINDOW`], and the file's block hashes (32 bytes per block).
//!
//! When the last block is verified the receiver reads the whole file once more, through
//! [`Storage`], for the whole-file hash: bounded memory, but a long read for a large file in
//! the call that completes it.
//!
//! # Restarts
//!
//! The receiver's holdings ([`Transfers::held`], a serialisable [`Held`]) are what the caller
//! persists, with the [`wire::Offer`]. After a restart the caller calls
//! [`Transfers::restore`]; the receiver re-checks the blocks it holds against their hashes
//! and continues from there. A restarted sender calls [`Transfers::send`] again with the same
//! id. Either way, restore transfers before handing in datagrams: a packet for an unknown
//! transfer is answered with Cancel.

pub mod cc;
pub mod ranges;
mod receiver;
mod sender;
pub mod wire;

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::rtt::RttEstimator;
pub use cc::Cubic;
pub use ranges::Held;
use receiver::Receiver;
use sender::Sender;
pub use wire::{FailReason, Hash, Offer, TransferId, XferPacket, XferWireError};

/// Which file of which transfer: the ids of outgoing and incoming transfers are chosen by
/// different ends, so the direction is part of the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FileKey {
    pub id: TransferId,
    /// True for a file this end sends.
    pub outgoing: bool,
}

impl FileKey {
    pub fn outgoing(id: TransferId) -> Self {
        Self { id, outgoing: true }
    }

    pub fn incoming(id: TransferId) -> Self {
        Self {
            id,
            outgoing: false,
        }
    }
}

/// Where file bytes come from and go to. An error fails the transfer with
/// [`FailReason::Io`].
pub trait Storage {
    /// Fills `buf` from the file at `offset`.
    fn read_at(&mut self, key: FileKey, offset: u64, buf: &mut [u8]) -> std::io::Result<()>;
    /// Writes `data` into the (incoming) file at `offset`.
    fn write_at(&mut self, key: FileKey, offset: u64, data: &[u8]) -> std::io::Result<()>;
}

/// What a sender needs to know of its file: computed once, before the offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub size: u64,
    /// BLAKE3 of the whole file.
    pub hash: Hash,
    pub block: u32,
    /// BLAKE3 of each block.
    pub block_hashes: Vec<Hash>,
}

impl Manifest {
    /// Reads a file of `size` bytes through `read` (offset, buffer), one block at a time.
    pub fn compute(
        size: u64,
        block: u32,
        mut read: impl FnMut(u64, &mut [u8]) -> std::io::Result<()>,
    ) -> std::io::Result<Self> {
        let block = block.clamp(wire::MIN_BLOCK, wire::MAX_BLOCK);
        let mut whole = blake3::Hasher::new();
        let mut block_hashes = vec![];
        let mut buf = vec![0u8; block as usize];
        let mut p = 0;
        while p < size {
            let n = (size - p).min(u64::from(block)) as usize;
            read(p, &mut buf[..n])?;
            whole.update(&buf[..n]);
            block_hashes.push(*blake3::hash(&buf[..n]).as_bytes());
            p += n as u64;
        }
        Ok(Self {
            size,
            hash: *whole.finalize().as_bytes(),
            block,
            block_hashes,
        })
    }

    /// The manifest of bytes in memory.
    pub fn of_bytes(bytes: &[u8], block: u32) -> Self {
        let read = |off: u64, buf: &mut [u8]| {
            let start = off as usize;
            buf.copy_from_slice(&bytes[start..start + buf.len()]);
            Ok(())
        };
        // Reading from a slice within its length cannot fail.
        Self::compute(bytes.len() as u64, block, read).unwrap_or(Self {
            size: 0,
            hash: *blake3::hash(&[]).as_bytes(),
            block,
            block_hashes: vec![],
        })
    }
}

/// Settings of a [`Transfers`].
#[derive(Debug, Clone)]
pub struct XferConfig {
    /// The receive window offered to senders, in bytes beyond the first byte missing.
    pub window: u64,
    /// A transfer with nothing heard from the peer for this long fails.
    pub idle_timeout: Duration,
    /// An offer not answered within this long expires.
    pub offer_timeout: Duration,
    /// How often a quiet or paused side repeats itself.
    pub keepalive: Duration,
    /// The longest a receiver holds back an ack.
    pub max_ack_delay: Duration,
    /// The most transfers each way.
    pub max_transfers: usize,
    /// A random value for each run of the program, so that a restarted sender's packets are
    /// told apart from those of the run before (the crate draws no random numbers itself).
    pub session: u32,
}

impl Default for XferConfig {
    fn default() -> Self {
        Self {
            window: 16 * 1024 * 1024,
            idle_timeout: Duration::from_secs(30),
            offer_timeout: Duration::from_secs(600),
            keepalive: Duration::from_secs(1),
            max_ack_delay: Duration::from_millis(10),
            max_transfers: 64,
            session: 0,
        }
    }
}

/// What happened to a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XferEvent {
    /// The peer offers a file: [`Transfers::accept`] or [`Transfers::decline`] it.
    Offered {
        offer: Offer,
    },
    /// The peer accepted a file this end offered.
    Accepted {
        key: FileKey,
    },
    /// The peer declined it.
    Declined {
        key: FileKey,
    },
    Paused {
        key: FileKey,
        by_peer: bool,
    },
    Resumed {
        key: FileKey,
        by_peer: bool,
    },
    /// A block did not match its hash and is fetched again.
    BlockRejected {
        key: FileKey,
        block: u32,
    },
    /// Every byte is here and matched its hash: the file may be moved into place.
    Verified {
        key: FileKey,
    },
    /// The receiver verified a file this end sent.
    Delivered {
        key: FileKey,
    },
    Cancelled {
        key: FileKey,
        by_peer: bool,
        /// The peer did not know the transfer: it restarted, and may offer the file again.
        forgotten: bool,
    },
    Failed {
        key: FileKey,
        reason: FailReason,
        by_peer: bool,
    },
}

/// Why a call was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum XferError {
    #[error("no such transfer")]
    Unknown,
    #[error("a transfer with this id exists already")]
    Exists,
    #[error("too many transfers at once")]
    TooMany,
    #[error("the transfer is not waiting for an answer")]
    NotOffered,
    #[error("file name must be 1 to {} bytes", wire::MAX_NAME)]
    BadName,
    #[error("the manifest does not describe a file this protocol can carry")]
    BadManifest,
}

/// How a transfer is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub size: u64,
    /// Bytes delivered (sender) or held (receiver).
    pub done: u64,
    pub paused: bool,
}

/// State shared by all transfers to one peer: one path, so one congestion controller.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) cc: Cubic,
    pub(crate) rtt: RttEstimator,
    pub(crate) cwnd_limited: bool,
    pub(crate) lost_packets: u64,
    pub(crate) spurious_losses: u64,
}

impl Shared {
    pub(crate) fn srtt(&self) -> Duration {
        self.rtt.srtt().unwrap_or(Duration::from_millis(333))
    }

    fn bytes_in_flight(senders: &BTreeMap<TransferId, Sender>) -> u64 {
        senders.values().map(|s| s.bytes_in_flight).sum()
    }
}

/// What a transfer's handlers may do besides changing its state: send control packets and
/// report events.
pub(crate) struct Ctx<'a> {
    pub(crate) now: Instant,
    pub(crate) config: &'a XferConfig,
    control: &'a mut VecDeque<Vec<u8>>,
    events: &'a mut VecDeque<XferEvent>,
}

/// A [`Ctx`] borrowing only the fields it needs, so the transfer maps stay free to borrow.
macro_rules! ctx {
    ($t:expr, $now:expr) => {
        Ctx {
            now: $now,
            config: &$t.config,
            control: &mut $t.control,
            events: &mut $t.events,
        }
    };
}

/// Control packets waiting beyond this are dropped (each is repeated by its timer anyway).
const MAX_CONTROL: usize = 1024;

impl Ctx<'_> {
    pub(crate) fn send(&mut self, packet: &XferPacket<'_>) {
        if self.control.len() < MAX_CONTROL {
            self.control.push_back(wire::encode(packet));
        }
    }

    pub(crate) fn event(&mut self, event: XferEvent) {
        self.events.push_back(event);
    }
}

/// Recently closed incoming transfers, remembered so that a repeated offer is not shown again.
const MAX_CLOSED: usize = 256;

/// How many ids of files offered in this run are remembered, to tell a peer that a late
/// packet is for a transfer this run ended rather than one it never had.
const MAX_OFFERED: usize = 4096;

/// All transfers with one peer, both ways.
#[derive(Debug)]
pub struct Transfers {
    config: XferConfig,
    shared: Shared,
    pacer: cc::Pacer,
    senders: BTreeMap<TransferId, Sender>,
    receivers: BTreeMap<TransferId, Receiver>,
    control: VecDeque<Vec<u8>>,
    events: VecDeque<XferEvent>,
    /// The sender served last, so that transfers take turns.
    turn: TransferId,
    /// When pacing lets the next data packet go.
    data_wake: Option<Instant>,
    closed_in: VecDeque<TransferId>,
    /// Files offered in this run, the latest [`MAX_OFFERED`].
    offered: VecDeque<TransferId>,
}

impl Transfers {
    pub fn new(config: XferConfig) -> Self {
        Self {
            config,
            shared: Shared {
                cc: Cubic::new(),
                rtt: RttEstimator::new(
                    Duration::from_millis(333),
                    Duration::from_millis(20),
                    Duration::from_secs(4),
                ),
                cwnd_limited: false,
                lost_packets: 0,
                spurious_losses: 0,
            },
            pacer: cc::Pacer::new(),
            senders: BTreeMap::new(),
            receivers: BTreeMap::new(),
            control: VecDeque::new(),
            events: VecDeque::new(),
            turn: 0,
            data_wake: None,
            closed_in: VecDeque::new(),
            offered: VecDeque::new(),
        }
    }

    /// Offers a file. Also how a restarted sender continues a transfer: the same id again.
    pub fn send(
        &mut self,
        now: Instant,
        id: TransferId,
        name: &str,
        manifest: Manifest,
    ) -> Result<(), XferError> {
        if self.senders.contains_key(&id) {
            return Err(XferError::Exists);
        }
        if self.senders.len() >= self.config.max_transfers {
            return Err(XferError::TooMany);
        }
        if name.is_empty() || name.len() > wire::MAX_NAME {
            return Err(XferError::BadName);
        }
        let offer = Offer {
            id,
            name: name.to_owned(),
            size: manifest.size,
            hash: manifest.hash,
            block: manifest.block,
            session: self.config.session,
        };
        if !(wire::MIN_BLOCK..=wire::MAX_BLOCK).contains(&manifest.block)
            || manifest.block_hashes.len() as u64 != offer.blocks()
        {
            return Err(XferError::BadManifest);
        }
        self.senders
            .insert(id, Sender::new(now, offer, manifest.block_hashes));
        if self.offered.len() >= MAX_OFFERED {
            self.offered.pop_front();
        }
        self.offered.push_back(id);
        self.handle_timeout(now);
        Ok(())
    }

    /// Accepts an offered file, starting from `held` (empty for a new file, or what is on
    /// disk from an earlier try).
    pub fn accept(&mut self, now: Instant, id: TransferId, held: &Held) -> Result<(), XferError> {
        let window = self.config.window;
        let mut ctx = ctx!(self, now);
        let r = self.receivers.get_mut(&id).ok_or(XferError::Unknown)?;
        if r.state != receiver::State::Offered {
            return Err(XferError::NotOffered);
        }
        r.window = window;
        if let Err(reason) = r.start(&mut ctx, held, false) {
            self.fail(FileKey::incoming(id), reason);
        }
        Ok(())
    }

    /// Continues receiving a file after a restart, from the offer and holdings persisted.
    /// The blocks held are checked against their hashes again.
    pub fn restore(&mut self, now: Instant, offer: Offer, held: &Held) -> Result<(), XferError> {
        if self.receivers.contains_key(&offer.id) {
            return Err(XferError::Exists);
        }
        if self.receivers.len() >= self.config.max_transfers {
            return Err(XferError::TooMany);
        }
        let id = offer.id;
        let mut r = Receiver::new(now, offer, self.config.window);
        let mut ctx = ctx!(self, now);
        let started = r.start(&mut ctx, held, true);
        self.receivers.insert(id, r);
        if let Err(reason) = started {
            self.fail(FileKey::incoming(id), reason);
        }
        Ok(())
    }

    /// Declines an offered file.
    pub fn decline(&mut self, id: TransferId) -> Result<(), XferError> {
        let r = self.receivers.get(&id).ok_or(XferError::Unknown)?;
        if r.state != receiver::State::Offered {
            return Err(XferError::NotOffered);
        }
        self.receivers.remove(&id);
        self.remember_closed(id);
        self.control
            .push_back(wire::encode(&XferPacket::Decline { id }));
        Ok(())
    }

    fn remember_closed(&mut self, id: TransferId) {
        if self.closed_in.len() >= MAX_CLOSED {
            self.closed_in.pop_front();
        }
        self.closed_in.push_back(id);
    }

    /// Ends a transfer either way and tells the peer.
    pub fn cancel(&mut self, key: FileKey) -> Result<(), XferError> {
        let found = if key.outgoing {
            self.senders.remove(&key.id).is_some()
        } else {
            let found = self.receivers.remove(&key.id).is_some();
            if found {
                self.remember_closed(key.id);
            }
            found
        };
        if !found {
            return Err(XferError::Unknown);
        }
        self.control.push_back(wire::encode(&XferPacket::Cancel {
            id: key.id,
            to_sender: !key.outgoing,
            forgotten: false,
        }));
        Ok(())
    }

    /// Pauses a transfer either way.
    pub fn pause(&mut self, now: Instant, key: FileKey) -> Result<(), XferError> {
        self.set_paused(now, key, true)
    }

    /// Resumes a paused transfer.
    pub fn resume(&mut self, now: Instant, key: FileKey) -> Result<(), XferError> {
        self.set_paused(now, key, false)
    }

    fn set_paused(&mut self, now: Instant, key: FileKey, paused: bool) -> Result<(), XferError> {
        let mut ctx = ctx!(self, now);
        if key.outgoing {
            let s = self.senders.get_mut(&key.id).ok_or(XferError::Unknown)?;
            if s.paused_local != paused {
                if paused {
                    s.pause(&mut ctx);
                } else {
                    s.resume(&mut ctx);
                }
            }
        } else {
            let r = self.receivers.get_mut(&key.id).ok_or(XferError::Unknown)?;
            if r.paused_local != paused {
                if paused {
                    r.pause(&mut ctx);
                } else {
                    r.resume(&mut ctx);
                }
            }
        }
        Ok(())
    }

    /// Changes the receive window of an incoming transfer (0 stops the sender).
    pub fn set_window(
        &mut self,
        now: Instant,
        id: TransferId,
        window: u64,
    ) -> Result<(), XferError> {
        let mut ctx = ctx!(self, now);
        let r = self.receivers.get_mut(&id).ok_or(XferError::Unknown)?;
        r.set_window(&mut ctx, window);
        Ok(())
    }

    /// What an incoming transfer holds: the value to persist for a resume.
    pub fn held(&self, id: TransferId) -> Option<Held> {
        self.receivers.get(&id).map(|r| r.held())
    }

    /// How a transfer is doing.
    pub fn progress(&self, key: FileKey) -> Option<Progress> {
        if key.outgoing {
            self.senders.get(&key.id).map(|s| Progress {
                size: s.offer.size,
                done: s.acked_bytes(),
                paused: s.paused_local || s.paused_peer,
            })
        } else {
            self.receivers.get(&key.id).map(|r| Progress {
                size: r.offer.size,
                done: r.held_bytes(),
                paused: r.paused_local || r.paused_peer,
            })
        }
    }

    /// The transfers under way.
    pub fn keys(&self) -> impl Iterator<Item = FileKey> + '_ {
        self.senders
            .keys()
            .map(|&id| FileKey::outgoing(id))
            .chain(self.receivers.keys().map(|&id| FileKey::incoming(id)))
    }

    /// The congestion window, in bytes.
    pub fn cwnd(&self) -> u64 {
        self.shared.cc.window()
    }

    /// The congestion controller, for statistics.
    pub fn congestion(&self) -> &Cubic {
        &self.shared.cc
    }

    /// The smoothed round trip, once measured.
    pub fn srtt(&self) -> Option<Duration> {
        self.shared.rtt.srtt()
    }

    /// Data packets declared lost so far.
    pub fn lost_packets(&self) -> u64 {
        self.shared.lost_packets
    }

    /// Data packets declared lost that were acked after all (the path reordered them).
    pub fn spurious_losses(&self) -> u64 {
        self.shared.spurious_losses
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<XferEvent> {
        self.events.pop_front()
    }

    /// The next control packet: send it with the chat traffic, before any file data.
    pub fn poll_control(&mut self) -> Option<Vec<u8>> {
        self.control.pop_front()
    }

    /// Control first, then file data: for a caller with nothing else to send.
    pub fn poll_transmit(&mut self, now: Instant, storage: &mut dyn Storage) -> Option<Vec<u8>> {
        self.poll_control().or_else(|| self.poll_data(now, storage))
    }

    /// The next file data packet, if congestion control, pacing and the receivers' windows
    /// let one go now. Call it only when nothing else waits to be sent.
    pub fn poll_data(&mut self, now: Instant, storage: &mut dyn Storage) -> Option<Vec<u8>> {
        self.data_wake = None;
        let cwnd = self.shared.cc.window();
        let in_flight = Shared::bytes_in_flight(&self.senders);
        if in_flight + cc::MSS > cwnd {
            self.shared.cwnd_limited = true;
            return None;
        }
        // Take turns: the first sender after the one served last that has something to send.
        let order: Vec<TransferId> = self
            .senders
            .range(self.turn.wrapping_add(1)..)
            .chain(self.senders.range(..=self.turn))
            .map(|(&id, _)| id)
            .collect();
        let mut found = None;
        for id in order {
            if let Some(range) = self.senders.get(&id).and_then(|s| s.next_range()) {
                found = Some((id, range));
                break;
            }
        }
        let Some((id, range)) = found else {
            // Nothing to send: the window is not what limits.
            self.shared.cwnd_limited = false;
            return None;
        };
        let len = range.end - range.start;
        let at = self.pacer.when(now, len, cwnd, self.shared.srtt());
        if at > now {
            self.data_wake = Some(at);
            return None;
        }
        let mut buf = vec![0u8; len as usize];
        if storage
            .read_at(FileKey::outgoing(id), range.start, &mut buf)
            .is_err()
        {
            self.fail(FileKey::outgoing(id), FailReason::Io);
            return self.poll_control();
        }
        let sender = self.senders.get_mut(&id)?;
        let pn = sender.on_sent(now, range.clone());
        self.pacer.spend(len);
        self.turn = id;
        if in_flight + len + cc::MSS > cwnd {
            self.shared.cwnd_limited = true;
        }
        Some(wire::encode(&sender.data_packet(pn, range.start, &buf)))
    }

    /// The caller stopped asking for data before [`Transfers::poll_data`] said no: its own
    /// queue to the network is full. The window is then not what limits the rate, so acks
    /// meanwhile do not grow it (RFC 9438 §5.8), or it would grow without bound behind a
    /// queue that blocks rather than drops.
    pub fn data_blocked(&mut self) {
        // A window that is full as well still limits: it grows as usual.
        if Shared::bytes_in_flight(&self.senders) + cc::MSS <= self.shared.cc.window() {
            self.shared.cwnd_limited = false;
        }
    }

    /// The next moment [`Transfers::handle_timeout`] has work, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let idle = self.config.idle_timeout;
        let offer = self.config.offer_timeout;
        self.senders
            .values()
            .filter_map(|s| s.all_timeouts(&self.shared, idle, offer, self.config.keepalive))
            .chain(
                self.receivers
                    .values()
                    .filter_map(|r| r.timeout(idle, self.config.keepalive)),
            )
            .chain(self.data_wake)
            .min()
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.data_wake.is_some_and(|w| now >= w) {
            self.data_wake = None;
        }
        let mut failed = vec![];
        let mut gone = vec![];
        {
            let mut ctx = ctx!(self, now);
            for (&id, s) in &mut self.senders {
                if let Some(reason) = s.on_timeout(&mut ctx, &mut self.shared) {
                    failed.push((FileKey::outgoing(id), reason));
                }
            }
            for (&id, r) in &mut self.receivers {
                match r.on_timeout(&mut ctx) {
                    Ok(()) => {}
                    Err(Some(reason)) => failed.push((FileKey::incoming(id), reason)),
                    Err(None) => gone.push(id),
                }
            }
        }
        for id in gone {
            self.receivers.remove(&id);
            self.remember_closed(id);
        }
        for (key, reason) in failed {
            self.fail(key, reason);
        }
    }

    /// Ends a transfer with a failure found here, and tells the peer.
    fn fail(&mut self, key: FileKey, reason: FailReason) {
        if key.outgoing {
            self.senders.remove(&key.id);
        } else {
            self.receivers.remove(&key.id);
            self.remember_closed(key.id);
        }
        self.control.push_back(wire::encode(&XferPacket::Failed {
            id: key.id,
            to_sender: !key.outgoing,
            reason,
        }));
        self.events.push_back(XferEvent::Failed {
            key,
            reason,
            by_peer: false,
        });
    }

    /// Handles one received transfer packet. A packet that does not decode is refused with
    /// the reason; nothing in it can make this end panic or grow without bound.
    pub fn handle(
        &mut self,
        now: Instant,
        bytes: &[u8],
        storage: &mut dyn Storage,
    ) -> Result<(), XferWireError> {
        let packet = wire::decode(bytes)?;
        self.handle_packet(now, &packet, storage);
        Ok(())
    }

    fn handle_packet(&mut self, now: Instant, packet: &XferPacket<'_>, storage: &mut dyn Storage) {
        let mut result: Option<(FileKey, FailReason)> = None;
        let mut closed: Option<(FileKey, XferEvent)> = None;
        let mut reply: Option<XferPacket<'static>> = None;
        {
            let mut ctx = ctx!(self, now);
            let shared = &mut self.shared;
            match packet {
                XferPacket::Offer(offer) => {
                    let id = offer.id;
                    if let Some(r) = self.receivers.get_mut(&id) {
                        // A repeated offer, or the sender restarted: answer with what is here.
                        if r.state == receiver::State::Receiving && r.offer.same_file(offer) {
                            r.new_session(offer.session);
                            r.send_accept(&mut ctx);
                        } else if let receiver::State::Verified { .. } = r.state {
                            ctx.send(&XferPacket::Verified { id });
                        }
                    } else if self.closed_in.contains(&id)
                        || self.receivers.len() >= self.config.max_transfers
                    {
                        reply = Some(XferPacket::Decline { id });
                    } else {
                        self.receivers
                            .insert(id, Receiver::new(now, offer.clone(), self.config.window));
                        ctx.event(XferEvent::Offered {
                            offer: offer.clone(),
                        });
                    }
                }
                XferPacket::Accept(a) => match self.senders.get_mut(&a.id) {
                    Some(s) => s.on_accept(&mut ctx, a),
                    None => {
                        reply = Some(XferPacket::Cancel {
                            id: a.id,
                            to_sender: false,
                            forgotten: !self.offered.contains(&a.id),
                        })
                    }
                },
                XferPacket::Decline { id } => {
                    if self.senders.get(id).is_some_and(|s| s.is_offering()) {
                        self.senders.remove(id);
                        ctx.event(XferEvent::Declined {
                            key: FileKey::outgoing(*id),
                        });
                    }
                }
                XferPacket::Data(d) => match self.receivers.get_mut(&d.id) {
                    Some(r) => {
                        if let Err(reason) = r.on_data(&mut ctx, storage, d) {
                            result = Some((FileKey::incoming(d.id), reason));
                        }
                    }
                    None => {
                        reply = Some(XferPacket::Cancel {
                            id: d.id,
                            to_sender: true,
                            forgotten: !self.closed_in.contains(&d.id),
                        })
                    }
                },
                XferPacket::Ack(a) => match self.senders.get_mut(&a.id) {
                    Some(s) => s.on_ack(&mut ctx, shared, a),
                    None => {
                        reply = Some(XferPacket::Cancel {
                            id: a.id,
                            to_sender: false,
                            forgotten: !self.offered.contains(&a.id),
                        })
                    }
                },
                XferPacket::HashReq { id, first, count } => {
                    if let Some(s) = self.senders.get_mut(id) {
                        s.on_hash_req(&mut ctx, *first, *count);
                    }
                }
                XferPacket::Hashes { id, first, hashes } => {
                    if let Some(r) = self.receivers.get_mut(id)
                        && let Err(reason) = r.on_hashes(&mut ctx, storage, *first, hashes)
                    {
                        result = Some((FileKey::incoming(*id), reason));
                    }
                }
                XferPacket::Cancel {
                    id,
                    to_sender,
                    forgotten,
                } => {
                    let key = FileKey {
                        id: *id,
                        outgoing: *to_sender,
                    };
                    if end_by_peer(&mut self.senders, &mut self.receivers, key) {
                        let event = XferEvent::Cancelled {
                            key,
                            by_peer: true,
                            forgotten: *forgotten,
                        };
                        closed = Some((key, event));
                    }
                }
                XferPacket::Pause { id, to_sender } | XferPacket::Resume { id, to_sender } => {
                    let paused = matches!(packet, XferPacket::Pause { .. });
                    if *to_sender {
                        if let Some(s) = self.senders.get_mut(id) {
                            s.on_peer_pause(&mut ctx, paused);
                        }
                    } else if let Some(r) = self.receivers.get_mut(id) {
                        r.on_peer_pause(&mut ctx, paused);
                    }
                }
                XferPacket::Verified { id } => {
                    if self.senders.remove(id).is_some() {
                        ctx.event(XferEvent::Delivered {
                            key: FileKey::outgoing(*id),
                        });
                    }
                    reply = Some(XferPacket::Done { id: *id });
                }
                XferPacket::Done { id } => {
                    if let Some(receiver::State::Verified { .. }) =
                        self.receivers.get(id).map(|r| r.state)
                    {
                        self.receivers.remove(id);
                        if self.closed_in.len() >= MAX_CLOSED {
                            self.closed_in.pop_front();
                        }
                        self.closed_in.push_back(*id);
                    }
                }
                XferPacket::Failed {
                    id,
                    to_sender,
                    reason,
                } => {
                    let key = FileKey {
                        id: *id,
                        outgoing: *to_sender,
                    };
                    if end_by_peer(&mut self.senders, &mut self.receivers, key) {
                        closed = Some((
                            key,
                            XferEvent::Failed {
                                key,
                                reason: *reason,
                                by_peer: true,
                            },
                        ));
                    }
                }
            }
        }
        if let Some(p) = reply
            && self.control.len() < MAX_CONTROL
        {
            self.control.push_back(wire::encode(&p));
        }
        if let Some((key, event)) = closed {
            if !key.outgoing {
                self.remember_closed(key.id);
            }
            self.events.push_back(event);
        }
        if let Some((key, reason)) = result {
            self.fail(key, reason);
        }
    }
}

/// The peer ended transfer `key` (cancelled or failed it): forgets it, and says whether it
/// was still going. A verified file stays verified whatever comes after.
fn end_by_peer(
    senders: &mut BTreeMap<TransferId, Sender>,
    receivers: &mut BTreeMap<TransferId, Receiver>,
    key: FileKey,
) -> bool {
    if key.outgoing {
        return senders.remove(&key.id).is_some();
    }
    match receivers.get(&key.id).map(|r| r.state) {
        Some(receiver::State::Verified { .. }) | None => false,
        Some(_) => receivers.remove(&key.id).is_some(),
    }
}
