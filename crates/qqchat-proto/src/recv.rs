//! The receiving half of one peer epoch: reassembly, duplicate suppression and ordering.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::wire::Data;

/// A message ready to show, in the sender's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub id: u64,
    pub text: String,
    pub sent_at_ms: i64,
}

/// What became of a data packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// Stored (new): ack it.
    New,
    /// Seen before: ack it again, show nothing.
    Duplicate,
    /// Refused for lack of room or as nonsense: do not ack, the sender will retry.
    Refused,
}

/// Limits that keep a peer from holding unbounded memory.
#[derive(Debug, Clone)]
pub struct RecvLimits {
    /// Messages accepted ahead of the next one in order.
    pub max_ahead: u64,
    /// Bytes held for messages that cannot be shown yet: fragments of unfinished messages
    /// and whole messages waiting for an earlier one. The next message in order may use
    /// `max_message` more, so it can always complete.
    pub max_buffered_bytes: usize,
    /// The largest message, in bytes.
    pub max_message: usize,
    /// Fragments a message may have.
    pub max_frags: u16,
    /// How long a fragmented message may take to complete.
    pub reassembly_timeout: Duration,
    /// How long a later message is held back waiting for a missing earlier one.
    pub hold_timeout: Duration,
}

struct Partial {
    frags: Vec<Option<Vec<u8>>>,
    missing: usize,
    bytes: usize,
    id: u64,
    sent_at_ms: i64,
    since: Instant,
}

/// Receive state for one epoch of one peer.
pub struct InStream {
    next: u64,
    held: BTreeMap<u64, Inbound>,
    /// When the oldest gap in front of `held` was first seen.
    gap_since: Option<Instant>,
    partial: BTreeMap<u64, Partial>,
    partial_bytes: usize,
    held_bytes: usize,
    pub last_active: Instant,
}

impl InStream {
    pub fn new(now: Instant) -> Self {
        Self {
            next: 0,
            held: BTreeMap::new(),
            gap_since: None,
            partial: BTreeMap::new(),
            partial_bytes: 0,
            held_bytes: 0,
            last_active: now,
        }
    }

    /// Takes one data packet; completed messages in order are appended to `out`.
    pub fn accept(
        &mut self,
        now: Instant,
        data: &Data<'_>,
        limits: &RecvLimits,
        out: &mut Vec<Inbound>,
    ) -> Accept {
        if data.frags == 0 || data.frag >= data.frags || data.frags > limits.max_frags {
            return Accept::Refused;
        }
        self.last_active = now;
        // A floor above the packet's own seq is nonsense; never let it skip the packet itself.
        let floor = data.floor.min(data.seq);
        if data.seq < self.next || self.held.contains_key(&data.seq) {
            self.skip_to(floor, out);
            return Accept::Duplicate;
        }
        let first_missing = self.next.max(floor);
        if data.seq - first_missing >= limits.max_ahead {
            return Accept::Refused;
        }
        let room = if data.seq == first_missing {
            limits.max_buffered_bytes + limits.max_message
        } else {
            limits.max_buffered_bytes
        };
        if self.partial_bytes + self.held_bytes + data.payload.len() > room {
            return Accept::Refused;
        }
        let complete = if data.frags == 1 {
            match std::str::from_utf8(data.payload) {
                Ok(text) => Some(Inbound {
                    id: data.id,
                    text: text.to_owned(),
                    sent_at_ms: data.sent_at_ms,
                }),
                Err(_) => return Accept::Refused,
            }
        } else {
            match self.add_fragment(now, data, limits) {
                Err(accept) => return accept,
                Ok(done) => done,
            }
        };
        if let Some(msg) = complete {
            self.held_bytes += msg.text.len();
            self.held.insert(data.seq, msg);
            if self.gap_since.is_none() {
                self.gap_since = Some(now);
            }
        }
        self.skip_to(floor, out);
        self.release(now, out);
        Accept::New
    }

    /// Stores a fragment; returns the whole message once the last fragment is in.
    fn add_fragment(
        &mut self,
        now: Instant,
        data: &Data<'_>,
        limits: &RecvLimits,
    ) -> Result<Option<Inbound>, Accept> {
        let frags = usize::from(data.frags);
        let entry = match self.partial.get_mut(&data.seq) {
            Some(p) if p.frags.len() != frags => return Err(Accept::Refused),
            Some(p) => p,
            None => self.partial.entry(data.seq).or_insert(Partial {
                frags: vec![None; frags],
                missing: frags,
                bytes: 0,
                id: data.id,
                sent_at_ms: data.sent_at_ms,
                since: now,
            }),
        };
        let slot = &mut entry.frags[usize::from(data.frag)];
        if slot.is_some() {
            return Err(Accept::Duplicate);
        }
        if entry.bytes + data.payload.len() > limits.max_message {
            return Err(Accept::Refused);
        }
        *slot = Some(data.payload.to_vec());
        entry.missing -= 1;
        entry.bytes += data.payload.len();
        self.partial_bytes += data.payload.len();
        if entry.missing > 0 {
            return Ok(None);
        }
        let Some(done) = self.partial.remove(&data.seq) else {
            return Ok(None);
        };
        self.partial_bytes -= done.bytes;
        let mut bytes = Vec::with_capacity(done.bytes);
        for frag in done.frags.into_iter().flatten() {
            bytes.extend_from_slice(&frag);
        }
        // A message that is not UTF-8 once whole is dropped; its fragments were acked, so
        // the sender believes it delivered: count it as nonsense from a broken peer.
        Ok(String::from_utf8(bytes).ok().map(|text| Inbound {
            id: done.id,
            text,
            sent_at_ms: done.sent_at_ms,
        }))
    }

    /// The sender says nothing below `floor` is coming: show what is held below it, move on.
    fn skip_to(&mut self, floor: u64, out: &mut Vec<Inbound>) {
        if floor <= self.next {
            return;
        }
        let above = self.held.split_off(&floor);
        for msg in std::mem::replace(&mut self.held, above).into_values() {
            self.held_bytes -= msg.text.len();
            out.push(msg);
        }
        let keep = self.partial.split_off(&floor);
        for (_, p) in std::mem::replace(&mut self.partial, keep) {
            self.partial_bytes -= p.bytes;
        }
        self.next = floor;
    }

    /// Shows every message that is next in order.
    fn release(&mut self, now: Instant, out: &mut Vec<Inbound>) {
        while let Some(msg) = self.held.remove(&self.next) {
            self.held_bytes -= msg.text.len();
            out.push(msg);
            self.next += 1;
        }
        self.gap_since = if self.held.is_empty() {
            None
        } else {
            Some(self.gap_since.unwrap_or(now))
        };
    }

    /// The next moment this stream needs [`InStream::on_timeout`].
    pub fn deadline(&self, limits: &RecvLimits) -> Option<Instant> {
        let hold = self.gap_since.map(|t| t + limits.hold_timeout);
        let partial = self
            .partial
            .values()
            .map(|p| p.since + limits.reassembly_timeout)
            .min();
        match (hold, partial) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Gives up on gaps and fragments that waited too long.
    pub fn on_timeout(&mut self, now: Instant, limits: &RecvLimits, out: &mut Vec<Inbound>) {
        let stale: Vec<u64> = self
            .partial
            .iter()
            .filter(|(_, p)| now >= p.since + limits.reassembly_timeout)
            .map(|(&seq, _)| seq)
            .collect();
        for seq in stale {
            if let Some(p) = self.partial.remove(&seq) {
                self.partial_bytes -= p.bytes;
            }
        }
        if let Some(since) = self.gap_since
            && now >= since + limits.hold_timeout
            && let Some((&first, _)) = self.held.first_key_value()
        {
            self.gap_since = Some(now);
            self.skip_to(first, out);
            self.release(now, out);
        }
    }

    /// True when nothing is buffered, so the stream can be forgotten safely.
    pub fn is_idle(&self) -> bool {
        self.held.is_empty() && self.partial.is_empty()
    }

    /// Bytes this stream holds for messages not yet shown.
    pub fn buffered_bytes(&self) -> usize {
        self.partial_bytes + self.held_bytes
    }
}
