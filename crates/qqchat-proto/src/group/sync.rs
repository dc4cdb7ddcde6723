//! What a member sends, and answers, to keep every member's copy of a group the same: new
//! messages to the members it reaches, forwarded on to those the author could not reach, and
//! catch-up a page at a time. Bounded: pages are asked for one after another, at most
//! [`PAGES_PER_MINUTE`] are served to one member, and each author's new messages are limited
//! like a stranger's datagrams.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use super::GroupError;
use super::log::{Group, Inserted};
use super::msg::{Body, GroupMsg};
use super::wire::{Envelope, PAGE_BYTES, PAGE_MESSAGES, encode_all, short};
use crate::PublicKey;
use crate::secure::Keypair;

/// How long a message waits for what it follows before it is shown with a gap before it.
pub const GAP_WAIT: Duration = Duration::from_secs(5);
/// Catch-up pages served to one member in a minute; beyond, its asks wait for the next
/// hello.
pub const PAGES_PER_MINUTE: usize = 600;
/// New messages taken from one author in a burst, and then per second.
pub const AUTHOR_BURST: usize = 1000;
pub const AUTHOR_RATE: usize = 50;
/// How long a page answers the `Have` it was served for: the same `Have` again from the same
/// member within this is a second ask for a page already on its way, not served twice.
/// Shorter than the time the transport takes to give up on a message, so an ask after a
/// page was lost is always served.
pub const PAGE_ANSWERS: Duration = Duration::from_secs(10);

/// An envelope for one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub to: PublicKey,
    pub envelope: Envelope,
}

/// What an envelope did.
#[derive(Debug, Default)]
pub struct Received {
    /// What to show.
    pub inserted: Inserted,
    /// Messages held for the first time, to store before anything is acked.
    pub new: Vec<GroupMsg>,
    /// What to send in answer.
    pub send: Vec<Outgoing>,
    /// Messages dropped because their author sent too many.
    pub limited: usize,
    /// Messages refused: a signature that does not match, or not a group message at all.
    pub rejected: usize,
}

/// The exchange state kept per group beside its messages: rates, not contents, so it is
/// never stored.
#[derive(Debug, Default)]
pub struct Sync {
    /// Pages served per member in the last minute.
    served: HashMap<PublicKey, VecDeque<Instant>>,
    /// Each author's allowance of new messages: tokens and when they were counted.
    allowance: HashMap<PublicKey, (f64, Instant)>,
    /// Pages asked of each member and not yet received: a page asked for is taken whole,
    /// one that was not is limited per author like new messages.
    asked: HashMap<PublicKey, u32>,
    /// Per member, the last `Have` answered with a page, and when. Two members who meet
    /// both say what they hold at once, so the one behind asks twice for the same page;
    /// serving both would make two chains of pages, each page sent twice.
    answered: HashMap<PublicKey, (Vec<(PublicKey, u64)>, Instant)>,
}

/// Asks of one member counted at most: a member that never answers cannot make this grow.
const MAX_ASKED: u32 = 8;

impl Sync {
    /// This member asks `to` for what it lacks (a [`Envelope::Have`] is on its way to it).
    pub fn asked(&mut self, to: PublicKey) {
        let n = self.asked.entry(to).or_default();
        *n = (*n + 1).min(MAX_ASKED);
    }

    /// Whether a page from `from` answers an ask, which it then uses up.
    fn answers(&mut self, from: &PublicKey) -> bool {
        match self.asked.get_mut(from) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    /// Whether `have` from `from` was answered with a page a moment ago.
    fn answered_already(&self, from: &PublicKey, have: &[(PublicKey, u64)], now: Instant) -> bool {
        self.answered
            .get(from)
            .is_some_and(|(h, at)| h == have && now.duration_since(*at) < PAGE_ANSWERS)
    }

    fn take_page(&mut self, to: PublicKey, now: Instant) -> bool {
        let served = self.served.entry(to).or_default();
        while served
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
        {
            served.pop_front();
        }
        if served.len() >= PAGES_PER_MINUTE {
            return false;
        }
        served.push_back(now);
        true
    }

    fn allow(&mut self, author: PublicKey, now: Instant) -> bool {
        let (tokens, at) = self
            .allowance
            .entry(author)
            .or_insert((AUTHOR_BURST as f64, now));
        let refill = now.duration_since(*at).as_secs_f64() * AUTHOR_RATE as f64;
        *tokens = (*tokens + refill).min(AUTHOR_BURST as f64);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl Group {
    /// Members other than `me` that `direct` says this member reaches itself.
    fn reachable<'a>(
        &'a self,
        me: &'a PublicKey,
        direct: &'a dyn Fn(&PublicKey) -> bool,
    ) -> impl Iterator<Item = PublicKey> + 'a {
        self.membership()
            .members
            .keys()
            .filter(move |k| *k != me && direct(k))
            .copied()
    }

    /// Writes a message by `keys`' owner and says where it goes: to every member `direct`
    /// reaches.
    pub fn post(
        &mut self,
        keys: &Keypair,
        body: Body,
        sent_at_ms: i64,
        rng: impl rand::CryptoRng,
        direct: &dyn Fn(&PublicKey) -> bool,
    ) -> Result<(GroupMsg, Vec<Outgoing>), GroupError> {
        // Whoever a change takes out is still told of it.
        let before: HashSet<PublicKey> = self.reachable(&keys.public, direct).collect();
        let msg = self.compose(keys, body, sent_at_ms, rng)?;
        let mut to: Vec<PublicKey> = self.reachable(&keys.public, direct).collect();
        to.extend(before.into_iter().filter(|k| !self.is_member(k)));
        let reached: Vec<[u8; 4]> = to.iter().map(short).collect();
        let send = to
            .into_iter()
            .map(|to| Outgoing {
                to,
                envelope: Envelope::Live {
                    group: self.id(),
                    msgs: encode_all([&msg]),
                    reached: reached.clone(),
                },
            })
            .collect();
        Ok((msg, send))
    }

    /// What this member holds, to tell `to` (when it comes online, and now and then); the
    /// page that answers it is taken whole.
    pub fn hello(&self, sync: &mut Sync, to: PublicKey) -> Outgoing {
        sync.asked(to);
        Outgoing {
            to,
            envelope: Envelope::Have {
                group: self.id(),
                have: self.have(),
                answer: false,
            },
        }
    }

    /// The invitation for `to`, just added: the membership messages, the last adding them.
    pub fn invitation(&self, to: PublicKey) -> Outgoing {
        Outgoing {
            to,
            envelope: Envelope::Invite {
                group: self.id(),
                msgs: encode_all(&self.membership_messages()),
            },
        }
    }

    /// Takes an envelope `from` a member, as `me`. An envelope from anyone who is not a
    /// member now is refused: a removed member gets nothing, not even catch-up.
    pub fn receive(
        &mut self,
        sync: &mut Sync,
        me: &PublicKey,
        from: PublicKey,
        envelope: Envelope,
        now: Instant,
        direct: &dyn Fn(&PublicKey) -> bool,
    ) -> Result<Received, GroupError> {
        if envelope.group() != self.id() {
            return Err(GroupError::WrongGroup);
        }
        // An invitation may come from someone this member does not know as a member yet
        // (that is what it shows); anything else, and an invitation to a member, from a
        // member only.
        let invite = matches!(envelope, Envelope::Invite { .. }) && !self.is_member(me);
        if !self.is_member(&from) && !invite {
            return Err(GroupError::NotMember);
        }
        let mut out = Received::default();
        match envelope {
            Envelope::Live { msgs, reached, .. } => {
                let missing_before = self.missing();
                for bytes in msgs {
                    // One forged or broken message costs only itself: what came with it is
                    // taken (and so reported, to be stored) all the same.
                    let Ok(msg) = GroupMsg::decode(&bytes) else {
                        out.rejected += 1;
                        continue;
                    };
                    // A copy already held costs its author nothing.
                    if self.get(&msg.id()).is_none() && !sync.allow(msg.content.author, now) {
                        out.limited += 1;
                        continue;
                    }
                    let author = msg.content.author;
                    if self.take(msg.clone(), now, &mut out) && author == from {
                        // From its author: on to the members the author did not reach.
                        let skip: HashSet<[u8; 4]> = reached.iter().copied().collect();
                        for to in self.reachable(me, direct) {
                            if to != from && !skip.contains(&short(&to)) {
                                out.send.push(Outgoing {
                                    to,
                                    envelope: Envelope::Live {
                                        group: self.id(),
                                        msgs: encode_all([&msg]),
                                        reached: reached.clone(),
                                    },
                                });
                            }
                        }
                    }
                }
                if self.missing() > missing_before {
                    // Something it follows never came here: ask whoever sent it.
                    out.send.push(self.ask(from, true));
                }
            }
            Envelope::Page { msgs, more, .. } => {
                let asked = sync.answers(&from);
                for bytes in msgs {
                    let Ok(msg) = GroupMsg::decode(&bytes) else {
                        out.rejected += 1;
                        continue;
                    };
                    if !asked
                        && self.get(&msg.id()).is_none()
                        && !sync.allow(msg.content.author, now)
                    {
                        out.limited += 1;
                        continue;
                    }
                    self.take(msg, now, &mut out);
                }
                if more {
                    out.send.push(self.ask(from, true));
                }
            }
            Envelope::Have { have, answer, .. } => {
                let (page, more) = self.page(&have, PAGE_MESSAGES, PAGE_BYTES);
                if !page.is_empty()
                    && !sync.answered_already(&from, &have, now)
                    && sync.take_page(from, now)
                {
                    sync.answered.insert(from, (have.clone(), now));
                    out.send.push(Outgoing {
                        to: from,
                        envelope: Envelope::Page {
                            group: self.id(),
                            msgs: encode_all(&page),
                            more,
                        },
                    });
                }
                if !answer && self.lacks_some_of(&have) {
                    out.send.push(self.ask(from, true));
                }
            }
            Envelope::Invite { msgs, .. } => {
                // Membership only: an invitation is no way around the limits on text.
                for bytes in msgs {
                    let Ok(msg) = GroupMsg::decode(&bytes) else {
                        out.rejected += 1;
                        continue;
                    };
                    if msg.content.body.is_membership() {
                        self.take(msg, now, &mut out);
                    }
                }
            }
        }
        for o in &out.send {
            if matches!(o.envelope, Envelope::Have { .. }) {
                sync.asked(o.to);
            }
        }
        Ok(out)
    }

    fn ask(&self, to: PublicKey, answer: bool) -> Outgoing {
        Outgoing {
            to,
            envelope: Envelope::Have {
                group: self.id(),
                have: self.have(),
                answer,
            },
        }
    }

    /// Holds one message; whether it was new.
    fn take(&mut self, msg: GroupMsg, now: Instant, out: &mut Received) -> bool {
        match self.insert(msg, Some(now)) {
            Ok(inserted) => {
                out.new
                    .extend(inserted.held.iter().filter_map(|id| self.get(id)).cloned());
                out.inserted.merge(inserted);
                true
            }
            Err(_) => false,
        }
    }
}
