//! The sending half for one peer: a window of messages in flight, each fragment retransmitted
//! on its own timer until acked or until the message is given up on.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use super::wire::MAX_PAYLOAD;

/// One fragment's transmission state.
#[derive(Debug)]
pub struct OutFrag {
    pub start: usize,
    pub end: usize,
    pub acked: bool,
    pub sends: u32,
    pub last_sent: Option<Instant>,
    /// The peer's transmission counter at the last send, for packet-threshold loss detection.
    pub tx_no: u64,
    /// When it is retransmitted next; `None` until first sent and once acked.
    pub deadline: Option<Instant>,
}

/// A message not yet fully acked.
#[derive(Debug)]
pub struct OutMsg {
    pub id: u64,
    pub sent_at_ms: i64,
    pub bytes: Vec<u8>,
    pub frags: Vec<OutFrag>,
    pub unacked: usize,
    pub first_sent: Option<Instant>,
}

impl OutMsg {
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

    pub fn payload(&self, frag: u16) -> &[u8] {
        let f = &self.frags[usize::from(frag)];
        &self.bytes[f.start..f.end]
    }
}

/// Messages to one peer, in sequence order.
#[derive(Debug, Default)]
pub struct OutStream {
    pub next_seq: u64,
    pub msgs: BTreeMap<u64, OutMsg>,
    /// Fragments never sent yet, in order; entries of removed messages are skipped.
    pub unsent: VecDeque<(u64, u16)>,
    /// Fragments sent and not yet acked.
    pub in_flight: usize,
    /// Counts every data transmission to this peer.
    pub tx_counter: u64,
    /// The highest `tx_no` the peer has acked.
    pub largest_acked_tx: Option<u64>,
    /// Timeouts in a row without any ack: each doubles the retransmission timeout, and any
    /// ack resets it (as QUIC's probe timeout backoff does).
    pub backoff: u32,
    pub last_backoff: Option<Instant>,
}

impl OutStream {
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
    pub fn floor(&self) -> u64 {
        self.msgs.keys().next().copied().unwrap_or(self.next_seq)
    }

    /// Removes a message, returning it with the deadlines of its fragments still in flight.
    pub fn remove(&mut self, seq: u64) -> Option<(OutMsg, Vec<Instant>)> {
        let msg = self.msgs.remove(&seq)?;
        let deadlines: Vec<Instant> = msg.frags.iter().filter_map(|f| f.deadline).collect();
        self.in_flight -= deadlines.len();
        Some((msg, deadlines))
    }
}
