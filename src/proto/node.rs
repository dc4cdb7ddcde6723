//! One endpoint of the protocol: every peer's send and receive state, driven by the caller.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::recv::{Accept, InStream, Inbound, RecvLimits};
use super::rtt::RttEstimator;
use super::send::{OutMsg, OutStream};
use super::wire::{self, Ack, AckItem, Data, Datagram, MAX_ACK_ITEMS, MAX_DATAGRAM, Packet};

/// Tunables; the defaults are what qqchat ships with.
#[derive(Debug, Clone)]
pub struct Config {
    /// This run's epoch: message ids are `(epoch, seq)`, so it must grow across restarts
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
    /// The largest message, in bytes of UTF-8.
    pub max_message: usize,
    pub recv: RecvLimits,
    /// Sender epochs remembered per peer (each is a restart of that peer).
    pub max_epochs: usize,
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
            max_message,
            recv: RecvLimits {
                max_ahead: 4096,
                max_partial_bytes: 4 << 20,
                max_frags: u16::try_from(max_message.div_ceil(wire::MAX_PAYLOAD))
                    .unwrap_or(u16::MAX),
                reassembly_timeout: Duration::from_secs(60),
                // The sender gives up after `give_up`; by then the gap will never be filled.
                hold_timeout: give_up + Duration::from_secs(5),
            },
            max_epochs: 4,
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
    /// A message, shown once and in the sender's order.
    Received {
        from: SocketAddr,
        text: String,
        /// Sender's clock (ms since the Unix epoch); `None` for plain text.
        sent_at_ms: Option<i64>,
        plain: bool,
    },
    /// Every fragment of the message with this tag was acked.
    Delivered { to: SocketAddr, tag: u64 },
    /// A plain message left; plain peers send no receipts.
    Sent { to: SocketAddr, tag: u64 },
    /// The message with this tag was not acked in time.
    Failed { to: SocketAddr, tag: u64 },
}

/// Why [`Node::send`] refused a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("message of {len} bytes is larger than the limit of {max} bytes")]
    TooLong { len: usize, max: usize },
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
}

impl Peer {
    fn new(config: &Config) -> Self {
        Self {
            out: OutStream::default(),
            rtt: RttEstimator::new(config.initial_rto, config.min_rto, config.max_rto),
            inbound: BTreeMap::new(),
            pending_acks: VecDeque::new(),
        }
    }
}

/// The sans-IO protocol endpoint. Feed it datagrams, sends and time; drain its transmits and
/// events; sleep until its timeout.
pub struct Node {
    config: Config,
    peers: HashMap<SocketAddr, Peer>,
    /// Retransmission timers: (deadline, peer, seq, frag).
    timers: BTreeSet<(Instant, SocketAddr, u64, u16)>,
    /// Peers with acks or fragments waiting to go out.
    ready: VecDeque<SocketAddr>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    stats: Stats,
}

impl Node {
    pub fn new(config: Config) -> Self {
        Self {
            config,
            peers: HashMap::new(),
            timers: BTreeSet::new(),
            ready: VecDeque::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
        }
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

    fn peer(&mut self, addr: SocketAddr) -> &mut Peer {
        let config = &self.config;
        self.peers.entry(addr).or_insert_with(|| Peer::new(config))
    }

    /// Queues a reliable message. `tag` comes back in its `Delivered` or `Failed` event.
    pub fn send(
        &mut self,
        now: Instant,
        to: SocketAddr,
        text: String,
        sent_at_ms: i64,
        tag: u64,
    ) -> Result<(), SendError> {
        if text.len() > self.config.max_message {
            return Err(SendError::TooLong {
                len: text.len(),
                max: self.config.max_message,
            });
        }
        self.peer(to).out.push(OutMsg::new(tag, sent_at_ms, text));
        self.flush_peer(now, to);
        Ok(())
    }

    /// Sends bare UTF-8 to a plain peer, split at character boundaries to fit datagrams.
    pub fn send_plain(&mut self, to: SocketAddr, text: &str, tag: u64) {
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
        self.events.push_back(Event::Sent { to, tag });
    }

    /// Takes one datagram from the network. Anything malformed is dropped and counted.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        self.stats.datagrams_in += 1;
        match wire::decode(bytes) {
            Ok(Datagram::Plain(text)) => self.events.push_back(Event::Received {
                from,
                text: text.to_owned(),
                sent_at_ms: None,
                plain: true,
            }),
            Ok(Datagram::Packet(Packet::Data(data))) => self.on_data(now, from, &data),
            Ok(Datagram::Packet(Packet::Ack(ack))) => self.on_ack(now, from, &ack),
            Err(wire::WireError::UnknownVersion(_)) => self.stats.unknown_version += 1,
            Err(_) => self.stats.malformed += 1,
        }
    }

    fn on_data(&mut self, now: Instant, from: SocketAddr, data: &Data<'_>) {
        let config = &self.config;
        let max_epochs = config.max_epochs;
        let limits = config.recv.clone();
        let peer = self.peers.entry(from).or_insert_with(|| Peer::new(config));
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
        let accept = stream.accept(now, data, &limits, &mut delivered);
        match accept {
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
            if frag.sends == 1
                && let Some(sent) = frag.last_sent
            {
                peer.rtt.sample(now.saturating_duration_since(sent));
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
                    tag: msg.tag,
                });
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
            let rto = peer.rtt.rto();
            let Some(msg) = peer.out.msgs.get_mut(&seq) else {
                continue;
            };
            let first = *msg.first_sent.get_or_insert(now);
            let bytes = encode_data(epoch, seq, floor, msg, frag);
            let f = &mut msg.frags[usize::from(frag)];
            f.sends = 1;
            f.last_sent = Some(now);
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

    /// Retransmits what is due, gives up on what waited too long, drops stale receive state.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(deadline, addr, seq, frag)) = self.timers.first() {
            if deadline > now {
                break;
            }
            self.timers.pop_first();
            self.retransmit_or_fail(now, addr, seq, frag);
        }
        let limits = self.config.recv.clone();
        let mut delivered = Vec::new();
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
        }
        for (addr, out) in delivered {
            self.push_inbound(addr, out);
        }
    }

    fn retransmit_or_fail(&mut self, now: Instant, addr: SocketAddr, seq: u64, frag: u16) {
        let give_up = self.config.give_up;
        let epoch = self.config.epoch;
        let Some(peer) = self.peers.get_mut(&addr) else {
            return;
        };
        let floor = peer.out.floor();
        let Some(msg) = peer.out.msgs.get_mut(&seq) else {
            return;
        };
        let first = msg.first_sent.unwrap_or(now);
        if now >= first + give_up {
            if let Some((msg, deadlines)) = peer.out.remove(seq) {
                for (i, f) in msg.frags.iter().enumerate() {
                    if let (Some(d), Ok(i)) = (f.deadline, u16::try_from(i)) {
                        self.timers.remove(&(d, addr, seq, i));
                    }
                }
                debug_assert!(deadlines.len() <= msg.frags.len());
                self.stats.failed += 1;
                self.events.push_back(Event::Failed {
                    to: addr,
                    tag: msg.tag,
                });
            }
            self.flush_peer(now, addr);
            return;
        }
        let bytes = encode_data(epoch, seq, floor, msg, frag);
        let sends = {
            let f = &mut msg.frags[usize::from(frag)];
            f.sends += 1;
            f.last_sent = Some(now);
            f.sends
        };
        let deadline = (now + peer.rtt.backoff(sends)).min(first + give_up);
        msg.frags[usize::from(frag)].deadline = Some(deadline);
        self.timers.insert((deadline, addr, seq, frag));
        self.stats.retransmits += 1;
        self.push_transmit(addr, bytes);
    }

    /// The next datagram to send, acks first.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        while let Some(addr) = self.ready.pop_front() {
            if let Some(t) = self.build_ack(addr) {
                return Some(t);
            }
        }
        self.transmits.pop_front()
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
        let recv = self
            .peers
            .values()
            .flat_map(|p| p.inbound.values())
            .filter_map(|s| s.deadline(limits))
            .min();
        match (retransmit, recv) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Messages not yet acked, per peer: what `send` waits for and the UI shows as pending.
    pub fn unacked(&self, peer: SocketAddr) -> usize {
        self.peers.get(&peer).map_or(0, |p| p.out.msgs.len())
    }
}

fn encode_data(epoch: u64, seq: u64, floor: u64, msg: &OutMsg, frag: u16) -> Vec<u8> {
    wire::encode(&Packet::Data(Data {
        epoch,
        seq,
        floor,
        sent_at_ms: msg.sent_at_ms,
        frag,
        frags: u16::try_from(msg.frags.len()).unwrap_or(u16::MAX),
        payload: msg.payload(frag),
    }))
}
