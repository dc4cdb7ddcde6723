//! Congestion control: CUBIC (RFC 9438) with slow start, one reduction per round trip, fast
//! convergence and the Reno-friendly region, plus a pacer that spreads a window's worth of
//! packets over a round trip instead of sending them in one burst.
//!
//! Slow start ends early, before the queue overflows, when the round trip grows by more
//! than a few milliseconds from one round to the next (HyStart++, RFC 9406): a few rounds of
//! slower growth follow, then congestion avoidance. Windows are in bytes; the cubic function works in segments of [`MSS`] bytes and seconds,
//! as the RFC writes it.

use std::time::{Duration, Instant};

/// The segment size the window is counted in: one data packet's worth.
pub const MSS: u64 = super::wire::MAX_CHUNK as u64 + 40;
/// The window at the start (RFC 9002's ten segments).
pub const INITIAL_WINDOW: u64 = 10 * MSS;
/// The window never goes below two segments.
pub const MIN_WINDOW: u64 = 2 * MSS;
/// The window never grows beyond this, whatever the acks say: bounds the sender's memory.
pub const MAX_WINDOW: u64 = 64 * 1024 * 1024;

/// CUBIC's multiplicative decrease (RFC 9438 §4.6).
const BETA: f64 = 0.7;
/// CUBIC's scaling constant, in segments per second cubed (§4.2).
const C: f64 = 0.4;

/// The state of one CUBIC controller.
#[derive(Debug, Clone)]
pub struct Cubic {
    cwnd: u64,
    ssthresh: u64,
    /// The window just before the last reduction, in segments (W_max).
    w_max: f64,
    /// Time from the epoch start until the window is back at `w_max`, in seconds.
    k: f64,
    /// When the current congestion-avoidance epoch began: the first ack after a reduction.
    epoch: Option<Instant>,
    /// The window a Reno flow would have now, in segments (W_est, §4.3).
    w_est: f64,
    /// Packets sent before this were in flight at the last reduction: their losses belong to
    /// the same congestion event.
    recovery_start: Option<Instant>,
    /// HyStart++ (RFC 9406): the smallest round trip of this round and of the last, samples
    /// this round, when this round began, and the conservative slow start if in it.
    hystart: HyStart,
    /// Reductions so far, for tests and statistics.
    pub reductions: u64,
    /// Retransmission timeouts so far (counted in `reductions` too).
    pub timeouts: u64,
}

impl Default for Cubic {
    fn default() -> Self {
        Self::new()
    }
}

impl Cubic {
    pub fn new() -> Self {
        Self {
            cwnd: INITIAL_WINDOW,
            ssthresh: u64::MAX,
            w_max: 0.0,
            k: 0.0,
            epoch: None,
            w_est: 0.0,
            recovery_start: None,
            hystart: HyStart::default(),
            reductions: 0,
            timeouts: 0,
        }
    }

    /// The congestion window in bytes.
    pub fn window(&self) -> u64 {
        self.cwnd
    }

    /// Whether the controller is still in slow start.
    pub fn in_slow_start(&self) -> bool {
        self.cwnd < self.ssthresh
    }

    /// `bytes` sent at `sent` were acknowledged. `limited` says the sender was held back by
    /// the window lately: a window that is not used is not grown (§5.8).
    pub fn on_ack(
        &mut self,
        now: Instant,
        sent: Instant,
        bytes: u64,
        rtt: Duration,
        limited: bool,
    ) {
        if self.recovery_start.is_some_and(|r| sent <= r) || !limited {
            return;
        }
        if self.in_slow_start() {
            let growth = match self.hystart.on_ack(now, sent) {
                Phase::SlowStart => bytes,
                Phase::Conservative => bytes / CSS_GROWTH_DIVISOR,
                Phase::Done => {
                    // Slow start ends here, without a loss.
                    self.ssthresh = self.cwnd;
                    return;
                }
            };
            self.cwnd = (self.cwnd + growth).min(MAX_WINDOW);
            return;
        }
        let mss = MSS as f64;
        let cwnd = self.cwnd as f64 / mss;
        // Entering congestion avoidance without a loss (slow start ended at ssthresh): the
        // curve starts at the present window.
        let epoch = *self.epoch.get_or_insert(now);
        if self.w_max <= 0.0 {
            self.w_max = cwnd;
            self.k = 0.0;
            self.w_est = cwnd;
        }
        let t = now.saturating_duration_since(epoch).as_secs_f64();
        let rtt = rtt.as_secs_f64();
        let w_cubic = |t: f64| C * (t - self.k).powi(3) + self.w_max;
        // The Reno-friendly estimate grows by alpha segments per window of acked segments;
        // once past the old maximum it grows as Reno does (§4.3).
        let alpha = if self.w_est >= self.w_max {
            1.0
        } else {
            3.0 * (1.0 - BETA) / (1.0 + BETA)
        };
        let segments = bytes as f64 / mss;
        self.w_est += alpha * segments / cwnd;
        let next = if w_cubic(t) < self.w_est {
            self.w_est
        } else {
            // Aim at the curve one round trip ahead, never more than 1.5 times the window.
            let target = w_cubic(t + rtt).clamp(cwnd, 1.5 * cwnd);
            cwnd + (target - cwnd) / cwnd * segments
        };
        let next = (next * mss) as u64;
        self.cwnd = next.clamp(MIN_WINDOW, MAX_WINDOW).max(self.cwnd);
    }

    /// A packet sent at `sent` was lost: reduce once per round trip.
    pub fn on_loss(&mut self, now: Instant, sent: Instant) {
        if self.recovery_start.is_some_and(|r| sent <= r) {
            return;
        }
        self.recovery_start = Some(now);
        self.reductions += 1;
        self.hystart = HyStart::default();
        let mss = MSS as f64;
        let cwnd = self.cwnd as f64 / mss;
        // Fast convergence (§4.7): a flow whose maximum fell releases bandwidth sooner.
        self.w_max = if cwnd < self.w_max {
            cwnd * (1.0 + BETA) / 2.0
        } else {
            cwnd
        };
        let reduced = ((self.cwnd as f64 * BETA) as u64).max(MIN_WINDOW);
        self.ssthresh = reduced;
        self.cwnd = reduced;
        let reduced_segments = reduced as f64 / mss;
        self.k = ((self.w_max - reduced_segments).max(0.0) / C).cbrt();
        self.w_est = reduced_segments;
        self.epoch = Some(now);
    }

    /// Nothing was acknowledged for a whole retransmission timeout: start again from the
    /// minimum window, in slow start up to half of what it was (§4.8).
    pub fn on_timeout(&mut self, now: Instant) {
        self.reductions += 1;
        self.timeouts += 1;
        self.w_max = self.cwnd as f64 / MSS as f64;
        self.ssthresh = ((self.cwnd as f64 * BETA) as u64).max(MIN_WINDOW);
        self.cwnd = MIN_WINDOW;
        self.k = 0.0;
        self.epoch = None;
        self.w_est = 0.0;
        self.recovery_start = Some(now);
        self.hystart = HyStart::default();
    }
}

const MIN_RTT_THRESH: Duration = Duration::from_millis(4);
const MAX_RTT_THRESH: Duration = Duration::from_millis(16);
const MIN_RTT_DIVISOR: u32 = 8;
const N_RTT_SAMPLE: u32 = 8;
const CSS_GROWTH_DIVISOR: u64 = 4;
const CSS_ROUNDS: u32 = 5;

/// Where HyStart++ is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    SlowStart,
    /// Conservative slow start: the round trip grew, growth is a quarter of slow start's.
    Conservative,
    /// Leave slow start.
    Done,
}

#[derive(Debug, Clone, Default)]
struct HyStart {
    round_start: Option<Instant>,
    current_min: Option<Duration>,
    last_min: Option<Duration>,
    samples: u32,
    /// In conservative slow start: the round trip that started it, and rounds in it.
    css: Option<(Duration, u32)>,
}

impl HyStart {
    /// An ack in slow start of a packet sent at `sent`.
    fn on_ack(&mut self, now: Instant, sent: Instant) -> Phase {
        let rtt = now.saturating_duration_since(sent);
        // A round ends when a packet sent after it began is acked.
        if self.round_start.is_none_or(|start| sent >= start) {
            self.round_start = Some(now);
            self.last_min = self.current_min.take();
            self.samples = 0;
            if let Some((base, rounds)) = self.css {
                if rounds + 1 >= CSS_ROUNDS {
                    return Phase::Done;
                }
                self.css = Some((base, rounds + 1));
            }
        }
        self.current_min = Some(self.current_min.map_or(rtt, |m| m.min(rtt)));
        self.samples += 1;
        let (Some(current), Some(last)) = (self.current_min, self.last_min) else {
            return self.phase();
        };
        match self.css {
            None if self.samples >= N_RTT_SAMPLE => {
                let thresh = (last / MIN_RTT_DIVISOR).clamp(MIN_RTT_THRESH, MAX_RTT_THRESH);
                if current >= last + thresh {
                    self.css = Some((current, 0));
                }
            }
            // The round trip fell back: the growth seen was not a queue; slow start again.
            Some((base, _)) if current < base => self.css = None,
            _ => {}
        }
        self.phase()
    }

    fn phase(&self) -> Phase {
        if self.css.is_some() {
            Phase::Conservative
        } else {
            Phase::SlowStart
        }
    }
}

/// Spreads sending over time: a token bucket filled at 1.25 × window / round trip.
#[derive(Debug, Clone)]
pub struct Pacer {
    tokens: u64,
    last: Option<Instant>,
}

impl Default for Pacer {
    fn default() -> Self {
        Self::new()
    }
}

impl Pacer {
    pub fn new() -> Self {
        Self {
            tokens: INITIAL_WINDOW,
            last: None,
        }
    }

    /// The largest burst: what the window allows in 2 ms, within 4 and 64 packets, so that a
    /// burst does not overflow a short queue at the bottleneck.
    fn capacity(cwnd: u64, rtt: Duration) -> u64 {
        let share = 2e-3 / rtt.as_secs_f64().max(100e-6);
        ((cwnd as f64 * share) as u64).clamp(4 * MSS, 64 * MSS)
    }

    fn rate(cwnd: u64, rtt: Duration) -> f64 {
        // Bytes per second; a round trip under 100 µs is treated as 100 µs.
        1.25 * cwnd as f64 / rtt.as_secs_f64().max(100e-6)
    }

    fn refill(&mut self, now: Instant, cwnd: u64, rtt: Duration) {
        let cap = Self::capacity(cwnd, rtt);
        if let Some(last) = self.last {
            let elapsed = now.saturating_duration_since(last).as_secs_f64();
            let add = (elapsed * Self::rate(cwnd, rtt)) as u64;
            if add > 0 {
                self.tokens = self.tokens.saturating_add(add).min(cap);
                self.last = Some(now);
            }
        } else {
            self.last = Some(now);
        }
    }

    /// When `bytes` may go: `now` if there are tokens enough, else the moment there will be.
    pub fn when(&mut self, now: Instant, bytes: u64, cwnd: u64, rtt: Duration) -> Instant {
        self.refill(now, cwnd, rtt);
        if self.tokens >= bytes {
            return now;
        }
        let missing = (bytes - self.tokens) as f64;
        let wait = Duration::from_secs_f64(missing / Self::rate(cwnd, rtt));
        now + wait.max(Duration::from_micros(1))
    }

    /// `bytes` went out.
    pub fn spend(&mut self, bytes: u64) {
        self.tokens = self.tokens.saturating_sub(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_start_then_reduction_then_cubic_growth() {
        let t0 = Instant::now();
        let rtt = Duration::from_millis(50);
        let mut cc = Cubic::new();
        // Slow start: a window of acks doubles the window.
        let w = cc.window();
        cc.on_ack(t0, t0, w, rtt, true);
        assert_eq!(cc.window(), 2 * w);
        // Not limited by the window: no growth.
        cc.on_ack(t0, t0, w, rtt, false);
        assert_eq!(cc.window(), 2 * w);
        let before = cc.window();
        let loss_at = t0 + rtt;
        cc.on_loss(loss_at, t0);
        assert_eq!(cc.window(), (before as f64 * BETA) as u64);
        // A second loss from the same flight does not reduce again.
        cc.on_loss(loss_at + Duration::from_millis(1), t0);
        assert_eq!(cc.reductions, 1);
        assert!(!cc.in_slow_start());
        // Congestion avoidance: concave growth back toward W_max, then convex beyond.
        let reduced = cc.window();
        let mut now = loss_at;
        let mut windows = vec![];
        for _ in 0..200 {
            now += rtt;
            let w = cc.window();
            cc.on_ack(now, now - rtt / 2, w, rtt, true);
            windows.push(cc.window());
        }
        assert!(windows.windows(2).all(|p| p[1] >= p[0]));
        assert!(windows[0] > reduced);
        assert!(*windows.last().unwrap_or(&0) > before, "grows past W_max");
        // Growth per round trip is never more than half the window.
        let mut prev = reduced;
        for &w in &windows {
            assert!(w as f64 <= prev as f64 * 1.5 + MSS as f64, "{prev} -> {w}");
            prev = w;
        }
    }

    #[test]
    fn slow_start_ends_early_when_the_round_trip_grows() {
        let t0 = Instant::now();
        let mut cc = Cubic::new();
        let mut now = t0;
        // Rounds of 20 ms, then the queue builds: 20 ms more each round.
        for round in 0..12u32 {
            let rtt = Duration::from_millis(20 + 20 * u64::from(round.saturating_sub(3)));
            let sent = now;
            now += rtt;
            for _ in 0..10 {
                cc.on_ack(now, sent, MSS, rtt, true);
            }
        }
        assert!(!cc.in_slow_start(), "left slow start without a loss");
        assert_eq!(cc.reductions, 0);
        let exit = cc.window();
        // Far below what doubling for 12 rounds would give.
        assert!(exit < INITIAL_WINDOW + 12 * 10 * MSS, "{exit}");
    }

    #[test]
    fn fast_convergence_lowers_w_max() {
        let t0 = Instant::now();
        let mut cc = Cubic::new();
        cc.cwnd = 100 * MSS;
        cc.on_loss(t0, t0);
        let first = cc.w_max;
        cc.on_loss(t0 + Duration::from_secs(1), t0 + Duration::from_millis(500));
        assert!(cc.w_max < 70.0 && cc.w_max < first, "{}", cc.w_max);
        cc.on_timeout(t0 + Duration::from_secs(2));
        assert_eq!(cc.window(), MIN_WINDOW);
        assert!(cc.in_slow_start());
    }

    #[test]
    fn pacer_spreads_a_window_over_a_round_trip() {
        let t0 = Instant::now();
        let rtt = Duration::from_millis(100);
        let cwnd = 100 * MSS;
        let mut p = Pacer::new();
        let mut now = t0;
        let mut sent = 0;
        while now < t0 + rtt {
            let at = p.when(now, MSS, cwnd, rtt);
            if at > now {
                now = at;
                continue;
            }
            p.spend(MSS);
            sent += MSS;
        }
        // About 1.25 windows per round trip, plus the initial burst.
        assert!(
            sent >= cwnd && sent <= cwnd * 3 / 2 + INITIAL_WINDOW,
            "{sent}"
        );
    }
}
