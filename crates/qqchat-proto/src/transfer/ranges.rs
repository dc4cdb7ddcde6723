//! A set of half-open `u64` ranges, kept merged: the bytes a receiver holds, the bytes a
//! sender has had acknowledged or has in flight, the packet numbers a receiver has seen.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::{Deserialize, Serialize};

/// Disjoint, non-adjacent ranges, keyed by start. Memory grows with the number of gaps, not
/// with the span covered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet {
    map: BTreeMap<u64, u64>,
}

impl RangeSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of separate ranges.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Total number of values covered.
    pub fn covered(&self) -> u64 {
        self.map.iter().map(|(s, e)| e - s).sum()
    }

    /// Adds `r`, merging with neighbours. Returns how many values were new.
    pub fn insert(&mut self, r: Range<u64>) -> u64 {
        if r.start >= r.end {
            return 0;
        }
        let (mut start, mut end) = (r.start, r.end);
        let mut already = 0;
        // A range starting at or before `start` that reaches it.
        if let Some((&s, &e)) = self.map.range(..=start).next_back()
            && e >= start
        {
            already += e.min(r.end).saturating_sub(s.max(r.start));
            start = s;
            end = end.max(e);
            self.map.remove(&s);
        }
        // Ranges starting inside `start..=end`.
        let inside: Vec<(u64, u64)> = self.map.range(start..=end).map(|(&s, &e)| (s, e)).collect();
        for (s, e) in inside {
            already += e.min(r.end).saturating_sub(s.max(r.start));
            end = end.max(e);
            self.map.remove(&s);
        }
        self.map.insert(start, end);
        (r.end - r.start).saturating_sub(already)
    }

    /// Removes `r` from the set.
    pub fn remove(&mut self, r: Range<u64>) {
        if r.start >= r.end {
            return;
        }
        let touching: Vec<(u64, u64)> = self
            .map
            .range(..r.end)
            .rev()
            .take_while(|&(_, &e)| e > r.start)
            .map(|(&s, &e)| (s, e))
            .collect();
        for (s, e) in touching {
            self.map.remove(&s);
            if s < r.start {
                self.map.insert(s, r.start);
            }
            if e > r.end {
                self.map.insert(r.end, e);
            }
        }
    }

    /// Whether every value of `r` is in the set (an empty range is).
    pub fn contains(&self, r: Range<u64>) -> bool {
        if r.start >= r.end {
            return true;
        }
        matches!(self.map.range(..=r.start).next_back(), Some((_, &e)) if e >= r.end)
    }

    /// Whether any value of `r` is in the set.
    pub fn intersects(&self, r: Range<u64>) -> bool {
        if r.start >= r.end {
            return false;
        }
        self.map
            .range(..r.end)
            .next_back()
            .is_some_and(|(_, &e)| e > r.start)
    }

    /// The first value at or after `from` that is not in the set.
    pub fn next_missing(&self, from: u64) -> u64 {
        match self.map.range(..=from).next_back() {
            Some((_, &e)) if e > from => e,
            _ => from,
        }
    }

    /// The start of the first range at or after `from`, or `u64::MAX`.
    pub fn next_present(&self, from: u64) -> u64 {
        if let Some((_, &e)) = self.map.range(..=from).next_back()
            && e > from
        {
            return from;
        }
        self.map.range(from..).next().map_or(u64::MAX, |(&s, _)| s)
    }

    /// The largest value in the set.
    pub fn max(&self) -> Option<u64> {
        self.map.iter().next_back().map(|(_, &e)| e - 1)
    }

    /// The ranges in ascending order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Range<u64>> + '_ {
        self.map.iter().map(|(&s, &e)| s..e)
    }

    /// The ranges that meet `r`, clipped to it, in ascending order.
    pub fn within(&self, r: Range<u64>) -> impl Iterator<Item = Range<u64>> + '_ {
        let first = match self.map.range(..=r.start).next_back() {
            Some((&s, &e)) if e > r.start => s,
            _ => r.start,
        };
        self.map
            .range(first..r.end.max(first))
            .map(move |(&s, &e)| s.max(r.start)..e.min(r.end))
            .filter(|c| c.start < c.end)
    }

    /// Keeps only the `n` highest ranges (a receiver's memory of packet numbers).
    pub fn keep_highest(&mut self, n: usize) {
        while self.map.len() > n {
            self.map.pop_first();
        }
    }
}

/// The byte ranges of a file a receiver holds: the value the caller persists so that a
/// restarted receiver resumes from it rather than from zero.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    /// Disjoint `[start, end)` ranges in ascending order.
    pub ranges: Vec<(u64, u64)>,
    /// How many times the receiver was restored from this value: each restore tells the
    /// sender a newer round, so it trusts these ranges over what it believed delivered.
    #[serde(default)]
    pub round: u32,
}

impl Held {
    pub(crate) fn from_set(set: &RangeSet) -> Self {
        Self {
            ranges: set.iter().map(|r| (r.start, r.end)).collect(),
            round: 0,
        }
    }

    /// The set, with anything beyond `size` or malformed left out: a persisted value is
    /// input like any other.
    pub(crate) fn to_set(&self, size: u64) -> RangeSet {
        let mut set = RangeSet::new();
        for &(s, e) in &self.ranges {
            set.insert(s.min(size)..e.min(size));
        }
        set
    }

    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.ranges.iter().map(|&(s, e)| e.saturating_sub(s)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn merges_and_splits() {
        let mut s = RangeSet::new();
        assert_eq!(s.insert(10..20), 10);
        assert_eq!(s.insert(30..40), 10);
        assert_eq!(s.insert(15..35), 10);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![10..40]);
        s.remove(20..25);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![10..20, 25..40]);
        assert!(s.contains(10..20));
        assert!(!s.contains(10..21));
        assert_eq!(s.next_missing(12), 20);
        assert_eq!(s.next_missing(20), 20);
        assert_eq!(s.next_present(20), 25);
        assert_eq!(s.within(15..30).collect::<Vec<_>>(), vec![15..20, 25..30]);
        assert_eq!(s.insert(20..25), 5);
        assert_eq!(s.len(), 1);
    }

    proptest! {
        #[test]
        fn agrees_with_a_bitmap(ops in proptest::collection::vec((any::<bool>(), 0u64..200, 0u64..40), 1..60)) {
            let mut s = RangeSet::new();
            let mut bits = [false; 240];
            for (add, start, len) in ops {
                let r = start..start + len;
                if add {
                    let new = r.clone().filter(|&i| !bits[i as usize]).count() as u64;
                    prop_assert_eq!(s.insert(r.clone()), new);
                    for i in r { bits[i as usize] = true; }
                } else {
                    s.remove(r.clone());
                    for i in r { bits[i as usize] = false; }
                }
                for i in 0..240u64 {
                    prop_assert_eq!(s.contains(i..i + 1), bits[i as usize]);
                }
                prop_assert_eq!(s.covered(), bits.iter().filter(|&&b| b).count() as u64);
                let v: Vec<_> = s.iter().collect();
                for w in v.windows(2) { prop_assert!(w[0].end < w[1].start); }
            }
        }
    }
}
