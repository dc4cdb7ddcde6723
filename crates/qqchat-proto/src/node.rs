//! One endpoint of the protocol: the routing between the network, the Noise layer and each
//! peer's [`PeerConn`], driven by the caller.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::api::{Config, Event, SendError, Stats, Transmit};
use super::conn::{DataOutcome, Outgoing, Output, PeerConn};
use super::limit::RateLimiter;
use super::peer::{PeerId, PublicKey, canonical};
use super::presence::LinkHealth;
use super::secure::{self, Secure};
use super::send::OutMsg;
use super::wire::{self, Datagram, MAX_DATAGRAM, Packet};

mod exchange;
mod paths;
mod plain;
mod punch;
mod refused;

pub use punch::{PathKind, is_lan};

/// The sans-IO protocol endpoint. Feed it datagrams, sends and time; drain its transmits and
/// events; sleep until its timeout.
///
/// The node routes: it decides which peer a datagram is for, unwraps Noise, rate-limits
/// strangers, counts, and owns the output queues. Each peer's windows, round trip, presence
/// and timers live in its [`PeerConn`].
///
/// Call order, as quinn documents it: after any `handle_*`, `send*`, `watch` or `ping`, drain
/// [`Node::poll_transmit`] and [`Node::poll_event`], then sleep until [`Node::poll_timeout`]
/// and call [`Node::handle_timeout`] then.
pub struct Node {
    config: Config,
    peers: HashMap<PeerId, PeerConn>,
    /// Every peer's next deadline, earliest first, so `poll_timeout` reads one entry instead
    /// of asking every peer. Each entry matches its peer's `scheduled`.
    deadlines: BTreeSet<(Instant, PeerId)>,
    /// Peers with acks waiting to go out.
    ready: VecDeque<PeerId>,
    /// Keyed peers by each of their paths (canonical): plain datagrams from these addresses
    /// are refused, and a handshake from one names whom it would be impersonating.
    by_path: HashMap<SocketAddr, PublicKey>,
    out: Output,
    limiter: RateLimiter,
    /// When each kind of trouble was last reported, per peer.
    reported: refused::Reported,
    nonce: u64,
    secure: Option<Secure>,
    /// The first and the latest moment the caller passed in: the wall clock for handshakes
    /// is `epoch` plus the time between them.
    start: Option<Instant>,
    last_now: Option<Instant>,
    /// Hole punching and keepalives of keyed contacts.
    reach: punch::Reach,
    /// Own candidates, and what each keyed contact has been told of them.
    exchange: exchange::Exchange,
    /// Plain contacts that do not speak UTF-8.
    encodings: plain::Encodings,
}

impl Node {
    pub fn new(config: Config) -> Self {
        let limiter = RateLimiter::new(config.stranger_rate, config.stranger_burst, 4096);
        let nonce = config.epoch;
        let config_epoch = config.epoch;
        let secure = config
            .identity
            .clone()
            .map(|keys| Secure::new(keys, config.secure.clone(), config.epoch));
        Self {
            config,
            peers: HashMap::new(),
            deadlines: BTreeSet::new(),
            ready: VecDeque::new(),
            by_path: HashMap::new(),
            out: Output::default(),
            limiter,
            reported: refused::Reported::default(),
            nonce,
            secure,
            start: None,
            last_now: None,
            reach: punch::Reach::default(),
            exchange: exchange::Exchange::new(config_epoch),
            encodings: plain::Encodings::default(),
        }
    }

    /// Records the caller's clock: every public method that takes `now` calls this first, so
    /// work done later without a `now` (sealing in `poll_transmit`) uses the caller's time
    /// and the protocol never reads a clock.
    fn tick(&mut self, now: Instant) {
        self.start.get_or_insert(now);
        self.last_now = Some(self.last_now.map_or(now, |t| t.max(now)));
    }

    /// The wall clock in nanoseconds, derived from the epoch and the caller's clock.
    fn wall_ns(&self) -> u64 {
        let elapsed = match (self.start, self.last_now) {
            (Some(a), Some(b)) => b.saturating_duration_since(a).as_nanos() as u64,
            _ => 0,
        };
        self.config
            .epoch
            .saturating_mul(1000)
            .saturating_add(elapsed)
    }

    /// This node's public key, when it has one.
    pub fn public_key(&self) -> Option<PublicKey> {
        self.secure.as_ref().map(|s| *s.public())
    }

    pub fn secure_stats(&self) -> Option<&secure::SecureStats> {
        self.secure.as_ref().map(Secure::stats)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn stats(&self) -> &Stats {
        &self.out.stats
    }

    /// The smoothed round trip to a peer, once measured.
    pub fn rtt(&self, peer: PeerId) -> Option<Duration> {
        self.peers.get(&peer).and_then(PeerConn::srtt)
    }

    /// Presence, round trip and loss of the link to a peer.
    pub fn link(&self, peer: PeerId) -> Option<LinkHealth> {
        self.peers.get(&peer).map(PeerConn::link)
    }

    /// Peers this node holds state for (bounded by `max_strangers` plus the contacts).
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// Bytes held for messages not yet shown, over all peers.
    pub fn buffered_bytes(&self) -> usize {
        self.peers.values().map(PeerConn::buffered_bytes).sum()
    }

    /// Messages not yet acked to a peer.
    pub fn unacked(&self, peer: PeerId) -> usize {
        self.peers.get(&peer).map_or(0, PeerConn::unacked)
    }

    /// Finds or makes a peer's state; `None` when too many strangers are known already.
    fn peer_mut(&mut self, now: Instant, id: PeerId) -> Option<&mut PeerConn> {
        if !self.peers.contains_key(&id) {
            let strangers = self
                .peers
                .values()
                .filter(|p| !p.is_contact() && !p.is_pinned())
                .count();
            if strangers >= self.config.max_strangers {
                let idle = self
                    .peers
                    .iter()
                    .filter(|(_, p)| p.is_idle())
                    .min_by_key(|(_, p)| p.last_active())
                    .map(|(&a, _)| a);
                self.forget(idle?);
            }
            self.peers.insert(id, PeerConn::new(id, &self.config, now));
        }
        let peer = self.peers.get_mut(&id)?;
        peer.touch(now);
        Some(peer)
    }

    fn forget(&mut self, addr: PeerId) {
        if let Some(p) = self.peers.remove(&addr)
            && let Some(t) = p.scheduled
        {
            self.deadlines.remove(&(t, addr));
        }
    }

    /// Files a peer under its current deadline. Called after anything that may move it.
    pub(super) fn reschedule(&mut self, addr: PeerId) {
        let Some(peer) = self.peers.get_mut(&addr) else {
            return;
        };
        let next = peer.deadline(&self.config);
        if next == peer.scheduled {
            return;
        }
        if let Some(old) = peer.scheduled {
            self.deadlines.remove(&(old, addr));
        }
        if let Some(new) = next {
            self.deadlines.insert((new, addr));
        }
        peer.scheduled = next;
    }

    /// Makes `addr` a contact: its presence is tracked, starting with a hello.
    pub fn watch(&mut self, now: Instant, addr: PeerId) {
        self.tick(now);
        let Some(peer) = self.peer_mut(now, addr) else {
            return;
        };
        peer.watch(true);
        self.send_ping(now, addr, true);
        self.reschedule(addr);
        self.want(now, addr);
    }

    /// Stops tracking a contact's presence (it was removed from the contacts file).
    pub fn unwatch(&mut self, addr: PeerId) {
        if let Some(peer) = self.peers.get_mut(&addr) {
            peer.watch(false);
            self.reschedule(addr);
        }
    }

    /// Makes `addr` a contact without tracking its presence: it is spared the rate limit
    /// for strangers (`send`, which says no hello, still talks to contacts at full speed).
    pub fn befriend(&mut self, now: Instant, addr: PeerId) {
        self.tick(now);
        if let Some(peer) = self.peer_mut(now, addr) {
            peer.befriend();
        }
    }

    /// Probes a peer now, contact or not; the answer updates its link health.
    pub fn ping(&mut self, now: Instant, addr: PeerId) {
        self.tick(now);
        if self.peer_mut(now, addr).is_some() {
            self.send_ping(now, addr, false);
            self.reschedule(addr);
        }
    }

    /// Says goodbye to every contact, so they show this node offline at once.
    pub fn goodbye(&mut self) {
        let watched: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, p)| p.is_watched())
            .map(|(&a, _)| a)
            .collect();
        for addr in watched {
            self.out.transmit(addr, wire::encode(&Packet::Bye));
        }
    }

    /// Pings are numbered by the node, across peers, so each nonce is used once.
    fn send_ping(&mut self, now: Instant, addr: PeerId, hello: bool) {
        self.nonce = self.nonce.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let nonce = self.nonce;
        let direct = self.direct(now, addr);
        if let Some(peer) = self.peers.get_mut(&addr) {
            peer.on_ping_sent(now, nonce, direct);
        }
        self.out
            .transmit(addr, wire::encode(&Packet::Ping { nonce, hello }));
    }

    /// Queues a reliable message. `id` is the message's own id, unique for this sender across
    /// restarts; it comes back in the `Delivered` or `Failed` event.
    pub fn send(
        &mut self,
        now: Instant,
        to: PeerId,
        text: String,
        sent_at_ms: i64,
        id: u64,
    ) -> Result<(), SendError> {
        if text.len() > self.config.max_message {
            return Err(SendError::TooLong {
                len: text.len(),
                max: self.config.max_message,
            });
        }
        self.tick(now);
        if self.config.require_keys && !self.is_keyed(to) {
            return Err(SendError::Unverified);
        }
        let max_queued = self.config.max_queued;
        let direct = self.direct(now, to);
        if self.peer_mut(now, to).is_none() {
            return Err(SendError::QueueFull(0));
        }
        let Some(peer) = self.peers.get_mut(&to) else {
            return Err(SendError::QueueFull(0));
        };
        if peer.unacked() >= max_queued {
            return Err(SendError::QueueFull(max_queued));
        }
        peer.send(
            now,
            OutMsg::new(id, sent_at_ms, text),
            direct,
            &mut self.out,
        );
        self.reschedule(to);
        self.want(now, to);
        Ok(())
    }

    /// Sends bare UTF-8 to a plain peer, split at character boundaries to fit datagrams.
    /// Sends one file transfer packet to `peer`, after everything already queued (so a
    /// caller that asks for file data last never delays a message or a receipt); sealed
    /// for a keyed peer. The bytes must fit a datagram with the headers (the transfer
    /// module's chunks do).
    pub fn send_xfer(&mut self, now: Instant, peer: PeerId, bytes: &[u8]) {
        self.tick(now);
        self.out.transmit(peer, wire::encode(&Packet::Xfer(bytes)));
    }

    /// The text encoding of the plain peer `peer`; `None` (or UTF-8) for UTF-8.
    pub fn set_plain_encoding(
        &mut self,
        peer: PeerId,
        encoding: Option<&'static encoding_rs::Encoding>,
    ) {
        self.encodings.set(peer, encoding);
    }

    pub fn send_plain(&mut self, to: PeerId, text: &str, id: u64) {
        // Room for an encoding that takes more bytes than UTF-8 for some characters.
        let limit = if self.encodings.may_grow(to) {
            MAX_DATAGRAM / 2
        } else {
            MAX_DATAGRAM
        };
        let mut rest = text;
        while !rest.is_empty() {
            let mut cut = rest.len().min(limit);
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            let (chunk, tail) = rest.split_at(cut);
            let bytes = self.encodings.encode(to, chunk).into_owned();
            self.out.transmit(to, bytes);
            rest = tail;
        }
        self.out.events.push_back(Event::Sent { to, id });
    }

    /// Takes one datagram from the network. Anything malformed is dropped and counted.
    ///
    /// Noise-authenticated datagrams are from the keyed peer whose session they decrypt
    /// with, whatever their source; anything else is from its source address, and refused
    /// when that address is a keyed peer's path, since anyone can forge a source.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        self.out.stats.datagrams_in += 1;
        self.tick(now);
        if bytes.starts_with(&wire::MAGIC) && bytes.get(wire::MAGIC.len()) == Some(&secure::VERSION)
        {
            self.on_secure(now, from, bytes);
            return;
        }
        if let Some(&key) = self.by_path.get(&canonical(from)) {
            self.out.stats.unauthenticated += 1;
            self.refused_plain(now, key, bytes);
            return;
        }
        if self.config.require_keys {
            self.out.stats.unauthenticated += 1;
            return;
        }
        let peer = PeerId::addr(from);
        let known = self
            .peers
            .get(&peer)
            .is_some_and(|p| p.is_contact() || p.unacked() > 0);
        if !known && !self.limiter.allow(now, from.ip()) {
            self.out.stats.rate_limited += 1;
            return;
        }
        let packets = match wire::decode(bytes) {
            Ok(Datagram::Packets(packets)) => packets,
            Ok(Datagram::Plain(_)) | Err(wire::WireError::NotText) => {
                let Some(text) = self.encodings.decode(peer, bytes) else {
                    self.out.stats.malformed += 1;
                    return;
                };
                if let Some(conn) = self.peers.get_mut(&peer) {
                    conn.add_path(from);
                    conn.on_heard(now, false, &self.config, &mut self.out);
                    self.reschedule(peer);
                }
                self.out.events.push_back(Event::Received {
                    from: peer,
                    path: from,
                    id: None,
                    text: text.into_owned(),
                    sent_at_ms: None,
                    plain: true,
                });
                return;
            }
            Err(wire::WireError::UnknownVersion(_)) => {
                self.out.stats.unknown_version += 1;
                return;
            }
            Err(_) => {
                self.out.stats.malformed += 1;
                return;
            }
        };
        for packet in packets {
            self.on_packet(now, peer, from, packet);
        }
    }

    /// A packet from `peer`, authenticated or unkeyed, that came from `path`.
    fn on_packet(&mut self, now: Instant, peer: PeerId, path: SocketAddr, packet: Packet<'_>) {
        let hello = matches!(packet, Packet::Ping { hello: true, .. });
        if let Some(conn) = self.peers.get_mut(&peer) {
            conn.on_heard(now, hello, &self.config, &mut self.out);
        }
        match packet {
            Packet::Data(data) => {
                let Some(conn) = self.peer_mut(now, peer) else {
                    self.out.stats.refused += 1;
                    return;
                };
                // An unkeyed peer's path is its address as the socket wrote it.
                if matches!(peer, PeerId::Addr(_)) || conn.path().is_none() {
                    conn.add_path(path);
                }
                let Some(conn) = self.peers.get_mut(&peer) else {
                    return;
                };
                if conn.on_data(now, &self.config, &data, &mut self.out) == DataOutcome::Ack
                    && !self.ready.contains(&peer)
                {
                    self.ready.push_back(peer);
                }
            }
            Packet::Ack(ack) => {
                let direct = self.direct(now, peer);
                if ack.epoch == self.config.epoch
                    && let Some(conn) = self.peers.get_mut(&peer)
                {
                    conn.on_ack(now, &ack, direct, &mut self.out);
                }
            }
            Packet::Ping { nonce, .. } => {
                self.out
                    .transmit(peer, wire::encode(&Packet::Pong { nonce }));
            }
            Packet::Pong { nonce } => {
                if let Some(conn) = self.peers.get_mut(&peer) {
                    conn.on_pong(now, nonce, path, &mut self.out);
                }
            }
            Packet::Bye => {
                if let Some(conn) = self.peers.get_mut(&peer) {
                    conn.on_bye(now, &mut self.out);
                }
            }
            // Both only count inside Noise: an unkeyed address proves nothing.
            Packet::Addresses(addresses) => {
                if let PeerId::Key(key) = peer {
                    self.addresses_heard(key, path, addresses);
                }
            }
            Packet::Punch => {
                if let PeerId::Key(key) = peer {
                    self.punch_asked(now, key);
                }
            }
            Packet::Xfer(bytes) => self.out.events.push_back(Event::Xfer {
                peer,
                bytes: bytes.to_vec(),
            }),
        }
        self.reschedule(peer);
    }

    /// Retransmits what is due, gives up on what waited too long, pings silent contacts,
    /// drops stale receive state: for the peers whose deadline has come, and no others.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        let wall = self.wall_ns();
        if let Some(s) = self.secure.as_mut() {
            s.handle_timeout(now, wall);
        }
        self.secure_events(now);
        let mut due = Vec::new();
        while let Some(&(deadline, addr)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            due.push(addr);
        }
        for addr in due {
            let direct = self.direct(now, addr);
            let Some(peer) = self.peers.get_mut(&addr) else {
                continue;
            };
            peer.scheduled = None;
            if peer.handle_timeout(now, &self.config, direct, &mut self.out) {
                self.send_ping(now, addr, false);
            }
            self.reschedule(addr);
        }
        self.reach_timeout(now);
    }

    /// The next datagram to send, acks first; for keyed contacts, encrypted. Each goes to
    /// its peer's path in use at this moment.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        loop {
            if let Some((dst, payload)) = self.secure.as_mut().and_then(Secure::poll_transmit) {
                return Some(Transmit { dst, payload });
            }
            let t = self.next_plain_transmit()?;
            let Some(dst) = self.path(t.to) else {
                continue;
            };
            let PeerId::Key(key) = t.to else {
                if self.config.require_keys {
                    continue;
                }
                return Some(Transmit {
                    dst,
                    payload: t.payload,
                });
            };
            // A version-1 packet without its header goes inside Noise; anything else (plain
            // text) never goes to a keyed peer.
            if !t.payload.starts_with(&wire::MAGIC) {
                continue;
            }
            // Every call that queues a packet for a peer passes `now` first, so a time is
            // known here; without one nothing was ever queued, and there is nothing to seal.
            let Some(now) = self.last_now else {
                continue;
            };
            let wall = self.wall_ns();
            if let Some(s) = self.secure.as_mut() {
                s.send(
                    now,
                    wall,
                    key,
                    dst,
                    t.payload.get(wire::HEADER..).unwrap_or_default(),
                );
            }
            self.reach.note_sent(now, key);
        }
    }

    /// The next datagram before encryption: receipts first, then whatever else is queued for
    /// the same peer, packed together while it fits.
    fn next_plain_transmit(&mut self) -> Option<Outgoing> {
        let mut first = None;
        while let Some(peer) = self.ready.pop_front() {
            if let Some(t) = self.build_ack(peer) {
                first = Some(t);
                break;
            }
        }
        let mut t = match first {
            Some(t) => t,
            None => self.out.transmits.pop_front()?,
        };
        let alone = |payload: &[u8]| {
            !payload.starts_with(&wire::MAGIC)
                || !wire::shares_datagram(payload.get(wire::HEADER..).unwrap_or_default())
        };
        if alone(&t.payload) {
            return Some(t);
        }
        while let Some(next) = self.out.transmits.front() {
            let fits = next.to == t.to
                && !alone(&next.payload)
                && t.payload.len() + next.payload.len() - wire::HEADER
                    <= wire::MAX_BODY + wire::HEADER;
            if !fits {
                break;
            }
            if let Some(next) = self.out.transmits.pop_front() {
                t.payload.extend_from_slice(&next.payload[wire::HEADER..]);
                self.out.stats.datagrams_out -= 1;
            }
        }
        Some(t)
    }

    /// Packs this peer's pending acks of one epoch into one datagram; re-queues the peer
    /// when acks of other epochs remain.
    fn build_ack(&mut self, peer: PeerId) -> Option<Outgoing> {
        let (ack, more) = self.peers.get_mut(&peer)?.take_ack()?;
        if more {
            self.ready.push_back(peer);
        }
        self.out.stats.datagrams_out += 1;
        Some(Outgoing {
            to: peer,
            payload: wire::encode(&Packet::Ack(ack)),
        })
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.out.events.pop_front()
    }

    /// When [`Node::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let peers = self.deadlines.first().map(|t| t.0);
        let handshake = self.secure.as_ref().and_then(Secure::poll_timeout);
        [peers, handshake, self.reach.deadline()]
            .into_iter()
            .flatten()
            .min()
    }
}

#[cfg(test)]
mod tests;
