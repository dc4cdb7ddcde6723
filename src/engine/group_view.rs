//! What front ends see of groups: each group's state and members, and its messages as items
//! to show in order. Built by the engine from the protocol's [`Group`]; plain data here.

use jiff::Timestamp;

use crate::proto::PublicKey;
use crate::proto::group::{Body, Group, GroupId, GroupMsg, MsgRef, Order};
use crate::store::GroupStatus;

/// A group as a front end shows it in the contact list and the conversation's title.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupView {
    pub id: GroupId,
    pub name: String,
    pub status: GroupStatus,
    pub creator: Option<PublicKey>,
    /// Members now (this one included while a member), with the name each was added under.
    pub members: Vec<(PublicKey, String)>,
    /// This member's key.
    pub me: PublicKey,
    /// Who sent the invitation, while it is not answered.
    pub inviter: Option<PublicKey>,
}

impl GroupView {
    pub fn new(
        group: &Group,
        status: GroupStatus,
        me: PublicKey,
        inviter: Option<PublicKey>,
    ) -> Self {
        let m = group.membership();
        GroupView {
            id: group.id(),
            name: m.name.clone(),
            status,
            creator: m.creator,
            members: m.members.iter().map(|(k, n)| (*k, n.clone())).collect(),
            me,
            inviter,
        }
    }

    /// The name a member was added under, also after they left.
    pub fn member_name(&self, key: &PublicKey) -> Option<&str> {
        self.members
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, n)| n.as_str())
    }

    pub fn is_creator(&self) -> bool {
        self.creator == Some(self.me)
    }
}

/// What one item of a group conversation says.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupItemKind {
    Text(String),
    Created {
        name: String,
    },
    /// `key` was invited, under `name`.
    Added {
        key: PublicKey,
        name: String,
    },
    Removed {
        key: PublicKey,
    },
    Left,
}

/// One message of a group conversation, where it goes and how it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupItem {
    pub id: MsgRef,
    /// Items are shown sorted by this.
    pub order: Order,
    pub author: PublicKey,
    /// The author's clock (shown, never used to sort).
    pub sent_at: Option<Timestamp>,
    pub kind: GroupItemKind,
    /// Something it follows has not arrived: a gap is shown before it.
    pub gap_before: bool,
    /// This member wrote it.
    pub mine: bool,
    /// For this member's own messages: the members who have it.
    pub acked: Vec<PublicKey>,
    /// Its author was a member where it stands (a message by someone removed is hidden).
    pub visible: bool,
}

impl GroupItem {
    pub fn new(group: &Group, msg: &GroupMsg, me: &PublicKey, acked: Vec<PublicKey>) -> Self {
        let c = &msg.content;
        let kind = match &c.body {
            Body::Text(t) => GroupItemKind::Text(t.clone()),
            Body::Create { name, .. } => GroupItemKind::Created { name: name.clone() },
            Body::Add(m) => GroupItemKind::Added {
                key: m.key,
                name: m.name.clone(),
            },
            Body::Remove(key) => GroupItemKind::Removed { key: *key },
            Body::Leave => GroupItemKind::Left,
        };
        GroupItem {
            id: c.id(),
            order: c.order(),
            author: c.author,
            sent_at: Timestamp::from_millisecond(c.sent_at_ms).ok(),
            kind,
            gap_before: group.gap_before(&c.id()),
            mine: c.author == *me,
            acked,
            visible: group.is_visible(msg),
        }
    }
}

/// A group and every item shown of it: what a front end gets at start.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSnapshot {
    pub view: GroupView,
    pub items: Vec<GroupItem>,
}
