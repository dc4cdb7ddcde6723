//! What the user is looking at: which pane has the keys, the contact under the cursor, the
//! open conversation, how far it is scrolled back, the message picked in it, and the size
//! of the terminal it is drawn in.
//!
//! Peers and messages are held by [`EntryId`] and [`Seq`], so the view stays on the same
//! ones when the list is rebuilt or older messages come in before them.

use ratatui::layout::Rect;

use super::peer::{EntryId, Peer, Seq};
use super::roster::Roster;
use crate::proto::group::{GroupId, MsgRef};

/// Where the "new" line goes in the open conversation: above the first message that was
/// unread when it was opened (or that came while the terminal was in the background).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// A 1:1 conversation's message.
    Peer(Seq),
    /// A group's item, by its id: items may still come in before it.
    Group(MsgRef),
}

/// Which pane receives keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Contacts,
    Conversation,
    Input,
}

pub struct ConversationView {
    pub(super) focus: Focus,
    /// The contact under the cursor; `None` is the first one, whoever that comes to be.
    pub(super) selected: Option<EntryId>,
    /// The conversation shown on the right.
    pub(super) open: Option<EntryId>,
    /// The group under the cursor, which then is on no peer.
    pub(super) group: Option<GroupId>,
    /// The group whose conversation is shown on the right, in place of `open`.
    pub(super) open_group: Option<GroupId>,
    /// Lines between the bottom of the conversation and the bottom of the view.
    pub(super) scroll: usize,
    /// The own message picked with ↑/↓ in the conversation (in a group's, its place among
    /// the items shown).
    pub(super) chosen: Option<Seq>,
    /// The terminal size, so that scrolling knows how tall the view is.
    pub(super) size: Rect,
    /// The "new" line of the open conversation, kept until another one is opened.
    pub(super) marker: Option<Marker>,
}

impl ConversationView {
    pub(super) fn new() -> ConversationView {
        ConversationView {
            focus: Focus::Contacts,
            selected: None,
            open: None,
            group: None,
            open_group: None,
            scroll: 0,
            chosen: None,
            size: Rect::new(0, 0, 80, 24),
            marker: None,
        }
    }

    /// Where the cursor is in the list: on the selected peer, or the first row.
    pub(super) fn selected_index(&self, roster: &Roster) -> usize {
        self.selected
            .and_then(|id| roster.position(id))
            .unwrap_or(0)
    }

    /// Puts the cursor on row `index`, if there is such a row.
    pub(super) fn select_index(&mut self, roster: &Roster, index: usize) {
        if let Some(peer) = roster.peers().get(index) {
            self.selected = Some(peer.id());
        }
    }

    /// The picked message's place in the open conversation.
    pub(super) fn chosen_index(&self, peer: &Peer) -> Option<usize> {
        peer.index_of(self.chosen?)
    }

    /// Back to following the conversation at its newest message.
    pub(super) fn follow(&mut self) {
        self.chosen = None;
        self.scroll = 0;
    }

    /// Keeps the view from scrolling past the first of `count` messages, `height(i)` lines
    /// each, in a view `view` lines tall. Walks back only as far as the view reaches, so a
    /// long history costs nothing until it is scrolled through.
    pub(super) fn clamp_scroll(
        &mut self,
        count: usize,
        view: usize,
        height: impl Fn(usize) -> usize,
    ) {
        let wanted = self.scroll + view;
        let mut total = 0;
        for index in (0..count).rev() {
            total += height(index);
            if total >= wanted {
                return;
            }
        }
        self.scroll = self.scroll.min(total.saturating_sub(view));
    }

    /// Scrolls just enough for message `index` of `count` to be in view.
    pub(super) fn reveal(
        &mut self,
        index: usize,
        count: usize,
        view: usize,
        height: impl Fn(usize) -> usize,
    ) {
        let below: usize = (index + 1..count).map(&height).sum();
        let own = height(index);
        if below < self.scroll {
            self.scroll = below;
        } else if below + own > self.scroll + view {
            self.scroll = (below + own).saturating_sub(view);
        }
    }
}
