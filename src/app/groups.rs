//! Groups as the chat keeps them: each group's state and members, its items in the order
//! they are shown, and how many arrived unread. Every text from the network (the group's
//! name, the names members were added under, messages) is made safe to show on arrival,
//! as a 1:1 message is.

use crate::engine::{GroupItem, GroupItemKind, GroupSnapshot, GroupView};
use crate::proto::PublicKey;
use crate::proto::group::GroupId;
use crate::store::GroupStatus;
use crate::text::{sanitize_owned, short_name};

/// The widest a group's or a member's name from the network is kept.
const NAME_WIDTH: usize = 32;

/// One group of the contact list.
#[derive(Debug, Clone)]
pub struct Group {
    view: GroupView,
    /// Sorted by [`GroupItem::order`], one per id.
    items: Vec<GroupItem>,
    pub(super) unread: usize,
    /// What was being written to it when another conversation was opened.
    pub(super) draft: String,
}

impl Group {
    fn new(view: GroupView) -> Group {
        Group {
            view: clean_view(view),
            items: Vec::new(),
            unread: 0,
            draft: String::new(),
        }
    }

    pub fn id(&self) -> GroupId {
        self.view.id
    }

    pub fn view(&self) -> &GroupView {
        &self.view
    }

    /// The group's name, safe to show.
    pub fn name(&self) -> &str {
        &self.view.name
    }

    pub fn status(&self) -> GroupStatus {
        self.view.status
    }

    /// An invitation not answered yet.
    pub fn is_invitation(&self) -> bool {
        self.view.status == GroupStatus::Invited
    }

    /// Messages may be sent to it.
    pub fn is_joined(&self) -> bool {
        self.view.status == GroupStatus::Joined
    }

    /// Every item, in the order shown, the hidden ones too.
    pub fn items(&self) -> &[GroupItem] {
        &self.items
    }

    /// The items shown, in order.
    pub fn shown(&self) -> impl DoubleEndedIterator<Item = &GroupItem> + Clone {
        self.items.iter().filter(|i| i.visible)
    }

    /// The item at `index` of [`Group::shown`].
    pub fn shown_at(&self, index: usize) -> Option<&GroupItem> {
        self.shown().nth(index)
    }

    pub fn shown_len(&self) -> usize {
        self.shown().count()
    }

    pub fn unread(&self) -> usize {
        self.unread
    }

    /// Members now, this user included while a member.
    pub fn members(&self) -> &[(PublicKey, String)] {
        &self.view.members
    }

    /// The members other than this user.
    pub fn others(&self) -> impl Iterator<Item = &(PublicKey, String)> {
        self.view.members.iter().filter(|(k, _)| *k != self.view.me)
    }

    /// Of own item `item`, the members (other than this user) who have it, and those who
    /// do not yet.
    pub fn delivery(&self, item: &GroupItem) -> (Vec<PublicKey>, Vec<PublicKey>) {
        self.others()
            .map(|(k, _)| *k)
            .partition(|k| item.acked.contains(k))
    }

    /// Puts items in, each in place of the one with its id, and keeps them in order.
    /// Returns how many are messages by others not seen before (for the unread count).
    pub(super) fn merge(&mut self, items: Vec<GroupItem>) -> usize {
        let mut new = 0;
        for item in items {
            let item = clean_item(item);
            match self.items.iter_mut().find(|i| i.id == item.id) {
                Some(old) => *old = item,
                None => {
                    if item.visible && !item.mine && matches!(item.kind, GroupItemKind::Text(_)) {
                        new += 1;
                    }
                    self.items.push(item);
                }
            }
        }
        self.items.sort_by_key(|i| i.order);
        new
    }

    pub(super) fn set_view(&mut self, view: GroupView) {
        self.view = clean_view(view);
    }
}

/// The view with its names made safe to show.
fn clean_view(mut view: GroupView) -> GroupView {
    view.name = short_name(&view.name, NAME_WIDTH);
    for (_, name) in &mut view.members {
        *name = short_name(name, NAME_WIDTH);
    }
    view
}

/// The item with its text made safe to show.
fn clean_item(mut item: GroupItem) -> GroupItem {
    item.kind = match item.kind {
        GroupItemKind::Text(mut text) => {
            text.truncate(text.trim_end_matches(['\n', '\r']).len());
            GroupItemKind::Text(sanitize_owned(text))
        }
        GroupItemKind::Created { name } => GroupItemKind::Created {
            name: short_name(&name, NAME_WIDTH),
        },
        GroupItemKind::Added { key, name } => GroupItemKind::Added {
            key,
            name: short_name(&name, NAME_WIDTH),
        },
        other => other,
    };
    item
}

/// Every group, in the order they came (declined ones are not listed).
#[derive(Debug, Default)]
pub struct Groups {
    groups: Vec<Group>,
}

impl Groups {
    /// The groups listed, in order.
    pub fn listed(&self) -> impl Iterator<Item = &Group> {
        self.groups.iter().filter(|g| listed(g.status()))
    }

    pub fn len(&self) -> usize {
        self.listed().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, id: GroupId) -> Option<&Group> {
        self.groups.iter().find(|g| g.id() == id)
    }

    pub(super) fn get_mut(&mut self, id: GroupId) -> Option<&mut Group> {
        self.groups.iter_mut().find(|g| g.id() == id)
    }

    /// Where group `id` is among those listed.
    pub fn position(&self, id: GroupId) -> Option<usize> {
        self.listed().position(|g| g.id() == id)
    }

    pub fn at(&self, index: usize) -> Option<&Group> {
        self.listed().nth(index)
    }

    /// What the engine read at start, in place of anything held.
    pub(super) fn load(&mut self, snapshots: Vec<GroupSnapshot>) {
        for snapshot in snapshots {
            let id = snapshot.view.id;
            if self.get(id).is_none() {
                self.groups.push(Group::new(snapshot.view.clone()));
            }
            if let Some(group) = self.get_mut(id) {
                group.set_view(snapshot.view);
                group.merge(snapshot.items);
            }
        }
    }

    /// A group is new here, or changed. Returns whether it is a new invitation.
    pub(super) fn update(&mut self, view: GroupView) -> bool {
        match self.get_mut(view.id) {
            Some(group) => {
                let was = group.status();
                group.set_view(view);
                was != GroupStatus::Invited && group.is_invitation()
            }
            None => {
                let invited = view.status == GroupStatus::Invited;
                self.groups.push(Group::new(view));
                invited
            }
        }
    }
}

/// Whether a group in this state has a row in the contact list: a declined invitation has
/// none; a group left or removed from keeps its conversation.
fn listed(status: GroupStatus) -> bool {
    status != GroupStatus::Declined
}
