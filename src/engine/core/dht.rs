//! `[me] dht = true`: this node's candidates published on the Mainline DHT whenever they
//! change, and a keyed contact that answers on none of its candidates looked up there, less
//! and less often while lookups find nothing new. The DHT client itself runs beside the
//! engine (see [`crate::dht`]); the core only says what to ask of it and takes its answers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{EngineCore, Now, speaks_qqchat};
use crate::dht::{DhtCommand, DhtEvent, next_seq};
use crate::engine::api::EngineEvent;
use crate::identity;
use crate::proto::dht::{Candidate, CandidateKind, MAX_CANDIDATES, Record};
use crate::proto::{PeerId, PublicKey, canonical, is_lan};

/// The wait after a contact's first lookup; it doubles after each one up to [`LOOKUP_MAX`].
pub const LOOKUP_FIRST: Duration = Duration::from_secs(60);
/// The longest wait between lookups of a contact that stays unreachable.
pub const LOOKUP_MAX: Duration = Duration::from_secs(60 * 60);

/// When a contact is looked up next, and how long the wait after that is.
#[derive(Debug, Clone, Copy)]
struct Backoff {
    due: Instant,
    wait: Duration,
}

/// What the core keeps of the DHT.
#[derive(Debug, Default)]
pub(super) struct DhtState {
    /// `[me] dht` and a DHT client running.
    on: bool,
    /// The candidates last published, to publish again only when they change.
    published: Option<Vec<Candidate>>,
    /// The sequence number last published.
    seq: Option<i64>,
    /// Unreachable contacts: when each is looked up next.
    lookups: HashMap<PublicKey, Backoff>,
    /// What the driver hands the DHT client after this step.
    commands: Vec<DhtCommand>,
    /// The last publish failed: said once, not at every hourly retry, until one works.
    failing: bool,
}

impl DhtState {
    pub(super) fn new(on: bool) -> DhtState {
        DhtState {
            on,
            ..DhtState::default()
        }
    }
}

impl EngineCore {
    /// Publishes `own` if it differs from what was published last.
    pub(super) fn dht_publish(&mut self, now: Now, own: &[SocketAddr]) {
        if !self.dht.on || own.is_empty() {
            return;
        }
        let relayed = self.relay.report().and_then(|r| r.relayed());
        let candidates: Vec<Candidate> = own
            .iter()
            .take(MAX_CANDIDATES)
            .map(|&addr| Candidate {
                addr,
                kind: if Some(addr) == relayed {
                    CandidateKind::Relay
                } else if is_lan(addr) {
                    CandidateKind::Lan
                } else {
                    CandidateKind::Public
                },
            })
            .collect();
        if self.dht.published.as_ref() == Some(&candidates) {
            return;
        }
        let seq = next_seq(self.dht.seq, now.wall.as_second());
        self.dht.seq = Some(seq);
        self.dht.published = Some(candidates.clone());
        self.dht
            .commands
            .push(DhtCommand::Publish(Record { seq, candidates }));
    }

    /// Looks up each keyed contact that answers on none of its candidates, when its wait is
    /// over; a contact that answers again starts from the shortest wait next time.
    fn dht_check(&mut self, now: Now) {
        if !self.dht.on {
            return;
        }
        let mut unreachable = Vec::new();
        for c in self
            .contacts
            .iter()
            .filter(|c| speaks_qqchat(c) && !c.plain)
        {
            let Some(key) = c.key else { continue };
            let lost = self
                .node
                .link(PeerId::Key(key))
                .is_some_and(|link| link.online == Some(false) && !link.reachable);
            if lost {
                unreachable.push(key);
            }
        }
        self.dht.lookups.retain(|key, _| unreachable.contains(key));
        for key in unreachable {
            let backoff = self.dht.lookups.entry(key).or_insert(Backoff {
                due: now.mono,
                wait: LOOKUP_FIRST,
            });
            if now.mono >= backoff.due {
                backoff.due = now.mono + backoff.wait;
                backoff.wait = (backoff.wait * 2).min(LOOKUP_MAX);
                self.dht.commands.push(DhtCommand::Lookup(key));
            }
        }
    }

    /// Gives the protocol a keyed contact's candidates from the DHT, to punch at once.
    fn try_found(&mut self, now: Now, key: PublicKey, record: &Record) {
        let peer = PeerId::Key(key);
        if !self.contacts.iter().any(|c| c.key == Some(key)) {
            return;
        }
        for candidate in &record.candidates {
            let addr = canonical(candidate.addr);
            if identity::unusable(addr).is_none() {
                self.node.add_peer(now.mono, peer, addr);
            }
        }
        self.relay_peers(now);
    }

    /// When the next lookup is due.
    pub(super) fn dht_deadline(&self) -> Option<Instant> {
        self.dht.lookups.values().map(|b| b.due).min()
    }

    /// What the DHT client answered. A contact's newer record is tried at once, and kept
    /// only once it works: the contact, reached, tells its candidates inside the session,
    /// and those are what the contacts file gets (a record someone replayed, or an address
    /// since given up, never replaces the addresses written there).
    pub fn handle_dht(&mut self, now: Now, event: DhtEvent) {
        self.ui.push(EngineEvent::Dht(event.clone()));
        match event {
            DhtEvent::Found { key, record } => self.try_found(now, key, &record),
            DhtEvent::Bootstrapped(false) => self.ui.push(EngineEvent::Error(
                "DHT: no bootstrap node answered, so friends cannot be found by key; check \
                 [me] dht_bootstrap"
                    .to_owned(),
            )),
            DhtEvent::PublishFailed { reason, .. } => {
                if !std::mem::replace(&mut self.dht.failing, true) {
                    self.ui.push(EngineEvent::Error(format!(
                        "DHT: your addresses could not be published: {reason}"
                    )));
                }
            }
            DhtEvent::Published { .. } => self.dht.failing = false,
            DhtEvent::Trouble(why) => self.ui.push(EngineEvent::Error(format!("DHT: {why}"))),
            DhtEvent::Bootstrapped(true) | DhtEvent::NotFound { .. } => {}
        }
    }

    /// What to ask of the DHT client, taken once per step.
    pub(super) fn dht_commands(&mut self, now: Now) -> Vec<DhtCommand> {
        self.dht_check(now);
        std::mem::take(&mut self.dht.commands)
    }
}
