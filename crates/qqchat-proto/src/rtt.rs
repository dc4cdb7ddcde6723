//! Round-trip estimate and retransmission timeout (RFC 6298, as QUIC and KCP do).

use std::time::Duration;

/// Smoothed round trip of one peer, fed by acks of fragments sent exactly once (Karn).
#[derive(Debug, Clone)]
pub struct RttEstimator {
    srtt: Option<Duration>,
    rttvar: Duration,
    initial: Duration,
    min_rto: Duration,
    max_rto: Duration,
}

impl RttEstimator {
    pub fn new(initial: Duration, min_rto: Duration, max_rto: Duration) -> Self {
        Self {
            srtt: None,
            rttvar: Duration::ZERO,
            initial,
            min_rto,
            max_rto,
        }
    }

    pub fn sample(&mut self, rtt: Duration) {
        match self.srtt {
            // Far below the estimate: a round trip is never shorter than the path allows, so
            // whatever made the estimate large (a path or a wait since gone) no longer holds.
            // Start over from it rather than creep down an eighth per sample.
            Some(srtt) if rtt * 4 < srtt && srtt - rtt > self.min_rto => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
            None => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
            Some(srtt) => {
                let diff = srtt.abs_diff(rtt);
                self.rttvar = (self.rttvar * 3 + diff) / 4;
                self.srtt = Some((srtt * 7 + rtt) / 8);
            }
        }
    }

    /// The smoothed round trip, once there has been a sample.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// How long to wait for an ack before the first retransmission.
    pub fn rto(&self) -> Duration {
        match self.srtt {
            None => self.initial,
            Some(srtt) => (srtt + (self.rttvar * 4).max(Duration::from_millis(1)))
                .clamp(self.min_rto, self.max_rto),
        }
    }

    /// The timeout after `level` timeouts in a row: doubled for each, capped.
    pub fn backoff(&self, level: u32) -> Duration {
        self.rto()
            .saturating_mul(1 << level.min(16))
            .min(self.max_rto)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est() -> RttEstimator {
        RttEstimator::new(
            Duration::from_millis(333),
            Duration::from_millis(20),
            Duration::from_secs(4),
        )
    }

    #[test]
    fn starts_near_333ms_and_doubles_up_to_the_cap() {
        let e = est();
        assert_eq!(e.backoff(0), Duration::from_millis(333));
        assert_eq!(e.backoff(1), Duration::from_millis(666));
        assert_eq!(e.backoff(2), Duration::from_millis(1332));
        assert_eq!(e.backoff(10), Duration::from_secs(4));
    }

    #[test]
    fn follows_the_measured_round_trip() {
        let mut e = est();
        for _ in 0..50 {
            e.sample(Duration::from_millis(100));
        }
        let rto = e.rto();
        assert!(
            rto >= Duration::from_millis(100) && rto < Duration::from_millis(130),
            "{rto:?}"
        );
        let mut fast = est();
        fast.sample(Duration::from_micros(50));
        assert_eq!(fast.rto(), Duration::from_millis(20));
    }

    #[test]
    fn recovers_at_once_from_a_stale_large_estimate() {
        let mut e = est();
        e.sample(Duration::from_millis(9_700));
        e.sample(Duration::from_millis(10));
        assert_eq!(e.srtt(), Some(Duration::from_millis(10)));
        // Ordinary jitter is smoothed as before.
        e.sample(Duration::from_millis(30));
        assert_eq!(e.srtt(), Some(Duration::from_micros(12_500)));
        // A sample far lower but within the minimum timeout changes nothing abrupt.
        let mut lo = est();
        lo.sample(Duration::from_millis(8));
        lo.sample(Duration::from_millis(1));
        assert_eq!(lo.srtt(), Some(Duration::from_micros(7_125)));
    }
}
