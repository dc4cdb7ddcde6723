//! The sending end of one transfer: offers the file, answers hash requests, chooses which
//! bytes go next, and detects losses from the receiver's selective acks.

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::{Duration, Instant};

use super::ranges::RangeSet;
use super::wire::{self, Accept, Ack, FailReason, Hash, MAX_CHUNK, MAX_HASHES, Offer, XferPacket};
use super::{Ctx, FileKey, Shared, XferEvent};

/// A packet whose ack has not come yet.
#[derive(Debug, Clone)]
struct Sent {
    offset: u64,
    len: u64,
    at: Instant,
}

/// Packets this far below the highest acked one are lost (RFC 9002's threshold), until
/// reordering on the path is seen to be deeper.
const PACKET_THRESHOLD: u64 = 3;
/// The deepest reordering tolerated, in packets.
const MAX_PACKET_THRESHOLD: u64 = 1024;
/// Packet numbers declared lost, remembered so that a late ack reveals the reordering.
const LOST_MEMORY: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for the receiver's answer; the offer is sent again at `next`.
    Offering {
        next: Instant,
        level: u32,
    },
    Sending,
}

#[derive(Debug)]
pub(super) struct Sender {
    pub(super) offer: Offer,
    block_hashes: Vec<Hash>,
    state: State,
    started: Instant,
    pub(super) paused_local: bool,
    pub(super) paused_peer: bool,
    /// Bytes the receiver is known to hold.
    acked: RangeSet,
    /// Bytes in packets not yet acked nor lost.
    flying: RangeSet,
    in_flight: BTreeMap<u64, Sent>,
    pub(super) bytes_in_flight: u64,
    next_pn: u64,
    largest_acked: Option<u64>,
    /// The highest packet number any ack named: older acks carry stale gaps.
    freshest_ack: u64,
    /// The receiver's newest restart round seen in an accept.
    round: u32,
    limit: u64,
    last_heard: Instant,
    /// The retransmission timer runs from here while packets are in flight.
    pto_base: Option<Instant>,
    pto_level: u32,
    /// Losses are declared at this moment unless an ack comes first.
    loss_at: Option<Instant>,
    /// When to say "paused" again while paused here.
    keepalive: Option<Instant>,
    /// When this end last sent the receiver anything: a sender with nothing to send (the
    /// window is closed, or all is sent) still says it is there.
    last_sent: Instant,
    /// Reordering tolerated before a packet counts as lost: in packets, and in round trips
    /// (RFC 9002's 9/8 at first). Both grow when a packet declared lost is acked after all,
    /// as RACK (RFC 8985) does, so a path that reorders is not mistaken for a congested one.
    reorder_packets: u64,
    reorder_rtts: f64,
    declared_lost: RangeSet,
}

impl Sender {
    pub(super) fn new(now: Instant, offer: Offer, block_hashes: Vec<Hash>) -> Self {
        Self {
            offer,
            block_hashes,
            state: State::Offering {
                next: now,
                level: 0,
            },
            started: now,
            paused_local: false,
            paused_peer: false,
            acked: RangeSet::new(),
            flying: RangeSet::new(),
            in_flight: BTreeMap::new(),
            bytes_in_flight: 0,
            next_pn: 0,
            largest_acked: None,
            freshest_ack: 0,
            round: 0,
            limit: 0,
            last_heard: now,
            pto_base: None,
            pto_level: 0,
            loss_at: None,
            keepalive: None,
            last_sent: now,
            reorder_packets: PACKET_THRESHOLD,
            reorder_rtts: 9.0 / 8.0,
            declared_lost: RangeSet::new(),
        }
    }

    fn key(&self) -> FileKey {
        FileKey::outgoing(self.offer.id)
    }

    /// Bytes the receiver holds, as far as this end knows.
    pub(super) fn acked_bytes(&self) -> u64 {
        self.acked.covered()
    }

    pub(super) fn is_offering(&self) -> bool {
        matches!(self.state, State::Offering { .. })
    }

    /// Forgets what is in flight without blaming the network for it (a pause, a restart).
    fn drop_in_flight(&mut self) {
        self.in_flight.clear();
        self.flying = RangeSet::new();
        self.bytes_in_flight = 0;
        self.pto_base = None;
        self.loss_at = None;
    }

    /// The next byte range to send, if the window and the receiver allow one.
    pub(super) fn next_range(&self) -> Option<Range<u64>> {
        if self.state != State::Sending || self.paused_local || self.paused_peer {
            return None;
        }
        let mut pos = 0;
        loop {
            let a = self.acked.next_missing(pos);
            let f = self.flying.next_missing(a);
            if f == a {
                pos = a;
                break;
            }
            pos = f;
        }
        let stop = self.limit.min(self.offer.size);
        if pos >= stop {
            return None;
        }
        let chunk = u64::from(MAX_CHUNK);
        let end = ((pos / chunk + 1) * chunk)
            .min(self.acked.next_present(pos))
            .min(self.flying.next_present(pos))
            .min(stop);
        Some(pos..end)
    }

    /// Records that `range` went out now in packet `pn`.
    pub(super) fn on_sent(&mut self, now: Instant, range: Range<u64>) -> u64 {
        let pn = self.next_pn;
        self.next_pn += 1;
        let len = range.end - range.start;
        self.flying.insert(range.clone());
        self.in_flight.insert(
            pn,
            Sent {
                offset: range.start,
                len,
                at: now,
            },
        );
        self.bytes_in_flight += len;
        self.pto_base.get_or_insert(now);
        self.last_sent = now;
        pn
    }

    pub(super) fn timeout(
        &self,
        idle: Duration,
        offer_timeout: Duration,
        keepalive: Duration,
    ) -> Option<Instant> {
        let mut t = vec![];
        if self.state == State::Sending && !self.paused_local {
            t.push(self.last_sent + keepalive);
        }
        match self.state {
            // A person may take a while to answer: the offer has its own expiry.
            State::Offering { next, .. } => {
                t.push(next);
                t.push(self.started + offer_timeout);
            }
            State::Sending => t.push(self.last_heard + idle),
        }
        t.extend(self.loss_at);
        t.extend(self.keepalive);
        t.into_iter().min()
    }

    fn pto_deadline(&self, shared: &Shared) -> Option<Instant> {
        if self.paused_peer {
            return None;
        }
        self.pto_base
            .map(|b| b + shared.rtt.backoff(self.pto_level))
    }

    pub(super) fn all_timeouts(
        &self,
        shared: &Shared,
        ctx_idle: Duration,
        offer: Duration,
        keepalive: Duration,
    ) -> Option<Instant> {
        [
            self.timeout(ctx_idle, offer, keepalive),
            self.pto_deadline(shared),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs the timers due at `now`. Returns a failure if the transfer is over.
    pub(super) fn on_timeout(
        &mut self,
        ctx: &mut Ctx<'_>,
        shared: &mut Shared,
    ) -> Option<FailReason> {
        let now = ctx.now;
        if self.state == State::Sending && now >= self.last_heard + ctx.config.idle_timeout {
            return Some(FailReason::Timeout);
        }
        if let State::Offering { next, level } = self.state {
            if now >= self.started + ctx.config.offer_timeout {
                return Some(FailReason::Timeout);
            }
            if now >= next {
                ctx.send(&XferPacket::Offer(self.offer.clone()));
                let level = (level + 1).min(3);
                self.state = State::Offering {
                    next: now + Duration::from_secs(1 << level),
                    level,
                };
            }
        }
        if self.keepalive.is_some_and(|k| now >= k) {
            ctx.send(&XferPacket::Pause {
                id: self.offer.id,
                to_sender: false,
            });
            self.keepalive = Some(now + ctx.config.keepalive);
        }
        if self.state == State::Sending
            && !self.paused_local
            && now >= self.last_sent + ctx.config.keepalive
        {
            // Nothing to send for a while (a closed window, or waiting for the verdict):
            // tell the receiver this end is still here and not paused.
            ctx.send(&XferPacket::Resume {
                id: self.offer.id,
                to_sender: false,
            });
            self.last_sent = now;
        }
        if self.loss_at.is_some_and(|l| now >= l) {
            self.detect_losses(now, shared);
        }
        if self.pto_deadline(shared).is_some_and(|d| now >= d) {
            // Nothing acked for a whole timeout: everything in flight is presumed lost. The
            // first time that is one more loss (often the tail of a flight, which no later
            // ack could reveal); timeouts in a row mean the path is congested or gone, and the
            // window starts again from the minimum.
            if self.pto_level >= 1 {
                shared.cc.on_timeout(now);
            } else if let Some(oldest) = self.in_flight.values().map(|s| s.at).min() {
                shared.cc.on_loss(now, oldest);
            }
            shared.lost_packets += self.in_flight.len() as u64;
            self.drop_in_flight();
            self.pto_level = (self.pto_level + 1).min(16);
        }
        None
    }

    pub(super) fn pause(&mut self, ctx: &mut Ctx<'_>) {
        self.paused_local = true;
        self.drop_in_flight();
        ctx.send(&XferPacket::Pause {
            id: self.offer.id,
            to_sender: false,
        });
        self.keepalive = Some(ctx.now + ctx.config.keepalive);
    }

    pub(super) fn resume(&mut self, ctx: &mut Ctx<'_>) {
        self.paused_local = false;
        self.keepalive = None;
        ctx.send(&XferPacket::Resume {
            id: self.offer.id,
            to_sender: false,
        });
        if let State::Offering { .. } = self.state {
            self.state = State::Offering {
                next: ctx.now,
                level: 0,
            };
        }
    }

    pub(super) fn on_peer_pause(&mut self, ctx: &mut Ctx<'_>, paused: bool) {
        self.last_heard = ctx.now;
        if paused != self.paused_peer {
            self.paused_peer = paused;
            if paused {
                self.drop_in_flight();
                ctx.event(XferEvent::Paused {
                    key: self.key(),
                    by_peer: true,
                });
            } else {
                ctx.event(XferEvent::Resumed {
                    key: self.key(),
                    by_peer: true,
                });
            }
        }
    }

    pub(super) fn on_accept(&mut self, ctx: &mut Ctx<'_>, accept: &Accept) {
        self.last_heard = ctx.now;
        let first = self.is_offering();
        if first || accept.round > self.round {
            // A new answer, or the receiver restarted: what it holds now is all there is.
            self.round = accept.round;
            self.acked = RangeSet::new();
            self.drop_in_flight();
            self.limit = 0;
            self.state = State::Sending;
            if first {
                ctx.event(XferEvent::Accepted { key: self.key() });
            }
        } else if accept.round < self.round {
            return;
        }
        // One of several accepts of the same round, or a late copy: what it says is held
        // was held (a block thrown away since comes back as a gap in the next ack).
        for &(s, e) in &accept.held {
            self.acked
                .insert(s.min(self.offer.size)..e.min(self.offer.size));
        }
        self.limit = self.limit.max(accept.limit.min(self.offer.size));
    }

    pub(super) fn on_ack(&mut self, ctx: &mut Ctx<'_>, shared: &mut Shared, ack: &Ack) {
        let now = ctx.now;
        self.last_heard = now;
        if self.is_offering() {
            // Acks meant for the run of this end before a restart: wait for the accept, which
            // tells what the receiver holds (it answers every offer with one).
            return;
        }
        if self.paused_peer {
            self.on_peer_pause(ctx, false);
        }
        let Some(&(_, top)) = ack.pns.first() else {
            self.limit = self.limit.max(ack.limit.min(self.offer.size));
            return;
        };
        let largest = top.saturating_sub(1);
        if largest >= self.next_pn {
            // Acks for packets never sent: ignore the whole ack.
            return;
        }
        let fresh = largest >= self.freshest_ack;
        self.freshest_ack = self.freshest_ack.max(largest);
        let limited = shared.cwnd_limited;
        let mut newly = false;
        for &(s, e) in &ack.pns {
            if self.declared_lost.intersects(s..e) {
                // Called lost too soon: the path reorders more than assumed.
                let deepest = self
                    .declared_lost
                    .within(s..e)
                    .map(|r| largest.saturating_sub(r.start))
                    .max()
                    .unwrap_or(0);
                shared.spurious_losses += 1;
                self.reorder_packets = (self.reorder_packets * 2)
                    .max(deepest + 1)
                    .min(MAX_PACKET_THRESHOLD);
                self.reorder_rtts = (self.reorder_rtts + 0.25).min(2.0);
                self.declared_lost.remove(s..e);
            }
            let acked: Vec<u64> = self.in_flight.range(s..e).map(|(&pn, _)| pn).collect();
            for pn in acked {
                let Some(sent) = self.in_flight.remove(&pn) else {
                    continue;
                };
                let range = sent.offset..sent.offset + sent.len;
                self.flying.remove(range.clone());
                self.acked.insert(range);
                self.bytes_in_flight -= sent.len;
                newly = true;
                if pn == largest {
                    let delay = Duration::from_micros(u64::from(ack.delay_us));
                    let rtt = now.saturating_duration_since(sent.at);
                    let rtt = if rtt > delay * 2 { rtt - delay } else { rtt };
                    shared.rtt.sample(rtt.max(Duration::from_micros(10)));
                }
                let rtt = shared.srtt();
                shared.cc.on_ack(now, sent.at, sent.len, rtt, limited);
            }
        }
        if newly {
            self.pto_level = 0;
            self.pto_base = if self.in_flight.is_empty() {
                None
            } else {
                Some(now)
            };
        }
        self.largest_acked = Some(self.largest_acked.map_or(largest, |l| l.max(largest)));
        if fresh {
            self.limit = ack.limit.min(self.offer.size);
            if let Some((s, e)) = ack.gap {
                // The receiver lacks these bytes; anything this end took as delivered there
                // was thrown away by it and goes again.
                let gap = s.min(self.offer.size)..e.min(self.offer.size);
                if self.acked.intersects(gap.clone()) {
                    self.acked.remove(gap);
                }
            }
        }
        self.detect_losses(now, shared);
    }

    fn detect_losses(&mut self, now: Instant, shared: &mut Shared) {
        self.loss_at = None;
        let Some(largest) = self.largest_acked else {
            return;
        };
        let wait = shared
            .srtt()
            .mul_f64(self.reorder_rtts)
            .max(Duration::from_millis(1));
        let mut lost = vec![];
        for (&pn, sent) in self.in_flight.range(..largest) {
            if pn + self.reorder_packets <= largest || sent.at + wait <= now {
                lost.push(pn);
            } else {
                let at = sent.at + wait;
                self.loss_at = Some(self.loss_at.map_or(at, |l| l.min(at)));
            }
        }
        for pn in lost {
            if let Some(sent) = self.in_flight.remove(&pn) {
                self.declared_lost.insert(pn..pn + 1);
                self.declared_lost.keep_highest(LOST_MEMORY);
                self.flying.remove(sent.offset..sent.offset + sent.len);
                self.bytes_in_flight -= sent.len;
                shared.cc.on_loss(now, sent.at);
                shared.lost_packets += 1;
            }
        }
        if self.in_flight.is_empty() {
            self.pto_base = None;
        }
    }

    /// Answers a hash request with what fits in one packet.
    pub(super) fn on_hash_req(&mut self, ctx: &mut Ctx<'_>, first: u32, count: u16) {
        self.last_heard = ctx.now;
        let start = first as usize;
        let end = start
            .saturating_add(usize::from(count).min(MAX_HASHES))
            .min(self.block_hashes.len());
        if start >= end {
            return;
        }
        ctx.send(&XferPacket::Hashes {
            id: self.offer.id,
            first,
            hashes: self.block_hashes[start..end].to_vec(),
        });
    }

    pub(super) fn data_packet<'b>(&self, pn: u64, offset: u64, bytes: &'b [u8]) -> XferPacket<'b> {
        XferPacket::Data(wire::Data {
            id: self.offer.id,
            session: self.offer.session,
            pn,
            offset,
            bytes,
        })
    }
}
