//! Version 2: every datagram with a keyed contact inside Noise
//! (`Noise_IK_25519_ChaChaPoly_BLAKE2s`), after WireGuard's design.
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
//!
//! [`Secure`] knows which contact a key or a session index belongs to and keeps each
//! contact's sessions and pending handshake. Contacts are named by their key; which address
//! to send to is the node's choice (its paths), passed in with each send. The steps of a handshake live in
//! `handshake`, and a session's encryption and replay window in `session`.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use super::PublicKey;
use super::limit::RateLimiter;
use super::wire::MAGIC;

mod handshake;
mod session;
pub mod sign;
mod types;

pub use handshake::Keypair;
use handshake::{Pending, mac1_key};
use session::Session;
pub use types::{Inbound, Refusal, SecureConfig, SecureEvent, SecureStats};

/// The version byte of Noise-wrapped datagrams.
pub const VERSION: u8 = 2;
const TYPE_INIT: u8 = 1;
const TYPE_RESPONSE: u8 = 2;
const TYPE_TRANSPORT: u8 = 3;
/// Magic, version and message type.
const HEADER: usize = 5;
/// Plaintexts held per contact while a handshake is under way.
const MAX_QUEUED: usize = 1024;
/// Retries of a handshake, unanswered, after which it is reported: one or two lost on a bad
/// link are no news.
const NO_ANSWER_RETRIES: u32 = 2;

struct KeyedPeer {
    /// mac1 key for what we send to this peer.
    mac1_key: [u8; 32],
    /// Where this layer sends on its own (handshake retries): the address the node last
    /// sent to, or a handshake last came from.
    endpoint: SocketAddr,
    current: Option<Session>,
    previous: Option<Session>,
    pending: Option<Pending>,
    queue: VecDeque<Vec<u8>>,
    /// The newest handshake timestamp accepted from this peer: older ones are replays.
    last_init: u64,
    /// [`SecureEvent::NoAnswer`] was reported since the last session was made.
    no_answer_reported: bool,
}

/// Noise sessions with every keyed contact.
pub struct Secure {
    keys: Keypair,
    mac1_key: [u8; 32],
    config: SecureConfig,
    peers: HashMap<PublicKey, KeyedPeer>,
    by_index: HashMap<u32, PublicKey>,
    limiter: RateLimiter,
    next_index: u64,
    transmits: VecDeque<(SocketAddr, Vec<u8>)>,
    events: VecDeque<SecureEvent>,
    stats: SecureStats,
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
            by_index: HashMap::new(),
            limiter,
            next_index: seed,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: SecureStats::default(),
        }
    }

    pub fn public(&self) -> &PublicKey {
        &self.keys.public
    }

    pub fn stats(&self) -> &SecureStats {
        &self.stats
    }

    /// Whether this key is a contact's.
    pub fn is_keyed(&self, key: &PublicKey) -> bool {
        self.peers.contains_key(key)
    }

    /// Makes `key` a contact's, first reached at `endpoint`.
    pub fn add_peer(&mut self, key: PublicKey, endpoint: SocketAddr) {
        if self.peers.contains_key(&key) {
            return;
        }
        self.peers.insert(
            key,
            KeyedPeer {
                mac1_key: mac1_key(&key),
                endpoint,
                current: None,
                previous: None,
                pending: None,
                queue: VecDeque::new(),
                last_init: 0,
                no_answer_reported: false,
            },
        );
    }

    /// Forgets a contact's key and its sessions.
    pub fn remove_peer(&mut self, key: &PublicKey) {
        if let Some(p) = self.peers.remove(key) {
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

    /// Encrypts `plain` (a version-1 packet body) for the contact with `key`, to `dst`, or
    /// holds it until a handshake completes. `wall_ns` is the wall clock, for the
    /// handshake's replay protection.
    pub fn send(
        &mut self,
        now: Instant,
        wall_ns: u64,
        key: PublicKey,
        dst: SocketAddr,
        plain: &[u8],
    ) {
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        peer.endpoint = dst;
        let usable = peer
            .current
            .as_ref()
            .is_some_and(|s| s.can_send(now, &self.config));
        if !usable {
            if peer.queue.len() >= MAX_QUEUED {
                peer.queue.pop_front();
            }
            peer.queue.push_back(plain.to_vec());
            if peer.pending.is_none() {
                self.start_handshake(now, wall_ns, key);
            }
            return;
        }
        let due = peer
            .current
            .as_ref()
            .is_some_and(|s| s.rekey_due(now, &self.config));
        if let Some(bytes) = peer.current.as_mut().and_then(|s| s.encrypt(plain)) {
            self.transmits.push_back((peer.endpoint, bytes));
        }
        if due && peer.pending.is_none() {
            self.start_handshake(now, wall_ns, key);
        }
    }

    /// Hole punching: sends the pending handshake initiation (a fresh one when none is under
    /// way, or the last is older than a retry) to every candidate, or with a session, `plain`
    /// encrypted to each. `endpoint` is left alone: the first answer sets the path.
    pub fn punch(
        &mut self,
        now: Instant,
        wall_ns: u64,
        key: PublicKey,
        dsts: &[SocketAddr],
        plain: &[u8],
    ) {
        let retry = self.config.handshake_retry;
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        if peer
            .current
            .as_ref()
            .is_some_and(|s| s.can_send(now, &self.config))
        {
            for &dst in dsts {
                if let Some(bytes) = peer.current.as_mut().and_then(|s| s.encrypt(plain)) {
                    self.transmits.push_back((dst, bytes));
                }
            }
            return;
        }
        if peer
            .pending
            .as_ref()
            .is_none_or(|h| now >= h.last_sent + retry)
        {
            let started = peer.pending.as_ref().map(|h| h.started);
            // `start_handshake` sent it to the endpoint: drop that copy, sent below to all.
            if self.start_handshake(now, wall_ns, key) {
                self.transmits.pop_back();
            }
            if let (Some(started), Some(h)) = (
                started,
                self.peers.get_mut(&key).and_then(|p| p.pending.as_mut()),
            ) {
                h.started = started;
            }
        }
        let Some(bytes) = self
            .peers
            .get(&key)
            .and_then(|p| p.pending.as_ref())
            .map(|h| h.bytes.clone())
        else {
            return;
        };
        for &dst in dsts {
            self.transmits.push_back((dst, bytes.clone()));
        }
    }

    fn start_handshake(&mut self, now: Instant, wall_ns: u64, key: PublicKey) -> bool {
        let index = self.fresh_index();
        let Some(peer) = self.peers.get_mut(&key) else {
            return false;
        };
        let Some((hs, bytes)) =
            handshake::initiation(&self.keys, &key, &peer.mac1_key, index, wall_ns)
        else {
            return false;
        };
        if let Some(old) = peer.pending.take() {
            self.by_index.remove(&old.index);
        }
        peer.pending = Some(Pending {
            hs,
            index,
            started: now,
            last_sent: now,
            bytes: bytes.clone(),
        });
        self.by_index.insert(index, key);
        self.stats.handshakes_sent += 1;
        self.transmits.push_back((peer.endpoint, bytes));
        true
    }

    /// Takes a version-2 datagram. `wall_ns` is the wall clock, for a handshake it may start.
    /// `at_path` is the contact whose path `from` is, if any: the one a refused key would
    /// be impersonating, and the one to handshake with again when its session is gone.
    pub fn receive(
        &mut self,
        now: Instant,
        wall_ns: u64,
        from: SocketAddr,
        at_path: Option<PublicKey>,
        bytes: &[u8],
    ) -> Inbound {
        let result = match bytes.get(HEADER - 1) {
            Some(&TYPE_INIT) => self.on_init(now, from, at_path, bytes),
            Some(&TYPE_RESPONSE) => self.on_response(now, from, bytes),
            Some(&TYPE_TRANSPORT) => self.on_transport(now, from, bytes),
            _ => Inbound::Refused(Refusal::Malformed),
        };
        // A keyed contact still sends with a session this side no longer has (this side
        // restarted): a new handshake lets it switch at once instead of at its next rekey.
        if result == Inbound::Refused(Refusal::Unauthenticated)
            && bytes.get(HEADER - 1) == Some(&TYPE_TRANSPORT)
            && let Some(key) = at_path
            && self.peers.get(&key).is_some_and(|p| p.pending.is_none())
        {
            self.start_handshake(now, wall_ns, key);
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

    fn on_init(
        &mut self,
        now: Instant,
        from: SocketAddr,
        at_path: Option<PublicKey>,
        bytes: &[u8],
    ) -> Inbound {
        if let Err(r) = handshake::check_init(&self.mac1_key, bytes) {
            return Inbound::Refused(r);
        }
        // Only now, with a valid mac1, is a Diffie-Hellman worth its cost; and not too often.
        if !self.limiter.allow(now, from.ip()) {
            return Inbound::Refused(Refusal::RateLimited);
        }
        let init = match handshake::read_init(&self.keys, bytes) {
            Ok(init) => init,
            Err(r) => return Inbound::Refused(r),
        };
        let key = init.offered;
        if !self.peers.contains_key(&key) {
            self.events.push_back(SecureEvent::KeyRefused {
                from,
                offered: key,
                expected: at_path,
            });
            return Inbound::Refused(Refusal::UnknownKey);
        }
        let index = self.fresh_index();
        let Some(peer) = self.peers.get_mut(&key) else {
            return Inbound::Refused(Refusal::UnknownKey);
        };
        if init.timestamp <= peer.last_init {
            return Inbound::Refused(Refusal::Replay);
        }
        let (out, transport) = match handshake::respond(init.hs, index, init.sender, &peer.mac1_key)
        {
            Ok(answer) => answer,
            Err(r) => return Inbound::Refused(r),
        };
        peer.last_init = init.timestamp;
        peer.endpoint = from;
        let session = Session::new(index, init.sender, transport, now, false);
        self.install(key, session);
        self.transmits.push_back((from, out));
        self.flush_queue(key);
        Inbound::Handshake(key)
    }

    fn on_response(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) -> Inbound {
        let (sender, receiver) = match handshake::check_response(&self.mac1_key, bytes) {
            Ok(indices) => indices,
            Err(r) => return Inbound::Refused(r),
        };
        let Some(&key) = self.by_index.get(&receiver) else {
            return Inbound::Refused(Refusal::Unauthenticated);
        };
        let Some(peer) = self.peers.get_mut(&key) else {
            return Inbound::Refused(Refusal::Unauthenticated);
        };
        let Some(pending) = peer.pending.as_mut().filter(|p| p.index == receiver) else {
            return Inbound::Refused(Refusal::Replay);
        };
        if let Err(r) = handshake::read_response(pending, bytes) {
            return Inbound::Refused(r);
        }
        let Some(pending) = peer.pending.take() else {
            return Inbound::Refused(Refusal::Unauthenticated);
        };
        let Ok(transport) = pending.hs.into_stateless_transport_mode() else {
            return Inbound::Refused(Refusal::Unauthenticated);
        };
        peer.endpoint = from;
        let session = Session::new(receiver, sender, transport, now, true);
        self.install(key, session);
        self.flush_queue(key);
        Inbound::Handshake(key)
    }

    /// Makes `session` the one to send with; the one before it still decrypts.
    fn install(&mut self, key: PublicKey, session: Session) {
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        self.by_index.insert(session.local, key);
        peer.no_answer_reported = false;
        if let Some(old) = peer.previous.take() {
            self.by_index.remove(&old.local);
        }
        peer.previous = peer.current.replace(session);
        self.stats.sessions += 1;
    }

    fn flush_queue(&mut self, key: PublicKey) {
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        let queue = std::mem::take(&mut peer.queue);
        for plain in queue {
            if let Some(bytes) = peer.current.as_mut().and_then(|s| s.encrypt(&plain)) {
                self.transmits.push_back((peer.endpoint, bytes));
            }
        }
    }

    fn on_transport(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) -> Inbound {
        let (receiver, counter, ciphertext) = match session::parse_transport(bytes) {
            Ok(parts) => parts,
            Err(r) => return Inbound::Refused(r),
        };
        let Some(&key) = self.by_index.get(&receiver) else {
            return Inbound::Refused(Refusal::Unauthenticated);
        };
        let Some(peer) = self.peers.get_mut(&key) else {
            return Inbound::Refused(Refusal::Unauthenticated);
        };
        let session = [peer.current.as_mut(), peer.previous.as_mut()]
            .into_iter()
            .flatten()
            .find(|s| s.local == receiver);
        let Some(session) = session else {
            return Inbound::Refused(Refusal::Unauthenticated);
        };
        match session.decrypt(now, &self.config, counter, ciphertext) {
            Ok(plain) => {
                // An authenticated datagram from a new address: the contact moved (roaming).
                peer.endpoint = from;
                Inbound::Packet(key, plain)
            }
            Err(r) => Inbound::Refused(r),
        }
    }

    /// Retries handshakes that went unanswered; gives up on old ones.
    pub fn handle_timeout(&mut self, now: Instant, wall_ns: u64) {
        let retry = self.config.handshake_retry;
        let give_up = self.config.handshake_give_up;
        let due: Vec<(PublicKey, bool)> = self
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
        for (key, again) in due {
            if again {
                let started = self
                    .peers
                    .get(&key)
                    .and_then(|p| p.pending.as_ref())
                    .map_or(now, |h| h.started);
                self.start_handshake(now, wall_ns, key);
                if let Some(h) = self.peers.get_mut(&key).and_then(|p| p.pending.as_mut()) {
                    h.started = started;
                }
                self.check_answer(now, key, started);
            } else if let Some(p) = self.peers.get_mut(&key)
                && let Some(h) = p.pending.take()
            {
                self.by_index.remove(&h.index);
                p.queue.clear();
            }
        }
    }

    /// Reports a handshake begun at `started` and still unanswered after a few retries, if
    /// traffic waits for it (an unanswered rekey, with the session still usable, is no news).
    fn check_answer(&mut self, now: Instant, key: PublicKey, started: Instant) {
        let late = started + self.config.handshake_retry * NO_ANSWER_RETRIES;
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        let usable = p
            .current
            .as_ref()
            .is_some_and(|s| s.can_send(now, &self.config));
        if now >= late && !usable && !p.no_answer_reported {
            p.no_answer_reported = true;
            self.events.push_back(SecureEvent::NoAnswer { key });
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

    /// Whether what is sent to this contact now leaves at once, rather than waiting for a
    /// handshake (the same test [`Secure::send`] makes).
    pub fn can_send(&self, now: Instant, key: &PublicKey) -> bool {
        self.peers
            .get(key)
            .and_then(|p| p.current.as_ref())
            .is_some_and(|s| s.can_send(now, &self.config))
    }
}
