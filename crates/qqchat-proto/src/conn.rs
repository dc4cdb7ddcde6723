//! One peer's state, as quinn splits a `Connection` from its `Endpoint`: the send window, the
//! receive streams of each of the peer's epochs, the round trip, presence, and the timers of
//! all of these, with the one deadline that sums them up.
//!
//! A [`PeerConn`] never decides which peer a datagram belongs to, never encrypts, and keeps
//! no queues of its own: what it produces goes into the node's [`Output`], so datagrams and
//! events of all peers leave in the order they were made.

use std::collections::{BTreeMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::PeerId;
use super::api::{Config, Event, Stats};
use super::presence::{Heard, LinkHealth, Presence, PresenceState};
use super::recv::{Accept, InStream, Inbound};
use super::rtt::RttEstimator;
use super::send::{OutMsg, OutStream, Resend};
use super::wire::{Ack, AckItem, Data, MAX_ACK_ITEMS};

/// Addresses kept per peer: a LAN and a public one, a relay, and one to spare.
const MAX_PATHS: usize = 4;

/// A datagram before encryption, named by peer: which address it goes to is decided when it
/// leaves, so a peer that roamed meanwhile gets it at its new one.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub(crate) to: PeerId,
    pub(crate) payload: Vec<u8>,
}

/// What peers produce, kept by the node: datagrams before encryption, events, counters.
#[derive(Debug, Default)]
pub(crate) struct Output {
    pub(crate) transmits: VecDeque<Outgoing>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) stats: Stats,
}

impl Output {
    pub(crate) fn transmit(&mut self, to: PeerId, payload: Vec<u8>) {
        self.stats.datagrams_out += 1;
        self.transmits.push_back(Outgoing { to, payload });
    }

    fn received(&mut self, from: PeerId, path: SocketAddr, delivered: Vec<Inbound>) {
        self.events
            .extend(delivered.into_iter().map(|m| Event::Received {
                from,
                path,
                id: Some(m.id),
                text: m.text,
                sent_at_ms: Some(m.sent_at_ms),
                plain: false,
            }));
    }
}

/// What became of a data packet, for the node to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataOutcome {
    /// Accepted or a duplicate: an ack is owed.
    Ack,
    /// Refused (the sender will retry): no ack.
    Refused,
}

/// Everything the node knows about one peer.
pub(crate) struct PeerConn {
    id: PeerId,
    /// Where the peer can be reached, the one that last worked first. An unkeyed peer has
    /// one: its address as the socket reports it. A keyed peer has those it was given and
    /// those it was heard from.
    paths: Vec<SocketAddr>,
    /// Given by the caller ([`crate::Node::add_peer`]): never forgotten to make room.
    pinned: bool,
    /// When an authenticated datagram last came from the path in use (keyed peers).
    pub(crate) path_heard: Option<Instant>,
    out: OutStream,
    rtt: RttEstimator,
    /// Receive state per sender epoch of this peer.
    inbound: BTreeMap<u64, InStream>,
    pending_acks: VecDeque<(u64, AckItem)>,
    /// A contact whose presence is tracked.
    watched: bool,
    /// A contact: no stranger rate limit, never evicted. Watched peers are contacts too.
    contact: bool,
    presence: PresenceState,
    last_active: Instant,
    /// The deadline this peer is filed under in the node's timer index, so the node can
    /// find and replace the entry when the deadline moves.
    pub(crate) scheduled: Option<Instant>,
}

impl PeerConn {
    pub(crate) fn new(id: PeerId, config: &Config, now: Instant) -> Self {
        let paths = match id {
            PeerId::Addr(a) => vec![a],
            PeerId::Key(_) => Vec::new(),
        };
        Self {
            id,
            paths,
            pinned: false,
            path_heard: None,
            out: OutStream::new(config.epoch, config.window, config.give_up),
            rtt: RttEstimator::new(config.initial_rto, config.min_rto, config.max_rto),
            inbound: BTreeMap::new(),
            pending_acks: VecDeque::new(),
            watched: false,
            contact: false,
            presence: PresenceState::default(),
            last_active: now,
            scheduled: None,
        }
    }

    /// Holds nothing that would be lost if forgotten.
    pub(crate) fn is_idle(&self) -> bool {
        !self.contact
            && !self.pinned
            && self.out.is_empty()
            && self.pending_acks.is_empty()
            && self.inbound.values().all(InStream::is_idle)
    }

    pub(crate) fn is_contact(&self) -> bool {
        self.contact
    }

    pub(crate) fn is_pinned(&self) -> bool {
        self.pinned
    }

    pub(crate) fn pin(&mut self, on: bool) {
        self.pinned = on;
    }

    /// The path in use, if the peer has any.
    pub(crate) fn path(&self) -> Option<SocketAddr> {
        self.paths.first().copied()
    }

    /// Every known path, the one in use first: the candidates hole punching tries.
    pub(crate) fn paths(&self) -> &[SocketAddr] {
        &self.paths
    }

    /// Takes every path away (the caller removed the peer); returns them.
    pub(crate) fn clear_paths(&mut self) -> Vec<SocketAddr> {
        match self.id {
            PeerId::Key(_) => std::mem::take(&mut self.paths),
            PeerId::Addr(_) => Vec::new(),
        }
    }

    /// Adds a path to try after the current one; an unkeyed peer's only path is replaced
    /// (the same address, as the socket writes it). Returns a path dropped to make room.
    pub(crate) fn add_path(&mut self, path: SocketAddr) -> Option<SocketAddr> {
        if let PeerId::Addr(_) = self.id {
            self.paths = vec![path];
            return None;
        }
        if self.paths.contains(&path) {
            return None;
        }
        self.paths.push(path);
        (self.paths.len() > MAX_PATHS).then(|| self.paths.remove(1))
    }

    /// Makes `path` the one in use, as an authenticated datagram just came from it.
    /// Returns whether it changed, and a path dropped to make room.
    pub(crate) fn use_path(&mut self, path: SocketAddr) -> (bool, Option<SocketAddr>) {
        if self.paths.first() == Some(&path) {
            return (false, None);
        }
        let dropped = match self.paths.iter().position(|&p| p == path) {
            Some(i) => {
                self.paths.remove(i);
                None
            }
            None if self.paths.len() >= MAX_PATHS => self.paths.pop(),
            None => None,
        };
        self.paths.insert(0, path);
        (true, dropped)
    }

    /// The address events name: the path in use, or (for a keyed peer never given one,
    /// which cannot have sent anything) the unspecified address.
    fn shown_path(&self) -> SocketAddr {
        self.path()
            .unwrap_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))
    }

    pub(crate) fn is_watched(&self) -> bool {
        self.watched
    }

    pub(crate) fn last_active(&self) -> Instant {
        self.last_active
    }

    pub(crate) fn touch(&mut self, now: Instant) {
        self.last_active = now;
    }

    /// Tracks presence from scratch (a hello follows), or stops tracking it.
    pub(crate) fn watch(&mut self, on: bool) {
        self.watched = on;
        self.contact = on;
        if on {
            self.presence = PresenceState::default();
        }
    }

    pub(crate) fn befriend(&mut self) {
        self.contact = true;
    }

    pub(crate) fn srtt(&self) -> Option<Duration> {
        self.rtt.srtt()
    }

    pub(crate) fn link(&self) -> LinkHealth {
        self.presence.health(self.rtt.srtt())
    }

    /// Messages not yet acked.
    pub(crate) fn unacked(&self) -> usize {
        self.out.len()
    }

    pub(crate) fn buffered_bytes(&self) -> usize {
        self.inbound.values().map(InStream::buffered_bytes).sum()
    }

    /// When [`PeerConn::handle_timeout`] must next run: a retransmission, a receive stream
    /// giving up on a gap, or a presence ping or verdict.
    pub(crate) fn deadline(&self, config: &Config) -> Option<Instant> {
        let presence = if self.watched {
            self.presence.deadline(&config.presence)
        } else {
            None
        };
        self.inbound
            .values()
            .filter_map(|s| s.deadline(&config.recv))
            .chain(presence)
            .chain(self.out.next_deadline())
            .min()
    }

    /// Queues a reliable message and sends what the window allows. `direct` here and below:
    /// what is sent now leaves at once (no handshake to wait for first), so its answer can
    /// time the round trip.
    pub(crate) fn send(&mut self, now: Instant, msg: OutMsg, direct: bool, out: &mut Output) {
        self.out.push(msg);
        self.flush(now, direct, out);
    }

    /// Sends whatever fits in the window.
    fn flush(&mut self, now: Instant, direct: bool, out: &mut Output) {
        while let Some(bytes) = self.out.send_next(now, &self.rtt, direct) {
            out.transmit(self.id, bytes);
        }
    }

    /// A Noise session with the peer was just made (see [`OutStream::rearm`]).
    pub(crate) fn on_session(&mut self, now: Instant) {
        self.out.rearm(now, &self.rtt);
    }

    pub(crate) fn on_ping_sent(&mut self, now: Instant, nonce: u64, direct: bool) {
        self.presence.on_ping_sent(now, nonce, direct);
    }

    /// Whether a first try lost now is the link's loss: a contact is online (an absent one
    /// loses everything, and says nothing of the link); others are not judged.
    fn counts_loss(&self) -> bool {
        self.watched && self.presence.is_online()
    }

    /// Any valid datagram from a contact shows it is there; `hello` when it is the
    /// contact's own hello (it just started).
    pub(crate) fn on_heard(
        &mut self,
        now: Instant,
        hello: bool,
        config: &Config,
        out: &mut Output,
    ) {
        if !self.watched {
            return;
        }
        match self.presence.on_heard(now, hello, &config.presence) {
            Heard::Nothing => {}
            Heard::Reachable => out.events.push_back(Event::Reachable {
                peer: self.id,
                reachable: true,
            }),
            Heard::Online => out.events.push_back(Event::Presence {
                peer: self.id,
                online: true,
            }),
        }
    }

    pub(crate) fn on_pong(&mut self, now: Instant, nonce: u64, path: SocketAddr, out: &mut Output) {
        if let Some((rtt, timed)) = self.presence.on_pong(now, nonce) {
            if timed {
                self.rtt.sample(rtt);
            }
            out.events.push_back(Event::Pong {
                peer: self.id,
                rtt,
                path,
            });
        }
    }

    pub(crate) fn on_bye(&mut self, now: Instant, out: &mut Output) {
        if self.watched && self.presence.on_bye(now) {
            out.events.push_back(Event::Presence {
                peer: self.id,
                online: false,
            });
        }
    }

    /// Takes a data packet: shows what completes in order and owes an ack unless refused.
    pub(crate) fn on_data(
        &mut self,
        now: Instant,
        config: &Config,
        data: &Data<'_>,
        out: &mut Output,
    ) -> DataOutcome {
        if !self.inbound.contains_key(&data.epoch) {
            // Forget the oldest idle epoch of a peer that restarted often.
            if self.inbound.len() >= config.max_epochs {
                let oldest = self
                    .inbound
                    .iter()
                    .find(|(_, s)| s.is_idle())
                    .map(|(&e, _)| e);
                let Some(e) = oldest else {
                    out.stats.refused += 1;
                    return DataOutcome::Refused;
                };
                self.inbound.remove(&e);
            }
            self.inbound.insert(data.epoch, InStream::new(now));
        }
        let Some(stream) = self.inbound.get_mut(&data.epoch) else {
            return DataOutcome::Refused;
        };
        let mut delivered = Vec::new();
        match stream.accept(now, data, &config.recv, &mut delivered) {
            Accept::Refused => {
                out.stats.refused += 1;
                return DataOutcome::Refused;
            }
            Accept::Duplicate => out.stats.duplicates += 1,
            Accept::New => {}
        }
        let item = AckItem {
            seq: data.seq,
            frag: data.frag,
        };
        self.pending_acks.push_back((data.epoch, item));
        out.received(self.id, self.shown_path(), delivered);
        DataOutcome::Ack
    }

    pub(crate) fn on_ack(&mut self, now: Instant, ack: &Ack, direct: bool, out: &mut Output) {
        let mut done = Vec::new();
        for item in &ack.items {
            let Some(acked) = self.out.ack(now, *item) else {
                continue;
            };
            if acked.first_try {
                if self.counts_loss() {
                    self.presence.record(true);
                }
                if let Some(rtt) = acked.rtt_sample {
                    self.rtt.sample(rtt);
                }
            }
            if acked.complete {
                done.push(item.seq);
            }
        }
        for seq in done {
            if let Some(id) = self.out.finish(seq) {
                out.stats.delivered += 1;
                out.events.push_back(Event::Delivered { to: self.id, id });
            }
        }
        for (seq, frag) in self.out.lost(now, &self.rtt) {
            self.resend(now, seq, frag, false, direct, out);
        }
        self.flush(now, direct, out);
    }

    /// Sends a fragment again, or fails its message once it is too old. `timed_out` is set
    /// when its timer fired (no news from the peer), which backs the peer's timeout off.
    fn resend(
        &mut self,
        now: Instant,
        seq: u64,
        frag: u16,
        timed_out: bool,
        direct: bool,
        out: &mut Output,
    ) {
        if timed_out {
            self.out.back_off(now, &self.rtt);
        }
        match self.out.resend(now, &self.rtt, seq, frag) {
            Resend::Sent {
                bytes,
                first_try_lost,
            } => {
                if first_try_lost && self.counts_loss() {
                    self.presence.record(false);
                }
                out.stats.retransmits += 1;
                out.transmit(self.id, bytes);
            }
            Resend::Failed(id) => {
                out.stats.failed += 1;
                out.events.push_back(Event::Failed { to: self.id, id });
                self.flush(now, direct, out);
            }
            Resend::Gone => {}
        }
    }

    /// Retransmits what is due, gives up on what waited too long, drops stale receive
    /// state and judges presence. True when the peer should be pinged (the node numbers
    /// pings, so it sends them).
    pub(crate) fn handle_timeout(
        &mut self,
        now: Instant,
        config: &Config,
        direct: bool,
        out: &mut Output,
    ) -> bool {
        while let Some((seq, frag)) = self.out.pop_due(now) {
            self.resend(now, seq, frag, true, direct, out);
        }
        let mut delivered = Vec::new();
        for stream in self.inbound.values_mut() {
            if stream.deadline(&config.recv).is_some_and(|d| d <= now) {
                stream.on_timeout(now, &config.recv, &mut delivered);
            }
        }
        let mut ping = false;
        if self.watched {
            match self.presence.on_timeout(now, &config.presence) {
                Presence::Ping => ping = true,
                Presence::WentOffline => out.events.push_back(Event::Presence {
                    peer: self.id,
                    online: false,
                }),
                Presence::Lapsed => out.events.push_back(Event::Reachable {
                    peer: self.id,
                    reachable: false,
                }),
                Presence::Nothing => {}
            }
        }
        out.received(self.id, self.shown_path(), delivered);
        ping
    }

    /// Packs pending acks of one epoch into one ack packet; the rest wait for the next.
    /// The flag says whether any are left.
    pub(crate) fn take_ack(&mut self) -> Option<(Ack, bool)> {
        let &(epoch, _) = self.pending_acks.front()?;
        let mut items = Vec::new();
        let mut other = VecDeque::new();
        while let Some((e, item)) = self.pending_acks.pop_front() {
            if e == epoch && items.len() < MAX_ACK_ITEMS {
                items.push(item);
            } else {
                other.push_back((e, item));
            }
        }
        self.pending_acks = other;
        Some((Ack { epoch, items }, !self.pending_acks.is_empty()))
    }
}
