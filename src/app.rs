//! The state of the terminal UI and how keys and engine events change it.
//!
//! Nothing here touches the terminal, the network or the clock: keys, pastes, resizes and
//! [`EngineEvent`]s go in, [`Effect`]s come out, and the front end carries them out. That
//! keeps every behaviour testable without a terminal, and keeps drawing read-only.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui_textarea::{TextArea, WrapMode};

use crate::contacts::ContactBook;
use crate::engine::{Command, EngineEvent};
use crate::text::sanitize;
use crate::ui;

/// Something the front end must do on the App's behalf.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Hand this command to the engine.
    Send(Command),
    /// Ring the terminal bell.
    Bell,
    /// Leave qqchat.
    Quit,
}

/// Which pane receives keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Contacts,
    Conversation,
    Input,
}

/// What became of a message this user sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Handed to the engine, no answer yet.
    Pending,
    /// The peer acknowledged it.
    Delivered,
    /// Sent as plain UDP; no receipt will ever come.
    Sent,
    /// The engine gave up; the user may retry.
    Failed,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// This user; `tag` is the number the engine reports on it under.
    Own { mark: Mark, tag: u64 },
    /// The peer of the conversation.
    Received,
}

/// One message of a conversation.
#[derive(Debug, Clone)]
pub struct Message {
    at: Timestamp,
    text: String,
    origin: Origin,
}

impl Message {
    /// When it was sent (own messages) or received.
    pub fn at(&self) -> Timestamp {
        self.at
    }

    /// The text as it is safe to draw.
    ///
    /// Received text was sanitized on arrival. Own text is kept exactly as typed, because
    /// that is what a retry sends again, so it is sanitized here.
    pub fn display_text(&self) -> Cow<'_, str> {
        match self.origin {
            Origin::Received => Cow::Borrowed(&self.text),
            Origin::Own { .. } => Cow::Owned(sanitize(&self.text)),
        }
    }

    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// The delivery mark of an own message, `None` for a received one.
    pub fn mark(&self) -> Option<Mark> {
        match self.origin {
            Origin::Own { mark, .. } => Some(mark),
            Origin::Received => None,
        }
    }

    pub fn is_own(&self) -> bool {
        matches!(self.origin, Origin::Own { .. })
    }
}

/// Someone to talk to: a contact from the book, or an address that wrote to us unasked.
#[derive(Debug, Clone)]
pub struct Peer {
    name: String,
    addr: SocketAddr,
    plain: bool,
    listed: bool,
    unread: usize,
    messages: Vec<Message>,
}

impl Peer {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Talks bare UTF-8 without receipts.
    pub fn is_plain(&self) -> bool {
        self.plain
    }

    /// In `contacts.toml`, rather than an address that wrote first.
    pub fn is_listed(&self) -> bool {
        self.listed
    }

    /// Messages received since the conversation was last open.
    pub fn unread(&self) -> usize {
        self.unread
    }

    pub fn messages(&self) -> &[Message] {
        &self.messages
    }
}

/// The whole UI state, owned by the UI thread.
pub struct App {
    me: String,
    bell: bool,
    local_addr: SocketAddr,
    tz: TimeZone,
    peers: Vec<Peer>,
    /// Cursor in the contact list.
    selected: usize,
    /// The conversation shown on the right.
    open: Option<usize>,
    focus: Focus,
    input: TextArea<'static>,
    /// Lines between the bottom of the conversation and the bottom of the view.
    scroll: usize,
    /// The own message picked with ↑/↓ in the conversation, by index.
    chosen: Option<usize>,
    help: bool,
    /// Where the message each unanswered tag belongs to lives: (peer, message).
    tags: HashMap<u64, (usize, usize)>,
    /// The terminal size, so that scrolling knows how tall messages are.
    size: Rect,
}

impl App {
    /// Starts with the book's contacts, in file order, and nothing open.
    pub fn new(book: &ContactBook, local_addr: SocketAddr, tz: TimeZone) -> App {
        let peers = book
            .contacts
            .iter()
            .map(|c| Peer {
                name: sanitize(&c.name),
                addr: c.addr,
                plain: c.plain,
                listed: true,
                unread: 0,
                messages: Vec::new(),
            })
            .collect();
        let mut app = App {
            me: sanitize(&book.me.name),
            bell: book.me.bell,
            local_addr,
            tz,
            peers,
            selected: 0,
            open: None,
            focus: Focus::Contacts,
            input: TextArea::default(),
            scroll: 0,
            chosen: None,
            help: false,
            tags: HashMap::new(),
            size: Rect::new(0, 0, 80, 24),
        };
        app.reset_input();
        app
    }

    /// Shows the conversations kept from earlier runs.
    pub fn load_history(&mut self, history: Vec<crate::cli::Conversation>) {
        let _ = history;
    }

    // ---- what the UI reads ----

    pub fn me(&self) -> &str {
        &self.me
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn tz(&self) -> &TimeZone {
        &self.tz
    }

    pub fn peers(&self) -> &[Peer] {
        &self.peers
    }

    pub fn selected(&self) -> usize {
        self.selected
    }

    pub fn open(&self) -> Option<usize> {
        self.open
    }

    pub fn open_peer(&self) -> Option<&Peer> {
        self.open.and_then(|i| self.peers.get(i))
    }

    pub fn focus(&self) -> Focus {
        self.focus
    }

    pub fn input(&self) -> &TextArea<'static> {
        &self.input
    }

    /// The input's text as it would be sent.
    pub fn input_text(&self) -> String {
        self.input.lines().join("\n")
    }

    pub fn scroll(&self) -> usize {
        self.scroll
    }

    pub fn chosen(&self) -> Option<usize> {
        self.chosen
    }

    pub fn help_open(&self) -> bool {
        self.help
    }

    // ---- what changes it ----

    /// The terminal was resized (or its first size is known).
    pub fn on_resize(&mut self, width: u16, height: u16) {
        self.size = Rect::new(0, 0, width, height);
        self.clamp_scroll();
    }

    /// Bracketed paste: the whole text goes into the input, newlines included; never sends.
    pub fn on_paste(&mut self, text: String) {
        self.help = false;
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        self.input.insert_str(sanitize(&text));
        if self.open.is_some() {
            self.set_focus(Focus::Input);
        }
    }

    /// A key was pressed. `now` stamps a message sent by it.
    pub fn on_key(&mut self, key: KeyEvent, now: Timestamp) -> Vec<Effect> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && matches!(key.code, KeyCode::Char('c' | 'C')) {
            return vec![Effect::Quit];
        }
        if self.help {
            self.help = false;
            return Vec::new();
        }
        match key.code {
            KeyCode::F(1) => {
                self.help = true;
                return Vec::new();
            }
            KeyCode::PageUp => {
                self.scroll_by(self.page() as isize);
                return Vec::new();
            }
            KeyCode::PageDown => {
                self.scroll_by(-(self.page() as isize));
                return Vec::new();
            }
            _ => {}
        }
        match self.focus {
            Focus::Contacts => self.contacts_key(key),
            Focus::Conversation => self.conversation_key(key),
            Focus::Input => self.input_key(key, now),
        }
    }

    /// Something happened in the engine.
    pub fn on_engine(&mut self, event: EngineEvent) -> Vec<Effect> {
        match event {
            EngineEvent::Delivered { tag, .. } => self.settle(tag, Mark::Delivered),
            EngineEvent::Sent { tag, .. } => self.settle(tag, Mark::Sent),
            EngineEvent::Failed { tag, .. } | EngineEvent::Queued { tag, .. } => {
                self.settle(tag, Mark::Failed);
            }
            EngineEvent::Cancelled { .. }
            | EngineEvent::Presence { .. }
            | EngineEvent::Link { .. }
            | EngineEvent::Pong { .. }
            | EngineEvent::Error(_) => {}
            EngineEvent::Received {
                from,
                text,
                received_at,
                plain,
                ..
            } => return self.receive(from, &text, received_at, plain),
        }
        Vec::new()
    }

    // ---- keys per pane ----

    fn contacts_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Char('q') => return vec![Effect::Quit],
            KeyCode::Char('?') => self.help = true,
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = (self.selected + 1).min(self.peers.len().saturating_sub(1));
            }
            KeyCode::Home | KeyCode::Char('g') => self.selected = 0,
            KeyCode::End | KeyCode::Char('G') => {
                self.selected = self.peers.len().saturating_sub(1);
            }
            KeyCode::Enter => self.open_selected(),
            KeyCode::Tab if self.open.is_some() => self.set_focus(Focus::Conversation),
            KeyCode::BackTab if self.open.is_some() => self.set_focus(Focus::Input),
            _ => {}
        }
        Vec::new()
    }

    fn conversation_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Char('?') => self.help = true,
            KeyCode::Esc | KeyCode::BackTab => self.set_focus(Focus::Contacts),
            KeyCode::Tab | KeyCode::Enter | KeyCode::Char('i') => self.set_focus(Focus::Input),
            KeyCode::Up | KeyCode::Char('k') => self.choose_earlier(),
            KeyCode::Down | KeyCode::Char('j') => self.choose_later(),
            KeyCode::End | KeyCode::Char('G') => {
                self.chosen = None;
                self.scroll = 0;
            }
            KeyCode::Char('r') => {
                if let (Some(peer), Some(index)) = (self.open, self.chosen) {
                    return self.retry(peer, index);
                }
            }
            _ => {}
        }
        Vec::new()
    }

    fn input_key(&mut self, key: KeyEvent, now: Timestamp) -> Vec<Effect> {
        let modified = key
            .modifiers
            .intersects(KeyModifiers::ALT | KeyModifiers::SHIFT | KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Enter if !modified => return self.send_input(now),
            KeyCode::Enter => self.input.insert_newline(),
            KeyCode::Esc | KeyCode::Tab => self.set_focus(Focus::Contacts),
            KeyCode::BackTab => self.set_focus(Focus::Conversation),
            KeyCode::Char('r' | 'R') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                return self.retry_latest();
            }
            _ => {
                self.input.input(key);
            }
        }
        Vec::new()
    }

    // ---- actions ----

    fn set_focus(&mut self, focus: Focus) {
        self.focus = focus;
        if focus != Focus::Conversation {
            self.chosen = None;
        }
        // Only the focused input shows a cursor, so the eye finds where typing goes.
        let cursor = if focus == Focus::Input {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new()
        };
        self.input.set_cursor_style(cursor);
    }

    fn reset_input(&mut self) {
        let mut input = TextArea::default();
        input.set_wrap_mode(WrapMode::WordOrGlyph);
        input.set_cursor_line_style(Style::new());
        input.set_placeholder_text("Type a message · Enter sends · Alt+Enter new line");
        input.set_placeholder_style(Style::new().add_modifier(Modifier::DIM));
        self.input = input;
        self.set_focus(self.focus);
    }

    fn open_selected(&mut self) {
        if self.selected >= self.peers.len() {
            return;
        }
        self.open = Some(self.selected);
        self.peers[self.selected].unread = 0;
        self.scroll = 0;
        self.chosen = None;
        self.set_focus(Focus::Input);
    }

    fn alloc_tag(&mut self) -> u64 {
        crate::engine::new_message_id()
    }

    fn send_input(&mut self, now: Timestamp) -> Vec<Effect> {
        let Some(peer) = self.open else {
            return Vec::new();
        };
        let text = self.input_text();
        if text.trim().is_empty() {
            return Vec::new();
        }
        let text = text.trim_end().to_string();
        self.reset_input();
        let tag = self.alloc_tag();
        let p = &mut self.peers[peer];
        p.messages.push(Message {
            at: now,
            text: text.clone(),
            origin: Origin::Own {
                mark: Mark::Pending,
                tag,
            },
        });
        self.tags.insert(tag, (peer, p.messages.len() - 1));
        self.scroll = 0;
        self.chosen = None;
        vec![Effect::Send(Command::Send {
            to: p.addr,
            text,
            plain: p.plain,
            tag,
        })]
    }

    /// Sends a failed message again under a new tag; anything else is left alone.
    fn retry(&mut self, peer: usize, index: usize) -> Vec<Effect> {
        let failed = self
            .peers
            .get(peer)
            .and_then(|p| p.messages.get(index))
            .and_then(|m| match m.origin {
                Origin::Own {
                    mark: Mark::Failed,
                    tag,
                } => Some(tag),
                _ => None,
            });
        let Some(old) = failed else {
            return Vec::new();
        };
        let tag = self.alloc_tag();
        let p = &mut self.peers[peer];
        let message = &mut p.messages[index];
        self.tags.remove(&old);
        message.origin = Origin::Own {
            mark: Mark::Pending,
            tag,
        };
        self.tags.insert(tag, (peer, index));
        vec![Effect::Send(Command::Send {
            to: p.addr,
            text: message.text.clone(),
            plain: p.plain,
            tag,
        })]
    }

    fn retry_latest(&mut self) -> Vec<Effect> {
        let Some(peer) = self.open else {
            return Vec::new();
        };
        let latest = self.peers[peer]
            .messages
            .iter()
            .rposition(|m| m.mark() == Some(Mark::Failed));
        match latest {
            Some(index) => self.retry(peer, index),
            None => Vec::new(),
        }
    }

    /// Records the engine's final word on a tag.
    fn settle(&mut self, tag: u64, mark: Mark) {
        let Some((peer, index)) = self.tags.remove(&tag) else {
            return;
        };
        if let Some(message) = self
            .peers
            .get_mut(peer)
            .and_then(|p| p.messages.get_mut(index))
        {
            message.origin = Origin::Own { mark, tag };
        }
    }

    fn receive(&mut self, from: SocketAddr, text: &str, at: Timestamp, plain: bool) -> Vec<Effect> {
        let peer = match self.peers.iter().position(|p| same_addr(p.addr, from)) {
            Some(i) => i,
            None => {
                self.peers.push(Peer {
                    name: SocketAddr::new(canonical(from.ip()), from.port()).to_string(),
                    addr: from,
                    plain,
                    listed: false,
                    unread: 0,
                    messages: Vec::new(),
                });
                self.peers.len() - 1
            }
        };
        let p = &mut self.peers[peer];
        if !p.listed {
            // An unlisted peer is answered the way it last spoke.
            p.plain = plain;
        }
        // A trailing newline (as `nc -u` sends) is a line ending, not an empty line.
        let text = text.trim_end_matches(['\n', '\r']);
        p.messages.push(Message {
            at,
            text: sanitize(text),
            origin: Origin::Received,
        });
        let index = p.messages.len() - 1;
        if self.open != Some(peer) {
            p.unread += 1;
            return if self.bell {
                vec![Effect::Bell]
            } else {
                Vec::new()
            };
        }
        if self.scroll > 0 {
            // The reader is looking at older lines: keep them where they are.
            self.scroll += self.message_height(peer, index);
        }
        Vec::new()
    }

    // ---- scrolling and choosing ----

    /// The conversation's text area for the current terminal size.
    fn viewport(&self) -> Rect {
        ui::conversation_text_area(self.size, self)
    }

    /// Lines a PgUp/PgDn moves: a screen, less two lines of context.
    fn page(&self) -> usize {
        (self.viewport().height as usize).saturating_sub(2).max(1)
    }

    fn message_height(&self, peer: usize, index: usize) -> usize {
        let width = self.viewport().width;
        ui::conversation::message_lines(self, &self.peers[peer], index, width).len()
    }

    fn scroll_by(&mut self, delta: isize) {
        if self.open.is_none() {
            return;
        }
        self.scroll = self.scroll.saturating_add_signed(delta);
        self.clamp_scroll();
    }

    /// Keeps the view from scrolling past the first message. Walks back only as far as the
    /// view reaches, so a long history costs nothing until it is scrolled through.
    fn clamp_scroll(&mut self) {
        let Some(peer) = self.open else {
            self.scroll = 0;
            return;
        };
        let height = self.viewport().height as usize;
        let wanted = self.scroll + height;
        let mut total = 0;
        for index in (0..self.peers[peer].messages.len()).rev() {
            total += self.message_height(peer, index);
            if total >= wanted {
                return;
            }
        }
        self.scroll = self.scroll.min(total.saturating_sub(height));
    }

    fn choose_earlier(&mut self) {
        let Some(peer) = self.open else { return };
        let messages = &self.peers[peer].messages;
        let end = self.chosen.unwrap_or(messages.len());
        if let Some(index) = messages[..end.min(messages.len())]
            .iter()
            .rposition(Message::is_own)
        {
            self.chosen = Some(index);
            self.reveal(peer, index);
        }
    }

    fn choose_later(&mut self) {
        let Some(peer) = self.open else { return };
        let Some(current) = self.chosen else { return };
        let messages = &self.peers[peer].messages;
        match messages.iter().skip(current + 1).position(Message::is_own) {
            Some(offset) => {
                let index = current + 1 + offset;
                self.chosen = Some(index);
                self.reveal(peer, index);
            }
            None => {
                // Past the newest own message: back to following the conversation.
                self.chosen = None;
                self.scroll = 0;
            }
        }
    }

    /// Scrolls just enough for message `index` to be in view.
    fn reveal(&mut self, peer: usize, index: usize) {
        let height = self.viewport().height as usize;
        let below: usize = (index + 1..self.peers[peer].messages.len())
            .map(|i| self.message_height(peer, i))
            .sum();
        let own = self.message_height(peer, index);
        if below < self.scroll {
            self.scroll = below;
        } else if below + own > self.scroll + height {
            self.scroll = (below + own).saturating_sub(height);
        }
    }
}

/// The IPv4 address inside an IPv4-mapped IPv6 one, so `::ffff:10.0.0.1` is `10.0.0.1`.
fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// Whether two addresses reach the same socket (ignoring IPv4 mapping and IPv6 flow info).
fn same_addr(a: SocketAddr, b: SocketAddr) -> bool {
    canonical(a.ip()) == canonical(b.ip()) && a.port() == b.port()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn mapped_ipv6_is_the_same_address() {
        let v4: SocketAddr = "127.0.0.1:5555".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:5555".parse().unwrap();
        let other_port: SocketAddr = "127.0.0.1:5556".parse().unwrap();
        assert!(same_addr(v4, mapped));
        assert!(!same_addr(v4, other_port));
    }
}
