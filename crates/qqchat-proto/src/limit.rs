//! Per-address token buckets, so one address flooding datagrams cannot starve the others.
//!
//! Both layers use it, so it sits beside them: the node limits datagrams from strangers, and
//! `secure` limits handshake initiations (each costs a Diffie-Hellman) once their mac1 checks.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets keyed by source IP, in a table of bounded size.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    max_entries: usize,
    buckets: HashMap<IpAddr, Bucket>,
}

impl RateLimiter {
    /// `rate` datagrams a second on average, `burst` at once.
    pub fn new(rate: u32, burst: u32, max_entries: usize) -> Self {
        Self {
            rate: f64::from(rate),
            burst: f64::from(burst.max(1)),
            max_entries,
            buckets: HashMap::new(),
        }
    }

    /// Takes one token for `ip`; false when it has none left.
    pub fn allow(&mut self, now: Instant, ip: IpAddr) -> bool {
        if !self.buckets.contains_key(&ip) && self.buckets.len() >= self.max_entries {
            self.forget_idle(now);
            if self.buckets.len() >= self.max_entries {
                return false;
            }
        }
        let (rate, burst) = (self.rate, self.burst);
        let bucket = self.buckets.entry(ip).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Drops buckets that have refilled: they hold no information.
    fn forget_idle(&mut self, now: Instant) {
        let full = Duration::from_secs_f64(self.burst / self.rate.max(1e-9));
        self.buckets
            .retain(|_, b| now.saturating_duration_since(b.at) < full);
    }

    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_burst_then_the_rate() {
        let mut l = RateLimiter::new(100, 10, 16);
        let t = Instant::now();
        let ip = IpAddr::from([127, 0, 0, 1]);
        assert_eq!((0..20).filter(|_| l.allow(t, ip)).count(), 10);
        let later = t + Duration::from_millis(100);
        assert_eq!((0..20).filter(|_| l.allow(later, ip)).count(), 10);
        assert!(
            l.allow(t, IpAddr::from([127, 0, 0, 2])),
            "others are not affected"
        );
    }

    #[test]
    fn the_table_stays_bounded() {
        let mut l = RateLimiter::new(100, 10, 64);
        let t = Instant::now();
        for i in 0..10_000u32 {
            l.allow(t, IpAddr::from(i.to_be_bytes()));
        }
        assert!(l.len() <= 64);
        // Once idle buckets have refilled they make room again.
        assert!(l.allow(t + Duration::from_secs(1), IpAddr::from([10, 9, 9, 9])));
    }
}
