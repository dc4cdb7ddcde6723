//! Version 2: every datagram with a keyed contact inside Noise (`Noise_IK_25519_ChaChaPoly_BLAKE2s`),
//! after WireGuard's design.
//!
//! The initiator knows the responder's static key from the contacts file; the responder learns
//! the initiator's from the first handshake message and accepts it only if a contact carries
//! it. Transport messages carry their nonce in the clear (snow's stateless transport), so a lost
//! or reordered datagram costs nothing, and a sliding window refuses replays. Sessions are
//! replaced by a new handshake on a schedule; the previous one keeps decrypting meanwhile.
//!
//! Junk is refused before any Diffie-Hellman: handshake messages end in `mac1`, a BLAKE2s MAC
//! keyed with the responder's public key, and handshakes are rate-limited per IP.
//!
//! ```text
//! init:      FF 71 71 02 01 | sender u32 | noise 1 (104) | mac1 (16)            129 bytes
//! response:  FF 71 71 02 02 | sender u32 | receiver u32 | noise 2 (48) | mac1    77 bytes
//! transport: FF 71 71 02 03 | receiver u32 | counter u64 | ciphertext + tag (16)
//! ```

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use blake2::digest::{FixedOutput, KeyInit, Mac, Update};
use blake2::{Blake2s256, Blake2sMac, Digest};
use snow::{HandshakeState, StatelessTransportState};

use super::limit::RateLimiter;
use super::wire::MAGIC;

/// The version byte of Noise-wrapped datagrams.
pub const VERSION: u8 = 2;
const NOISE_PARAMS: &str = "Noise_IK_25519_ChaChaPoly_BLAKE2s";
const PROLOGUE: &[u8] = b"qqchat v2";
const TYPE_INIT: u8 = 1;
const TYPE_RESPONSE: u8 = 2;
const TYPE_TRANSPORT: u8 = 3;
const HEADER: usize = 5;
const MAC_LEN: usize = 16;
const INIT_NOISE_LEN: usize = 32 + 48 + 8 + 16;
const RESPONSE_NOISE_LEN: usize = 32 + 16;
const INIT_LEN: usize = HEADER + 4 + INIT_NOISE_LEN + MAC_LEN;
const RESPONSE_LEN: usize = HEADER + 8 + RESPONSE_NOISE_LEN + MAC_LEN;
const TRANSPORT_OVERHEAD: usize = HEADER + 4 + 8 + 16;
/// Replay window, in messages (as WireGuard's).
const WINDOW: u64 = 2048;
/// Plaintexts held per contact while a handshake is under way.
const MAX_QUEUED: usize = 1024;

/// A static X25519 key pair.
#[derive(Clone)]
pub struct Keypair {
    pub private: [u8; 32],
    pub public: [u8; 32],
}

impl std::fmt::Debug for Keypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key, not even in a debug log.
        f.debug_struct("Keypair")
            .field("public", &self.public)
            .finish()
    }
}

impl Keypair {
    /// A fresh random key pair.
    pub fn generate() -> Result<Keypair, snow::Error> {
        let params = NOISE_PARAMS.parse()?;
        let kp = snow::Builder::new(params).generate_keypair()?;
        let mut pair = Keypair {
            private: [0; 32],
            public: [0; 32],
        };
        pair.private.copy_from_slice(&kp.private);
        pair.public.copy_from_slice(&kp.public);
        Ok(pair)
    }
}

/// Timers of the secure layer.
#[derive(Debug, Clone)]
pub struct SecureConfig {
    /// The initiator of a session starts a new handshake once it is this old.
    pub rekey_after: Duration,
    /// Either side starts a new handshake once a session is this old...
    pub rekey_any_after: Duration,
    /// ...and no longer uses it at all after this.
    pub reject_after: Duration,
    /// A handshake unanswered this long is sent again (with a fresh ephemeral key).
    pub handshake_retry: Duration,
    /// A handshake unanswered this long is given up (a new send starts another).
    pub handshake_give_up: Duration,
    /// Handshake initiations accepted per second (and at once) from one IP.
    pub handshake_rate: u32,
    pub handshake_burst: u32,
}

impl Default for SecureConfig {
    fn default() -> Self {
        Self {
            rekey_after: Duration::from_secs(120),
            rekey_any_after: Duration::from_secs(150),
            reject_after: Duration::from_secs(180),
            handshake_retry: Duration::from_secs(1),
            handshake_give_up: Duration::from_secs(90),
            handshake_rate: 10,
            handshake_burst: 20,
        }
    }
}

/// Something the node should report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecureEvent {
    /// A handshake offered a key that no contact carries. `expected` is set when it came from
    /// the address of a keyed contact: that contact's key changed, or someone impersonates it.
    KeyRefused {
        from: SocketAddr,
        offered: [u8; 32],
        expected: Option<(SocketAddr, [u8; 32])>,
    },
}

/// What became of an inbound version-2 datagram.
#[derive(Debug, PartialEq, Eq)]
pub enum Inbound {
    /// Authenticated plaintext from the contact at this (configured) address.
    Packet(SocketAddr, Vec<u8>),
    /// A handshake step, handled.
    Handshake,
    /// Refused: failed authentication, a replay, junk or too many handshakes.
    Refused(Refusal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Malformed,
    BadMac,
    RateLimited,
    Unauthenticated,
    Replay,
    UnknownKey,
    Expired,
}

/// Counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecureStats {
    pub handshakes_sent: u64,
    /// Handshake initiations refused for coming too often from one IP.
    pub rate_limited: u64,
    pub sessions: u64,
    pub refused: u64,
    pub replays: u64,
}

/// The sliding window of nonces seen (RFC 6479's idea, with a plain bit set).
#[derive(Debug, Clone, Default)]
struct ReplayWindow {
    /// One past the highest counter accepted.
    top: u64,
    bits: Vec<u64>,
}

impl ReplayWindow {
    fn new() -> Self {
        Self {
            top: 0,
            bits: vec![0; (WINDOW / 64) as usize],
        }
    }

    fn bit(&self, n: u64) -> (usize, u64) {
        let i = n % WINDOW;
        ((i / 64) as usize, 1 << (i % 64))
    }

    /// Whether `n` is new and within the window (nothing is changed).
    fn check(&self, n: u64) -> bool {
        if n >= self.top {
            return true;
        }
        if self.top - n > WINDOW {
            return false;
        }
        let (w, b) = self.bit(n);
        self.bits[w] & b == 0
    }

    /// Marks `n` seen; call only after it authenticated.
    fn mark(&mut self, n: u64) {
        if n >= self.top {
            // Clear the slots that slide into the window.
            let advance = (n + 1 - self.top).min(WINDOW);
            for k in 0..advance {
                let (w, b) = self.bit(self.top + k);
                self.bits[w] &= !b;
            }
            self.top = n + 1;
        }
        let (w, b) = self.bit(n);
        self.bits[w] |= b;
    }
}

struct Session {
    local: u32,
    remote: u32,
    transport: StatelessTransportState,
    send_counter: u64,
    replay: ReplayWindow,
    created: Instant,
    initiator: bool,
}

struct Pending {
    hs: HandshakeState,
    index: u32,
    started: Instant,
    last_sent: Instant,
}

struct KeyedPeer {
    remote: [u8; 32],
    /// mac1 key for what we send to this peer.
    mac1_key: [u8; 32],
    /// Where to send: the last address a datagram of this peer authenticated from.
    endpoint: SocketAddr,
    current: Option<Session>,
    previous: Option<Session>,
    pending: Option<Pending>,
    queue: VecDeque<Vec<u8>>,
    /// The newest handshake timestamp accepted from this peer: older ones are replays.
    last_init: u64,
}

/// Noise sessions with every keyed contact.
pub struct Secure {
    keys: Keypair,
    mac1_key: [u8; 32],
    config: SecureConfig,
    peers: HashMap<SocketAddr, KeyedPeer>,
    by_key: HashMap<[u8; 32], SocketAddr>,
    by_index: HashMap<u32, SocketAddr>,
    limiter: RateLimiter,
    next_index: u64,
    transmits: VecDeque<(SocketAddr, Vec<u8>)>,
    events: VecDeque<SecureEvent>,
    stats: SecureStats,
}

fn mac1_key(public: &[u8; 32]) -> [u8; 32] {
    let mut h = Blake2s256::new();
    Digest::update(&mut h, b"mac1----");
    Digest::update(&mut h, public);
    h.finalize().into()
}

fn mac1_state(key: &[u8; 32], msg: &[u8]) -> Blake2sMac<blake2::digest::consts::U16> {
    let mut mac = <Blake2sMac<blake2::digest::consts::U16> as KeyInit>::new_from_slice(key)
        .expect("a 32-byte key is valid for BLAKE2s");
    Update::update(&mut mac, msg);
    mac
}

fn mac1(key: &[u8; 32], msg: &[u8]) -> [u8; MAC_LEN] {
    mac1_state(key, msg).finalize_fixed().into()
}

/// Checks the `mac1` at the end of `msg` in constant time.
fn mac_ok(key: &[u8; 32], msg: &[u8]) -> bool {
    let (body, tag) = msg.split_at(msg.len() - MAC_LEN);
    mac1_state(key, body).verify_slice(tag).is_ok()
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn header(kind: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(kind);
    out
}

impl Secure {
    pub fn new(keys: Keypair, config: SecureConfig, seed: u64) -> Self {
        let limiter = RateLimiter::new(config.handshake_rate, config.handshake_burst, 4096);
        Self {
            mac1_key: mac1_key(&keys.public),
            keys,
            config,
            peers: HashMap::new(),
            by_key: HashMap::new(),
            by_index: HashMap::new(),
            limiter,
            next_index: seed,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: SecureStats::default(),
        }
    }

    pub fn public(&self) -> &[u8; 32] {
        &self.keys.public
    }

    pub fn stats(&self) -> &SecureStats {
        &self.stats
    }

    /// Whether datagrams with this contact must be encrypted.
    pub fn is_keyed(&self, addr: SocketAddr) -> bool {
        self.peers.contains_key(&addr)
    }

    /// Sets (or with `None` removes) the key of the contact at `addr`.
    pub fn set_key(&mut self, addr: SocketAddr, key: Option<[u8; 32]>) {
        if let Some(old) = self.peers.get(&addr)
            && Some(old.remote) != key
        {
            self.forget(addr);
        }
        let Some(key) = key else {
            return;
        };
        if self.peers.contains_key(&addr) {
            return;
        }
        self.by_key.insert(key, addr);
        self.peers.insert(
            addr,
            KeyedPeer {
                remote: key,
                mac1_key: mac1_key(&key),
                endpoint: addr,
                current: None,
                previous: None,
                pending: None,
                queue: VecDeque::new(),
                last_init: 0,
            },
        );
    }

    fn forget(&mut self, addr: SocketAddr) {
        if let Some(p) = self.peers.remove(&addr) {
            self.by_key.remove(&p.remote);
            for s in [p.current, p.previous].into_iter().flatten() {
                self.by_index.remove(&s.local);
            }
            if let Some(h) = p.pending {
                self.by_index.remove(&h.index);
            }
        }
    }

    fn fresh_index(&mut self) -> u32 {
        loop {
            self.next_index = self.next_index.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.next_index;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            let index = (z ^ (z >> 31)) as u32;
            if !self.by_index.contains_key(&index) {
                return index;
            }
        }
    }

    /// Encrypts `plain` (a version-1 packet body) for the contact at `addr`, or holds it until a
    /// handshake completes. `wall_ns` is the wall clock, for the handshake's replay protection.
    pub fn send(&mut self, now: Instant, wall_ns: u64, addr: SocketAddr, plain: &[u8]) {
        let reject = self.config.reject_after;
        let Some(peer) = self.peers.get_mut(&addr) else {
            return;
        };
        let usable = peer
            .current
            .as_ref()
            .is_some_and(|s| now < s.created + reject && s.send_counter < u64::MAX - 1);
        if !usable {
            if peer.queue.len() >= MAX_QUEUED {
                peer.queue.pop_front();
            }
            peer.queue.push_back(plain.to_vec());
            if peer.pending.is_none() {
                self.start_handshake(now, wall_ns, addr);
            }
            return;
        }
        let due = peer.current.as_ref().is_some_and(|s| {
            let age = now.saturating_duration_since(s.created);
            (s.initiator && age >= self.config.rekey_after) || age >= self.config.rekey_any_after
        });
        if let Some(bytes) = encrypt(peer, plain) {
            self.transmits.push_back((peer.endpoint, bytes));
        }
        if due && peer.pending.is_none() {
            self.start_handshake(now, wall_ns, addr);
        }
    }

    fn start_handshake(&mut self, now: Instant, wall_ns: u64, addr: SocketAddr) {
        let index = self.fresh_index();
        let Some(peer) = self.peers.get_mut(&addr) else {
            return;
        };
        let Some((hs, bytes)) = initiation(&self.keys, peer, index, wall_ns) else {
            return;
        };
        if let Some(old) = peer.pending.take() {
            self.by_index.remove(&old.index);
        }
        peer.pending = Some(Pending {
            hs,
            index,
            started: now,
            last_sent: now,
        });
        self.by_index.insert(index, addr);
        self.stats.handshakes_sent += 1;
        self.transmits.push_back((peer.endpoint, bytes));
    }

    /// Takes a version-2 datagram. `wall_ns` is the wall clock, for a handshake it may start.
    pub fn receive(
        &mut self,
        now: Instant,
        wall_ns: u64,
        from: SocketAddr,
        bytes: &[u8],
    ) -> Inbound {
        let result = match bytes.get(HEADER - 1) {
            Some(&TYPE_INIT) => self.on_init(now, from, bytes),
            Some(&TYPE_RESPONSE) => self.on_response(now, from, bytes),
            Some(&TYPE_TRANSPORT) => self.on_transport(now, from, bytes),
            _ => Inbound::Refused(Refusal::Malformed),
        };
        // A keyed contact still sends with a session this side no longer has (this side
        // restarted): a new handshake lets it switch at once instead of at its next rekey.
        if result == Inbound::Refused(Refusal::Unauthenticated)
            && bytes.get(HEADER - 1) == Some(&TYPE_TRANSPORT)
            && let Some(addr) = self
                .peers
                .iter()
                .find(|(a, p)| (**a == from || p.endpoint == from) && p.pending.is_none())
                .map(|(a, _)| *a)
        {
            self.start_handshake(now, wall_ns, addr);
        }
        if let Inbound::Refused(r) = result {
            self.stats.refused += 1;
            match r {
                Refusal::Replay => self.stats.replays += 1,
                Refusal::RateLimited => self.stats.rate_limited += 1,
                _ => {}
            }
        }
        result
    }

    fn on_init(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) -> Inbound {
        if bytes.len() != INIT_LEN {
            return Inbound::Refused(Refusal::Malformed);
        }
        if !mac_ok(&self.mac1_key, bytes) {
            return Inbound::Refused(Refusal::BadMac);
        }
        // Only now, with a valid mac1, is a Diffie-Hellman worth its cost; and not too often.
        if !self.limiter.allow(now, from.ip()) {
            return Inbound::Refused(Refusal::RateLimited);
        }
        let Some(sender) = u32_at(bytes, HEADER) else {
            return Inbound::Refused(Refusal::Malformed);
        };
        let noise = &bytes[HEADER + 4..bytes.len() - MAC_LEN];
        let Ok(mut hs) = responder(&self.keys) else {
            return Inbound::Refused(Refusal::Malformed);
        };
        let mut payload = [0u8; 64];
        let Ok(n) = hs.read_message(noise, &mut payload) else {
            return Inbound::Refused(Refusal::Unauthenticated);
        };
        let Some(offered) = hs
            .get_remote_static()
            .and_then(|k| <[u8; 32]>::try_from(k).ok())
        else {
            return Inbound::Refused(Refusal::Unauthenticated);
        };
        let Some(&addr) = self.by_key.get(&offered) else {
            let expected = self
                .peers
                .iter()
                .find(|(a, p)| **a == from || p.endpoint == from)
                .map(|(a, p)| (*a, p.remote));
            self.events.push_back(SecureEvent::KeyRefused {
                from,
                offered,
                expected,
            });
            return Inbound::Refused(Refusal::UnknownKey);
        };
        let timestamp = if n >= 8 {
            u64_at(&payload, 0).unwrap_or(0)
        } else {
            0
        };
        let index = self.fresh_index();
        let Some(peer) = self.peers.get_mut(&addr) else {
            return Inbound::Refused(Refusal::UnknownKey);
        };
        if timestamp <= peer.last_init {
            return Inbound::Refused(Refusal::Replay);
        }
        let mut out = header(TYPE_RESPONSE);
        out.extend_from_slice(&index.to_le_bytes());
        out.extend_from_slice(&sender.to_le_bytes());
        let mut msg = [0u8; RESPONSE_NOISE_LEN];
        let Ok(len) = hs.write_message(&[], &mut msg) else {
            return Inbound::Refused(Refusal::Malformed);
        };
        out.extend_from_slice(&msg[..len]);
        let tag = mac1(&peer.mac1_key, &out);
        out.extend_from_slice(&tag);
        let Ok(transport) = hs.into_stateless_transport_mode() else {
            return Inbound::Refused(Refusal::Malformed);
        };
        peer.last_init = timestamp;
        peer.endpoint = from;
        let session = Session {
            local: index,
            remote: sender,
            transport,
            send_counter: 0,
            replay: ReplayWindow::new(),
            created: now,
            initiator: false,
        };
        self.install(addr, session);
        self.transmits.push_back((from, out));
        self.flush_queue(addr);
        Inbound::Handshake
    }

    fn on_response(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) -> Inbound {
        if bytes.len() != RESPONSE_LEN {
            return Inbound::Refused(Refusal::Malformed);
        }
        if !mac_ok(&self.mac1_key, bytes) {
            return Inbound::Refused(Refusal::BadMac);
        }
        let (Some(sender), Some(receiver)) = (u32_at(bytes, HEADER), u32_at(bytes, HEADER + 4))
        else {
            return Inbound::Refused(Refusal::Malformed);
        };
        let Some(&addr) = self.by_index.get(&receiver) else {
            return Inbound::Refused(Refusal::Unauthenticated);
        };
        let Some(peer) = self.peers.get_mut(&addr) else {
            return Inbound::Refused(Refusal::Unauthenticated);
        };
        let Some(pending) = peer.pending.as_mut().filter(|p| p.index == receiver) else {
            return Inbound::Refused(Refusal::Replay);
        };
        let noise = &bytes[HEADER + 8..bytes.len() - MAC_LEN];
        let mut payload = [0u8; 16];
        if pending.hs.read_message(noise, &mut payload).is_err() {
            return Inbound::Refused(Refusal::Unauthenticated);
        }
        let Some(pending) = peer.pending.take() else {
            return Inbound::Refused(Refusal::Unauthenticated);
        };
        let Ok(transport) = pending.hs.into_stateless_transport_mode() else {
            return Inbound::Refused(Refusal::Unauthenticated);
        };
        peer.endpoint = from;
        let session = Session {
            local: receiver,
            remote: sender,
            transport,
            send_counter: 0,
            replay: ReplayWindow::new(),
            created: now,
            initiator: true,
        };
        self.install(addr, session);
        self.flush_queue(addr);
        Inbound::Handshake
    }

    /// Makes `session` the one to send with; the one before it still decrypts.
    fn install(&mut self, addr: SocketAddr, session: Session) {
        let Some(peer) = self.peers.get_mut(&addr) else {
            return;
        };
        self.by_index.insert(session.local, addr);
        if let Some(old) = peer.previous.take() {
            self.by_index.remove(&old.local);
        }
        peer.previous = peer.current.replace(session);
        self.stats.sessions += 1;
    }

    fn flush_queue(&mut self, addr: SocketAddr) {
        let Some(peer) = self.peers.get_mut(&addr) else {
            return;
        };
        let queue = std::mem::take(&mut peer.queue);
        for plain in queue {
            if let Some(bytes) = encrypt(peer, &plain) {
                self.transmits.push_back((peer.endpoint, bytes));
            }
        }
    }

    fn on_transport(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) -> Inbound {
        if bytes.len() < TRANSPORT_OVERHEAD {
            return Inbound::Refused(Refusal::Malformed);
        }
        let (Some(receiver), Some(counter)) = (u32_at(bytes, HEADER), u64_at(bytes, HEADER + 4))
        else {
            return Inbound::Refused(Refusal::Malformed);
        };
        let Some(&addr) = self.by_index.get(&receiver) else {
            return Inbound::Refused(Refusal::Unauthenticated);
        };
        let reject = self.config.reject_after;
        let Some(peer) = self.peers.get_mut(&addr) else {
            return Inbound::Refused(Refusal::Unauthenticated);
        };
        let session = [peer.current.as_mut(), peer.previous.as_mut()]
            .into_iter()
            .flatten()
            .find(|s| s.local == receiver);
        let Some(session) = session else {
            return Inbound::Refused(Refusal::Unauthenticated);
        };
        if now >= session.created + reject {
            return Inbound::Refused(Refusal::Expired);
        }
        if !session.replay.check(counter) {
            return Inbound::Refused(Refusal::Replay);
        }
        let ciphertext = &bytes[HEADER + 12..];
        let mut plain = vec![0u8; ciphertext.len()];
        let Ok(n) = session
            .transport
            .read_message(counter, ciphertext, &mut plain)
        else {
            return Inbound::Refused(Refusal::Unauthenticated);
        };
        session.replay.mark(counter);
        plain.truncate(n);
        // An authenticated datagram from a new address: the contact moved (roaming).
        peer.endpoint = from;
        Inbound::Packet(addr, plain)
    }

    /// Retries handshakes that went unanswered; gives up on old ones.
    pub fn handle_timeout(&mut self, now: Instant, wall_ns: u64) {
        let retry = self.config.handshake_retry;
        let give_up = self.config.handshake_give_up;
        let due: Vec<(SocketAddr, bool)> = self
            .peers
            .iter()
            .filter_map(|(&a, p)| {
                let h = p.pending.as_ref()?;
                if now >= h.started + give_up {
                    Some((a, false))
                } else if now >= h.last_sent + retry {
                    Some((a, true))
                } else {
                    None
                }
            })
            .collect();
        for (addr, again) in due {
            if again {
                let started = self
                    .peers
                    .get(&addr)
                    .and_then(|p| p.pending.as_ref())
                    .map_or(now, |h| h.started);
                self.start_handshake(now, wall_ns, addr);
                if let Some(h) = self.peers.get_mut(&addr).and_then(|p| p.pending.as_mut()) {
                    h.started = started;
                }
            } else if let Some(p) = self.peers.get_mut(&addr)
                && let Some(h) = p.pending.take()
            {
                self.by_index.remove(&h.index);
                p.queue.clear();
            }
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let retry = self.config.handshake_retry;
        self.peers
            .values()
            .filter_map(|p| p.pending.as_ref().map(|h| h.last_sent + retry))
            .min()
    }

    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<SecureEvent> {
        self.events.pop_front()
    }

    /// Whether a session with this contact is established.
    pub fn has_session(&self, addr: SocketAddr) -> bool {
        self.peers.get(&addr).is_some_and(|p| p.current.is_some())
    }
}

fn params() -> snow::params::NoiseParams {
    NOISE_PARAMS
        .parse()
        .expect("the Noise parameter string is valid")
}

fn responder(keys: &Keypair) -> Result<HandshakeState, snow::Error> {
    snow::Builder::new(params())
        .local_private_key(&keys.private)?
        .prologue(PROLOGUE)?
        .build_responder()
}

fn initiation(
    keys: &Keypair,
    peer: &KeyedPeer,
    index: u32,
    wall_ns: u64,
) -> Option<(HandshakeState, Vec<u8>)> {
    let mut hs = snow::Builder::new(params())
        .local_private_key(&keys.private)
        .ok()?
        .remote_public_key(&peer.remote)
        .ok()?
        .prologue(PROLOGUE)
        .ok()?
        .build_initiator()
        .ok()?;
    let mut out = header(TYPE_INIT);
    out.extend_from_slice(&index.to_le_bytes());
    let mut msg = [0u8; INIT_NOISE_LEN];
    let len = hs.write_message(&wall_ns.to_le_bytes(), &mut msg).ok()?;
    out.extend_from_slice(&msg[..len]);
    let tag = mac1(&peer.mac1_key, &out);
    out.extend_from_slice(&tag);
    Some((hs, out))
}

fn encrypt(peer: &mut KeyedPeer, plain: &[u8]) -> Option<Vec<u8>> {
    let session = peer.current.as_mut()?;
    let counter = session.send_counter;
    session.send_counter += 1;
    let mut out = header(TYPE_TRANSPORT);
    out.extend_from_slice(&session.remote.to_le_bytes());
    out.extend_from_slice(&counter.to_le_bytes());
    let start = out.len();
    out.resize(start + plain.len() + 16, 0);
    let n = session
        .transport
        .write_message(counter, plain, &mut out[start..])
        .ok()?;
    out.truncate(start + n);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_replay_window_accepts_each_nonce_once_and_refuses_old_ones() {
        let mut w = ReplayWindow::new();
        for n in [0, 2, 1, 5, 4, 3] {
            assert!(w.check(n), "{n}");
            w.mark(n);
            assert!(!w.check(n), "{n} again");
        }
        w.mark(10_000);
        assert!(!w.check(5), "far behind the window");
        assert!(w.check(10_000 - 100));
        assert!(!w.check(10_000 - WINDOW - 1));
        assert!(w.check(10_001));
    }
}
