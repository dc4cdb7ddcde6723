//! What is unread, and the "new" line: how far each conversation was read (kept on disk by
//! the front end, see [`ReadPoints`]), the counts in the contact list worked out from it, and
//! the line above the first message that was new when a conversation was opened.

use std::collections::HashMap;

use super::message::Origin;
use super::peer::{EntryId, Peer, Seq};
use super::view::{Focus, Marker};
use super::{App, Effect, Group};
use crate::engine::GroupItemKind;
use crate::proto::PublicKey;
use crate::proto::group::{GroupId, MsgRef};
use crate::store::ReadPoints;

/// Whether a message of `peer` counts as unread: something that came in (a message, a file
/// offered) after the point `read` keeps for the conversation.
fn unread_message(read: &ReadPoints, peer: &Peer, index: usize) -> bool {
    peer.messages().get(index).is_some_and(|m| {
        matches!(
            m.origin,
            Origin::Received
                | Origin::File {
                    outgoing: false,
                    ..
                }
        ) && read.is_unread(peer.key(), m.at)
    })
}

/// Whether item `index` of those `group` shows counts as unread: a message by someone else
/// after the group's read point.
fn unread_item(read: &ReadPoints, group: &Group, item: &crate::engine::GroupItem) -> bool {
    counts(item) && read.is_group_unread(&group.id(), &item.id.author, item.id.seq, item.sent_at)
}

/// A group item that counts as unread until read: a message by someone else.
fn counts(item: &crate::engine::GroupItem) -> bool {
    item.visible && !item.mine && matches!(item.kind, GroupItemKind::Text(_))
}

impl App {
    /// How far every conversation was read, to keep on disk.
    pub fn read_points(&self) -> &ReadPoints {
        &self.read
    }

    /// How far every conversation was read, as kept on disk: the unread counts follow.
    pub fn set_read_points(&mut self, points: ReadPoints) {
        self.read = points;
        self.recount_peers();
        let ids: Vec<GroupId> = self.groups.listed().map(Group::id).collect();
        for id in ids {
            self.recount_group(id);
        }
    }

    /// The conversations whose unread count the messages shown cannot tell (they have older
    /// messages not read from the history yet), with the time after which a message is
    /// unread: the front end counts those in the history ([`App::set_unread_counts`]).
    pub fn counts_wanted(&self) -> Vec<(crate::store::ConversationKey, jiff::Timestamp)> {
        self.peers()
            .iter()
            .flat_map(|p| p.older.iter())
            .filter_map(|key| Some((key.clone(), self.read.unread_after(key)?)))
            .collect()
    }

    /// Unread counts the history gave for [`App::counts_wanted`]: a conversation with more
    /// unread than its first page shows says so.
    pub fn set_unread_counts(&mut self, counts: &[(crate::store::ConversationKey, usize)]) {
        for (key, count) in counts {
            if let Some(p) = self
                .roster
                .peers_mut()
                .iter_mut()
                .find(|p| p.older.contains(key))
            {
                p.unread = p.unread.max(*count);
            }
        }
    }

    /// Where the "new" line goes in the open 1:1 conversation: above this message.
    pub fn unread_marker(&self) -> Option<usize> {
        let peer = self.open_peer()?;
        peer.index_of(self.peer_marker(peer.id())?)
    }

    /// Where the "new" line goes in the open group: above this item of those shown.
    pub fn group_unread_marker(&self) -> Option<usize> {
        let group = self.open_group()?;
        let marker = self.group_marker(group.id())?;
        group.shown().position(|i| i.id == marker)
    }

    /// The message the "new" line goes above, if `id` is the open conversation.
    pub(super) fn peer_marker(&self, id: EntryId) -> Option<Seq> {
        match self.view.marker {
            Some(Marker::Peer(seq)) if self.view.open == Some(id) => Some(seq),
            _ => None,
        }
    }

    /// The item the "new" line goes above, if group `id` is open.
    pub(super) fn group_marker(&self, id: GroupId) -> Option<MsgRef> {
        match self.view.marker {
            Some(Marker::Group(item)) if self.view.open_group == Some(id) => Some(item),
            _ => None,
        }
    }

    /// The unread count of every peer, from the read points.
    pub(super) fn recount_peers(&mut self) {
        let read = &self.read;
        for p in self.roster.peers_mut() {
            p.unread = (0..p.messages.len())
                .filter(|&i| unread_message(read, p, i))
                .count();
        }
    }

    /// The unread count of group `id`, from the read points.
    pub(super) fn recount_group(&mut self, id: GroupId) {
        let read = &self.read;
        if let Some(group) = self.groups.get_mut(id) {
            group.unread = group
                .shown()
                .filter(|item| unread_item(read, group, item))
                .count();
        }
    }

    /// Everything in peer `id`'s conversation is read. Returns whether the point moved.
    pub(super) fn mark_peer_read(&mut self, id: EntryId) -> bool {
        let Some(p) = self.roster.get_mut(id) else {
            return false;
        };
        p.unread = 0;
        let last = p
            .messages
            .iter()
            .rev()
            .find(|m| !m.is_from_me())
            .map(|m| m.at);
        let key = p.key.clone();
        let changed = last.is_some_and(|at| self.read.read_to(&key, at));
        self.read_dirty |= changed;
        changed
    }

    /// Everything in group `id` is read. Returns whether the point moved.
    pub(super) fn mark_group_read(&mut self, id: GroupId) -> bool {
        let Some(group) = self.groups.get_mut(id) else {
            return false;
        };
        group.unread = 0;
        let mut last: HashMap<PublicKey, u64> = HashMap::new();
        for item in group.items() {
            let seq = last.entry(item.id.author).or_insert(item.id.seq);
            *seq = (*seq).max(item.id.seq);
        }
        let mut changed = self.read.touch_group(&id);
        for (author, seq) in last {
            changed |= self.read.read_group_to(&id, &author, seq);
        }
        self.read_dirty |= changed;
        changed
    }

    /// The read points when they changed since last asked, to be written down. The front
    /// end asks once for a batch of events, so a burst of messages writes the file once.
    pub fn unsaved_read(&mut self) -> Option<ReadPoints> {
        std::mem::take(&mut self.read_dirty).then(|| self.read.clone())
    }

    /// Peer `id`'s conversation is being opened: the "new" line goes above its first unread
    /// message, and it is read.
    pub(super) fn open_peer_unread(&mut self, id: EntryId) {
        let first = self.roster.get(id).and_then(|p| {
            // The count says how many: the line goes above that many messages from the end
            // that came in (it also counts what came since start, whatever the points say).
            let mut left = p.unread;
            let index = (0..p.messages.len()).rev().find(|&i| {
                if left > 0 && !p.messages[i].is_from_me() {
                    left -= 1;
                }
                left == 0
            });
            index.filter(|_| p.unread > 0).map(|i| p.seq_at(i))
        });
        self.view.marker = first.map(Marker::Peer);
        self.mark_peer_read(id);
    }

    /// Group `id` is being opened: the "new" line goes above its first unread message, and
    /// it is read.
    pub(super) fn open_group_unread(&mut self, id: GroupId) {
        self.view.marker = self.first_unread_item(id).map(Marker::Group);
        self.mark_group_read(id);
    }

    /// The first of the last `unread` messages by others in group `id`.
    fn first_unread_item(&self, id: GroupId) -> Option<MsgRef> {
        let group = self.groups.get(id)?;
        if group.unread == 0 {
            return None;
        }
        let mut left = group.unread;
        group
            .shown()
            .rev()
            .filter(|item| counts(item))
            .find(|_| {
                left -= 1;
                left == 0
            })
            .map(|item| item.id)
    }

    /// A message came into the open conversation of peer `id`, at `index`: read at once
    /// while the terminal has the focus; otherwise counted, and the "new" line goes above
    /// it unless one is already further up.
    pub(super) fn arrived_in_open(&mut self, id: EntryId, index: usize) {
        if self.focused {
            self.mark_peer_read(id);
            return;
        }
        let Some(p) = self.roster.get_mut(id) else {
            return;
        };
        p.unread += 1;
        if self.view.marker.is_none() {
            self.view.marker = Some(Marker::Peer(p.seq_at(index)));
        }
    }

    /// `new` messages by others came into open group `id`: as [`App::arrived_in_open`].
    pub(super) fn arrived_in_open_group(&mut self, id: GroupId, new: usize) {
        if self.focused {
            self.mark_group_read(id);
            return;
        }
        if let Some(group) = self.groups.get_mut(id) {
            group.unread += new;
        }
        if self.view.marker.is_none() {
            self.view.marker = self.first_unread_item(id).map(Marker::Group);
        }
    }

    /// The terminal has the focus back: the open conversation is read (its "new" line stays).
    pub(super) fn read_open(&mut self) {
        match (self.view.open, self.view.open_group) {
            (Some(id), _) => {
                self.mark_peer_read(id);
            }
            (None, Some(group)) => {
                self.mark_group_read(group);
            }
            (None, None) => {}
        }
    }

    /// Every conversation is read, groups too; the "new" line goes.
    pub(super) fn mark_all_read(&mut self) {
        let peers: Vec<EntryId> = self.peers().iter().map(Peer::id).collect();
        let groups: Vec<GroupId> = self.groups.listed().map(Group::id).collect();
        for id in peers {
            self.mark_peer_read(id);
        }
        for id in groups {
            self.mark_group_read(id);
        }
        self.view.marker = None;
        self.clamp_scroll();
        self.show_info("every conversation marked read");
    }

    /// `u`: in a conversation with a "new" line, picks the first message below it; else
    /// opens the first conversation with something unread, at that message.
    pub(super) fn first_unread(&mut self) -> Vec<Effect> {
        let here = self.view.focus != Focus::Contacts
            && (self.unread_marker().is_some() || self.group_unread_marker().is_some());
        let mut effects = Vec::new();
        if !here {
            let peers = self.peers().len();
            let row = self
                .peers()
                .iter()
                .position(|p| p.unread() > 0)
                .or_else(|| {
                    self.groups
                        .listed()
                        .position(|g| g.unread() > 0)
                        .map(|i| peers + i)
                });
            let Some(row) = row else {
                self.show_info("nothing unread");
                return Vec::new();
            };
            self.select_row(row);
            effects = self.open_selected();
            effects.extend(self.unsaved_drafts());
        }
        let index = self.unread_marker().or_else(|| self.group_unread_marker());
        if let Some(index) = index {
            self.set_focus(Focus::Conversation);
            self.view.chosen = match self.open_group() {
                Some(_) => Some(index as Seq),
                None => self.open_peer().map(|p| p.seq_at(index)),
            };
            self.reveal(index);
        }
        effects
    }
}
