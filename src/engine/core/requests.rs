//! Messages from strangers: addresses that are not contacts. By default they go to a list of
//! requests bounded in count and in bytes, the oldest request dropped (history and all) when
//! a new one would not fit, so that junk from many source ports leaves a bounded number of
//! conversations behind, however long it goes on. `[me] strangers` may instead take them like
//! a contact's, or drop them unseen.

use std::collections::HashMap;

use jiff::Timestamp;

use super::{EngineCore, StoreOp};
use crate::contacts::Strangers;
use crate::engine::api::EngineEvent;
use crate::store::ConversationKey;

/// Conversations with strangers kept at once.
pub const MAX_REQUESTS: usize = 50;
/// Text kept from all of them together: room for two messages of the largest size.
pub const MAX_REQUEST_BYTES: u64 = 2 * 1024 * 1024;
/// Text kept from one of them until it is made a contact; its first message is taken
/// whatever its size (the protocol bounds it), so one long message is never refused.
pub const MAX_BYTES_PER_REQUEST: u64 = 64 * 1024;

/// A request: when its last message came, and the bytes of text it holds.
#[derive(Debug, Clone, Copy)]
struct Request {
    last: Timestamp,
    bytes: u64,
}

/// The requests kept, and the policy that fills them.
#[derive(Debug, Default)]
pub struct Requests {
    policy: Strangers,
    open: HashMap<ConversationKey, Request>,
    bytes: u64,
}

/// What to do with a stranger's message.
#[derive(Debug, PartialEq, Eq)]
pub enum Admit {
    /// Keep and show it; these older requests go to make room.
    Take { dropped: Vec<ConversationKey> },
    /// Neither kept nor shown.
    Refuse,
}

impl Requests {
    pub fn new(policy: Strangers) -> Requests {
        Requests {
            policy,
            ..Requests::default()
        }
    }

    /// A message of `bytes` from the stranger of conversation `key`, at `now`.
    pub fn admit(&mut self, key: &ConversationKey, bytes: u64, now: Timestamp) -> Admit {
        match self.policy {
            Strangers::Accept => {
                return Admit::Take {
                    dropped: Vec::new(),
                };
            }
            Strangers::Drop => return Admit::Refuse,
            Strangers::Requests => {}
        }
        let held = self.open.get(key).map_or(0, |r| r.bytes);
        if held > 0 && held + bytes > MAX_BYTES_PER_REQUEST {
            return Admit::Refuse;
        }
        let entry = self.open.entry(key.clone()).or_insert(Request {
            last: now,
            bytes: 0,
        });
        entry.last = entry.last.max(now);
        entry.bytes += bytes;
        self.bytes += bytes;
        Admit::Take {
            dropped: self.make_room(Some(key)),
        }
    }

    /// The requests kept from an earlier run: conversation, last message, bytes. Those
    /// beyond the bounds go at once, oldest first.
    pub fn load(&mut self, kept: Vec<(ConversationKey, Timestamp, u64)>) -> Vec<ConversationKey> {
        if self.policy != Strangers::Requests {
            return Vec::new();
        }
        for (key, last, bytes) in kept {
            self.bytes += bytes;
            self.open.insert(key, Request { last, bytes });
        }
        self.make_room(None)
    }

    /// The stranger became a contact (or the user removed the entry): it is no longer a
    /// request.
    pub fn forget(&mut self, key: &ConversationKey) {
        if let Some(r) = self.open.remove(key) {
            self.bytes -= r.bytes;
        }
    }

    /// Drops the oldest requests, never `keep`, until the count and the bytes fit.
    fn make_room(&mut self, keep: Option<&ConversationKey>) -> Vec<ConversationKey> {
        let mut dropped = Vec::new();
        while self.open.len() > MAX_REQUESTS || self.bytes > MAX_REQUEST_BYTES {
            let oldest = self
                .open
                .iter()
                .filter(|(k, _)| Some(*k) != keep)
                .min_by_key(|(k, r)| (r.last, (*k).clone()))
                .map(|(k, _)| k.clone());
            let Some(oldest) = oldest else { break };
            self.forget(&oldest);
            dropped.push(oldest);
        }
        dropped
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.open.len()
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

impl EngineCore {
    /// Whether a message of `bytes` from conversation `key` is kept and shown: always for a
    /// contact's; a stranger's as `[me] strangers` says, dropping the oldest requests (their
    /// history too) to make room.
    pub(super) fn admit(&mut self, key: &ConversationKey, bytes: usize, now: Timestamp) -> bool {
        if !key.is_address() {
            return true;
        }
        let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
        match self.requests.admit(key, bytes, now) {
            Admit::Refuse => false,
            Admit::Take { dropped } => {
                self.drop_requests(dropped);
                true
            }
        }
    }

    /// The requests an earlier run kept, bounded now.
    pub fn load_requests(&mut self, kept: Vec<(ConversationKey, Timestamp, u64)>) {
        let dropped = self.requests.load(kept);
        self.drop_requests(dropped);
    }

    fn drop_requests(&mut self, dropped: Vec<ConversationKey>) {
        for key in dropped {
            if self.keep_history {
                self.store.push(StoreOp::Forget { key: key.clone() });
            }
            self.ui.push(EngineEvent::RequestDropped { key });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: usize) -> ConversationKey {
        ConversationKey::new(format!("addr-127.0.0.1:{}", 10_000 + n))
    }

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).expect("valid")
    }

    #[test]
    fn the_oldest_request_goes_when_a_new_one_would_not_fit() {
        let mut r = Requests::new(Strangers::Requests);
        for n in 0..MAX_REQUESTS {
            let n64 = i64::try_from(n).expect("small");
            assert_eq!(
                r.admit(&key(n), 10, at(n64)),
                Admit::Take { dropped: vec![] }
            );
        }
        // The first writes again: it is now the newest.
        r.admit(&key(0), 10, at(100));
        assert_eq!(
            r.admit(&key(999), 10, at(101)),
            Admit::Take {
                dropped: vec![key(1)]
            }
        );
        assert_eq!(r.len(), MAX_REQUESTS);
    }

    #[test]
    fn bytes_bound_each_request_and_all_of_them() {
        let mut r = Requests::new(Strangers::Requests);
        let big = MAX_BYTES_PER_REQUEST / 2;
        assert!(matches!(r.admit(&key(0), big, at(0)), Admit::Take { .. }));
        assert!(matches!(r.admit(&key(0), big, at(1)), Admit::Take { .. }));
        assert_eq!(r.admit(&key(0), 1, at(2)), Admit::Refuse, "one is full");
        // A first message is taken whatever its size, up to what the protocol carries.
        let mut other = Requests::new(Strangers::Requests);
        assert!(matches!(
            other.admit(&key(1), 1 << 20, at(0)),
            Admit::Take { .. }
        ));
        assert_eq!(other.admit(&key(1), 1, at(1)), Admit::Refuse);
        let mut dropped = Vec::new();
        for n in 1..40 {
            let n64 = i64::try_from(n).expect("small");
            if let Admit::Take { dropped: d } = r.admit(&key(n), MAX_BYTES_PER_REQUEST, at(n64)) {
                dropped.extend(d);
            }
        }
        assert!(r.bytes <= MAX_REQUEST_BYTES);
        assert_eq!(dropped[0], key(0), "the oldest went first");
    }

    #[test]
    fn accept_takes_all_and_drop_takes_none() {
        let mut accept = Requests::new(Strangers::Accept);
        for n in 0..200 {
            assert_eq!(
                accept.admit(&key(n), MAX_BYTES_PER_REQUEST, at(0)),
                Admit::Take { dropped: vec![] }
            );
        }
        let mut drop = Requests::new(Strangers::Drop);
        assert_eq!(drop.admit(&key(0), 1, at(0)), Admit::Refuse);
        assert!(drop.is_empty());
    }

    #[test]
    fn a_flood_kept_by_an_earlier_run_is_cut_to_the_newest_at_start() {
        let mut r = Requests::new(Strangers::Requests);
        let kept: Vec<_> = (0..462)
            .map(|n| (key(n), at(i64::try_from(n).expect("small")), 100))
            .collect();
        let dropped = r.load(kept);
        assert_eq!(dropped.len(), 462 - MAX_REQUESTS);
        assert!(!dropped.contains(&key(461)));
        assert_eq!(r.len(), MAX_REQUESTS);
    }
}
