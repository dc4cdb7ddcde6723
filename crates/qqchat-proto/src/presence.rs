//! Is a contact there? A hello at start, a ping after silence, offline after a longer silence
//! and a row of unanswered probes, online again after steady answers (hysteresis, so a lossy
//! link does not make a contact flap), and the loss rate of the link from the fate of recent
//! pings and data (Tox and WireGuard do much the same with 8–32 s and 25 s timers).

use std::time::{Duration, Instant};

/// Presence timers.
#[derive(Debug, Clone)]
pub struct PresenceConfig {
    /// Ping a contact that has been silent this long.
    pub idle: Duration,
    /// Ping again this often while a ping is unanswered.
    pub retry: Duration,
    /// Silence after which an online contact is doubted: it is then probed every
    /// `confirm_retry`, and shown offline only once `confirm_misses` of those probes in a
    /// row went unanswered. On a link losing a third of its datagrams a ping and its answer
    /// both arrive about half the time, so a few quiet rounds happen; a row of probes all
    /// lost on top of them is rare enough that a live contact is not shown offline.
    pub offline_after: Duration,
    /// How often a doubted contact (see `offline_after`) is probed.
    pub confirm_retry: Duration,
    /// Probes in a row a doubted contact leaves unanswered before it is shown offline:
    /// with `offline_after` and `confirm_retry`, a contact really gone is shown offline
    /// after 30 + 4 × 1 = 34 s of silence, within the 30–40 s users are used to.
    pub confirm_misses: u32,
    /// A contact shown offline that is heard again is only "reachable" (shown apart, with
    /// no event) until it is heard again at least this long after: one stray answer on a
    /// lossy link does not show it online, and then offline again a few seconds later.
    /// Meanwhile it is probed every second. Its own hello (it started again) is proof
    /// enough, and shows it online at once.
    pub online_confirm: Duration,
    /// A reachable contact not heard for this long is no longer reachable (it stays
    /// offline; nothing is raised).
    pub reachable_for: Duration,
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
            offline_after: Duration::from_secs(30),
            confirm_retry: Duration::from_secs(1),
            confirm_misses: 4,
            online_confirm: Duration::from_secs(2),
            reachable_for: Duration::from_secs(10),
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
    /// A reachable contact went quiet again: still offline, no longer reachable.
    Lapsed,
}

/// What hearing from a contact changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    Nothing,
    /// Shown offline, and now reachable (not confirmed online yet).
    Reachable,
    Online,
}

/// A contact's presence and link quality, for the UI and `qqchat ping`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkHealth {
    /// `None` until the first hello is answered or times out. Changes go through hysteresis
    /// (see [`PresenceConfig`]), so a lossy link does not make it flap.
    pub online: Option<bool>,
    /// Heard from lately but not confirmed online: a contact shown offline that answers
    /// again, until it has answered steadily enough to be shown online.
    pub reachable: bool,
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
    /// An online contact silent for `offline_after`: pings sent since, all unanswered.
    doubt: Option<u32>,
    /// An offline contact heard again: when it was first heard, not yet confirmed online.
    returning: Option<Instant>,
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
        if let Some(sent) = self.doubt.as_mut() {
            *sent += 1;
        }
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

    /// Anything at all arrived (`hello`: the contact's own hello, it just started): what
    /// changed. The first answer ever shows the contact online at once, as does a hello; a
    /// contact shown offline is only reachable until heard again `online_confirm` later.
    pub fn on_heard(&mut self, now: Instant, hello: bool, cfg: &PresenceConfig) -> Heard {
        self.last_heard = Some(now);
        self.lost_since_heard = 0;
        self.doubt = None;
        match self.status {
            Status::Online => Heard::Nothing,
            Status::Offline if !hello => match self.returning {
                None => {
                    self.returning = Some(now);
                    Heard::Reachable
                }
                Some(since) if now.saturating_duration_since(since) < cfg.online_confirm => {
                    Heard::Nothing
                }
                Some(_) => {
                    self.came_online();
                    Heard::Online
                }
            },
            Status::Unknown | Status::Offline => {
                self.came_online();
                Heard::Online
            }
        }
    }

    fn came_online(&mut self) {
        self.status = Status::Online;
        self.returning = None;
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
        self.doubt = None;
        self.returning = None;
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
            Status::Offline if self.returning.is_some() => last_ping + cfg.confirm_retry,
            Status::Offline => last_ping + cfg.offline_probe,
            Status::Online if self.doubt.is_some() => last_ping + cfg.confirm_retry,
            Status::Online => {
                let heard = self.last_heard.unwrap_or(last_ping);
                if last_ping < heard + cfg.idle {
                    heard + cfg.idle
                } else {
                    (last_ping + cfg.retry).min(heard + cfg.offline_after)
                }
            }
        })
    }

    fn offline_at(&self, cfg: &PresenceConfig) -> Option<Instant> {
        match self.status {
            Status::Unknown => self.started.map(|t| t + cfg.hello_timeout),
            // Doubted only once silent that long; offline once enough probes went unanswered.
            Status::Online => match (self.doubt, self.last_ping) {
                (Some(sent), Some(last)) if sent >= cfg.confirm_misses => {
                    Some(last + cfg.confirm_retry)
                }
                _ => None,
            },
            Status::Offline => None,
        }
    }

    /// When an online contact becomes doubted, or a reachable one lapses.
    fn doubt_at(&self, cfg: &PresenceConfig) -> Option<Instant> {
        match self.status {
            Status::Online if self.doubt.is_none() => {
                self.last_heard.map(|t| t + cfg.offline_after)
            }
            Status::Offline if self.returning.is_some() => {
                self.last_heard.map(|t| t + cfg.reachable_for)
            }
            _ => None,
        }
    }

    pub fn deadline(&self, cfg: &PresenceConfig) -> Option<Instant> {
        [
            self.next_ping(cfg),
            self.offline_at(cfg),
            self.doubt_at(cfg),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Judges presence at a deadline: doubts a silent contact, shows a doubted one offline,
    /// lets a reachable one lapse, or asks for a ping.
    pub fn on_timeout(&mut self, now: Instant, cfg: &PresenceConfig) -> Presence {
        if self.doubt_at(cfg).is_some_and(|t| now >= t) {
            match self.status {
                Status::Online => self.doubt = Some(0),
                _ => {
                    self.returning = None;
                    return Presence::Lapsed;
                }
            }
        }
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
            reachable: self.returning.is_some(),
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
