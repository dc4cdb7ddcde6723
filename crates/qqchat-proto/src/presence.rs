//! Is a contact there? A hello at start, a ping after silence, offline after a longer silence,
//! and the loss rate of the link from the fate of recent pings and data (Tox and WireGuard do
//! much the same with 8–32 s and 25 s timers).

use std::time::{Duration, Instant};

/// Presence timers.
#[derive(Debug, Clone)]
pub struct PresenceConfig {
    /// Ping a contact that has been silent this long.
    pub idle: Duration,
    /// Ping again this often while a ping is unanswered.
    pub retry: Duration,
    /// Silence after which an online contact is shown offline.
    pub offline_after: Duration,
    /// Without an answer to the hello by then, the contact is shown offline.
    pub hello_timeout: Duration,
    /// How often an offline contact is probed, in case its own hello was lost: under the
    /// 20–30 s after which a NAT forgets an idle opening, so one made by a probe stays open.
    pub offline_probe: Duration,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(10),
            retry: Duration::from_secs(5),
            offline_after: Duration::from_secs(35),
            hello_timeout: Duration::from_secs(5),
            offline_probe: Duration::from_secs(15),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Status {
    #[default]
    Unknown,
    Online,
    Offline,
}

/// What a timeout asks the node to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Nothing,
    Ping,
    WentOffline,
}

/// A contact's presence and link quality, for the UI and `qqchat ping`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkHealth {
    /// `None` until the first hello is answered or times out.
    pub online: Option<bool>,
    pub last_heard: Option<Instant>,
    pub rtt: Option<Duration>,
    /// Share of recent pings and data fragments that needed another try, 0.0 to 1.0: only
    /// those sent while the contact was online and with nothing to wait for (a handshake),
    /// so an absence or a slow start is not taken for loss.
    pub loss: f32,
    /// How many outcomes the loss rate is based on.
    pub samples: u32,
}

/// A ping not answered yet.
#[derive(Debug, Clone, Copy)]
struct Outstanding {
    nonce: u64,
    sent: Instant,
    /// It left at once (no handshake to wait for), so its answer times the round trip.
    timed: bool,
    /// It left at once while the contact was online, so its fate counts towards loss.
    counted: bool,
}

/// One contact's presence.
#[derive(Debug, Clone, Default)]
pub struct PresenceState {
    status: Status,
    started: Option<Instant>,
    last_heard: Option<Instant>,
    last_ping: Option<Instant>,
    outstanding: Option<Outstanding>,
    /// Recent first tries answered and lost; halved now and then so old news fades.
    answered: u32,
    lost: u32,
    /// Of `lost`, those since the contact was last heard: if it turns out to have gone, they
    /// were its absence, not the link's loss, and are taken back.
    lost_since_heard: u32,
}

impl PresenceState {
    /// A ping left; `timed` when it left at once rather than behind a handshake.
    pub fn on_ping_sent(&mut self, now: Instant, nonce: u64, timed: bool) {
        if self.outstanding.is_some_and(|o| o.counted) {
            self.record(false);
        }
        self.started.get_or_insert(now);
        self.outstanding = Some(Outstanding {
            nonce,
            sent: now,
            timed,
            counted: timed && self.is_online(),
        });
        self.last_ping = Some(now);
    }

    /// If this answers the last ping: the time it took, and whether that is a round-trip
    /// sample (the ping did not wait for a handshake first).
    pub fn on_pong(&mut self, now: Instant, nonce: u64) -> Option<(Duration, bool)> {
        let ping = self.outstanding.filter(|o| o.nonce == nonce)?;
        self.outstanding = None;
        if ping.counted {
            self.record(true);
        }
        Some((now.saturating_duration_since(ping.sent), ping.timed))
    }

    /// Known to be there: what is sent now can be lost by the link, not by its absence.
    pub fn is_online(&self) -> bool {
        self.status == Status::Online
    }

    /// Anything at all arrived; true when this brings the contact online.
    pub fn on_heard(&mut self, now: Instant) -> bool {
        self.last_heard = Some(now);
        self.lost_since_heard = 0;
        let was = self.status;
        self.status = Status::Online;
        was != Status::Online
    }

    /// The contact said goodbye; true when it was online.
    pub fn on_bye(&mut self, _now: Instant) -> bool {
        let was = self.status;
        self.went_offline();
        self.outstanding = None;
        was != Status::Offline
    }

    /// The silence since the contact was last heard was its absence: what went unanswered
    /// meanwhile is no loss of the link.
    fn went_offline(&mut self) {
        self.status = Status::Offline;
        self.lost = self.lost.saturating_sub(self.lost_since_heard);
        self.lost_since_heard = 0;
        if let Some(o) = self.outstanding.as_mut() {
            o.counted = false;
        }
    }

    /// Counts one ping or first transmission as answered (`true`) or lost.
    pub fn record(&mut self, ok: bool) {
        if ok {
            self.answered += 1;
        } else {
            self.lost += 1;
            self.lost_since_heard += 1;
        }
        if self.answered + self.lost > 512 {
            self.answered /= 2;
            self.lost /= 2;
            self.lost_since_heard = self.lost_since_heard.min(self.lost);
        }
    }

    fn next_ping(&self, cfg: &PresenceConfig) -> Option<Instant> {
        let last_ping = self.last_ping?;
        Some(match self.status {
            Status::Unknown => last_ping + Duration::from_secs(1),
            Status::Offline => last_ping + cfg.offline_probe,
            Status::Online => {
                let heard = self.last_heard.unwrap_or(last_ping);
                if last_ping < heard + cfg.idle {
                    heard + cfg.idle
                } else {
                    last_ping + cfg.retry
                }
            }
        })
    }

    fn offline_at(&self, cfg: &PresenceConfig) -> Option<Instant> {
        match self.status {
            Status::Unknown => self.started.map(|t| t + cfg.hello_timeout),
            Status::Online => self.last_heard.map(|t| t + cfg.offline_after),
            Status::Offline => None,
        }
    }

    pub fn deadline(&self, cfg: &PresenceConfig) -> Option<Instant> {
        match (self.next_ping(cfg), self.offline_at(cfg)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn on_timeout(&mut self, now: Instant, cfg: &PresenceConfig) -> Presence {
        if self.offline_at(cfg).is_some_and(|t| now >= t) {
            self.went_offline();
            return Presence::WentOffline;
        }
        if self.next_ping(cfg).is_some_and(|t| now >= t) {
            return Presence::Ping;
        }
        Presence::Nothing
    }

    pub fn health(&self, rtt: Option<Duration>) -> LinkHealth {
        let samples = self.answered + self.lost;
        LinkHealth {
            online: match self.status {
                Status::Unknown => None,
                Status::Online => Some(true),
                Status::Offline => Some(false),
            },
            last_heard: self.last_heard,
            rtt,
            loss: if samples == 0 {
                0.0
            } else {
                self.lost as f32 / samples as f32
            },
            samples,
        }
    }
}
