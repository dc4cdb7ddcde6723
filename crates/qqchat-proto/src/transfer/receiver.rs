//! The receiving end of one transfer: writes what arrives, acknowledges it selectively,
//! advertises its window, and checks every block against its hash once it holds all of it.

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::{Duration, Instant};

use super::ranges::{Held, RangeSet};
use super::wire::{Accept, Ack, Data, FailReason, Hash, MAX_HASHES, MAX_RANGES, Offer, XferPacket};
use super::{Ctx, FileKey, Storage, XferEvent};

/// Most block hashes kept at once: bounds memory whatever the file's size.
const MAX_KNOWN_HASHES: usize = 64;
/// Packet-number ranges remembered for acks.
const MAX_PN_RANGES: usize = 2 * MAX_RANGES;
/// A block that fails its hash this many times fails the transfer.
const MAX_REJECTS: u32 = 3;
/// How many data packets may arrive before an ack goes.
const ACK_EVERY: u32 = 2;
/// Most accept packets sent at once to tell the ranges held.
const MAX_ACCEPTS: usize = 32;
/// How long a hash request waits for its answer before it is asked again.
const HASH_RETRY: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    /// Offered; the caller has not decided.
    Offered,
    Receiving,
    /// Every byte is here and verified: say so until the sender answers, then forget.
    Verified {
        next: Instant,
    },
}

#[derive(Debug)]
pub(super) struct Receiver {
    pub(super) offer: Offer,
    pub(super) state: State,
    round: u32,
    held: RangeSet,
    /// Block indices that matched their hash.
    verified: RangeSet,
    hashes: BTreeMap<u64, Hash>,
    hash_asked: Option<Instant>,
    rejects: BTreeMap<u64, u32>,
    pns: RangeSet,
    /// The sender's run whose packet numbers `pns` holds, and the run before it.
    session: u32,
    old_session: Option<u32>,
    largest_pn_at: Option<Instant>,
    unacked: u32,
    ack_due: Option<Instant>,
    pub(super) window: u64,
    /// The highest limit ever advertised: data below it is taken even if the window shrank.
    max_limit: u64,
    pub(super) paused_local: bool,
    pub(super) paused_peer: bool,
    got_data: bool,
    last_heard: Instant,
    last_sent: Instant,
    pub(super) rejected_out_of_bounds: u64,
}

impl Receiver {
    pub(super) fn new(now: Instant, offer: Offer, window: u64) -> Self {
        let session = offer.session;
        Self {
            offer,
            state: State::Offered,
            round: 0,
            held: RangeSet::new(),
            verified: RangeSet::new(),
            hashes: BTreeMap::new(),
            hash_asked: None,
            rejects: BTreeMap::new(),
            pns: RangeSet::new(),
            session,
            old_session: None,
            largest_pn_at: None,
            unacked: 0,
            ack_due: None,
            window,
            max_limit: 0,
            paused_local: false,
            paused_peer: false,
            got_data: false,
            last_heard: now,
            last_sent: now,
            rejected_out_of_bounds: 0,
        }
    }

    fn key(&self) -> FileKey {
        FileKey::incoming(self.offer.id)
    }

    pub(super) fn held(&self) -> Held {
        Held {
            ranges: Held::from_set(&self.held).ranges,
            round: self.round,
        }
    }

    pub(super) fn held_bytes(&self) -> u64 {
        self.held.covered()
    }

    /// Starts receiving, from `held` (empty for a new transfer).
    pub(super) fn start(
        &mut self,
        ctx: &mut Ctx<'_>,
        held: &Held,
        restored: bool,
    ) -> Result<(), FailReason> {
        self.held = held.to_set(self.offer.size);
        self.round = if restored {
            held.round.saturating_add(1)
        } else {
            held.round
        };
        self.state = State::Receiving;
        self.last_heard = ctx.now;
        self.send_accept(ctx);
        if self.offer.size == 0 {
            // Nothing to fetch: the empty file is verified by its hash alone.
            if self.offer.hash != *blake3::hash(&[]).as_bytes() {
                return Err(FailReason::FileHash);
            }
            self.verified_now(ctx);
            return Ok(());
        }
        self.ask_hashes(ctx);
        Ok(())
    }

    fn verified_now(&mut self, ctx: &mut Ctx<'_>) {
        ctx.send(&XferPacket::Verified { id: self.offer.id });
        self.state = State::Verified {
            next: ctx.now + ctx.config.keepalive,
        };
        ctx.event(XferEvent::Verified { key: self.key() });
    }

    /// The sender restarted: its packet numbers start again.
    pub(super) fn new_session(&mut self, session: u32) {
        if session != self.session {
            self.old_session = Some(self.session);
            self.session = session;
            self.pns = RangeSet::new();
            self.largest_pn_at = None;
            self.unacked = 0;
        }
    }

    fn gap_start(&self) -> u64 {
        self.held.next_missing(0).min(self.offer.size)
    }

    fn limit(&self) -> u64 {
        self.gap_start()
            .saturating_add(self.window)
            .min(self.offer.size)
    }

    pub(super) fn send_accept(&mut self, ctx: &mut Ctx<'_>) {
        let limit = self.limit();
        self.max_limit = self.max_limit.max(limit);
        // All the ranges held, in as many packets as it takes (within reason: beyond that
        // the sender sends a few bytes again, which are ignored here).
        let ranges: Vec<(u64, u64)> = self
            .held
            .iter()
            .take(MAX_RANGES * MAX_ACCEPTS)
            .map(|r| (r.start, r.end))
            .collect();
        let mut parts = ranges.chunks(MAX_RANGES).peekable();
        if parts.peek().is_none() {
            ctx.send(&XferPacket::Accept(Accept {
                id: self.offer.id,
                round: self.round,
                held: vec![],
                limit,
            }));
        }
        for part in parts {
            ctx.send(&XferPacket::Accept(Accept {
                id: self.offer.id,
                round: self.round,
                held: part.to_vec(),
                limit,
            }));
        }
        self.last_sent = ctx.now;
    }

    pub(super) fn send_ack(&mut self, ctx: &mut Ctx<'_>) {
        let limit = self.limit();
        self.max_limit = self.max_limit.max(limit);
        let gs = self.gap_start();
        let gap =
            (gs < self.offer.size).then(|| (gs, self.held.next_present(gs).min(self.offer.size)));
        let delay = self
            .largest_pn_at
            .map_or(Duration::ZERO, |t| ctx.now.saturating_duration_since(t));
        ctx.send(&XferPacket::Ack(Ack {
            id: self.offer.id,
            pns: self
                .pns
                .iter()
                .rev()
                .take(MAX_RANGES)
                .map(|r| (r.start, r.end))
                .collect(),
            delay_us: u32::try_from(delay.as_micros()).unwrap_or(u32::MAX),
            gap,
            limit,
        }));
        self.unacked = 0;
        self.ack_due = None;
        self.last_sent = ctx.now;
    }

    pub(super) fn timeout(&self, idle: Duration, keepalive: Duration) -> Option<Instant> {
        match self.state {
            State::Offered => None,
            State::Verified { next } => Some(next.min(self.last_heard + idle)),
            State::Receiving => {
                let mut t = vec![self.last_heard + idle, self.last_sent + keepalive];
                t.extend(self.ack_due);
                t.extend(self.hash_asked.map(|a| a + HASH_RETRY));
                t.into_iter().min()
            }
        }
    }

    /// Runs the timers due now. `Err` ends the transfer: with a failure, or with `None` once a
    /// verified transfer is done with.
    pub(super) fn on_timeout(&mut self, ctx: &mut Ctx<'_>) -> Result<(), Option<FailReason>> {
        let now = ctx.now;
        match self.state {
            State::Offered => Ok(()),
            State::Verified { next } => {
                if now >= self.last_heard + ctx.config.idle_timeout {
                    return Err(None);
                }
                if now >= next {
                    ctx.send(&XferPacket::Verified { id: self.offer.id });
                    self.state = State::Verified {
                        next: now + ctx.config.keepalive,
                    };
                }
                Ok(())
            }
            State::Receiving => {
                if now >= self.last_heard + ctx.config.idle_timeout {
                    return Err(Some(FailReason::Timeout));
                }
                if self.paused_local {
                    self.ack_due = None;
                    if now >= self.last_sent + ctx.config.keepalive {
                        ctx.send(&XferPacket::Pause {
                            id: self.offer.id,
                            to_sender: true,
                        });
                        self.last_sent = now;
                    }
                } else if self.ack_due.is_some_and(|d| now >= d) {
                    self.send_ack(ctx);
                } else if now >= self.last_sent + ctx.config.keepalive {
                    // Nothing came for a while: the accept or the acks may be lost.
                    if self.got_data {
                        self.send_ack(ctx);
                    } else {
                        self.send_accept(ctx);
                    }
                }
                if self.hash_asked.is_some_and(|a| now >= a + HASH_RETRY) {
                    self.hash_asked = None;
                    self.ask_hashes(ctx);
                }
                Ok(())
            }
        }
    }

    pub(super) fn pause(&mut self, ctx: &mut Ctx<'_>) {
        self.paused_local = true;
        // No acks while paused; they start again on resume.
        self.ack_due = None;
        ctx.send(&XferPacket::Pause {
            id: self.offer.id,
            to_sender: true,
        });
        self.last_sent = ctx.now;
    }

    pub(super) fn resume(&mut self, ctx: &mut Ctx<'_>) {
        self.paused_local = false;
        ctx.send(&XferPacket::Resume {
            id: self.offer.id,
            to_sender: true,
        });
        self.send_ack(ctx);
    }

    pub(super) fn on_peer_pause(&mut self, ctx: &mut Ctx<'_>, paused: bool) {
        self.last_heard = ctx.now;
        if paused != self.paused_peer {
            self.paused_peer = paused;
            let key = self.key();
            ctx.event(if paused {
                XferEvent::Paused { key, by_peer: true }
            } else {
                XferEvent::Resumed { key, by_peer: true }
            });
        }
    }

    /// The blocks whose hashes are wanted next: unverified ones that are complete here or
    /// that the window reaches, lowest first.
    fn wanted_hashes(&self) -> Option<(u64, u64)> {
        let blocks = self.offer.blocks();
        let block = u64::from(self.offer.block);
        let reach = self.limit().div_ceil(block);
        let room = MAX_KNOWN_HASHES.saturating_sub(self.hashes.len()) as u64;
        let mut b = self.verified.next_missing(0);
        while b < blocks {
            let complete = self.held.contains(self.offer.block_range(b));
            if (complete || b < reach) && !self.hashes.contains_key(&b) {
                break;
            }
            if !complete && b >= reach {
                return None;
            }
            b = self.verified.next_missing(b + 1);
        }
        if b >= blocks || room == 0 {
            return None;
        }
        let mut end = b + 1;
        while end < blocks
            && end - b < (MAX_HASHES as u64).min(room)
            && !self.hashes.contains_key(&end)
            && !self.verified.contains(end..end + 1)
            && (end < reach || self.held.contains(self.offer.block_range(end)))
        {
            end += 1;
        }
        Some((b, end))
    }

    fn ask_hashes(&mut self, ctx: &mut Ctx<'_>) {
        if self.hash_asked.is_some() || self.state != State::Receiving {
            return;
        }
        if let Some((first, end)) = self.wanted_hashes() {
            let (Ok(first), Ok(count)) = (u32::try_from(first), u16::try_from(end - first)) else {
                return;
            };
            ctx.send(&XferPacket::HashReq {
                id: self.offer.id,
                first,
                count,
            });
            self.hash_asked = Some(ctx.now);
        }
    }

    pub(super) fn on_hashes(
        &mut self,
        ctx: &mut Ctx<'_>,
        storage: &mut dyn Storage,
        first: u32,
        hashes: &[Hash],
    ) -> Result<(), FailReason> {
        self.last_heard = ctx.now;
        if self.state != State::Receiving {
            return Ok(());
        }
        self.hash_asked = None;
        let blocks = self.offer.blocks();
        for (i, h) in hashes.iter().enumerate() {
            let b = u64::from(first) + i as u64;
            if b >= blocks || self.verified.contains(b..b + 1) {
                continue;
            }
            if self.hashes.len() >= MAX_KNOWN_HASHES && !self.hashes.contains_key(&b) {
                break;
            }
            self.hashes.insert(b, *h);
        }
        let known: Vec<u64> = self.hashes.keys().copied().collect();
        for b in known {
            self.check_block(ctx, storage, b)?;
        }
        self.finish_if_complete(ctx, storage)?;
        self.ask_hashes(ctx);
        Ok(())
    }

    /// Checks block `b` if it is all here and its hash is known.
    fn check_block(
        &mut self,
        ctx: &mut Ctx<'_>,
        storage: &mut dyn Storage,
        b: u64,
    ) -> Result<(), FailReason> {
        let range = self.offer.block_range(b);
        if self.verified.contains(b..b + 1) || !self.held.contains(range.clone()) {
            return Ok(());
        }
        let Some(&want) = self.hashes.get(&b) else {
            return Ok(());
        };
        let got = hash_range(storage, self.key(), range.clone())?;
        if got == want {
            self.verified.insert(b..b + 1);
            self.hashes.remove(&b);
            return Ok(());
        }
        // Throw the block away and fetch it again: bytes corrupted on disk or on the way.
        self.held.remove(range);
        let key = self.key();
        let n = self.rejects.entry(b).or_insert(0);
        *n += 1;
        let n = *n;
        let block = u32::try_from(b).unwrap_or(u32::MAX);
        ctx.event(XferEvent::BlockRejected { key, block });
        if n >= MAX_REJECTS {
            return Err(FailReason::BadBlock(block));
        }
        if self.rejects.len() > MAX_KNOWN_HASHES {
            self.rejects.pop_first();
        }
        Ok(())
    }

    fn finish_if_complete(
        &mut self,
        ctx: &mut Ctx<'_>,
        storage: &mut dyn Storage,
    ) -> Result<(), FailReason> {
        let blocks = self.offer.blocks();
        if self.state != State::Receiving || !self.verified.contains(0..blocks) {
            return Ok(());
        }
        if hash_range(storage, self.key(), 0..self.offer.size)? != self.offer.hash {
            return Err(FailReason::FileHash);
        }
        self.send_ack(ctx);
        self.verified_now(ctx);
        Ok(())
    }

    pub(super) fn on_data(
        &mut self,
        ctx: &mut Ctx<'_>,
        storage: &mut dyn Storage,
        data: &Data<'_>,
    ) -> Result<(), FailReason> {
        self.last_heard = ctx.now;
        match self.state {
            State::Offered => return Ok(()),
            State::Verified { .. } => {
                ctx.send(&XferPacket::Verified { id: self.offer.id });
                return Ok(());
            }
            State::Receiving => {}
        }
        if self.paused_peer {
            self.on_peer_pause(ctx, false);
        }
        self.got_data = true;
        let end = data.offset + data.bytes.len() as u64;
        if end > self.offer.size || end > self.max_limit.max(self.limit()) {
            self.rejected_out_of_bounds += 1;
            return Ok(());
        }
        // Packets of the sender's previous run still on the way carry good bytes, but their
        // numbers mean nothing to the run now sending.
        let stale = self.old_session == Some(data.session);
        if !stale {
            self.new_session(data.session);
        }
        let in_order = self.pns.max().is_none_or(|m| data.pn == m + 1);
        if !stale {
            let newest = self.pns.max().is_none_or(|m| data.pn > m);
            self.pns.insert(data.pn..data.pn + 1);
            self.pns.keep_highest(MAX_PN_RANGES);
            if newest {
                self.largest_pn_at = Some(ctx.now);
            }
        }
        // Write only what is missing: bytes already held (perhaps verified) stay as they are.
        let mut p = data.offset;
        while p < end {
            let s = self.held.next_missing(p);
            if s >= end {
                break;
            }
            let e = self.held.next_present(s).min(end);
            let at = (s - data.offset) as usize..(e - data.offset) as usize;
            storage
                .write_at(self.key(), s, &data.bytes[at])
                .map_err(|_| FailReason::Io)?;
            self.held.insert(s..e);
            p = e;
        }
        let block = u64::from(self.offer.block);
        for b in data.offset / block..=(end - 1) / block {
            self.check_block(ctx, storage, b)?;
        }
        self.finish_if_complete(ctx, storage)?;
        if self.state != State::Receiving {
            return Ok(());
        }
        self.ask_hashes(ctx);
        if !self.paused_local && !stale {
            self.unacked += 1;
            if self.unacked >= ACK_EVERY || !in_order {
                self.send_ack(ctx);
            } else {
                self.ack_due
                    .get_or_insert(ctx.now + ctx.config.max_ack_delay);
            }
        }
        Ok(())
    }

    pub(super) fn set_window(&mut self, ctx: &mut Ctx<'_>, window: u64) {
        self.window = window;
        if self.state == State::Receiving && !self.paused_local {
            self.send_ack(ctx);
        }
    }
}

/// BLAKE3 of `range` of a file, read through `storage` in pieces of bounded size.
pub(super) fn hash_range(
    storage: &mut dyn Storage,
    key: FileKey,
    range: Range<u64>,
) -> Result<Hash, FailReason> {
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut p = range.start;
    while p < range.end {
        let n = (range.end - p).min(buf.len() as u64) as usize;
        storage
            .read_at(key, p, &mut buf[..n])
            .map_err(|_| FailReason::Io)?;
        hasher.update(&buf[..n]);
        p += n as u64;
    }
    Ok(*hasher.finalize().as_bytes())
}
