//! Message ids, from a generator the engine is given rather than one it reaches for, so that
//! a test can seed it and get the same ids every run.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use jiff::Timestamp;

/// Where the engine core gets the ids it has to make up itself (for plain-text messages,
/// which carry none).
pub trait IdGen: Send {
    fn next_id(&mut self) -> u64;
}

/// The production generator: [`new_message_id`], shared by the whole process, so ids made by
/// the engine and by the front ends never collide.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessIds;

impl IdGen for ProcessIds {
    fn next_id(&mut self) -> u64 {
        new_message_id()
    }
}

/// A deterministic generator for tests: the same seed gives the same ids, and distinct
/// counters never give the same id (splitmix64 is a bijection).
#[derive(Debug, Clone)]
pub struct SeededIds {
    seed: u64,
    counter: u64,
}

impl SeededIds {
    pub fn new(seed: u64) -> Self {
        SeededIds { seed, counter: 0 }
    }
}

impl IdGen for SeededIds {
    fn next_id(&mut self) -> u64 {
        let n = self.counter;
        self.counter = self.counter.wrapping_add(1);
        mix(self.seed, n)
    }
}

/// A fresh message id: unique for this sender across restarts, by mixing the wall clock at
/// start, the process id and a counter.
pub fn new_message_id() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static SEED: OnceLock<u64> = OnceLock::new();
    // The one clock read outside the driver: the seed that keeps ids apart across restarts.
    let seed = *SEED.get_or_init(|| {
        let micros = Timestamp::now().as_microsecond() as u64;
        micros ^ (u64::from(std::process::id()) << 40)
    });
    mix(seed, COUNTER.fetch_add(1, Ordering::Relaxed))
}

fn mix(seed: u64, n: u64) -> u64 {
    splitmix64(seed.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
}

fn splitmix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_repeats_and_ids_differ() {
        let (mut a, mut b) = (SeededIds::new(7), SeededIds::new(7));
        let xs: Vec<u64> = (0..100).map(|_| a.next_id()).collect();
        let ys: Vec<u64> = (0..100).map(|_| b.next_id()).collect();
        assert_eq!(xs, ys);
        let unique: std::collections::HashSet<u64> = xs.iter().copied().collect();
        assert_eq!(unique.len(), xs.len());
    }
}
