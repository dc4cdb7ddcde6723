//! The sending half for one peer: a window of messages in flight, each fragment retransmitted
//! on its own timer until acked or until the message is given up on.
//!
//! The stream decides what goes out and when; its owner ([`crate::conn`]) turns the outcomes
//! into datagrams, events and presence samples.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use super::rtt::RttEstimator;
use super::wire::{self, AckItem, Data, MAX_PAYLOAD, Packet};

/// A fragment is lost when one sent this many transmissions after it was acked.
const LOSS_THRESHOLD: u64 = 3;

/// One fragment's transmission state.
#[derive(Debug)]
struct OutFrag {
    start: usize,
    end: usize,
    acked: bool,
    sends: u32,
    last_sent: Option<Instant>,
    /// The peer's transmission counter at the last send, for packet-threshold loss detection.
    tx_no: u64,
    /// The first send left at once, not held behind a handshake: only then does its ack time
    /// the round trip, and its retry say the link lost it.
    timed: bool,
    /// When it is retransmitted next; `None` until first sent and once acked.
    deadline: Option<Instant>,
}

/// A message not yet fully acked.
#[derive(Debug)]
pub struct OutMsg {
    id: u64,
    sent_at_ms: i64,
    bytes: Vec<u8>,
    frags: Vec<OutFrag>,
    unacked: usize,
    first_sent: Option<Instant>,
}

impl OutMsg {
    /// Splits `text` into fragments that each fit one datagram.
    pub fn new(id: u64, sent_at_ms: i64, text: String) -> Self {
        let bytes = text.into_bytes();
        let mut frags = Vec::new();
        let mut start = 0;
        loop {
            let end = (start + MAX_PAYLOAD).min(bytes.len());
            frags.push(OutFrag {
                start,
                end,
                acked: false,
                sends: 0,
                last_sent: None,
                tx_no: 0,
                timed: false,
                deadline: None,
            });
            if end == bytes.len() {
                break;
            }
            start = end;
        }
        let unacked = frags.len();
        Self {
            id,
            sent_at_ms,
            bytes,
            frags,
            unacked,
            first_sent: None,
        }
    }

    fn payload(&self, frag: u16) -> &[u8] {
        self.frags
            .get(usize::from(frag))
            .and_then(|f| self.bytes.get(f.start..f.end))
            .unwrap_or_default()
    }

    fn encode(&self, epoch: u64, seq: u64, floor: u64, frag: u16) -> Vec<u8> {
        wire::encode(&Packet::Data(Data {
            epoch,
            seq,
            floor,
            id: self.id,
            sent_at_ms: self.sent_at_ms,
            frag,
            frags: u16::try_from(self.frags.len()).unwrap_or(u16::MAX),
            payload: self.payload(frag),
        }))
    }
}

/// What an ack of one fragment tells the peer's other state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acked {
    /// The fragment was sent once only, and without waiting for a handshake, so the link
    /// delivered a first try (Karn: only such acks give a round-trip sample, as a
    /// retransmission's ack is ambiguous).
    pub first_try: bool,
    pub rtt_sample: Option<Duration>,
    /// Every fragment of its message is now acked.
    pub complete: bool,
}

/// What [`OutStream::resend`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resend {
    /// The datagram to send; `first_try_lost` when this is the fragment's second send and
    /// the first left at once, so that first try counts as lost.
    Sent {
        bytes: Vec<u8>,
        first_try_lost: bool,
    },
    /// The message waited too long and was dropped: its id.
    Failed(u64),
    /// The message is no longer queued.
    Gone,
}

/// Messages to one peer, in sequence order.
#[derive(Debug)]
pub struct OutStream {
    /// This run's epoch, which every data packet carries.
    epoch: u64,
    /// Fragments in flight at once.
    window: usize,
    /// A message not acked this long after its first send has failed.
    give_up: Duration,
    next_seq: u64,
    msgs: BTreeMap<u64, OutMsg>,
    /// Fragments never sent yet, in order; entries of removed messages are skipped.
    unsent: VecDeque<(u64, u16)>,
    /// Fragments sent and not yet acked.
    in_flight: usize,
    /// Retransmission timers: (deadline, seq, frag), one per fragment in flight.
    timers: BTreeSet<(Instant, u64, u16)>,
    /// Counts every data transmission to this peer.
    tx_counter: u64,
    /// The highest `tx_no` the peer has acked.
    largest_acked_tx: Option<u64>,
    /// Timeouts in a row without any ack: each doubles the retransmission timeout, and any
    /// ack resets it (as QUIC's probe timeout backoff does).
    backoff: u32,
    last_backoff: Option<Instant>,
}

impl OutStream {
    pub fn new(epoch: u64, window: usize, give_up: Duration) -> Self {
        Self {
            epoch,
            window,
            give_up,
            next_seq: 0,
            msgs: BTreeMap::new(),
            unsent: VecDeque::new(),
            in_flight: 0,
            timers: BTreeSet::new(),
            tx_counter: 0,
            largest_acked_tx: None,
            backoff: 0,
            last_backoff: None,
        }
    }

    /// Messages queued: in flight or waiting for the window.
    pub fn len(&self) -> usize {
        self.msgs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.msgs.is_empty()
    }

    /// Queues a message and returns its sequence number.
    pub fn push(&mut self, msg: OutMsg) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let frags = u16::try_from(msg.frags.len()).unwrap_or(u16::MAX);
        self.unsent.extend((0..frags).map(|f| (seq, f)));
        self.msgs.insert(seq, msg);
        seq
    }

    /// Every seq below this is acked or given up on.
    fn floor(&self) -> u64 {
        self.msgs.keys().next().copied().unwrap_or(self.next_seq)
    }

    /// The earliest retransmission timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.first().map(|t| t.0)
    }

    /// Sends the next fragment never sent, if the window has room: the encoded packet.
    /// `timed` when it leaves at once, rather than behind a handshake.
    pub fn send_next(&mut self, now: Instant, rtt: &RttEstimator, timed: bool) -> Option<Vec<u8>> {
        while self.in_flight < self.window {
            let (seq, frag) = self.unsent.pop_front()?;
            let floor = self.floor();
            let rto = rtt.backoff(self.backoff);
            let Some(msg) = self.msgs.get_mut(&seq) else {
                continue;
            };
            let first = *msg.first_sent.get_or_insert(now);
            let bytes = msg.encode(self.epoch, seq, floor, frag);
            let Some(f) = msg.frags.get_mut(usize::from(frag)) else {
                continue;
            };
            f.sends = 1;
            f.timed = timed;
            f.last_sent = Some(now);
            self.tx_counter += 1;
            f.tx_no = self.tx_counter;
            let deadline = (now + rto).min(first + self.give_up);
            f.deadline = Some(deadline);
            self.in_flight += 1;
            self.timers.insert((deadline, seq, frag));
            return Some(bytes);
        }
        None
    }

    /// Records the peer's ack of one fragment; `None` when it acks nothing in flight.
    pub fn ack(&mut self, now: Instant, item: AckItem) -> Option<Acked> {
        let msg = self.msgs.get_mut(&item.seq)?;
        let frag = msg.frags.get_mut(usize::from(item.frag))?;
        if frag.acked {
            return None;
        }
        // Acked before it was ever sent: a forged or confused ack.
        let deadline = frag.deadline.take()?;
        frag.acked = true;
        let tx = frag.tx_no;
        self.largest_acked_tx = Some(self.largest_acked_tx.map_or(tx, |l| l.max(tx)));
        self.backoff = 0;
        let first_try = frag.sends == 1 && frag.timed;
        let rtt_sample = if first_try {
            frag.last_sent
                .map(|sent| now.saturating_duration_since(sent))
        } else {
            None
        };
        self.timers.remove(&(deadline, item.seq, item.frag));
        self.in_flight -= 1;
        msg.unacked -= 1;
        Some(Acked {
            first_try,
            rtt_sample,
            complete: msg.unacked == 0,
        })
    }

    /// Removes a fully acked message: its id.
    pub fn finish(&mut self, seq: u64) -> Option<u64> {
        self.remove(seq).map(|msg| msg.id)
    }

    /// Removes a message with its timers.
    fn remove(&mut self, seq: u64) -> Option<OutMsg> {
        let msg = self.msgs.remove(&seq)?;
        for (i, f) in msg.frags.iter().enumerate() {
            if let Some(d) = f.deadline {
                self.in_flight -= 1;
                if let Ok(i) = u16::try_from(i) {
                    self.timers.remove(&(d, seq, i));
                }
            }
        }
        Some(msg)
    }

    /// Fragments sent well before one that was acked, so lost: they are resent at once rather
    /// than on their timers (QUIC's packet and time thresholds), but only once a round trip
    /// has passed, so acks merely reordered are not taken for loss.
    pub fn lost(&self, now: Instant, rtt: &RttEstimator) -> Vec<(u64, u16)> {
        let Some(largest) = self.largest_acked_tx else {
            return Vec::new();
        };
        let wait = rtt.srtt().unwrap_or_else(|| rtt.rto()) * 9 / 8;
        // Messages go out in seq order: the first never sent ends the ones to look at.
        self.msgs
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
            .collect()
    }

    /// Takes the earliest retransmission timer that is due.
    pub fn pop_due(&mut self, now: Instant) -> Option<(u64, u16)> {
        let &(deadline, seq, frag) = self.timers.first()?;
        if deadline > now {
            return None;
        }
        self.timers.pop_first();
        Some((seq, frag))
    }

    /// A timer fired with no news from the peer: back off, one step per round trip of
    /// silence however many fragments time out together.
    pub fn back_off(&mut self, now: Instant, rtt: &RttEstimator) {
        let step = rtt.backoff(self.backoff);
        if self.last_backoff.is_none_or(|t| now >= t + step) {
            self.backoff = (self.backoff + 1).min(16);
            self.last_backoff = Some(now);
        }
    }

    /// A session was just made with the peer: the silence that backed the timers off was the
    /// missing session, not a congested path, so every fragment in flight is due again one
    /// base timeout from now instead of after the backed-off one.
    pub fn rearm(&mut self, now: Instant, rtt: &RttEstimator) {
        self.backoff = 0;
        self.last_backoff = None;
        let soon = now + rtt.backoff(0);
        for (&seq, msg) in &mut self.msgs {
            let Some(first) = msg.first_sent else {
                continue;
            };
            let due = soon.min(first + self.give_up);
            for (i, f) in msg.frags.iter_mut().enumerate() {
                let (Some(old), Ok(i)) = (f.deadline, u16::try_from(i)) else {
                    continue;
                };
                if old > due {
                    self.timers.remove(&(old, seq, i));
                    self.timers.insert((due, seq, i));
                    f.deadline = Some(due);
                }
            }
        }
    }

    /// Sends a fragment again, or fails its message once it is too old.
    pub fn resend(&mut self, now: Instant, rtt: &RttEstimator, seq: u64, frag: u16) -> Resend {
        let floor = self.floor();
        let Some(msg) = self.msgs.get_mut(&seq) else {
            return Resend::Gone;
        };
        let first = msg.first_sent.unwrap_or(now);
        if now >= first + self.give_up {
            return match self.remove(seq) {
                Some(msg) => Resend::Failed(msg.id),
                None => Resend::Gone,
            };
        }
        let bytes = msg.encode(self.epoch, seq, floor, frag);
        let Some(f) = msg.frags.get_mut(usize::from(frag)) else {
            return Resend::Gone;
        };
        if let Some(old) = f.deadline {
            self.timers.remove(&(old, seq, frag));
        }
        f.sends += 1;
        f.last_sent = Some(now);
        self.tx_counter += 1;
        f.tx_no = self.tx_counter;
        let deadline = (now + rtt.backoff(self.backoff)).min(first + self.give_up);
        f.deadline = Some(deadline);
        self.timers.insert((deadline, seq, frag));
        Resend::Sent {
            bytes,
            first_try_lost: f.sends == 2 && f.timed,
        }
    }
}
