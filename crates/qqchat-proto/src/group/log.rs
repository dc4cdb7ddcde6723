//! One group as a member holds it: every message it has, the order they are shown in, who is
//! in the group, and what it can tell another member it holds.
//!
//! Messages are shown in [`Order`] (Lamport time, then author): a message always sorts after
//! everything it follows, so an answer never shows above its question, and members that hold
//! the same messages show them the same way. A message whose predecessors have not all
//! arrived waits; after a bounded wait the caller releases it with a gap before it, and the
//! gap closes when they come.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use super::GroupError;
use super::msg::{
    Body, Content, GroupId, GroupMsg, MAX_MEMBERS, MAX_PARENTS, Member, MsgRef, Order,
};
use crate::PublicKey;
use crate::secure::Keypair;

/// Messages from authors not (yet) known as members, kept in case their invitation is still
/// on its way; beyond this the oldest go (catch-up brings them again).
const MAX_ORPHANS: usize = 256;

/// What an insert changed, for the caller to show.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Inserted {
    /// Messages held for the first time: the inserted one, and any that waited for its
    /// author to be added. What to store.
    pub held: Vec<MsgRef>,
    /// Messages to show now, the inserted one or ones that waited for it.
    pub shown: Vec<MsgRef>,
    /// Messages already shown with a gap before them whose gap is now closed.
    pub completed: Vec<MsgRef>,
    /// The members, the name or the creator changed.
    pub membership: bool,
}

impl Inserted {
    pub(super) fn merge(&mut self, other: Inserted) {
        self.held.extend(other.held);
        self.shown.extend(other.shown);
        self.completed.extend(other.completed);
        self.membership |= other.membership;
    }
}

/// Who is in the group, as its membership messages say when replayed in order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Membership {
    pub name: String,
    pub creator: Option<PublicKey>,
    /// Members now, with the name they were added under.
    pub members: BTreeMap<PublicKey, String>,
    /// Everyone ever in the group (their messages are kept, shown while they were members).
    pub ever: HashMap<PublicKey, String>,
    /// When each one was in the group: from the message that added them to the one that
    /// removed them (or until now).
    spans: HashMap<PublicKey, Vec<(Order, Option<Order>)>>,
}

impl Membership {
    /// Whether `author` was a member where `at` stands in the order.
    pub fn member_at(&self, author: &PublicKey, at: &Order) -> bool {
        self.spans.get(author).is_some_and(|spans| {
            spans
                .iter()
                .any(|(from, to)| from <= at && to.is_none_or(|to| *at < to))
        })
    }

    fn join(&mut self, m: &Member, at: Order) {
        if self.members.contains_key(&m.key) {
            return;
        }
        self.members.insert(m.key, m.name.clone());
        self.ever.entry(m.key).or_insert_with(|| m.name.clone());
        self.spans.entry(m.key).or_default().push((at, None));
    }

    fn part(&mut self, key: &PublicKey, at: Order) {
        if self.members.remove(key).is_some()
            && let Some((_, end)) = self.spans.get_mut(key).and_then(|s| s.last_mut())
        {
            *end = Some(at);
        }
    }

    /// Applies one membership message, if its author may make it there.
    fn apply(&mut self, c: &Content) {
        let at = c.order();
        match &c.body {
            Body::Create { name, members, .. } if self.creator.is_none() => {
                self.creator = Some(c.author);
                self.name = name.clone();
                let creator = Member {
                    key: c.author,
                    name: members
                        .iter()
                        .find(|m| m.key == c.author)
                        .map_or_else(|| "creator".to_owned(), |m| m.name.clone()),
                };
                self.join(&creator, at);
                for m in members
                    .iter()
                    .filter(|m| m.key != c.author)
                    .take(MAX_MEMBERS - 1)
                {
                    self.join(m, at);
                }
            }
            _ if !self.members.contains_key(&c.author) => {}
            Body::Add(m) if self.members.len() < MAX_MEMBERS => self.join(m, at),
            Body::Remove(key) if Some(c.author) == self.creator && Some(*key) != self.creator => {
                self.part(key, at)
            }
            Body::Leave => self.part(&c.author, at),
            _ => {}
        }
    }
}

/// One group's messages and state, as one member holds them.
#[derive(Debug)]
pub struct Group {
    id: GroupId,
    msgs: HashMap<MsgRef, GroupMsg>,
    /// Every message held, in the order shown.
    order: BTreeSet<Order>,
    /// Per author, the count up to which every message is held: what [`Group::have`] tells.
    contiguous: HashMap<PublicKey, u64>,
    /// Per author, the counts held beyond that.
    beyond: HashMap<PublicKey, BTreeSet<u64>>,
    /// Messages held along with everything before them.
    complete: HashSet<MsgRef>,
    /// Messages held without all their predecessors, and since when (`None`: loaded, so
    /// shown at once).
    incomplete: HashMap<MsgRef, Option<Instant>>,
    /// Incomplete messages shown anyway, after the wait, with a gap before them.
    released: HashSet<MsgRef>,
    /// For each message not complete (held or not), those waiting for it.
    waiting: HashMap<MsgRef, Vec<MsgRef>>,
    /// Messages no held message follows: what the next message names as parents.
    heads: BTreeSet<MsgRef>,
    followed: HashSet<MsgRef>,
    membership: Membership,
    orphans: Vec<GroupMsg>,
}

impl Group {
    /// A group known by its id only, before any message of it (an invitation, a load).
    pub fn new(id: GroupId) -> Group {
        Group {
            id,
            msgs: HashMap::new(),
            order: BTreeSet::new(),
            contiguous: HashMap::new(),
            beyond: HashMap::new(),
            complete: HashSet::new(),
            incomplete: HashMap::new(),
            released: HashSet::new(),
            waiting: HashMap::new(),
            heads: BTreeSet::new(),
            followed: HashSet::new(),
            membership: Membership::default(),
            orphans: Vec::new(),
        }
    }

    /// Starts a group named `name` with `keys`' owner as creator and `members` (who are told
    /// with the returned message). `salt` makes the id; give it fresh random bytes.
    pub fn create(
        keys: &Keypair,
        name: &str,
        salt: [u8; 16],
        members: Vec<Member>,
        sent_at_ms: i64,
        rng: impl rand::CryptoRng,
    ) -> Result<(Group, GroupMsg), GroupError> {
        // The creator may name itself among them (to give its own name).
        if members.iter().filter(|m| m.key != keys.public).count() + 1 > MAX_MEMBERS {
            return Err(GroupError::TooManyMembers);
        }
        let id = GroupId::derive(&keys.public, &salt);
        let content = Content {
            group: id,
            author: keys.public,
            seq: 1,
            lamport: 1,
            parents: Vec::new(),
            sent_at_ms,
            body: Body::Create {
                name: name.to_owned(),
                salt,
                members,
            },
        };
        let msg = GroupMsg::sign(keys, content, rng);
        // Its own encoding must read back: the bounds are the same for everyone.
        let msg = GroupMsg::decode(msg.bytes())?;
        let mut group = Group::new(id);
        group.insert(msg.clone(), None)?;
        Ok((group, msg))
    }

    pub fn id(&self) -> GroupId {
        self.id
    }

    pub fn membership(&self) -> &Membership {
        &self.membership
    }

    pub fn name(&self) -> &str {
        &self.membership.name
    }

    pub fn is_member(&self, key: &PublicKey) -> bool {
        self.membership.members.contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.msgs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.msgs.is_empty()
    }

    pub fn get(&self, id: &MsgRef) -> Option<&GroupMsg> {
        self.msgs.get(id)
    }

    /// Whether the message is shown: held with everything before it, or released.
    pub fn is_shown(&self, id: &MsgRef) -> bool {
        self.complete.contains(id) || self.released.contains(id)
    }

    /// Whether a shown message has a gap before it: something it follows is missing.
    pub fn gap_before(&self, id: &MsgRef) -> bool {
        self.released.contains(id)
    }

    /// Whether the message is shown as written: its author was a member where it stands.
    /// Messages by someone already removed stay held (the set is the same everywhere) but
    /// are not shown.
    pub fn is_visible(&self, msg: &GroupMsg) -> bool {
        msg.content.body.is_membership()
            || self.membership.member_at(&msg.content.author, &msg.order())
    }

    /// The shown messages, in order.
    pub fn shown(&self) -> impl Iterator<Item = &GroupMsg> + '_ {
        self.order
            .iter()
            .map(|o| o.id())
            .filter(|id| self.is_shown(id))
            .filter_map(|id| self.msgs.get(&id))
    }

    /// Every message held, in order (what is stored and forwarded).
    pub fn all(&self) -> impl Iterator<Item = &GroupMsg> + '_ {
        self.order.iter().filter_map(|o| self.msgs.get(&o.id()))
    }

    /// Adds a message from the network or the store. `now` starts its wait when something it
    /// follows is missing; `None` (loading) shows it at once, with a gap.
    pub fn insert(&mut self, msg: GroupMsg, now: Option<Instant>) -> Result<Inserted, GroupError> {
        let c = &msg.content;
        if c.group != self.id {
            return Err(GroupError::WrongGroup);
        }
        let id = c.id();
        if let Some(held) = self.msgs.get(&id) {
            return if held.bytes() == msg.bytes() || held.content == msg.content {
                Err(GroupError::Duplicate)
            } else {
                Err(GroupError::Conflict)
            };
        }
        let creates = matches!(c.body, Body::Create { .. });
        if creates && self.membership.creator.is_some() {
            return Err(GroupError::Conflict);
        }
        if !creates && !self.membership.ever.contains_key(&c.author) {
            // Perhaps the message that adds the author has not arrived yet.
            if self.orphans.len() >= MAX_ORPHANS {
                self.orphans.remove(0);
            }
            self.orphans.push(msg);
            return Err(GroupError::NotMember);
        }
        for p in c.follows() {
            if let Some(parent) = self.msgs.get(&p)
                && parent.content.lamport >= c.lamport
            {
                return Err(GroupError::Malformed("placed before what it follows"));
            }
        }
        let membership = c.body.is_membership();
        let mut out = self.hold(msg, now);
        if membership {
            self.replay(&mut out);
            out.membership = true;
            // Authors just added may have sent messages that waited for it.
            let orphans = std::mem::take(&mut self.orphans);
            for o in orphans {
                if let Ok(more) = self.insert(o, now) {
                    out.merge(more);
                }
            }
        }
        Ok(out)
    }

    fn hold(&mut self, msg: GroupMsg, now: Option<Instant>) -> Inserted {
        let id = msg.id();
        let follows: Vec<MsgRef> = msg.content.follows().collect();
        self.order.insert(msg.order());
        self.msgs.insert(id, msg);
        self.count(id);
        for p in &follows {
            self.followed.insert(*p);
            self.heads.remove(p);
        }
        if !self.followed.contains(&id) {
            self.heads.insert(id);
        }
        let pending: Vec<MsgRef> = follows
            .into_iter()
            .filter(|p| !self.complete.contains(p))
            .collect();
        // Waits under everything not complete, given up on or not: one given up on may
        // still come, and be incomplete itself, and then this must hear when it completes.
        let waits = pending.iter().any(|p| !self.given_up(p));
        for p in pending {
            self.waiting.entry(p).or_default().push(id);
        }
        let mut out = Inserted {
            held: vec![id],
            ..Inserted::default()
        };
        if !waits {
            self.completed(id, &mut out);
        } else {
            self.incomplete.insert(id, now);
            if now.is_none() {
                self.released.insert(id);
                out.shown.push(id);
            }
        }
        out
    }

    /// Marks `id` complete, and everything that waited only for it, in turn.
    fn completed(&mut self, id: MsgRef, out: &mut Inserted) {
        let mut stack = vec![id];
        while let Some(id) = stack.pop() {
            self.complete.insert(id);
            self.incomplete.remove(&id);
            if self.released.remove(&id) {
                out.completed.push(id);
            } else {
                out.shown.push(id);
            }
            for child in self.waiting.remove(&id).unwrap_or_default() {
                if self.ready(&child) {
                    stack.push(child);
                }
            }
        }
    }

    fn count(&mut self, id: MsgRef) {
        let upto = self.contiguous.entry(id.author).or_insert(0);
        if id.seq == *upto + 1 {
            *upto += 1;
            let beyond = self.beyond.entry(id.author).or_default();
            while beyond.remove(&(*upto + 1)) {
                *upto += 1;
            }
        } else if id.seq > *upto {
            self.beyond.entry(id.author).or_default().insert(id.seq);
        }
    }

    fn replay(&mut self, out: &mut Inserted) {
        let mut m = Membership::default();
        for o in &self.order {
            if let Some(msg) = self.msgs.get(&o.id())
                && msg.content.body.is_membership()
            {
                m.apply(&msg.content);
            }
        }
        // Whoever any held message names is taken as an author, valid there or not, so
        // what members hold never depends on the order they learnt of it; whether their
        // messages are shown does.
        for msg in self.msgs.values() {
            let c = &msg.content;
            let named: Vec<&Member> = match &c.body {
                Body::Create { members, .. } => members.iter().collect(),
                Body::Add(member) => vec![member],
                _ => continue,
            };
            if matches!(c.body, Body::Create { .. }) {
                m.ever
                    .entry(c.author)
                    .or_insert_with(|| "creator".to_owned());
            }
            for member in named {
                m.ever
                    .entry(member.key)
                    .or_insert_with(|| member.name.clone());
            }
        }
        self.membership = m;
        // A missing message by someone no longer in the group may never come (nobody else
        // may hold it, and they are refused catch-up): what follows it stops waiting.
        let gone: Vec<MsgRef> = self
            .waiting
            .keys()
            .filter(|p| self.given_up(p))
            .copied()
            .collect();
        for p in gone {
            for child in self.waiting.get(&p).cloned().unwrap_or_default() {
                if self.ready(&child) {
                    self.completed(child, out);
                }
            }
        }
    }

    /// Whether a missing message is no longer waited for: its author is no longer a member.
    fn given_up(&self, id: &MsgRef) -> bool {
        !self.msgs.contains_key(id)
            && self.membership.ever.contains_key(&id.author)
            && !self.membership.members.contains_key(&id.author)
    }

    /// Whether a held message has everything it follows (or given up on), and is not yet
    /// complete.
    fn ready(&self, id: &MsgRef) -> bool {
        !self.complete.contains(id)
            && self.msgs.get(id).is_some_and(|m| {
                m.content
                    .follows()
                    .all(|p| self.complete.contains(&p) || self.given_up(&p))
            })
    }

    /// Messages that waited `wait` since `now` for what they follow: shown from now on,
    /// with a gap before them.
    pub fn release(&mut self, now: Instant, wait: Duration) -> Vec<MsgRef> {
        let due: Vec<MsgRef> = self
            .incomplete
            .iter()
            .filter(|(id, since)| {
                !self.released.contains(id) && since.is_some_and(|s| now >= s + wait)
            })
            .map(|(id, _)| *id)
            .collect();
        self.released.extend(due.iter().copied());
        due
    }

    /// When the next waiting message is due for release, if any waits.
    pub fn next_release(&self, wait: Duration) -> Option<Instant> {
        self.incomplete
            .iter()
            .filter(|(id, _)| !self.released.contains(id))
            .filter_map(|(_, since)| since.map(|s| s + wait))
            .min()
    }

    /// Messages something held follows that are not held: what to ask other members for.
    pub fn missing(&self) -> usize {
        self.waiting
            .keys()
            .filter(|id| !self.msgs.contains_key(id))
            .count()
    }

    /// Writes a message by `keys`' owner, after everything held, and holds it.
    pub fn compose(
        &mut self,
        keys: &Keypair,
        body: Body,
        sent_at_ms: i64,
        rng: impl rand::CryptoRng,
    ) -> Result<GroupMsg, GroupError> {
        let me = keys.public;
        if !self.is_member(&me) {
            return Err(GroupError::NotMember);
        }
        if let Body::Add(m) = &body
            && self.membership.members.len() >= MAX_MEMBERS
            && !self.is_member(&m.key)
        {
            return Err(GroupError::TooManyMembers);
        }
        let seq = self.last_seq(&me) + 1;
        let mut heads: Vec<&GroupMsg> =
            self.heads.iter().filter_map(|h| self.msgs.get(h)).collect();
        heads.sort_by_key(|m| std::cmp::Reverse(m.order()));
        heads.truncate(MAX_PARENTS);
        let own = (seq > 1)
            .then(|| {
                self.msgs.get(&MsgRef {
                    author: me,
                    seq: seq - 1,
                })
            })
            .flatten();
        let lamport = 1 + heads
            .iter()
            .chain(own.iter())
            .map(|m| m.content.lamport)
            .max()
            .unwrap_or(0);
        let parents = heads
            .iter()
            .map(|m| m.id())
            .filter(|p| p.author != me)
            .collect();
        let content = Content {
            group: self.id,
            author: me,
            seq,
            lamport,
            parents,
            sent_at_ms,
            body,
        };
        let msg = GroupMsg::decode(GroupMsg::sign(keys, content, rng).bytes())?;
        self.insert(msg.clone(), None)?;
        Ok(msg)
    }

    /// The highest count held of `author`'s messages.
    pub fn last_seq(&self, author: &PublicKey) -> u64 {
        let upto = self.contiguous.get(author).copied().unwrap_or(0);
        self.beyond
            .get(author)
            .and_then(|b| b.last().copied())
            .map_or(upto, |b| b.max(upto))
    }

    /// What this member holds, per author: every message up to this count.
    pub fn have(&self) -> Vec<(PublicKey, u64)> {
        let mut have: Vec<_> = self
            .contiguous
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| (*k, *n))
            .collect();
        have.sort();
        have
    }

    /// Whether someone who holds `theirs` has a message this member lacks.
    pub fn lacks_some_of(&self, theirs: &[(PublicKey, u64)]) -> bool {
        theirs.iter().any(|(author, n)| {
            let upto = self.contiguous.get(author).copied().unwrap_or(0);
            *n > upto
                && (upto + 1..=*n).any(|s| !self.beyond.get(author).is_some_and(|b| b.contains(&s)))
        })
    }

    /// The messages someone who holds `theirs` lacks, in order (so each arrives after what
    /// it follows), at most `max` of them and about `max_bytes`; and whether more remain.
    pub fn page(
        &self,
        theirs: &[(PublicKey, u64)],
        max: usize,
        max_bytes: usize,
    ) -> (Vec<GroupMsg>, bool) {
        let theirs: HashMap<PublicKey, u64> = theirs.iter().copied().collect();
        let mut page = Vec::new();
        let mut bytes = 0;
        for o in &self.order {
            if o.seq <= theirs.get(&o.author).copied().unwrap_or(0) {
                continue;
            }
            let Some(msg) = self.msgs.get(&o.id()) else {
                continue;
            };
            if page.len() >= max || (!page.is_empty() && bytes + msg.bytes().len() > max_bytes) {
                return (page, true);
            }
            bytes += msg.bytes().len();
            page.push(msg.clone());
        }
        (page, false)
    }

    /// The membership messages, in order: what an invitation carries so the invitee can
    /// check who is in the group and that whoever invited them was.
    pub fn membership_messages(&self) -> Vec<GroupMsg> {
        self.all()
            .filter(|m| m.content.body.is_membership())
            .cloned()
            .collect()
    }

    /// Members' keys, the name each was added under, with whether they are in the group now.
    pub fn members(&self) -> Vec<Member> {
        self.membership
            .members
            .iter()
            .map(|(key, name)| Member {
                key: *key,
                name: name.clone(),
            })
            .collect()
    }
}
