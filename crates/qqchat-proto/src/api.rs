//! What the node takes and gives: its configuration, the datagrams and events it hands out,
//! why a send is refused, and its counters. Kept apart from the node so the peer state in
//! `conn` can use them without depending on the routing.

use std::net::SocketAddr;
use std::time::Duration;

use super::presence::PresenceConfig;
use super::recv::RecvLimits;
use super::secure::{Keypair, SecureConfig};
use super::wire;
use super::{PeerId, PublicKey};

/// Tunables; the defaults are what qqchat ships with.
#[derive(Debug, Clone)]
pub struct Config {
    /// This run's epoch: transport ids are `(epoch, seq)`, so it must grow across restarts
    /// (the caller derives it from the wall clock).
    pub epoch: u64,
    /// First retransmission timeout, before any round trip is measured.
    pub initial_rto: Duration,
    pub min_rto: Duration,
    pub max_rto: Duration,
    /// A message not acked this long after its first send has failed.
    pub give_up: Duration,
    /// Fragments in flight to one peer at once.
    pub window: usize,
    /// Messages queued to one peer (in flight or waiting for the window).
    pub max_queued: usize,
    /// The largest message, in bytes of UTF-8.
    pub max_message: usize,
    pub recv: RecvLimits,
    /// Sender epochs remembered per peer (each is a restart of that peer).
    pub max_epochs: usize,
    /// Peers that are not contacts and that this node keeps state for.
    pub max_strangers: usize,
    /// Datagrams a second (and at once) accepted from one IP that is not a contact.
    pub stranger_rate: u32,
    pub stranger_burst: u32,
    pub presence: PresenceConfig,
    /// This node's static key: with it, contacts that have a key talk over Noise (version 2).
    pub identity: Option<Keypair>,
    /// Refuse every peer without a key: no version-1 or plain-text datagrams at all.
    pub require_keys: bool,
    pub secure: SecureConfig,
    /// A [`Event::Trouble`] or [`Event::KeyRefused`] is reported once, then at most this
    /// often per peer and kind, however many datagrams show it.
    pub trouble_every: Duration,
    /// Every keyed contact's path in use carries at least one datagram this often, so the
    /// NAT mappings on the way stay open (Linux forgets an idle UDP one after 30 s); `None`
    /// sends none.
    pub keepalive: Option<Duration>,
    pub punch: PunchConfig,
}

/// Hole punching: how a keyed contact with no working path is tried on all its candidates.
#[derive(Debug, Clone)]
pub struct PunchConfig {
    /// Every candidate gets a probe this often during a round...
    pub every: Duration,
    /// ...for this long, unless answered sooner.
    pub round: Duration,
    /// After the first answer, how long a LAN candidate still has to answer too.
    pub settle: Duration,
    /// A contact still unreachable gets another round after this, doubling up to `max_wait`.
    pub first_wait: Duration,
    pub max_wait: Duration,
    /// A contact reached only through the relay gets a round on its other candidates this
    /// often, in case a direct path has started to work.
    pub upgrade_every: Duration,
}

impl Default for PunchConfig {
    fn default() -> Self {
        Self {
            every: Duration::from_millis(200),
            round: Duration::from_secs(5),
            settle: Duration::from_millis(500),
            first_wait: Duration::from_secs(10),
            max_wait: Duration::from_secs(120),
            upgrade_every: Duration::from_secs(60),
        }
    }
}

/// The longest message, in bytes of UTF-8, that the default configuration sends or takes:
/// 1 MiB. Front ends check it before storing anything, so a refused message keeps its draft.
pub const MAX_MESSAGE: usize = 1 << 20;

impl Config {
    pub fn new(epoch: u64) -> Self {
        let give_up = Duration::from_secs(30);
        let max_message = MAX_MESSAGE;
        Self {
            epoch,
            initial_rto: Duration::from_millis(333),
            min_rto: Duration::from_millis(20),
            max_rto: Duration::from_secs(4),
            give_up,
            window: 1024,
            max_queued: 100_000,
            max_message,
            recv: RecvLimits {
                max_ahead: 4096,
                max_buffered_bytes: 8 << 20,
                max_message,
                max_frags: u16::try_from(max_message.div_ceil(wire::MAX_PAYLOAD))
                    .unwrap_or(u16::MAX),
                reassembly_timeout: Duration::from_secs(60),
                // The sender gives up after `give_up`; by then the gap will never be filled.
                hold_timeout: give_up + Duration::from_secs(5),
            },
            max_epochs: 4,
            max_strangers: 256,
            stranger_rate: 200,
            stranger_burst: 1000,
            presence: PresenceConfig::default(),
            identity: None,
            require_keys: false,
            secure: SecureConfig::default(),
            trouble_every: Duration::from_secs(60),
            keepalive: Some(Duration::from_secs(25)),
            punch: PunchConfig::default(),
        }
    }
}

/// A datagram to put on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub dst: SocketAddr,
    pub payload: Vec<u8>,
}

/// Something the front end should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A message, in the sender's order. `id` repeats only if the sender sent the message
    /// again after a restart, so the caller drops ids it has already stored.
    Received {
        from: PeerId,
        /// The address it came from (for a keyed peer, its active path), to show and store.
        path: SocketAddr,
        /// The sender's id of the message; `None` for plain text.
        id: Option<u64>,
        text: String,
        /// Sender's clock (ms since the Unix epoch); `None` for plain text.
        sent_at_ms: Option<i64>,
        plain: bool,
    },
    /// Every fragment of the message with this id was acked.
    Delivered { to: PeerId, id: u64 },
    /// A plain message left; plain peers send no receipts.
    Sent { to: PeerId, id: u64 },
    /// The message with this id was not acked in time.
    Failed { to: PeerId, id: u64 },
    /// A contact came online or went offline. Both go through hysteresis (see
    /// [`PresenceConfig`]), except a contact's first answer, its hello, and its goodbye.
    Presence { peer: PeerId, online: bool },
    /// A contact shown offline was heard again but is not confirmed online yet (`true`), or
    /// went quiet again before it was (`false`); see [`crate::LinkHealth::reachable`].
    Reachable { peer: PeerId, reachable: bool },
    /// A ping was answered after `rtt`, from `path` (which may not be the path in use: an
    /// answer to a probe on another candidate).
    Pong {
        peer: PeerId,
        rtt: Duration,
        path: SocketAddr,
    },
    /// A keyed peer's authenticated datagrams now come from `path`, and everything to it
    /// goes there (it roamed, or its other address started to work).
    PathChanged { peer: PeerId, path: SocketAddr },
    /// A handshake offered a key no contact carries; `expected` is the keyed contact whose
    /// address it came from, if any (its key changed, or someone impersonates it).
    KeyRefused {
        from: SocketAddr,
        offered: PublicKey,
        expected: Option<PublicKey>,
    },
    /// Datagrams show why `peer` cannot be reached (see [`Trouble`]).
    Trouble { peer: PeerId, trouble: Trouble },
    /// A keyed contact told its current candidate addresses, newer than any before (they
    /// are now tried too, up to the paths a peer keeps).
    Candidates {
        peer: PeerId,
        addrs: Vec<SocketAddr>,
    },
    /// A keyed contact sees this node's datagrams come from `addr` (reported when that
    /// changes): this node's address as the contact's network shows it.
    Seen { peer: PeerId, addr: SocketAddr },
    /// A file transfer's packet from `peer`, for the caller's transfers with it.
    Xfer { peer: PeerId, bytes: Vec<u8> },
}

/// Why a contact cannot be reached, as far as the datagrams show. Each is a key that one side
/// has and the other lacks or has wrong, which would otherwise fail in silence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trouble {
    /// Handshakes to this keyed contact go unanswered while something waits for them: it is
    /// offline, or refuses them (it has another key for this node, or none).
    NoHandshakeAnswer,
    /// Noise (version 2) datagrams come from the address of this unkeyed contact: it has this
    /// node's key, and this node lacks its key.
    SendsEncrypted,
    /// Unencrypted datagrams come from the address of this keyed contact, and are refused: it
    /// has no key for this node.
    SendsPlain,
}

/// Why [`Node::send`] refused a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("message of {len} bytes is larger than the limit of {max} bytes")]
    TooLong { len: usize, max: usize },
    #[error("{0} messages are already waiting for this peer")]
    QueueFull(usize),
    #[error("this peer has no key and keys are required (require_keys = true)")]
    Unverified,
}

/// Counters for the status line, `listen` and the benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub datagrams_in: u64,
    pub datagrams_out: u64,
    /// Not UTF-8 and not a well-formed qqchat datagram.
    pub malformed: u64,
    /// A qqchat datagram of a version this build does not speak.
    pub unknown_version: u64,
    /// Dropped because its address sent too many.
    pub rate_limited: u64,
    /// Failed authentication: a forged, replayed or wrongly keyed datagram, or plain text
    /// from the address of a keyed contact.
    pub unauthenticated: u64,
    /// Data refused for lack of room (the sender retries).
    pub refused: u64,
    pub duplicates: u64,
    pub retransmits: u64,
    pub delivered: u64,
    pub failed: u64,
}
