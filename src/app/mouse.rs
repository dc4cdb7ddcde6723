//! The mouse: the wheel scrolls the open conversation (or the help), a click on the contact
//! list opens the conversation under it, a click on the conversation or the input gives it
//! the keys. Clicks are mapped through the same layout and list of lines the drawing uses.

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};
use ratatui::widgets::Block;

use super::overlay::Overlay;
use super::peer::Part;
use super::view::Focus;
use super::{App, Effect};
use crate::layout;

/// Lines one notch of the wheel scrolls.
pub const WHEEL_LINES: usize = 3;

/// One line of the contact list, as drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListLine {
    /// `─ label ───`, before a part of the list.
    Divider(&'static str),
    /// Row `index` of the list: a peer's.
    Peer(usize),
    /// What discovery says of the peer of row `index`, under its name.
    About(usize),
    /// Row `index` of the list: a group's (counted after every peer).
    Group(usize),
}

impl ListLine {
    /// The row of the list this line belongs to, if any.
    pub fn row(self) -> Option<usize> {
        match self {
            ListLine::Divider(_) => None,
            ListLine::Peer(i) | ListLine::About(i) | ListLine::Group(i) => Some(i),
        }
    }
}

impl App {
    /// The lines of the contact list, in order: dividers between its parts, each peer (and
    /// what discovery says of it), then the groups.
    pub fn list_lines(&self) -> Vec<ListLine> {
        let mut lines = Vec::with_capacity(self.peers().len() + self.groups.len() + 3);
        let mut part = Part::Contacts;
        for (index, peer) in self.peers().iter().enumerate() {
            if peer.part() != part {
                // Addresses that wrote unasked, and people found on this network, are kept
                // apart from the book's contacts and from each other.
                part = peer.part();
                lines.push(ListLine::Divider(match part {
                    Part::Contacts => "contacts",
                    Part::NotInContacts => "requests",
                    Part::OnThisNetwork => "on this network",
                }));
            }
            lines.push(ListLine::Peer(index));
            if peer.neighbour().is_some() {
                lines.push(ListLine::About(index));
            }
        }
        if !self.groups.is_empty() {
            lines.push(ListLine::Divider("groups"));
        }
        let peers = self.peers().len();
        lines.extend((0..self.groups.len()).map(|i| ListLine::Group(peers + i)));
        lines
    }

    /// The first of `lines` shown in a list `height` lines tall: scrolled just enough to
    /// keep the cursor's entry (all of it) on screen.
    pub fn list_top(&self, lines: &[ListLine], height: usize) -> usize {
        let selected = self.selected();
        let end = lines
            .iter()
            .rposition(|l| l.row() == Some(selected))
            .map_or(0, |i| i + 1);
        end.saturating_sub(height)
    }

    /// A mouse event. With an overlay open only the wheel does anything (in the help).
    pub fn on_mouse(&mut self, event: MouseEvent) -> Vec<Effect> {
        let up = match event.kind {
            MouseEventKind::ScrollUp => Some(true),
            MouseEventKind::ScrollDown => Some(false),
            _ => None,
        };
        if let Some(up) = up {
            let step = if up {
                WHEEL_LINES as isize
            } else {
                -(WHEEL_LINES as isize)
            };
            match self.overlay {
                Overlay::Help { .. } => self.help_wheel(-step),
                Overlay::None => self.scroll_by(step),
                _ => {}
            }
            return Vec::new();
        }
        if event.kind != MouseEventKind::Down(MouseButton::Left)
            || !matches!(self.overlay, Overlay::None)
        {
            return Vec::new();
        }
        self.status.clear();
        let at = Position::new(event.column, event.row);
        let areas = layout::areas(self.view.size, self.composer.textarea().lines().len());
        let conversation_open = self.view.open.is_some() || self.view.open_group.is_some();
        if areas.contacts.contains(at) {
            return self.click_list(Block::bordered().inner(areas.contacts), at);
        }
        if conversation_open && areas.conversation.contains(at) {
            self.set_focus(Focus::Conversation);
        } else if conversation_open && areas.input.contains(at) {
            self.set_focus(Focus::Input);
        }
        Vec::new()
    }

    /// The wheel over the help scrolls it, where it does not fit (it stays open).
    fn help_wheel(&mut self, step: isize) {
        let most = layout::help_max_scroll(
            super::keys::help_shape(super::keys::LEGEND_ROWS),
            self.last_error(),
            self.view.size,
        );
        if let Overlay::Help { scroll } = &mut self.overlay {
            *scroll = scroll.saturating_add_signed(step).min(most);
        }
    }

    /// A click at `at` in the contact list drawn in `inner`: the row there is picked and
    /// its conversation opened, as Enter on it would.
    fn click_list(&mut self, inner: Rect, at: Position) -> Vec<Effect> {
        if !inner.contains(at) {
            return Vec::new();
        }
        let lines = self.list_lines();
        let top = self.list_top(&lines, usize::from(inner.height));
        let line = top + usize::from(at.y - inner.y);
        let Some(row) = lines.get(line).and_then(|l| l.row()) else {
            return Vec::new();
        };
        self.select_row(row);
        let mut effects = self.open_selected();
        effects.extend(self.unsaved_drafts());
        effects
    }
}
