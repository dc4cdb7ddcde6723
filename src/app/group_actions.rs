//! What the App does with groups: the engine's group events, opening a group or an
//! invitation, sending to a group, picking its messages, and the dialogs that make a group
//! and add or remove its members.

use jiff::Timestamp;
use ratatui_textarea::TextArea;

use super::composer::{Composer, name_input};
use super::groups::Group;
use super::overlay::{Overlay, PromptKind};
use super::view::Focus;
use super::{App, Effect};
use crate::engine::{Command, GroupItem, GroupItemKind};
use crate::layout::{self, Columns};
use crate::proto::group::GroupId;
use crate::proto::{PeerId, PublicKey};

/// What a group dialog is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogKind {
    /// Ctrl-G: a name and the contacts to invite.
    NewGroup,
    /// Invite one keyed contact into the group.
    AddMember(GroupId),
    /// Take one member out of the group (its creator only).
    RemoveMember(GroupId),
}

/// One line of a dialog's list: a contact to invite, or a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub name: String,
    pub key: PublicKey,
    pub ticked: bool,
}

/// A dialog over the panes: for a new group, a name and a checklist; otherwise a list to
/// pick one from.
pub struct GroupDialog {
    pub kind: DialogKind,
    /// The group's name (a new group only).
    pub(super) name: Option<TextArea<'static>>,
    /// The keys type into the name rather than move in the list.
    pub(super) on_name: bool,
    pub choices: Vec<Choice>,
    pub cursor: usize,
    pub(super) error: Option<String>,
}

impl GroupDialog {
    pub fn name(&self) -> Option<&TextArea<'static>> {
        self.name.as_ref()
    }

    /// Whether keys go to the name field.
    pub fn on_name(&self) -> bool {
        self.on_name && self.name.is_some()
    }

    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    fn name_text(&self) -> String {
        self.name
            .as_ref()
            .map(|n| n.lines().concat())
            .unwrap_or_default()
    }

    pub(super) fn step(&mut self, by: isize) {
        if self.on_name() {
            if by > 0 && !self.choices.is_empty() {
                self.on_name = false;
            }
            return;
        }
        let last = self.choices.len().saturating_sub(1);
        match self.cursor.checked_add_signed(by) {
            Some(c) => self.cursor = c.min(last),
            None if self.name.is_some() => self.on_name = true,
            None => {}
        }
    }
}

/// Lines a group item takes, with the name column `columns`, in a pane `width` wide. The
/// drawing lays out exactly these lines (see `ui::group`).
pub fn item_height(
    columns: &Columns,
    item: &GroupItem,
    tail: Option<&str>,
    new_day: bool,
    width: usize,
) -> usize {
    let lead = usize::from(item.gap_before) + usize::from(new_day);
    match &item.kind {
        GroupItemKind::Text(text) => {
            let (quote, text) = crate::text::split_reply(text);
            // The day line is counted here, not by `message_height`, which would count it too.
            lead + usize::from(quote.is_some())
                + layout::message_height(columns, text, false, tail, width)
        }
        _ => lead + 1,
    }
}

impl App {
    /// The groups of the contact list.
    pub fn groups(&self) -> &super::groups::Groups {
        &self.groups
    }

    /// The group whose conversation (or invitation) is open.
    pub fn open_group(&self) -> Option<&Group> {
        self.groups.get(self.view.open_group?)
    }

    /// The picked item of the open group, by its place among the items shown.
    pub fn group_chosen(&self) -> Option<usize> {
        let group = self.open_group()?;
        let index = usize::try_from(self.view.chosen?).ok()?;
        (index < group.shown_len()).then_some(index)
    }

    /// The dialog over the panes, if one is open.
    pub fn group_dialog(&self) -> Option<&GroupDialog> {
        match &self.overlay {
            Overlay::Group(dialog) => Some(dialog),
            _ => None,
        }
    }

    pub(super) fn group_dialog_mut(&mut self) -> Option<&mut GroupDialog> {
        match &mut self.overlay {
            Overlay::Group(dialog) => Some(dialog),
            _ => None,
        }
    }

    /// Who `key` is in `group`, as shown: this user's own name, a contact's name, or else
    /// the name they were added under; `false` when that name is only what whoever added
    /// them said (unverified).
    pub fn member_label(&self, group: &Group, key: &PublicKey) -> (String, bool) {
        if *key == group.view().me {
            return (self.me.clone(), true);
        }
        if let Some(contact) = self
            .peers()
            .iter()
            .find(|p| p.is_listed() && p.public_key.as_ref() == Some(key))
        {
            return (contact.name().to_owned(), true);
        }
        let name = group.view().member_name(key).map_or_else(
            || {
                let k = crate::identity::encode_key(key);
                format!("key {}", k.get(..8).unwrap_or(&k))
            },
            str::to_owned,
        );
        (name, false)
    }

    /// The name column for group `group`: wide enough for this user and every author
    /// (an unverified one with its `?`), within the usual bounds.
    pub fn group_columns(&self, group: &Group, width: usize) -> Columns {
        let widest = group
            .members()
            .iter()
            .map(|(k, _)| *k)
            .chain(group.shown().map(|i| i.author))
            .map(|k| {
                let (name, verified) = self.member_label(group, &k);
                if verified { name } else { format!("{name}?") }
            })
            .max_by_key(|n| crate::text::width(n))
            .unwrap_or_default();
        Columns::new(&self.me, &widest, width)
    }

    /// `✓ 2/3` after an own message: members other than this user who have it, of all of
    /// them; `None` for anything else, or with nobody else in the group.
    pub fn delivery_tail(&self, group: &Group, item: &GroupItem) -> Option<String> {
        if !item.mine || !matches!(item.kind, GroupItemKind::Text(_)) {
            return None;
        }
        let (have, lack) = group.delivery(item);
        let all = have.len() + lack.len();
        (all > 0).then(|| format!("✓ {}/{all}", have.len()))
    }

    /// Whether item `index` of those shown starts a day, so a day line goes before it.
    pub fn group_starts_day(&self, group: &Group, index: usize) -> bool {
        let date = |i: &GroupItem| i.sent_at.map(|t| self.tz.to_datetime(t).date());
        let Some(this) = group.shown_at(index).and_then(date) else {
            return false;
        };
        index
            .checked_sub(1)
            .and_then(|i| group.shown_at(i))
            .is_none_or(|prev| date(prev) != Some(this))
    }

    /// Lines item `index` of those shown of `group` takes in a pane `width` wide.
    pub fn group_item_height(
        &self,
        group: &Group,
        columns: &Columns,
        index: usize,
        width: u16,
    ) -> usize {
        let Some(item) = group.shown_at(index) else {
            return 0;
        };
        let tail = self.delivery_tail(group, item);
        let new_day = self.group_starts_day(group, index);
        let marker = self.group_marker(group.id()) == Some(item.id);
        item_height(columns, item, tail.as_deref(), new_day, usize::from(width))
            + usize::from(marker)
    }

    // ---- engine events ----

    pub(super) fn on_group_event(&mut self, event: crate::engine::EngineEvent) -> Vec<Effect> {
        use crate::engine::EngineEvent as E;
        match event {
            E::Groups(snapshots) => {
                self.groups.load(snapshots);
                let ids: Vec<GroupId> = self.groups.listed().map(Group::id).collect();
                for id in ids {
                    if self.view.open_group != Some(id) {
                        self.recount_group(id);
                    }
                }
                self.clamp_scroll();
            }
            E::Group(view) => {
                let id = view.id;
                let invited = self.groups.update(view);
                if self.view.open_group == Some(id) {
                    self.clamp_scroll();
                }
                if invited && self.view.open_group != Some(id) && self.bell {
                    return vec![Effect::Bell];
                }
            }
            E::GroupItems { group, items } => return self.group_items(group, items),
            E::GroupCreated { id, group } if self.pending_create == Some(id) => {
                self.pending_create = None;
                if let Some(row) = self.groups.position(group) {
                    self.select_row(self.peers().len() + row);
                    return self.open_selected().into_iter().collect();
                }
            }
            E::GroupSent { .. } => {}
            E::GroupRefused { reason, .. } => self.show_error(&reason),
            _ => {}
        }
        Vec::new()
    }

    fn group_items(&mut self, id: GroupId, items: Vec<GroupItem>) -> Vec<Effect> {
        let open = self.view.open_group == Some(id);
        let width = self.viewport().width;
        // Lines below the view before, to keep a reader who scrolled back where they were.
        let before = (open && self.view.scroll > 0).then(|| self.group_lines(id, width));
        let Some(group) = self.groups.get_mut(id) else {
            return Vec::new();
        };
        let new = group.merge(items);
        if let Some(before) = before {
            let after = self.group_lines(id, width);
            self.view.scroll += after.saturating_sub(before);
        }
        if open {
            self.arrived_in_open_group(id, new);
            self.clamp_scroll();
            return Vec::new();
        }
        if new == 0 {
            self.clamp_scroll();
            return Vec::new();
        }
        let Some(group) = self.groups.get_mut(id) else {
            return Vec::new();
        };
        if !group.is_joined() {
            return Vec::new();
        }
        group.unread += new;
        let title = format!("# {}", group.name());
        let body = if new == 1 {
            "a new message".to_owned()
        } else {
            format!("{new} new messages")
        };
        self.alert(&title, true, false, &body)
    }

    /// Every line of group `id`'s conversation in a pane `width` wide.
    fn group_lines(&self, id: GroupId, width: u16) -> usize {
        let Some(group) = self.groups.get(id) else {
            return 0;
        };
        let columns = self.group_columns(group, usize::from(width));
        (0..group.shown_len())
            .map(|i| self.group_item_height(group, &columns, i, width))
            .sum()
    }

    // ---- the contact list's rows ----

    /// Rows of the contact list: every peer, then every group.
    pub(super) fn rows(&self) -> usize {
        self.peers().len() + self.groups.len()
    }

    /// Puts the cursor on row `row` (a peer's or a group's), if there is such a row.
    pub(super) fn select_row(&mut self, row: usize) {
        let peers = self.peers().len();
        if row < peers {
            self.view.group = None;
            self.view.select_index(&self.roster, row);
        } else if let Some(group) = self.groups.at(row - peers) {
            self.view.group = Some(group.id());
        }
    }

    /// Opens group `id` (its invitation, if it is one). The input's text stays with the
    /// conversation it was written to.
    pub(super) fn open_group_id(&mut self, id: GroupId) {
        if self.view.open_group != Some(id) {
            self.replying = None;
            let text = self.composer.text();
            if let Some(old) = self.view.open.and_then(|old| self.roster.get_mut(old)) {
                old.draft = text;
            } else if let Some(old) = self.view.open_group.and_then(|g| self.groups.get_mut(g)) {
                old.draft = text;
            }
            let draft = self
                .groups
                .get_mut(id)
                .map(|g| std::mem::take(&mut g.draft))
                .unwrap_or_default();
            self.composer = Composer::with_text(&draft, false);
        }
        self.view.open = None;
        self.view.open_group = Some(id);
        self.view.group = Some(id);
        let joined = self.groups.get(id).is_some_and(Group::is_joined);
        self.open_group_unread(id);
        self.view.follow();
        // An invitation has nothing to write to: its keys (y, n) are the conversation's.
        self.set_focus(if joined {
            Focus::Input
        } else {
            Focus::Conversation
        });
    }

    /// Before a peer's conversation opens over a group's: the group keeps its draft.
    pub(super) fn leave_group_view(&mut self) {
        if let Some(id) = self.view.open_group.take() {
            let text = self.composer.text();
            if let Some(group) = self.groups.get_mut(id) {
                group.draft = text;
            }
            self.composer = Composer::new(false);
        }
    }

    // ---- sending and answering ----

    pub(super) fn send_to_group(&mut self, id: GroupId) -> Vec<Effect> {
        let Some(group) = self.groups.get(id) else {
            return Vec::new();
        };
        if !group.is_joined() {
            let why = if group.is_invitation() {
                "not sent: answer the invitation first (y joins, n declines)"
            } else {
                "not sent: you are no longer in this group"
            };
            self.show_error(why);
            return Vec::new();
        }
        let Some(text) = self.composed() else {
            return Vec::new();
        };
        self.composer = Composer::new(false);
        self.replying = None;
        self.set_focus(self.view.focus);
        self.view.follow();
        let id_ = crate::engine::new_message_id();
        vec![Effect::Send(Command::GroupSend {
            group: id,
            text,
            id: id_,
        })]
    }

    /// y or n on an invitation.
    pub(super) fn answer_invitation(&mut self, accept: bool) -> Vec<Effect> {
        let Some(group) = self.open_group().filter(|g| g.is_invitation()) else {
            return Vec::new();
        };
        let id = group.id();
        if accept {
            self.set_focus(Focus::Input);
        } else {
            self.view.open_group = None;
            self.set_focus(Focus::Contacts);
        }
        vec![Effect::Send(Command::GroupAnswer { group: id, accept })]
    }

    /// Enter on a picked group message: when it was written, and for an own one, who has
    /// it and who does not yet.
    pub(super) fn group_details(&mut self, index: usize) {
        let Some(group) = self.open_group() else {
            return;
        };
        let Some(item) = group.shown_at(index) else {
            return;
        };
        let when = item.sent_at.map_or_else(
            || "no time given".to_owned(),
            |t| {
                self.tz
                    .to_datetime(t)
                    .strftime("%a %-d %b %Y %H:%M:%S")
                    .to_string()
            },
        );
        let names = |keys: &[PublicKey]| {
            keys.iter()
                .map(|k| {
                    let (name, verified) = self.member_label(group, k);
                    if verified { name } else { format!("{name}?") }
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let text = if item.mine {
            let (have, lack) = group.delivery(item);
            if lack.is_empty() {
                format!("written {when} · every member has it")
            } else if have.is_empty() {
                format!("written {when} · nobody has it yet: {}", names(&lack))
            } else {
                format!("written {when} · not yet: {}", names(&lack))
            }
        } else {
            let (name, _) = self.member_label(group, &item.author);
            format!("sent {when} by {name} (their clock)")
        };
        self.show_info(&text);
    }

    // ---- the dialogs ----

    /// Ctrl-G: a name and the keyed contacts to tick.
    pub(super) fn ask_new_group(&mut self) {
        let choices: Vec<Choice> = self
            .peers()
            .iter()
            .filter(|p| p.is_listed())
            .filter_map(|p| {
                Some(Choice {
                    name: p.name().to_owned(),
                    key: p.public_key?,
                    ticked: false,
                })
            })
            .collect();
        if choices.is_empty() {
            self.show_info("a group needs contacts with keys; A pastes a contact string");
            return;
        }
        self.overlay = Overlay::Group(Box::new(GroupDialog {
            kind: DialogKind::NewGroup,
            name: Some(name_input("", false)),
            on_name: true,
            choices,
            cursor: 0,
            error: None,
        }));
    }

    /// The open group, joined, for a key that changes it; else says why not.
    fn joined_group(&mut self) -> Option<GroupId> {
        let group = self.open_group()?;
        if !group.is_joined() {
            self.show_info("you are not in this group");
            return None;
        }
        Some(group.id())
    }

    /// `+` in a group: a keyed contact to invite.
    pub(super) fn ask_add_member(&mut self) {
        let Some(id) = self.joined_group() else {
            return;
        };
        let Some(group) = self.groups.get(id) else {
            return;
        };
        let choices: Vec<Choice> = self
            .peers()
            .iter()
            .filter(|p| p.is_listed())
            .filter_map(|p| {
                let key = p.public_key?;
                let member = group.members().iter().any(|(k, _)| *k == key);
                (!member).then(|| Choice {
                    name: p.name().to_owned(),
                    key,
                    ticked: false,
                })
            })
            .collect();
        if choices.is_empty() {
            self.show_info("every contact with a key is in this group already");
            return;
        }
        self.overlay = Overlay::Group(Box::new(GroupDialog {
            kind: DialogKind::AddMember(id),
            name: None,
            on_name: false,
            choices,
            cursor: 0,
            error: None,
        }));
    }

    /// `-` in a group: a member to take out, for its creator.
    pub(super) fn ask_remove_member(&mut self) {
        let Some(id) = self.joined_group() else {
            return;
        };
        let Some(group) = self.groups.get(id) else {
            return;
        };
        if !group.view().is_creator() {
            self.show_info("only the group's creator takes members out; L leaves it");
            return;
        }
        let choices: Vec<Choice> = group
            .others()
            .map(|(k, _)| {
                let (name, verified) = self.member_label(group, k);
                Choice {
                    name: if verified { name } else { format!("{name}?") },
                    key: *k,
                    ticked: false,
                }
            })
            .collect();
        if choices.is_empty() {
            self.show_info("nobody else is in this group");
            return;
        }
        self.overlay = Overlay::Group(Box::new(GroupDialog {
            kind: DialogKind::RemoveMember(id),
            name: None,
            on_name: false,
            choices,
            cursor: 0,
            error: None,
        }));
    }

    /// `L` in a group: asks first.
    pub(super) fn ask_leave(&mut self) {
        let Some(id) = self.joined_group() else {
            return;
        };
        let name = self.groups.get(id).map_or("", Group::name).to_owned();
        let question = format!("Leave # {name}? Its messages stop coming. y/n");
        self.ask(PromptKind::LeaveGroup { group: id }, question, "");
    }

    /// Space in a dialog: ticks the contact under the cursor, or types a space in the name.
    pub(super) fn dialog_toggle(&mut self, key: Option<crossterm::event::KeyEvent>) {
        let Some(dialog) = self.group_dialog_mut() else {
            return;
        };
        dialog.error = None;
        if dialog.on_name() {
            if let (Some(name), Some(key)) = (dialog.name.as_mut(), key) {
                name.input(key);
            }
            return;
        }
        if dialog.kind == DialogKind::NewGroup
            && let Some(choice) = dialog.choices.get_mut(dialog.cursor)
        {
            choice.ticked = !choice.ticked;
        }
    }

    /// A key typed into the dialog's name.
    pub(super) fn dialog_type(&mut self, key: crossterm::event::KeyEvent) {
        let Some(dialog) = self.group_dialog_mut() else {
            return;
        };
        dialog.error = None;
        if !dialog.on_name() {
            return;
        }
        if let Some(name) = dialog.name.as_mut() {
            name.input(key);
            if name.lines().len() > 1 {
                let text = name.lines().concat();
                *name = name_input(&text, false);
            }
        }
    }

    /// Enter in a dialog.
    pub(super) fn dialog_confirm(&mut self) -> Vec<Effect> {
        let Some(dialog) = self.group_dialog_mut() else {
            return Vec::new();
        };
        let command = match dialog.kind {
            DialogKind::NewGroup => {
                let name = dialog.name_text().trim().to_owned();
                let members: Vec<PeerId> = dialog
                    .choices
                    .iter()
                    .filter(|c| c.ticked)
                    .map(|c| PeerId::Key(c.key))
                    .collect();
                if name.is_empty() {
                    dialog.error = Some("Type a name for the group.".into());
                    dialog.on_name = true;
                    return Vec::new();
                }
                if members.is_empty() {
                    dialog.error = Some("Tick at least one contact with Space.".into());
                    dialog.on_name = false;
                    return Vec::new();
                }
                let id = crate::engine::new_message_id();
                self.pending_create = Some(id);
                Command::GroupCreate { id, name, members }
            }
            DialogKind::AddMember(group) => {
                let Some(choice) = dialog.choices.get(dialog.cursor) else {
                    return Vec::new();
                };
                Command::GroupAdd {
                    group,
                    member: PeerId::Key(choice.key),
                }
            }
            DialogKind::RemoveMember(group) => {
                let Some(choice) = dialog.choices.get(dialog.cursor) else {
                    return Vec::new();
                };
                Command::GroupRemove {
                    group,
                    member: choice.key,
                }
            }
        };
        self.overlay = Overlay::None;
        vec![Effect::Send(command)]
    }

    /// y in the leave prompt.
    pub(super) fn confirm_leave(&mut self, group: GroupId) -> Vec<Effect> {
        self.overlay = Overlay::None;
        vec![Effect::Send(Command::GroupLeave { group })]
    }

    /// The time a group item is shown with, in the App's zone: `14:02`, or blank.
    pub fn group_time(&self, at: Option<Timestamp>) -> String {
        at.map_or_else(
            || "     ".to_owned(),
            |t| {
                let at = self.tz.to_datetime(t);
                format!("{:02}:{:02}", at.hour(), at.minute())
            },
        )
    }
}
