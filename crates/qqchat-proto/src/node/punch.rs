//! Reaching a keyed contact: hole punching on all its candidate paths when it is wanted and
//! has no working path, and keepalives on the path in use so the NATs on the way keep their
//! mappings. Both send only authenticated datagrams, so a forged source moves nothing.
//!
//! A contact reached only through a TURN relay is punched again now and then (an
//! "upgrade" round), and told so over the relay so that it punches back at the same
//! moment: a direct path that starts to work wins over the relay.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::Node;
use crate::peer::{PeerId, PublicKey, canonical};
use crate::wire::{self, Packet};

/// How often a contact is checked for a working path when keepalives are off.
const CHECK_EVERY: Duration = Duration::from_secs(25);

/// The nonce of a keepalive: an unsolicited pong, which every version of qqchat takes as
/// "heard from" and otherwise ignores (no answer, no new packet kind).
const KEEPALIVE_NONCE: u64 = 0;

/// One contact's hole punching: a round under way, or the wait before the next one.
#[derive(Debug, Clone)]
struct Punch {
    started: Instant,
    next: Instant,
    in_round: bool,
    /// When the first authenticated answer of this round came, and whether from a LAN path.
    answered: Option<Instant>,
    lan_answered: bool,
    /// The wait before the next round if this one fails; doubles up to a bound.
    wait: Duration,
    /// A round from a relayed path towards a direct one: only a direct answer counts,
    /// and a failed one simply ends (the next is due after `upgrade_every`).
    upgrade: bool,
}

/// Per keyed contact: punching and keepalive timers.
#[derive(Debug, Default)]
pub(crate) struct Reach {
    punches: HashMap<PublicKey, Punch>,
    /// When a datagram last went to the contact's path in use.
    sent: HashMap<PublicKey, Instant>,
    /// When to next check that the path in use carried something (and send a keepalive).
    check_at: HashMap<PublicKey, Instant>,
    /// Peer addresses reached through the TURN relay, as the caller says.
    relayed: HashSet<SocketAddr>,
    /// When an upgrade round last started, by this node or at the contact's request.
    upgraded: HashMap<PublicKey, Instant>,
}

impl Reach {
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let punch = self.punches.values().map(|p| p.next).min();
        let check = self.check_at.values().copied().min();
        [punch, check].into_iter().flatten().min()
    }

    pub(crate) fn forget(&mut self, key: &PublicKey) {
        self.punches.remove(key);
        self.sent.remove(key);
        self.check_at.remove(key);
        self.upgraded.remove(key);
    }

    pub(crate) fn is_relayed(&self, addr: SocketAddr) -> bool {
        self.relayed.contains(&canonical(addr))
    }

    /// How good a path is, lower is better: the same LAN, then straight through the
    /// routers, then through the relay.
    pub(crate) fn rank(&self, addr: SocketAddr) -> u8 {
        if self.is_relayed(addr) {
            2
        } else if is_lan(addr) {
            0
        } else {
            1
        }
    }

    pub(crate) fn note_sent(&mut self, now: Instant, key: PublicKey) {
        self.sent.insert(key, now);
    }
}

/// What kind of path a peer answers on, as people are shown it (the ping, doctor, the chat's
/// header, `listen --json` and the history): one type for all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PathKind {
    /// This machine: another qqchat on 127.0.0.1 or ::1.
    Loopback,
    /// A private-range or link-local address: the same network.
    Lan,
    /// A public address, straight through the routers.
    Direct,
    /// Through the TURN relay: works behind any NAT, costs a detour.
    Relay,
}

impl PathKind {
    /// The kind of `addr`, `relayed` when it is reached through the TURN relay.
    pub fn of(addr: SocketAddr, relayed: bool) -> PathKind {
        if relayed {
            PathKind::Relay
        } else if addr.ip().to_canonical().is_loopback() {
            PathKind::Loopback
        } else if is_lan(addr) {
            PathKind::Lan
        } else {
            PathKind::Direct
        }
    }

    /// The kind named as serde writes it (`lan`, `relay`...); `None` for any other name,
    /// so a record from a later version still loads.
    pub fn from_name(name: &str) -> Option<PathKind> {
        match name {
            "loopback" => Some(PathKind::Loopback),
            "lan" => Some(PathKind::Lan),
            "direct" => Some(PathKind::Direct),
            "relay" => Some(PathKind::Relay),
            _ => None,
        }
    }

    /// As serde writes it: for JSON.
    pub fn name(self) -> &'static str {
        match self {
            PathKind::Loopback => "loopback",
            PathKind::Lan => "lan",
            PathKind::Direct => "direct",
            PathKind::Relay => "relay",
        }
    }

    /// As shown to people.
    pub fn label(self) -> &'static str {
        match self {
            PathKind::Loopback => "loopback",
            PathKind::Lan => "LAN",
            PathKind::Direct => "direct",
            PathKind::Relay => "relay",
        }
    }
}

impl std::fmt::Display for PathKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// An address on a LAN (private, link-local or loopback): preferred over a public one, as
/// it is shorter and costs no NAT mapping.
pub fn is_lan(addr: SocketAddr) -> bool {
    match addr.ip().to_canonical() {
        IpAddr::V4(ip) => ip.is_private() || ip.is_link_local() || ip.is_loopback(),
        IpAddr::V6(ip) => {
            let first = ip.segments()[0];
            ip.is_loopback() || first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfe80
        }
    }
}

impl Node {
    /// The user wants `peer` now (start, a message to send, its conversation opened): a keyed
    /// contact with several candidates and no working path gets a punch round at once.
    pub fn want(&mut self, now: Instant, peer: PeerId) {
        self.tick(now);
        let PeerId::Key(key) = peer else {
            return;
        };
        if !self.punchable(peer) || self.working(now, peer) {
            return;
        }
        let first_wait = self.config.punch.first_wait;
        let p = self.reach.punches.entry(key).or_insert(Punch {
            started: now,
            next: now,
            in_round: false,
            answered: None,
            lan_answered: false,
            wait: first_wait,
            upgrade: false,
        });
        if p.in_round {
            return;
        }
        start_round(p, now);
        self.punch_tick(now, key);
    }

    /// The peer addresses that are reached through a TURN relay (the caller wraps what goes
    /// to them): a path among them counts as the worst, and is left for a direct one.
    pub fn set_relayed(&mut self, addrs: HashSet<SocketAddr>) {
        self.reach.relayed = addrs.into_iter().map(canonical).collect();
    }

    /// Whether datagrams to `addr` go through the relay (see [`Node::set_relayed`]).
    pub fn is_relayed(&self, addr: SocketAddr) -> bool {
        self.reach.is_relayed(addr)
    }

    /// The kind of path `addr` is.
    pub fn path_kind(&self, addr: SocketAddr) -> PathKind {
        PathKind::of(addr, self.is_relayed(addr))
    }

    /// A keyed contact given several candidates: punching needs a choice to make.
    fn punchable(&self, peer: PeerId) -> bool {
        self.is_keyed(peer)
            && self
                .peers
                .get(&peer)
                .is_some_and(|c| c.is_pinned() && c.paths().len() > 1)
    }

    /// A session, and heard from lately (presence pings make a live contact heard at least
    /// every `idle` plus a `retry`).
    fn working(&self, now: Instant, peer: PeerId) -> bool {
        let recent = self.config.presence.idle + self.config.presence.retry;
        self.direct(now, peer)
            && self
                .link(peer)
                .and_then(|l| l.last_heard)
                .is_some_and(|t| now.saturating_duration_since(t) < recent)
    }

    /// Starts the keepalive checks of a keyed contact just added.
    pub(super) fn reach_added(&mut self, now: Instant, key: PublicKey) {
        let every = self.config.keepalive.unwrap_or(CHECK_EVERY);
        self.reach.check_at.entry(key).or_insert(now + every);
    }

    /// An authenticated datagram from `key` came from `from`: an answer, if punching.
    pub(super) fn punch_heard(&mut self, now: Instant, key: PublicKey, from: SocketAddr) {
        let relayed = self.reach.is_relayed(from);
        if let Some(p) = self.reach.punches.get_mut(&key)
            && p.in_round
            && !(p.upgrade && relayed)
        {
            p.answered.get_or_insert(now);
            p.lan_answered |= is_lan(from) && !relayed;
        }
    }

    /// Punch rounds and keepalives that are due.
    pub(super) fn reach_timeout(&mut self, now: Instant) {
        let due: Vec<PublicKey> = self
            .reach
            .punches
            .iter()
            .filter(|(_, p)| p.next <= now)
            .map(|(&k, _)| k)
            .collect();
        for key in due {
            self.punch_tick(now, key);
        }
        let due: Vec<PublicKey> = self
            .reach
            .check_at
            .iter()
            .filter(|&(_, &t)| t <= now)
            .map(|(&k, _)| k)
            .collect();
        for key in due {
            self.check_path(now, key);
        }
    }

    /// One step of a contact's punching: probe every candidate, end a round, or start one.
    fn punch_tick(&mut self, now: Instant, key: PublicKey) {
        let peer = PeerId::Key(key);
        let watched = self.peers.get(&peer).is_some_and(|c| c.is_watched());
        let working = self.working(now, peer);
        let cfg = self.config.punch.clone();
        let Some(p) = self.reach.punches.get_mut(&key) else {
            return;
        };
        if !p.in_round {
            if p.upgrade || !watched || working {
                self.reach.punches.remove(&key);
                return;
            }
            start_round(p, now);
        }
        if let Some(at) = p.answered
            && (p.lan_answered || now >= at + cfg.settle || now >= p.started + cfg.round)
        {
            self.reach.punches.remove(&key);
            return;
        }
        if now >= p.started + cfg.round {
            if p.upgrade {
                self.reach.punches.remove(&key);
                return;
            }
            p.in_round = false;
            p.next = now + p.wait;
            p.wait = (p.wait * 2).min(cfg.max_wait);
            return;
        }
        p.next = now + cfg.every;
        self.probe_all(now, key);
    }

    /// Sends an authenticated probe to every candidate: a handshake initiation without a
    /// session, a ping with one.
    fn probe_all(&mut self, now: Instant, key: PublicKey) {
        let Some(paths) = self
            .peers
            .get(&PeerId::Key(key))
            .map(|c| c.paths().to_vec())
        else {
            return;
        };
        self.nonce = self.nonce.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let body = wire::encode_body(&Packet::Ping {
            nonce: self.nonce,
            hello: false,
        });
        let wall = self.wall_ns();
        if let Some(s) = self.secure.as_mut() {
            s.punch(now, wall, key, &paths, &body);
        }
        self.reach.note_sent(now, key);
    }

    /// Sends a keepalive if the path in use carried nothing for an interval, and gives a
    /// watched contact that is unreachable another punch round.
    fn check_path(&mut self, now: Instant, key: PublicKey) {
        let peer = PeerId::Key(key);
        let every = self.config.keepalive.unwrap_or(CHECK_EVERY);
        let last = self.reach.sent.get(&key).copied();
        let mut next = now + every;
        if let Some(t) = last
            && t + every > now
        {
            next = t + every;
        } else if self.config.keepalive.is_some() && self.direct(now, peer) {
            self.out.transmit(
                peer,
                wire::encode(&Packet::Pong {
                    nonce: KEEPALIVE_NONCE,
                }),
            );
        }
        let watched = self.peers.get(&peer).is_some_and(|c| c.is_watched());
        if watched && !self.reach.punches.contains_key(&key) {
            self.want(now, peer);
        }
        if let Some(at) = self.upgrade_due(now, key) {
            if at <= now {
                self.start_upgrade(now, key, true);
            } else {
                next = next.min(at);
            }
        }
        self.reach.check_at.insert(key, next);
    }

    /// When a contact on a relayed path gets its next upgrade round; `None` when it is not
    /// on one, has no other candidate, or is being punched already.
    fn upgrade_due(&self, now: Instant, key: PublicKey) -> Option<Instant> {
        let peer = PeerId::Key(key);
        let conn = self.peers.get(&peer)?;
        let relayed = conn.path().is_some_and(|p| self.reach.is_relayed(p));
        let other = conn.paths().iter().any(|&p| !self.reach.is_relayed(p));
        if !relayed || !other || self.reach.punches.contains_key(&key) || !self.direct(now, peer) {
            return None;
        }
        let every = self.config.punch.upgrade_every;
        Some(self.reach.upgraded.get(&key).map_or(now, |&t| t + every))
    }

    /// Starts an upgrade round: probes every candidate, and with `tell`, asks the contact
    /// (over the path in use, the relay) to punch back now.
    fn start_upgrade(&mut self, now: Instant, key: PublicKey, tell: bool) {
        self.reach.upgraded.insert(key, now);
        let wait = self.config.punch.first_wait;
        let mut p = Punch {
            started: now,
            next: now,
            in_round: false,
            answered: None,
            lan_answered: false,
            wait,
            upgrade: true,
        };
        start_round(&mut p, now);
        self.reach.punches.insert(key, p);
        if tell {
            self.out
                .transmit(PeerId::Key(key), wire::encode(&Packet::Punch));
        }
        self.punch_tick(now, key);
    }

    /// The contact asked to be punched now (it is starting an upgrade round of its own):
    /// punch back, unless a round is under way or one started lately.
    pub(super) fn punch_asked(&mut self, now: Instant, key: PublicKey) {
        let recent = self
            .reach
            .upgraded
            .get(&key)
            .is_some_and(|&t| now.saturating_duration_since(t) < self.config.punch.round);
        if recent || self.reach.punches.contains_key(&key) {
            return;
        }
        self.start_upgrade(now, key, false);
    }
}

fn start_round(p: &mut Punch, now: Instant) {
    p.in_round = true;
    p.started = now;
    p.next = now;
    p.answered = None;
    p.lan_answered = false;
}
