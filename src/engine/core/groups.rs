//! Groups in the engine: each group's copy and this member's standing in it, envelopes from
//! and to members over the pairwise sessions, acks per member, and catch-up when a member
//! comes online. The group protocol itself (order, membership, pages) is
//! [`crate::proto::group`]; this is where it meets contacts, the store and the front end.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use super::{EngineCore, Now, StoreOp};
use crate::engine::api::{Command, EngineEvent};
use crate::engine::group_view::{GroupItem, GroupSnapshot, GroupView};
use crate::proto::group::{
    Body, Envelope, GAP_WAIT, Group, GroupId, GroupMsg, Member, MsgRef, Outgoing, Sync,
};
use crate::proto::{PeerId, PublicKey};
use crate::store::{GroupRecord, GroupStatus, StoredGroup};

/// One group as this member holds it.
pub(super) struct Held {
    group: Group,
    sync: Sync,
    status: GroupStatus,
    /// This member's messages, by count, and the members known to have each.
    acks: BTreeMap<u64, BTreeSet<PublicKey>>,
    inviter: Option<PublicKey>,
    /// Members heard from about this group in this run: they hold it. Anyone else is sent
    /// the invitation again when it comes online, in case the first never arrived.
    heard: BTreeSet<PublicKey>,
}

/// An envelope handed to the protocol, until its receipt or failure.
pub(super) struct Sending {
    group: GroupId,
    to: PublicKey,
    /// This member's own messages in it, acked by `to` with the envelope.
    own: Vec<u64>,
}

/// Every group, and the envelopes on their way.
#[derive(Default)]
pub(super) struct Groups {
    held: HashMap<GroupId, Held>,
    sending: HashMap<u64, Sending>,
    /// When members online are next told what this member holds, in case something sent
    /// to them was lost while neither side went offline.
    next_sweep: Option<Instant>,
    /// Members whose messages were dropped for coming too fast, and when to ask them again
    /// for what this member lacks: the drop delays messages, it never loses them.
    ask_again: HashMap<(GroupId, PublicKey), Instant>,
}

/// How long after messages were dropped for coming too fast the sender is asked for them
/// (one page, taken whole, per wait: a flood is slowed to that).
const ASK_AGAIN_AFTER: std::time::Duration = std::time::Duration::from_secs(30);

/// How often members online compare what they hold, besides when they come online.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(300);

impl EngineCore {
    fn me(&self) -> Option<&crate::proto::secure::Keypair> {
        self.node.config().identity.as_ref()
    }

    /// Whether this member reaches `key` itself: a keyed contact that speaks qqchat.
    fn direct(&self, key: &PublicKey) -> bool {
        self.contacts
            .iter()
            .any(|c| c.key.as_ref() == Some(key) && !c.plain && !c.ipmsg)
    }

    /// [`EngineCore::direct`] as a test of its own, for the protocol while a group is
    /// borrowed mutably.
    fn direct_keys(&self) -> impl Fn(&PublicKey) -> bool + use<> {
        let keys: std::collections::HashSet<PublicKey> = self
            .contacts
            .iter()
            .filter(|c| !c.plain && !c.ipmsg)
            .filter_map(|c| c.key)
            .collect();
        move |k: &PublicKey| keys.contains(k)
    }

    /// Takes the groups read from disk; messages are checked again like any from the
    /// network. The front end gets them all at once ([`EngineEvent::Groups`]).
    pub fn load_groups(&mut self, stored: Vec<StoredGroup>) {
        let Some(me) = self.me().map(|k| k.public) else {
            return;
        };
        let mut snapshots = Vec::new();
        for s in stored {
            let mut group = Group::new(s.id);
            for (bytes, _) in &s.msgs {
                if let Ok(msg) = GroupMsg::decode(bytes) {
                    let _ = group.insert(msg, None);
                }
            }
            if group.is_empty() {
                continue;
            }
            let held = Held {
                group,
                sync: Sync::default(),
                status: s.status,
                acks: s.acks,
                inviter: None,
                heard: BTreeSet::new(),
            };
            snapshots.push(snapshot(&held, me));
            self.groups.held.insert(s.id, held);
        }
        self.ui.push(EngineEvent::Groups(snapshots));
    }

    pub(super) fn group_command(&mut self, now: Now, cmd: Command) {
        let result = match cmd {
            Command::GroupCreate { id, name, members } => {
                self.group_create(now, id, &name, &members)
            }
            Command::GroupSend { group, text, id } => self.group_send(now, group, text, id),
            Command::GroupAdd { group, member } => self.group_add(now, group, member),
            Command::GroupRemove { group, member } => self
                .group_post(now, group, Body::Remove(member))
                .map(|_| ()),
            Command::GroupLeave { group } => self.group_leave(now, group, GroupStatus::Left),
            Command::GroupAnswer { group, accept } => self.group_answer(now, group, accept),
            _ => Ok(()),
        };
        if let Err((group, reason)) = result {
            self.ui.push(EngineEvent::GroupRefused { group, reason });
        }
    }

    fn group_create(
        &mut self,
        now: Now,
        id: u64,
        name: &str,
        members: &[PeerId],
    ) -> Result<(), (Option<GroupId>, String)> {
        let keys = self.me().cloned().ok_or((None, NO_KEY.to_owned()))?;
        let mut list = Vec::new();
        for peer in members {
            let member = self.member_of(*peer).map_err(|e| (None, e))?;
            if member.key != keys.public && !list.iter().any(|m: &Member| m.key == member.key) {
                list.push(member);
            }
        }
        // The creator names itself, for members who do not have it as a contact.
        list.insert(
            0,
            Member {
                key: keys.public,
                name: crate::proto::group::clip_name(&self.name),
            },
        );
        let salt: [u8; 16] = rand::random();
        let (group, msg) = Group::create(
            &keys,
            name,
            salt,
            list,
            now.wall.as_millisecond(),
            rand::rng(),
        )
        .map_err(|e| (None, e.to_string()))?;
        let gid = group.id();
        let held = Held {
            group,
            sync: Sync::default(),
            status: GroupStatus::Joined,
            acks: BTreeMap::new(),
            inviter: None,
            heard: BTreeSet::new(),
        };
        self.groups.held.insert(gid, held);
        self.store_group(gid, GroupRecord::msg(msg.bytes(), now.wall));
        self.store_group(gid, status_record(GroupStatus::Joined, now));
        let invites: Vec<Outgoing> = {
            let held = &self.groups.held[&gid];
            held.group
                .members()
                .iter()
                .filter(|m| m.key != keys.public && self.direct(&m.key))
                .map(|m| held.group.invitation(m.key))
                .collect()
        };
        for o in invites {
            self.group_transmit(now, o, vec![1]);
        }
        self.group_changed(gid);
        self.group_show(gid, &[msg.id()]);
        self.ui.push(EngineEvent::GroupCreated { id, group: gid });
        Ok(())
    }

    /// A contact as a member: its key, under its name here.
    fn member_of(&self, peer: PeerId) -> Result<Member, String> {
        let key = peer.key().ok_or_else(|| {
            let name = self
                .contacts
                .iter()
                .find(|c| c.peer_id() == peer)
                .map_or_else(|| peer.to_string(), |c| c.name.to_string());
            format!(
                "{name} has no key: every member of a group needs one (add them from the \
                 contact string `qqchat id` prints on their side)"
            )
        })?;
        let contact = self.contacts.iter().find(|c| c.key == Some(key));
        let name = contact.map_or_else(|| peer.to_string(), |c| c.name.to_string());
        if contact.is_some_and(|c| c.ipmsg || c.plain) {
            return Err(format!(
                "{name} does not speak qqchat: it cannot be in a group"
            ));
        }
        Ok(Member {
            key,
            name: crate::proto::group::clip_name(&name),
        })
    }

    fn group_send(
        &mut self,
        now: Now,
        gid: GroupId,
        text: String,
        id: u64,
    ) -> Result<(), (Option<GroupId>, String)> {
        let to = self.group_post(now, gid, Body::Text(text))?;
        self.ui.push(EngineEvent::GroupSent { id, group: gid, to });
        Ok(())
    }

    fn group_add(
        &mut self,
        now: Now,
        gid: GroupId,
        peer: PeerId,
    ) -> Result<(), (Option<GroupId>, String)> {
        let member = self.member_of(peer).map_err(|e| (Some(gid), e))?;
        let key = member.key;
        self.group_post(now, gid, Body::Add(member))?;
        if self.direct(&key)
            && let Some(held) = self.groups.held.get(&gid)
        {
            let invite = held.group.invitation(key);
            self.group_transmit(now, invite, Vec::new());
        }
        Ok(())
    }

    fn group_answer(
        &mut self,
        now: Now,
        gid: GroupId,
        accept: bool,
    ) -> Result<(), (Option<GroupId>, String)> {
        let held = self
            .groups
            .held
            .get_mut(&gid)
            .ok_or((Some(gid), NO_GROUP.to_owned()))?;
        if held.status != GroupStatus::Invited {
            return Err((Some(gid), "there is no invitation to answer".to_owned()));
        }
        if !accept {
            return self.group_leave(now, gid, GroupStatus::Declined);
        }
        held.status = GroupStatus::Joined;
        held.inviter = None;
        self.store_group(gid, status_record(GroupStatus::Joined, now));
        self.group_changed(gid);
        self.group_hello(now, gid, None);
        Ok(())
    }

    fn group_leave(
        &mut self,
        now: Now,
        gid: GroupId,
        status: GroupStatus,
    ) -> Result<(), (Option<GroupId>, String)> {
        self.group_post(now, gid, Body::Leave)?;
        if let Some(held) = self.groups.held.get_mut(&gid) {
            held.status = status;
            held.inviter = None;
        }
        self.store_group(gid, status_record(status, now));
        self.group_changed(gid);
        Ok(())
    }

    /// Writes a message by this member into `gid`, stores it and sends it to the members
    /// reached directly; returns them.
    fn group_post(
        &mut self,
        now: Now,
        gid: GroupId,
        body: Body,
    ) -> Result<Vec<PublicKey>, (Option<GroupId>, String)> {
        let keys = self.me().cloned().ok_or((Some(gid), NO_KEY.to_owned()))?;
        let direct = self.direct_keys();
        let held = self
            .groups
            .held
            .get_mut(&gid)
            .ok_or((Some(gid), NO_GROUP.to_owned()))?;
        if !held.status.active() {
            return Err((Some(gid), "you are no longer in this group".to_owned()));
        }
        if let Body::Remove(key) = &body {
            if held.group.membership().creator != Some(keys.public) {
                return Err((
                    Some(gid),
                    "only the group's creator can remove members".to_owned(),
                ));
            }
            if !held.group.is_member(key) {
                return Err((Some(gid), "that key is not a member".to_owned()));
            }
        }
        let (msg, sends) = held
            .group
            .post(&keys, body, now.wall.as_millisecond(), rand::rng(), &direct)
            .map_err(|e| (Some(gid), e.to_string()))?;
        let seq = msg.content.seq;
        held.acks.entry(seq).or_default();
        self.store_group(gid, GroupRecord::msg(msg.bytes(), now.wall));
        let to: Vec<PublicKey> = sends.iter().map(|o| o.to).collect();
        for o in sends {
            self.group_transmit(now, o, vec![seq]);
        }
        self.after_membership(now, gid, msg.content.body.is_membership());
        self.group_show(gid, &[msg.id()]);
        Ok(to)
    }

    /// Hands an envelope to the protocol, over the session with its member.
    fn group_transmit(&mut self, now: Now, o: Outgoing, own: Vec<u64>) {
        let id = self.ids.next_id();
        let text = o.envelope.to_text();
        let sent = self.node.send(
            now.mono,
            PeerId::Key(o.to),
            text,
            now.wall.as_millisecond(),
            id,
        );
        if sent.is_ok() {
            let group = o.envelope.group();
            self.groups.sending.insert(
                id,
                Sending {
                    group,
                    to: o.to,
                    own,
                },
            );
        }
    }

    /// A message from a keyed peer that is a group envelope: handled here, never shown as a
    /// message of its own. Returns false for any other text.
    pub(super) fn group_received(&mut self, now: Now, from: PeerId, text: &str) -> bool {
        if !Envelope::is_envelope(text) {
            return false;
        }
        let (Some(from_key), Some(me)) = (from.key(), self.me().map(|k| k.public)) else {
            return true;
        };
        let Ok(envelope) = Envelope::from_text(text) else {
            return true;
        };
        let gid = envelope.group();
        if let Envelope::Invite { .. } = envelope
            && !self.groups.held.contains_key(&gid)
        {
            // Only a contact invites: anyone else's invitation is dropped unseen.
            if !self.direct(&from_key) {
                return true;
            }
            self.groups.held.insert(
                gid,
                Held {
                    group: Group::new(gid),
                    sync: Sync::default(),
                    status: GroupStatus::Invited,
                    acks: BTreeMap::new(),
                    inviter: Some(from_key),
                    heard: BTreeSet::new(),
                },
            );
        }
        let direct = self.direct_keys();
        let Some(held) = self.groups.held.get_mut(&gid) else {
            return true;
        };
        if !held.status.active() {
            return true;
        }
        let have = match &envelope {
            Envelope::Have { have, .. } => Some(have.clone()),
            _ => None,
        };
        let invited_now = held.status == GroupStatus::Invited && held.group.is_empty();
        held.heard.insert(from_key);
        let received =
            held.group
                .receive(&mut held.sync, &me, from_key, envelope, now.mono, &direct);
        let received = match received {
            Ok(r) => r,
            Err(_) => {
                if invited_now {
                    self.groups.held.remove(&gid);
                }
                return true;
            }
        };
        if invited_now {
            // An invitation stands only if it makes this member one, by a member.
            let valid = held.group.is_member(&me) && held.group.is_member(&from_key);
            if !valid {
                self.groups.held.remove(&gid);
                return true;
            }
        }
        for msg in &received.new {
            self.store_group(gid, GroupRecord::msg(msg.bytes(), now.wall));
        }
        if invited_now {
            // Stored with the invitation, so it survives a restart unanswered.
            self.store_group(gid, status_record(GroupStatus::Invited, now));
        }
        if let Some(have) = have {
            self.acked_by_have(gid, from_key, &have, me);
        }
        for o in received.send {
            self.group_transmit(now, o, Vec::new());
        }
        if received.limited > 0 {
            self.groups
                .ask_again
                .entry((gid, from_key))
                .or_insert(now.mono + ASK_AGAIN_AFTER);
        }
        self.after_membership(now, gid, received.inserted.membership || invited_now);
        let mut show = received.inserted.shown;
        show.extend(received.inserted.completed);
        if received.inserted.membership {
            // A change that sorts before messages already shown may hide some (their author
            // was no longer a member there): every item goes again, with its standing.
            if let Some(held) = self.groups.held.get(&gid) {
                show = held.group.shown().map(GroupMsg::id).collect();
            }
        }
        self.group_show(gid, &show);
        true
    }

    /// A member's `Have` shows which of this member's messages it holds.
    fn acked_by_have(
        &mut self,
        gid: GroupId,
        by: PublicKey,
        have: &[(PublicKey, u64)],
        me: PublicKey,
    ) {
        let Some(upto) = have.iter().find(|(k, _)| *k == me).map(|(_, n)| *n) else {
            return;
        };
        let seqs: Vec<u64> = self.groups.held.get(&gid).map_or_else(Vec::new, |h| {
            h.acks
                .iter()
                .filter(|(seq, by_set)| **seq <= upto && !by_set.contains(&by))
                .map(|(seq, _)| *seq)
                .collect()
        });
        self.group_acked(gid, by, &seqs);
    }

    fn group_acked(&mut self, gid: GroupId, by: PublicKey, seqs: &[u64]) {
        let Some(me) = self.me().map(|k| k.public) else {
            return;
        };
        let mut changed = Vec::new();
        if let Some(held) = self.groups.held.get_mut(&gid) {
            for seq in seqs {
                if held.acks.entry(*seq).or_default().insert(by) {
                    changed.push(MsgRef {
                        author: me,
                        seq: *seq,
                    });
                }
            }
        }
        for r in &changed {
            self.store_group(gid, GroupRecord::ack(r.seq, &by));
        }
        self.group_show(gid, &changed);
    }

    /// The receipt of a group envelope, or its failure; false for any other message. A
    /// receipt acks this member's messages in it; a failure needs nothing queued, as
    /// catch-up brings the member what it lacks when it is back.
    pub(super) fn group_receipt(&mut self, event: &crate::proto::Event) -> bool {
        use crate::proto::Event;
        let (Event::Delivered { id, .. } | Event::Failed { id, .. }) = event else {
            return false;
        };
        let Some(s) = self.groups.sending.remove(id) else {
            return false;
        };
        if matches!(event, Event::Delivered { .. }) {
            self.group_acked(s.group, s.to, &s.own);
        }
        true
    }

    /// A contact came online: every group it shares with this member compares what they
    /// hold.
    pub(super) fn group_presence(&mut self, now: Now, peer: PeerId) {
        let Some(key) = peer.key() else {
            return;
        };
        let gids: Vec<GroupId> = self
            .groups
            .held
            .iter()
            .filter(|(_, h)| h.status.active() && h.group.is_member(&key))
            .map(|(id, _)| *id)
            .collect();
        for gid in gids {
            self.group_hello(now, gid, Some(key));
        }
    }

    /// Tells `to` (or every member reached directly) what this member holds of `gid`.
    fn group_hello(&mut self, now: Now, gid: GroupId, to: Option<PublicKey>) {
        let Some(me) = self.me().map(|k| k.public) else {
            return;
        };
        let Some(held) = self.groups.held.get(&gid) else {
            return;
        };
        let others: Vec<PublicKey> = held
            .group
            .members()
            .iter()
            .map(|m| m.key)
            .filter(|k| *k != me && to.is_none_or(|t| t == *k) && self.direct(k))
            .collect();
        for key in others {
            let Some(held) = self.groups.held.get_mut(&gid) else {
                return;
            };
            let invite = (!held.heard.contains(&key)).then(|| held.group.invitation(key));
            let hello = held.group.hello(&mut held.sync, key);
            for o in invite.into_iter().chain([hello]) {
                self.group_transmit(now, o, Vec::new());
            }
        }
    }

    /// After a membership change: this member's own standing (removed, re-added).
    fn after_membership(&mut self, now: Now, gid: GroupId, changed: bool) {
        if !changed {
            return;
        }
        let Some(me) = self.me().map(|k| k.public) else {
            return;
        };
        let mut status = None;
        if let Some(held) = self.groups.held.get_mut(&gid)
            && held.status == GroupStatus::Joined
            && !held.group.is_member(&me)
        {
            held.status = GroupStatus::Removed;
            status = Some(GroupStatus::Removed);
        }
        if let Some(status) = status {
            self.store_group(gid, status_record(status, now));
        }
        self.group_changed(gid);
    }

    fn group_changed(&mut self, gid: GroupId) {
        let Some(me) = self.me().map(|k| k.public) else {
            return;
        };
        if let Some(held) = self.groups.held.get(&gid) {
            let view = GroupView::new(&held.group, held.status, me, held.inviter);
            self.ui.push(EngineEvent::Group(view));
        }
    }

    /// Tells the front end of items new or changed.
    fn group_show(&mut self, gid: GroupId, ids: &[MsgRef]) {
        let Some(me) = self.me().map(|k| k.public) else {
            return;
        };
        let Some(held) = self.groups.held.get(&gid) else {
            return;
        };
        let items: Vec<GroupItem> = ids
            .iter()
            .filter(|id| held.group.is_shown(id))
            .filter_map(|id| held.group.get(id))
            .map(|msg| item(held, msg, me))
            .collect();
        if !items.is_empty() {
            self.ui.push(EngineEvent::GroupItems { group: gid, items });
        }
    }

    pub(super) fn group_timeout(&mut self, now: Now) {
        let due: Vec<(GroupId, PublicKey)> = self
            .groups
            .ask_again
            .iter()
            .filter(|(_, at)| **at <= now.mono)
            .map(|(k, _)| *k)
            .collect();
        for (gid, key) in due {
            self.groups.ask_again.remove(&(gid, key));
            self.group_hello(now, gid, Some(key));
        }
        match self.groups.next_sweep {
            Some(at) if now.mono >= at => {
                self.groups.next_sweep = Some(now.mono + SWEEP_EVERY);
                self.group_sweep(now);
            }
            Some(_) => {}
            None => self.groups.next_sweep = Some(now.mono + SWEEP_EVERY),
        }
        let due: Vec<(GroupId, Vec<MsgRef>)> = self
            .groups
            .held
            .iter_mut()
            .map(|(id, h)| (*id, h.group.release(now.mono, GAP_WAIT)))
            .filter(|(_, r)| !r.is_empty())
            .collect();
        for (gid, ids) in due {
            self.group_show(gid, &ids);
        }
    }

    pub(super) fn group_deadline(&self) -> Option<Instant> {
        let sweep = self
            .groups
            .next_sweep
            .filter(|_| !self.groups.held.is_empty());
        self.groups
            .held
            .values()
            .filter_map(|h| h.group.next_release(GAP_WAIT))
            .chain(sweep)
            .chain(self.groups.ask_again.values().copied())
            .min()
    }

    /// Tells every member online what this member holds of each group they share.
    fn group_sweep(&mut self, now: Now) {
        let online: Vec<PeerId> = self
            .contacts
            .iter()
            .filter_map(|c| c.key.map(PeerId::Key))
            .filter(|p| self.node.link(*p).is_some_and(|l| l.online == Some(true)))
            .collect();
        for peer in online {
            self.group_presence(now, peer);
        }
    }

    fn store_group(&mut self, gid: GroupId, record: GroupRecord) {
        if self.keep_history {
            self.store.push(StoreOp::Group { id: gid, record });
        }
    }
}

const NO_KEY: &str = "groups need this qqchat to have a key (its identity file)";
const NO_GROUP: &str = "no such group";

fn status_record(status: GroupStatus, now: Now) -> GroupRecord {
    GroupRecord::Status {
        status,
        at: now.wall,
    }
}

fn item(held: &Held, msg: &GroupMsg, me: PublicKey) -> GroupItem {
    let acked = held
        .acks
        .get(&msg.content.seq)
        .filter(|_| msg.content.author == me)
        .map(|s| s.iter().copied().collect())
        .unwrap_or_default();
    GroupItem::new(&held.group, msg, &me, acked)
}

fn snapshot(held: &Held, me: PublicKey) -> GroupSnapshot {
    GroupSnapshot {
        view: GroupView::new(&held.group, held.status, me, held.inviter),
        items: held.group.shown().map(|m| item(held, m, me)).collect(),
    }
}
