//! Token buckets for the answers this endpoint sends unasked-for. Every `BR_ENTRY` is
//! answered, so a broadcast storm, or one host re-announcing in a loop, would otherwise make
//! qqchat storm back: each IP gets a small bucket and all of them share one more.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(burst: f64, now: Instant) -> Self {
        Self {
            tokens: burst,
            at: now,
        }
    }

    fn refill(&mut self, now: Instant, rate: f64, burst: f64) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.at = self.at.max(now);
    }
}

/// How many answers, at once and over time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnswerLimit {
    /// Answers to one IP at once.
    pub per_ip_burst: u32,
    /// After the burst, one answer to an IP this often.
    pub per_ip_every: Duration,
    /// Answers to everyone at once.
    pub burst: u32,
    /// After that burst, answers a second to everyone.
    pub rate: u32,
    /// IPs remembered; beyond it, an IP whose bucket is not full is refused.
    pub max_ips: usize,
}

impl Default for AnswerLimit {
    fn default() -> Self {
        Self {
            per_ip_burst: 3,
            per_ip_every: Duration::from_secs(10),
            burst: 64,
            rate: 32,
            max_ips: 4096,
        }
    }
}

#[derive(Debug)]
pub(crate) struct AnswerLimiter {
    limit: AnswerLimit,
    overall: Option<Bucket>,
    per_ip: HashMap<IpAddr, Bucket>,
}

impl AnswerLimiter {
    pub(crate) fn new(limit: AnswerLimit) -> Self {
        Self {
            limit,
            overall: None,
            per_ip: HashMap::new(),
        }
    }

    fn ip_rate(&self) -> f64 {
        1.0 / self.limit.per_ip_every.as_secs_f64().max(1e-3)
    }

    /// Takes a token for `ip` and one from the shared bucket; false (and nothing taken) when
    /// either is empty.
    pub(crate) fn allow(&mut self, now: Instant, ip: IpAddr) -> bool {
        let ip_burst = f64::from(self.limit.per_ip_burst.max(1));
        let ip_rate = self.ip_rate();
        let burst = f64::from(self.limit.burst.max(1));
        let rate = f64::from(self.limit.rate);
        if !self.per_ip.contains_key(&ip) && self.per_ip.len() >= self.limit.max_ips {
            // Buckets that have refilled hold nothing worth keeping.
            self.per_ip.retain(|_, b| {
                let mut b = *b;
                b.refill(now, ip_rate, ip_burst);
                b.tokens < ip_burst
            });
            if self.per_ip.len() >= self.limit.max_ips {
                return false;
            }
        }
        let mine = self
            .per_ip
            .entry(ip)
            .or_insert_with(|| Bucket::full(ip_burst, now));
        mine.refill(now, ip_rate, ip_burst);
        let overall = self.overall.get_or_insert_with(|| Bucket::full(burst, now));
        overall.refill(now, rate, burst);
        if mine.tokens < 1.0 || overall.tokens < 1.0 {
            return false;
        }
        mine.tokens -= 1.0;
        overall.tokens -= 1.0;
        true
    }

    pub(crate) fn forget(&mut self, ip: IpAddr) {
        self.per_ip.remove(&ip);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.per_ip.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_ip_gets_its_burst_then_one_per_period() {
        let mut l = AnswerLimiter::new(AnswerLimit::default());
        let t = Instant::now();
        let ip = IpAddr::from([10, 0, 0, 9]);
        assert_eq!((0..100).filter(|_| l.allow(t, ip)).count(), 3);
        assert!(!l.allow(t + Duration::from_secs(5), ip));
        assert!(l.allow(t + Duration::from_secs(10), ip));
        assert!(l.allow(t, IpAddr::from([10, 0, 0, 8])), "others unaffected");
    }

    #[test]
    fn everyone_together_is_bounded_too() {
        let mut l = AnswerLimiter::new(AnswerLimit::default());
        let t = Instant::now();
        let n = (0..10_000u32)
            .filter(|i| l.allow(t, IpAddr::from((0x0a00_0000 + i).to_be_bytes())))
            .count();
        assert_eq!(n, 64);
        assert!(l.len() <= 4096);
        let later = t + Duration::from_secs(1);
        let n = (0..1000u32)
            .filter(|i| l.allow(later, IpAddr::from((0x0b00_0000 + i).to_be_bytes())))
            .count();
        assert!(n <= 33, "{n} answers in the next second");
    }
}
