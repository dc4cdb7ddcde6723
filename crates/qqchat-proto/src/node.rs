//! One endpoint of the protocol: every peer's send, receive and presence state, driven by the
//! caller.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::limit::RateLimiter;
use super::presence::{LinkHealth, Presence, PresenceConfig, PresenceState};
use super::recv::{Accept, InStream, Inbound, RecvLimits};
use super::rtt::RttEstimator;
use super::secure::{self, Keypair, Secure, SecureConfig, SecureEvent};
use super::send::{OutMsg, OutStream};
use super::wire::{self, Ack, AckItem, Data, Datagram, MAX_ACK_ITEMS, MAX_DATAGRAM, Packet};

/// A fragment is lost when one sent this many transmissions after it was acked.
const LOSS_THRESHOLD: u64 = 3;

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
}

impl Config {
    pub fn new(epoch: u64) -> Self {
        let give_up = Duration::from_secs(30);
        let max_message = 1 << 20;
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
        from: SocketAddr,
        /// The sender's id of the message; `None` for plain text.
        id: Option<u64>,
        text: String,
        /// Sender's clock (ms since the Unix epoch); `None` for plain text.
        sent_at_ms: Option<i64>,
        plain: bool,
    },
    /// Every fragment of the message with this id was acked.
    Delivered { to: SocketAddr, id: u64 },
    /// A plain message left; plain peers send no receipts.
    Sent { to: SocketAddr, id: u64 },
    /// The message with this id was not acked in time.
    Failed { to: SocketAddr, id: u64 },
    /// A contact came online or went offline.
    Presence { peer: SocketAddr, online: bool },
    /// A ping was answered after `rtt`.
    Pong { peer: SocketAddr, rtt: Duration },
    /// A handshake offered a key no contact carries; `expected` names the keyed contact whose
    /// address it came from, if any (its key changed, or someone impersonates it).
    KeyRefused {
        from: SocketAddr,
        offered: [u8; 32],
        expected: Option<(SocketAddr, [u8; 32])>,
    },
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

struct Peer {
    out: OutStream,
    rtt: RttEstimator,
    /// Receive state per sender epoch of this peer.
    inbound: BTreeMap<u64, InStream>,
    pending_acks: VecDeque<(u64, AckItem)>,
    /// A contact: presence is tracked and no rate limit applies.
    watched: bool,
    /// A contact: no stranger rate limit, never evicted. Watched peers are contacts too.
    contact: bool,
    presence: PresenceState,
    last_active: Instant,
}

impl Peer {
    fn new(config: &Config, now: Instant) -> Self {
        Self {
            out: OutStream::default(),
            rtt: RttEstimator::new(config.initial_rto, config.min_rto, config.max_rto),
            inbound: BTreeMap::new(),
            pending_acks: VecDeque::new(),
            watched: false,
            contact: false,
            presence: PresenceState::default(),
            last_active: now,
        }
    }

    /// Holds nothing that would be lost if forgotten.
    fn is_idle(&self) -> bool {
        !self.contact
            && self.out.msgs.is_empty()
            && self.pending_acks.is_empty()
            && self.inbound.values().all(InStream::is_idle)
    }
}

/// The sans-IO protocol endpoint. Feed it datagrams, sends and time; drain its transmits and
/// events; sleep until its timeout.
pub struct Node {
    config: Config,
    peers: HashMap<SocketAddr, Peer>,
    /// Retransmission timers: (deadline, peer, seq, frag).
    timers: BTreeSet<(Instant, SocketAddr, u64, u16)>,
    /// Peers with acks waiting to go out.
    ready: VecDeque<SocketAddr>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    limiter: RateLimiter,
    stats: Stats,
    nonce: u64,
    secure: Option<Secure>,
    /// The first and the latest moment the caller passed in: the wall clock for handshakes
    /// is `epoch` plus the time between them.
    start: Option<Instant>,
    last_now: Option<Instant>,
}

impl Node {
    pub fn new(config: Config) -> Self {
        let limiter = RateLimiter::new(config.stranger_rate, config.stranger_burst, 4096);
        let nonce = config.epoch;
        let secure = config
            .identity
            .clone()
            .map(|keys| Secure::new(keys, config.secure.clone(), config.epoch));
        Self {
            config,
            peers: HashMap::new(),
            timers: BTreeSet::new(),
            ready: VecDeque::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            limiter,
            stats: Stats::default(),
            nonce,
            secure,
            start: None,
            last_now: None,
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

    /// Gives the contact at `addr` a key (all traffic with it goes over Noise), or takes it
    /// away with `None`.
    pub fn set_key(&mut self, addr: SocketAddr, key: Option<[u8; 32]>) {
        if let Some(s) = self.secure.as_mut() {
            s.set_key(addr, key);
        }
    }

    /// This node's public key, when it has one.
    pub fn public_key(&self) -> Option<[u8; 32]> {
        self.secure.as_ref().map(|s| *s.public())
    }

    /// Whether traffic with `addr` is encrypted.
    pub fn is_keyed(&self, addr: SocketAddr) -> bool {
        self.secure.as_ref().is_some_and(|s| s.is_keyed(addr))
    }

    pub fn secure_stats(&self) -> Option<&secure::SecureStats> {
        self.secure.as_ref().map(Secure::stats)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The smoothed round trip to a peer, once measured.
    pub fn rtt(&self, peer: SocketAddr) -> Option<Duration> {
        self.peers.get(&peer).and_then(|p| p.rtt.srtt())
    }

    /// Presence, round trip and loss of the link to a peer.
    pub fn link(&self, peer: SocketAddr) -> Option<LinkHealth> {
        let p = self.peers.get(&peer)?;
        Some(p.presence.health(p.rtt.srtt()))
    }

    /// Peers this node holds state for (bounded by `max_strangers` plus the contacts).
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// Bytes held for messages not yet shown, over all peers.
    pub fn buffered_bytes(&self) -> usize {
        self.peers
            .values()
            .flat_map(|p| p.inbound.values())
            .map(InStream::buffered_bytes)
            .sum()
    }

    /// Finds or makes a peer's state; `None` when too many strangers are known already.
    fn peer_mut(&mut self, now: Instant, addr: SocketAddr) -> Option<&mut Peer> {
        if !self.peers.contains_key(&addr) {
            let strangers = self.peers.values().filter(|p| !p.contact).count();
            if strangers >= self.config.max_strangers {
                let idle = self
                    .peers
                    .iter()
                    .filter(|(_, p)| p.is_idle())
                    .min_by_key(|(_, p)| p.last_active)
                    .map(|(&a, _)| a);
                self.peers.remove(&idle?);
            }
            self.peers.insert(addr, Peer::new(&self.config, now));
        }
        let peer = self.peers.get_mut(&addr)?;
        peer.last_active = now;
        Some(peer)
    }

    /// Makes `addr` a contact: its presence is tracked, starting with a hello.
    pub fn watch(&mut self, now: Instant, addr: SocketAddr) {
        self.tick(now);
        let Some(peer) = self.peer_mut(now, addr) else {
            return;
        };
        peer.watched = true;
        peer.contact = true;
        peer.presence = PresenceState::default();
        self.send_ping(now, addr, true);
    }

    /// Stops tracking a contact's presence (it was removed from the contacts file).
    pub fn unwatch(&mut self, addr: SocketAddr) {
        if let Some(peer) = self.peers.get_mut(&addr) {
            peer.watched = false;
            peer.contact = false;
        }
    }

    /// Makes `addr` a contact without tracking its presence: it is spared the rate limit
    /// for strangers (`send`, which says no hello, still talks to contacts at full speed).
    pub fn befriend(&mut self, now: Instant, addr: SocketAddr) {
        self.tick(now);
        if let Some(peer) = self.peer_mut(now, addr) {
            peer.contact = true;
        }
    }

    /// Probes a peer now, contact or not; the answer updates its link health.
    pub fn ping(&mut self, now: Instant, addr: SocketAddr) {
        self.tick(now);
        if self.peer_mut(now, addr).is_some() {
            self.send_ping(now, addr, false);
        }
    }

    /// Says goodbye to every contact, so they show this node offline at once.
    pub fn goodbye(&mut self) {
        let watched: Vec<SocketAddr> = self
            .peers
            .iter()
            .filter(|(_, p)| p.watched)
            .map(|(&a, _)| a)
            .collect();
        for addr in watched {
            self.push_transmit(addr, wire::encode(&Packet::Bye));
        }
    }

    fn send_ping(&mut self, now: Instant, addr: SocketAddr, hello: bool) {
        self.nonce = self.nonce.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let nonce = self.nonce;
        if let Some(peer) = self.peers.get_mut(&addr) {
            peer.presence.on_ping_sent(now, nonce);
        }
        self.push_transmit(addr, wire::encode(&Packet::Ping { nonce, hello }));
    }

    /// Queues a reliable message. `id` is the message's own id, unique for this sender across
    /// restarts; it comes back in the `Delivered` or `Failed` event.
    pub fn send(
        &mut self,
        now: Instant,
        to: SocketAddr,
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
        let Some(peer) = self.peer_mut(now, to) else {
            return Err(SendError::QueueFull(0));
        };
        if peer.out.msgs.len() >= max_queued {
            return Err(SendError::QueueFull(max_queued));
        }
        peer.out.push(OutMsg::new(id, sent_at_ms, text));
        self.flush_peer(now, to);
        Ok(())
    }

    /// Sends bare UTF-8 to a plain peer, split at character boundaries to fit datagrams.
    pub fn send_plain(&mut self, to: SocketAddr, text: &str, id: u64) {
        let mut rest = text;
        while !rest.is_empty() {
            let mut cut = rest.len().min(MAX_DATAGRAM);
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            let (chunk, tail) = rest.split_at(cut);
            self.push_transmit(to, chunk.as_bytes().to_vec());
            rest = tail;
        }
        self.events.push_back(Event::Sent { to, id });
    }

    /// Takes one datagram from the network. Anything malformed is dropped and counted.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        self.stats.datagrams_in += 1;
        self.tick(now);
        if bytes.starts_with(&wire::MAGIC) && bytes.get(wire::MAGIC.len()) == Some(&secure::VERSION)
        {
            self.on_secure(now, from, bytes);
            return;
        }
        // Only Noise is believed from a keyed contact's address: anyone can forge a source.
        if self.is_keyed(from) || self.config.require_keys {
            self.stats.unauthenticated += 1;
            return;
        }
        let known = self
            .peers
            .get(&from)
            .is_some_and(|p| p.contact || !p.out.msgs.is_empty());
        if !known && !self.limiter.allow(now, from.ip()) {
            self.stats.rate_limited += 1;
            return;
        }
        let packets = match wire::decode(bytes) {
            Ok(Datagram::Packets(packets)) => packets,
            Ok(Datagram::Plain(text)) => {
                self.heard(now, from);
                self.events.push_back(Event::Received {
                    from,
                    id: None,
                    text: text.to_owned(),
                    sent_at_ms: None,
                    plain: true,
                });
                return;
            }
            Err(wire::WireError::UnknownVersion(_)) => {
                self.stats.unknown_version += 1;
                return;
            }
            Err(_) => {
                self.stats.malformed += 1;
                return;
            }
        };
        for packet in packets {
            self.on_packet(now, from, packet);
        }
    }

    fn on_secure(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        let wall = self.wall_ns();
        let Some(secure) = self.secure.as_mut() else {
            self.stats.unknown_version += 1;
            return;
        };
        match secure.receive(now, wall, from, bytes) {
            secure::Inbound::Packet(peer, plain) => match wire::decode_body(&plain) {
                Ok(packets) => {
                    for packet in packets {
                        self.on_packet(now, peer, packet);
                    }
                }
                Err(_) => self.stats.malformed += 1,
            },
            secure::Inbound::Handshake => {}
            secure::Inbound::Refused(_) => self.stats.unauthenticated += 1,
        }
        while let Some(SecureEvent::KeyRefused {
            from,
            offered,
            expected,
        }) = self.secure.as_mut().and_then(Secure::poll_event)
        {
            self.events.push_back(Event::KeyRefused {
                from,
                offered,
                expected,
            });
        }
    }

    /// A packet from `from`, authenticated or from an unkeyed peer.
    fn on_packet(&mut self, now: Instant, from: SocketAddr, packet: Packet<'_>) {
        self.heard(now, from);
        match packet {
            Packet::Data(data) => self.on_data(now, from, &data),
            Packet::Ack(ack) => self.on_ack(now, from, &ack),
            Packet::Ping { nonce, .. } => {
                self.push_transmit(from, wire::encode(&Packet::Pong { nonce }));
            }
            Packet::Pong { nonce } => {
                if let Some(peer) = self.peers.get_mut(&from)
                    && let Some(rtt) = peer.presence.on_pong(now, nonce)
                {
                    peer.rtt.sample(rtt);
                    self.events.push_back(Event::Pong { peer: from, rtt });
                }
            }
            Packet::Bye => {
                if let Some(peer) = self.peers.get_mut(&from)
                    && peer.watched
                    && peer.presence.on_bye(now)
                {
                    self.events.push_back(Event::Presence {
                        peer: from,
                        online: false,
                    });
                }
            }
        }
    }

    /// Any valid datagram from a contact shows it is there.
    fn heard(&mut self, now: Instant, from: SocketAddr) {
        if let Some(peer) = self.peers.get_mut(&from)
            && peer.watched
            && peer.presence.on_heard(now)
        {
            self.events.push_back(Event::Presence {
                peer: from,
                online: true,
            });
        }
    }

    fn on_data(&mut self, now: Instant, from: SocketAddr, data: &Data<'_>) {
        let max_epochs = self.config.max_epochs;
        let limits = self.config.recv.clone();
        if self.peer_mut(now, from).is_none() {
            self.stats.refused += 1;
            return;
        }
        let Some(peer) = self.peers.get_mut(&from) else {
            return;
        };
        if !peer.inbound.contains_key(&data.epoch) {
            // Forget the oldest idle epoch of a peer that restarted often.
            if peer.inbound.len() >= max_epochs {
                let oldest = peer
                    .inbound
                    .iter()
                    .find(|(_, s)| s.is_idle())
                    .map(|(&e, _)| e);
                match oldest {
                    Some(e) => {
                        peer.inbound.remove(&e);
                    }
                    None => {
                        self.stats.refused += 1;
                        return;
                    }
                }
            }
            peer.inbound.insert(data.epoch, InStream::new(now));
        }
        let Some(stream) = peer.inbound.get_mut(&data.epoch) else {
            return;
        };
        let mut delivered = Vec::new();
        match stream.accept(now, data, &limits, &mut delivered) {
            Accept::Refused => {
                self.stats.refused += 1;
                return;
            }
            Accept::Duplicate => self.stats.duplicates += 1,
            Accept::New => {}
        }
        let item = AckItem {
            seq: data.seq,
            frag: data.frag,
        };
        peer.pending_acks.push_back((data.epoch, item));
        self.mark_ready(from);
        self.push_inbound(from, delivered);
    }

    fn push_inbound(&mut self, from: SocketAddr, delivered: Vec<Inbound>) {
        self.events
            .extend(delivered.into_iter().map(|m| Event::Received {
                from,
                id: Some(m.id),
                text: m.text,
                sent_at_ms: Some(m.sent_at_ms),
                plain: false,
            }));
    }

    fn on_ack(&mut self, now: Instant, from: SocketAddr, ack: &Ack) {
        if ack.epoch != self.config.epoch {
            return;
        }
        let Some(peer) = self.peers.get_mut(&from) else {
            return;
        };
        let mut done = Vec::new();
        for item in &ack.items {
            let Some(msg) = peer.out.msgs.get_mut(&item.seq) else {
                continue;
            };
            let Some(frag) = msg.frags.get_mut(usize::from(item.frag)) else {
                continue;
            };
            if frag.acked {
                continue;
            }
            let Some(deadline) = frag.deadline.take() else {
                // Acked before it was ever sent: a forged or confused ack.
                continue;
            };
            frag.acked = true;
            let tx = frag.tx_no;
            peer.out.largest_acked_tx = Some(peer.out.largest_acked_tx.map_or(tx, |l| l.max(tx)));
            peer.out.backoff = 0;
            if frag.sends == 1 {
                peer.presence.record(true);
                if let Some(sent) = frag.last_sent {
                    peer.rtt.sample(now.saturating_duration_since(sent));
                }
            }
            self.timers.remove(&(deadline, from, item.seq, item.frag));
            peer.out.in_flight -= 1;
            msg.unacked -= 1;
            if msg.unacked == 0 {
                done.push(item.seq);
            }
        }
        for seq in done {
            if let Some((msg, _)) = peer.out.remove(seq) {
                self.stats.delivered += 1;
                self.events.push_back(Event::Delivered {
                    to: from,
                    id: msg.id,
                });
            }
        }
        // Fragments sent well before one that was acked are lost: resend them now rather than
        // wait for their timers (QUIC's packet and time thresholds), without backing off.
        // Only once a round trip has passed, so acks merely reordered are not taken for loss.
        if let Some(largest) = peer.out.largest_acked_tx {
            let wait = peer.rtt.srtt().unwrap_or_else(|| peer.rtt.rto()) * 9 / 8;
            // Messages go out in seq order: the first never sent ends the ones to look at.
            let lost: Vec<(u64, u16)> = peer
                .out
                .msgs
                .iter()
                .take_while(|(_, m)| m.first_sent.is_some())
                .flat_map(|(&seq, m)| {
                    m.frags.iter().enumerate().filter_map(move |(i, f)| {
                        let gone = f.deadline.is_some()
                            && f.tx_no + LOSS_THRESHOLD <= largest
                            && f.last_sent.is_some_and(|t| now >= t + wait);
                        gone.then(|| (seq, u16::try_from(i).unwrap_or(u16::MAX)))
                    })
                })
                .collect();
            for (seq, frag) in lost {
                self.retransmit_or_fail(now, from, seq, frag, false);
            }
        }
        self.flush_peer(now, from);
    }

    /// Sends whatever fits in the window to one peer.
    fn flush_peer(&mut self, now: Instant, addr: SocketAddr) {
        let window = self.config.window;
        let give_up = self.config.give_up;
        let epoch = self.config.epoch;
        let Some(peer) = self.peers.get_mut(&addr) else {
            return;
        };
        while peer.out.in_flight < window {
            let Some((seq, frag)) = peer.out.unsent.pop_front() else {
                break;
            };
            let floor = peer.out.floor();
            let rto = peer.rtt.backoff(peer.out.backoff);
            let Some(msg) = peer.out.msgs.get_mut(&seq) else {
                continue;
            };
            let first = *msg.first_sent.get_or_insert(now);
            let bytes = encode_data(epoch, seq, floor, msg, frag);
            let f = &mut msg.frags[usize::from(frag)];
            f.sends = 1;
            f.last_sent = Some(now);
            peer.out.tx_counter += 1;
            f.tx_no = peer.out.tx_counter;
            let deadline = (now + rto).min(first + give_up);
            f.deadline = Some(deadline);
            peer.out.in_flight += 1;
            self.timers.insert((deadline, addr, seq, frag));
            self.stats.datagrams_out += 1;
            self.transmits.push_back(Transmit {
                dst: addr,
                payload: bytes,
            });
        }
    }

    fn mark_ready(&mut self, addr: SocketAddr) {
        if !self.ready.contains(&addr) {
            self.ready.push_back(addr);
        }
    }

    fn push_transmit(&mut self, dst: SocketAddr, payload: Vec<u8>) {
        self.stats.datagrams_out += 1;
        self.transmits.push_back(Transmit { dst, payload });
    }

    /// Retransmits what is due, gives up on what waited too long, pings silent contacts,
    /// drops stale receive state.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        let wall = self.wall_ns();
        if let Some(s) = self.secure.as_mut() {
            s.handle_timeout(now, wall);
        }
        while let Some(&(deadline, addr, seq, frag)) = self.timers.first() {
            if deadline > now {
                break;
            }
            self.timers.pop_first();
            self.retransmit_or_fail(now, addr, seq, frag, true);
        }
        let limits = self.config.recv.clone();
        let cfg = self.config.presence.clone();
        let mut delivered = Vec::new();
        let mut pings = Vec::new();
        for (&addr, peer) in &mut self.peers {
            let mut out = Vec::new();
            for stream in peer.inbound.values_mut() {
                if stream.deadline(&limits).is_some_and(|d| d <= now) {
                    stream.on_timeout(now, &limits, &mut out);
                }
            }
            if !out.is_empty() {
                delivered.push((addr, out));
            }
            if peer.watched {
                match peer.presence.on_timeout(now, &cfg) {
                    Presence::Ping => pings.push(addr),
                    Presence::WentOffline => self.events.push_back(Event::Presence {
                        peer: addr,
                        online: false,
                    }),
                    Presence::Nothing => {}
                }
            }
        }
        for (addr, out) in delivered {
            self.push_inbound(addr, out);
        }
        for addr in pings {
            self.send_ping(now, addr, false);
        }
    }

    /// Sends a fragment again, or fails its message once it is too old. `timed_out` is set
    /// when its timer fired (no news from the peer), which backs the peer's timeout off.
    fn retransmit_or_fail(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        seq: u64,
        frag: u16,
        timed_out: bool,
    ) {
        let give_up = self.config.give_up;
        let epoch = self.config.epoch;
        let Some(peer) = self.peers.get_mut(&addr) else {
            return;
        };
        if timed_out {
            // One step per round trip of silence, however many fragments time out together.
            let step = peer.rtt.backoff(peer.out.backoff);
            if peer.out.last_backoff.is_none_or(|t| now >= t + step) {
                peer.out.backoff = (peer.out.backoff + 1).min(16);
                peer.out.last_backoff = Some(now);
            }
        }
        let floor = peer.out.floor();
        let Some(msg) = peer.out.msgs.get_mut(&seq) else {
            return;
        };
        let first = msg.first_sent.unwrap_or(now);
        if now >= first + give_up {
            if let Some((msg, _)) = peer.out.remove(seq) {
                for (i, f) in msg.frags.iter().enumerate() {
                    if let (Some(d), Ok(i)) = (f.deadline, u16::try_from(i)) {
                        self.timers.remove(&(d, addr, seq, i));
                    }
                }
                self.stats.failed += 1;
                self.events.push_back(Event::Failed {
                    to: addr,
                    id: msg.id,
                });
            }
            self.flush_peer(now, addr);
            return;
        }
        let bytes = encode_data(epoch, seq, floor, msg, frag);
        let f = &mut msg.frags[usize::from(frag)];
        if let Some(old) = f.deadline {
            self.timers.remove(&(old, addr, seq, frag));
        }
        f.sends += 1;
        f.last_sent = Some(now);
        peer.out.tx_counter += 1;
        f.tx_no = peer.out.tx_counter;
        if f.sends == 2 {
            peer.presence.record(false);
        }
        let deadline = (now + peer.rtt.backoff(peer.out.backoff)).min(first + give_up);
        f.deadline = Some(deadline);
        self.timers.insert((deadline, addr, seq, frag));
        self.stats.retransmits += 1;
        self.push_transmit(addr, bytes);
    }

    /// The next datagram to send, acks first; for keyed contacts, encrypted.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        loop {
            if let Some((dst, payload)) = self.secure.as_mut().and_then(Secure::poll_transmit) {
                return Some(Transmit { dst, payload });
            }
            let t = self.next_plain_transmit()?;
            if self.is_keyed(t.dst) {
                // A version-1 packet without its 4-byte header goes inside Noise; anything
                // else (plain text) never goes to a keyed contact.
                let Some(body) = t.payload.strip_prefix(&wire::MAGIC) else {
                    continue;
                };
                // Every call that queues a packet for a peer passes `now` first, so a time is
                // known here; without one nothing was ever queued, and there is nothing to seal.
                let Some(now) = self.last_now else {
                    continue;
                };
                let wall = self.wall_ns();
                if let Some(s) = self.secure.as_mut() {
                    s.send(now, wall, t.dst, body.get(1..).unwrap_or_default());
                }
                continue;
            }
            if self.config.require_keys {
                continue;
            }
            return Some(t);
        }
    }

    /// The next datagram before encryption: receipts first, then whatever else is queued for
    /// the same peer, packed together while it fits.
    fn next_plain_transmit(&mut self) -> Option<Transmit> {
        let mut first = None;
        while let Some(addr) = self.ready.pop_front() {
            if let Some(t) = self.build_ack(addr) {
                first = Some(t);
                break;
            }
        }
        let mut t = match first {
            Some(t) => t,
            None => self.transmits.pop_front()?,
        };
        if !t.payload.starts_with(&wire::MAGIC) {
            return Some(t);
        }
        while let Some(next) = self.transmits.front() {
            let fits = next.dst == t.dst
                && next.payload.starts_with(&wire::MAGIC)
                && t.payload.len() + next.payload.len() - 4 <= wire::MAX_BODY + 4;
            if !fits {
                break;
            }
            if let Some(next) = self.transmits.pop_front() {
                t.payload.extend_from_slice(&next.payload[4..]);
                self.stats.datagrams_out -= 1;
            }
        }
        Some(t)
    }

    /// Packs this peer's pending acks of one epoch into one datagram; re-queues the rest.
    fn build_ack(&mut self, addr: SocketAddr) -> Option<Transmit> {
        let peer = self.peers.get_mut(&addr)?;
        let &(epoch, _) = peer.pending_acks.front()?;
        let mut items = Vec::new();
        let mut other = VecDeque::new();
        while let Some((e, item)) = peer.pending_acks.pop_front() {
            if e == epoch && items.len() < MAX_ACK_ITEMS {
                items.push(item);
            } else {
                other.push_back((e, item));
            }
        }
        peer.pending_acks = other;
        if !peer.pending_acks.is_empty() {
            self.ready.push_back(addr);
        }
        self.stats.datagrams_out += 1;
        Some(Transmit {
            dst: addr,
            payload: wire::encode(&Packet::Ack(Ack { epoch, items })),
        })
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Node::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let retransmit = self.timers.first().map(|t| t.0);
        let limits = &self.config.recv;
        let cfg = &self.config.presence;
        let other = self
            .peers
            .values()
            .flat_map(|p| {
                let presence = if p.watched {
                    p.presence.deadline(cfg)
                } else {
                    None
                };
                p.inbound
                    .values()
                    .filter_map(|s| s.deadline(limits))
                    .chain(presence)
            })
            .min();
        let handshake = self.secure.as_ref().and_then(Secure::poll_timeout);
        [retransmit, other, handshake].into_iter().flatten().min()
    }

    /// Messages not yet acked to a peer.
    pub fn unacked(&self, peer: SocketAddr) -> usize {
        self.peers.get(&peer).map_or(0, |p| p.out.msgs.len())
    }
}

fn encode_data(epoch: u64, seq: u64, floor: u64, msg: &OutMsg, frag: u16) -> Vec<u8> {
    wire::encode(&Packet::Data(Data {
        epoch,
        seq,
        floor,
        id: msg.id,
        sent_at_ms: msg.sent_at_ms,
        frag,
        frags: u16::try_from(msg.frags.len()).unwrap_or(u16::MAX),
        payload: msg.payload(frag),
    }))
}
