//! The state of the terminal UI and how keys and engine events change it.
//!
//! Nothing here touches the terminal, the network or the clock: keys, pastes, resizes and
//! [`EngineEvent`]s go in, [`Effect`]s come out, and the front end carries them out. That
//! keeps every behaviour testable without a terminal, and keeps drawing read-only.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui_textarea::{TextArea, WrapMode};

use crate::contacts::ContactBook;
use crate::engine::{Command, EngineEvent, Link};
use crate::identity::{ContactString, parse_contact_string};
use crate::store::{Direction, MessageState, StoredMessage};
use crate::text::{is_clean, one_line, sanitize, sanitize_owned};
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
    /// Write `addr` into the contacts file as `name`, then reload it.
    AddContact {
        name: String,
        addr: SocketAddr,
        plain: bool,
    },
    /// Rename contact `from` (its name in the file) to `to`, then reload the file.
    RenameContact { from: String, to: String },
    /// Write a contact with a public key into the contacts file, then reload it. `addr` is
    /// kept as the contact string wrote it (a host name stays a host name).
    AddKeyedContact {
        name: String,
        addr: String,
        key: [u8; 32],
    },
    /// Take contact `name` out of the contacts file, then reload it.
    RemoveContact { name: String },
    /// Read the contacts file again.
    ReloadContacts,
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
    /// Retries ran out; the engine sends it when the contact is next heard from.
    Queued,
    /// The engine gave up; the user may retry.
    Failed,
    /// Taken out of the outbox by the user.
    Cancelled,
}

impl Mark {
    /// The mark a stored message comes back with.
    fn from_state(state: MessageState) -> Mark {
        match state {
            MessageState::Pending => Mark::Pending,
            MessageState::Delivered => Mark::Delivered,
            // An own message is never `Received`; if one says so, it at least left.
            MessageState::Sent | MessageState::Received => Mark::Sent,
            MessageState::Queued => Mark::Queued,
            MessageState::Failed => Mark::Failed,
            MessageState::Cancelled => Mark::Cancelled,
        }
    }

    /// The engine will still report on it, so its tag stays registered.
    fn is_open(self) -> bool {
        matches!(self, Mark::Pending | Mark::Queued)
    }

    /// Something `r` can act on: send it again, or send it now.
    fn is_retryable(self) -> bool {
        matches!(self, Mark::Queued | Mark::Failed)
    }
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
            // Nearly always clean: then no copy is made on every frame.
            Origin::Own { .. } if is_clean(&self.text) => Cow::Borrowed(&self.text),
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

    /// A message from the history, as it was last known.
    fn from_stored(m: StoredMessage) -> Message {
        match m.dir {
            Direction::In => {
                let mut text = m.text;
                text.truncate(text.trim_end_matches(['\n', '\r']).len());
                Message {
                    at: m.at,
                    text: sanitize_owned(text),
                    origin: Origin::Received,
                }
            }
            Direction::Out => Message {
                at: m.at,
                text: m.text,
                origin: Origin::Own {
                    mark: Mark::from_state(m.state),
                    tag: m.id,
                },
            },
        }
    }
}

/// Someone to talk to: a contact from the book, or an address that wrote to us unasked.
#[derive(Debug, Clone)]
pub struct Peer {
    name: String,
    /// The name its history is kept under: the contact's name as written in the file, or
    /// `addr-<ip:port>`, or the name of a contact since removed.
    key: String,
    addr: SocketAddr,
    plain: bool,
    listed: bool,
    /// The contact's public key from the book; `None` for a contact without one and for
    /// every entry not in contacts.
    public_key: Option<[u8; 32]>,
    unread: usize,
    messages: Vec<Message>,
    /// The last word from the engine on presence and link quality.
    link: Option<Link>,
    /// Own messages that are queued or failed, so hints need not scan the history.
    retryable: usize,
    /// How many of the first messages came from the history on disk (the rest arrived or
    /// were sent since start): the part the full history replaces once it is read.
    from_history: usize,
}

impl Peer {
    fn new(name: String, key: String, addr: SocketAddr, plain: bool, listed: bool) -> Peer {
        Peer {
            name,
            key,
            addr,
            plain,
            listed,
            public_key: None,
            unread: 0,
            messages: Vec::new(),
            link: None,
            retryable: 0,
            from_history: 0,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name its history is kept under (a contact's name exactly as in the file).
    pub fn key(&self) -> &str {
        &self.key
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

    /// A contact with a public key: everything with it is authenticated and encrypted.
    /// Anyone else (a contact without a key, an address not in contacts) is unverified.
    pub fn is_keyed(&self) -> bool {
        self.public_key.is_some()
    }

    /// Messages received since the conversation was last open.
    pub fn unread(&self) -> usize {
        self.unread
    }

    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// Presence and link figures, once the engine has said anything about them.
    pub fn link(&self) -> Option<&Link> {
        self.link.as_ref()
    }

    /// `Some(true)` online, `Some(false)` offline, `None` not known (yet).
    pub fn online(&self) -> Option<bool> {
        self.link.and_then(|l| l.online)
    }

    /// Some own message here is queued or failed, so Ctrl-R has something to do.
    pub fn has_retryable(&self) -> bool {
        self.retryable > 0
    }
}

/// How far a peer can be trusted to be who its name says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// A contact with a key: its messages are authenticated.
    Keyed,
    /// No key: anyone on the network could be writing under this name.
    Unverified,
    /// No key, and `[me] require_keys` refuses such peers: nothing is sent or taken.
    Refused,
}

/// A line for the status bar that stays until the next key press.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Error(String),
    Info(String),
}

/// What a prompt is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptKind {
    /// Name the address, which is not in contacts yet, to add it.
    Add { addr: SocketAddr },
    /// Rename the contact written `key` in the file.
    Rename { key: String },
    /// Confirm taking the contact written `key` out of the file.
    Remove { key: String },
    /// Paste a contact string (`qqchat:alice@192.168.1.20:9001?key=…`) to add it.
    AddKeyed,
    /// A name for the contact string read already, whose own name was taken.
    NameKeyed { addr: String, key: [u8; 32] },
}

/// A small question over the screen: a name to type, or yes or no.
pub struct Prompt {
    kind: PromptKind,
    question: String,
    input: TextArea<'static>,
    /// Why Enter did not take the name, until the next key.
    error: Option<String>,
}

impl Prompt {
    fn new(kind: PromptKind, question: String, text: &str) -> Prompt {
        Prompt {
            kind,
            question,
            input: name_input(text),
            error: None,
        }
    }

    pub fn kind(&self) -> &PromptKind {
        &self.kind
    }

    /// `Name for 127.0.0.1:5555:`, `Rename bob to:`, `Remove bob from contacts? y/n`,
    /// `Paste a contact string (from qqchat id):`.
    pub fn question(&self) -> &str {
        &self.question
    }

    /// Answered with y or n rather than typed text.
    pub fn is_confirm(&self) -> bool {
        matches!(self.kind, PromptKind::Remove { .. })
    }

    pub fn input(&self) -> &TextArea<'static> {
        &self.input
    }

    /// The text typed so far.
    pub fn text(&self) -> String {
        self.input.lines().concat()
    }

    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// In the contact string prompt, what the text reads as, once it does.
    pub fn contact_string(&self) -> Option<ContactString> {
        if self.kind != PromptKind::AddKeyed {
            return None;
        }
        parse_contact_string(&self.text()).ok()
    }
}

/// A one-line input holding `text`, its cursor at the end.
fn name_input(text: &str) -> TextArea<'static> {
    let mut input = TextArea::default();
    input.set_cursor_line_style(Style::new());
    input.set_cursor_style(Style::new().add_modifier(Modifier::REVERSED));
    input.insert_str(text);
    input
}

/// The whole UI state, owned by the UI thread.
pub struct App {
    me: String,
    bell: bool,
    /// `[me] require_keys`: peers without a key are refused.
    require_keys: bool,
    local_addr: SocketAddr,
    tz: TimeZone,
    /// The front end's clock at its last wake, so "today" can be told from other days.
    now: Option<Timestamp>,
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
    /// Lines the help is scrolled by, on a terminal too short for all of it.
    help_scroll: usize,
    prompt: Option<Prompt>,
    notice: Option<Notice>,
    /// The last error shown, kept after the status line moves on, so the help can show it
    /// whole when the status line had to cut it.
    last_error: Option<String>,
    /// Where the message each unanswered tag belongs to lives: (peer, message).
    tags: HashMap<u64, (usize, usize)>,
    /// History keys found on disk at start. A contact may not take one of these names from
    /// another conversation: renaming a history onto it would overwrite that file.
    known_keys: HashSet<String>,
    /// The terminal size, so that scrolling knows how tall messages are.
    size: Rect,
}

impl App {
    /// Starts with the book's contacts, in file order, and nothing open.
    pub fn new(book: &ContactBook, local_addr: SocketAddr, tz: TimeZone) -> App {
        let peers = book
            .contacts
            .iter()
            .map(|c| {
                let mut peer = Peer::new(sanitize(&c.name), c.name.clone(), c.addr, c.plain, true);
                peer.public_key = c.key;
                peer
            })
            .collect();
        let mut app = App {
            me: sanitize(&book.me.name),
            bell: book.me.bell,
            require_keys: book.me.require_keys,
            local_addr,
            tz,
            now: None,
            peers,
            selected: 0,
            open: None,
            focus: Focus::Contacts,
            input: TextArea::default(),
            scroll: 0,
            chosen: None,
            help: false,
            help_scroll: 0,
            prompt: None,
            notice: None,
            last_error: None,
            tags: HashMap::new(),
            known_keys: HashSet::new(),
            size: Rect::new(0, 0, 80, 24),
        };
        app.reset_input();
        app
    }

    /// Shows the conversations kept from earlier runs.
    ///
    /// A conversation named after a contact fills that contact. One named `addr-<ip:port>`
    /// belongs to whoever has that address, or becomes an entry of its own, as a message
    /// from an unknown address does. Any other name is a contact since removed from the
    /// file: it becomes an entry under that name at the address it last talked to (or joins
    /// the entry that already has that address, so one address never has two entries).
    ///
    /// Messages are moved, not wrapped or copied: a history of any length loads in linear
    /// time, and is wrapped only as it is scrolled into view.
    pub fn load_history(&mut self, history: Vec<crate::cli::Conversation>) {
        for (peer, messages) in self.history_by_peer(history) {
            let p = &mut self.peers[peer];
            p.messages = if p.messages.is_empty() {
                messages
            } else {
                merge_by_time(std::mem::take(&mut p.messages), messages)
            };
            p.from_history = p.messages.len();
        }
        self.reindex();
        self.clamp_scroll();
    }

    /// Stored conversations as messages per entry (made where needed), in time order when
    /// several conversations belong to one entry.
    fn history_by_peer(
        &mut self,
        history: Vec<crate::cli::Conversation>,
    ) -> HashMap<usize, Vec<Message>> {
        let mut per_peer: HashMap<usize, Vec<Message>> = HashMap::new();
        for conversation in history {
            self.known_keys.insert(conversation.key.clone());
            let Some(peer) = self.history_peer(&conversation) else {
                continue;
            };
            let messages: Vec<Message> = conversation
                .messages
                .into_iter()
                .map(Message::from_stored)
                .collect();
            let slot = per_peer.entry(peer).or_default();
            *slot = if slot.is_empty() {
                messages
            } else {
                merge_by_time(std::mem::take(slot), messages)
            };
        }
        per_peer
    }

    /// The whole history, read after the first frame was drawn from the last part of each
    /// conversation ([`App::load_history`]): it takes the place of that part, and whatever
    /// arrived or was sent since start stays after it. The view does not move.
    pub fn replace_history(&mut self, full: Vec<crate::cli::Conversation>) {
        let per_peer = self.history_by_peer(full);
        for (peer, history) in per_peer {
            let p = &mut self.peers[peer];
            let live = p.messages.split_off(p.from_history.min(p.messages.len()));
            let added = history.len().saturating_sub(p.from_history);
            let removed = p.from_history.saturating_sub(history.len());
            p.from_history = history.len();
            p.messages = history;
            p.messages.extend(live);
            if self.open == Some(peer)
                && let Some(chosen) = self.chosen.as_mut()
            {
                *chosen = (*chosen + added).saturating_sub(removed);
            }
        }
        self.reindex();
        self.clamp_scroll();
    }

    /// The entry a stored conversation belongs to, made if needed; `None` when the history
    /// says too little to tell where it belongs.
    fn history_peer(&mut self, conversation: &crate::cli::Conversation) -> Option<usize> {
        let key = &conversation.key;
        if let Some(i) = self.peers.iter().position(|p| p.listed && p.key == *key) {
            return Some(i);
        }
        let last = conversation.messages.last();
        let by_key: Option<SocketAddr> = key.strip_prefix("addr-").and_then(|a| a.parse().ok());
        let addr = match by_key {
            Some(addr) => addr,
            None => last?.peer.parse().ok()?,
        };
        if let Some(i) = self.peers.iter().position(|p| same_addr(p.addr, addr)) {
            let p = &mut self.peers[i];
            if by_key.is_none() && !p.listed && p.key.starts_with("addr-") {
                // A name says more than an address.
                p.name = sanitize(key);
                p.key.clone_from(key);
            }
            return Some(i);
        }
        let name = match by_key {
            Some(addr) => display_addr(addr),
            None => sanitize(key),
        };
        let plain = last.is_some_and(|m| m.plain);
        self.peers
            .push(Peer::new(name, key.clone(), addr, plain, false));
        Some(self.peers.len() - 1)
    }

    /// Rebuilds what is derived from the messages: tags still waiting for the engine and the
    /// count of retryable messages. Linear in the number of messages.
    fn reindex(&mut self) {
        self.tags.clear();
        for (pi, peer) in self.peers.iter_mut().enumerate() {
            peer.retryable = 0;
            for (mi, message) in peer.messages.iter().enumerate() {
                if let Origin::Own { mark, tag } = message.origin {
                    if mark.is_open() {
                        self.tags.insert(tag, (pi, mi));
                    }
                    if mark.is_retryable() {
                        peer.retryable += 1;
                    }
                }
            }
        }
    }

    /// Takes the contacts of a (re)loaded book, and returns the engine commands that go with
    /// it: a [`Command::RenameHistory`] for each conversation whose name changes, then
    /// [`Command::SetContacts`]. Send them in that order.
    ///
    /// Entries are matched by address, then by name (a contact whose address was edited):
    /// a matched entry keeps its messages, unread count and presence. A contact that is gone
    /// stays as an entry "not in contacts" if it has messages. The cursor and the open
    /// conversation stay on the same peer.
    pub fn set_contacts(&mut self, book: &ContactBook) -> Vec<Effect> {
        let old = std::mem::take(&mut self.peers);
        let mut matched: Vec<Option<usize>> = vec![None; book.contacts.len()];
        let mut used = vec![false; old.len()];
        for (ci, contact) in book.contacts.iter().enumerate() {
            if let Some(i) =
                (0..old.len()).find(|&i| !used[i] && same_addr(old[i].addr, contact.addr))
            {
                matched[ci] = Some(i);
                used[i] = true;
            }
        }
        for (ci, contact) in book.contacts.iter().enumerate() {
            if matched[ci].is_some() {
                continue;
            }
            if let Some(i) =
                (0..old.len()).find(|&i| !used[i] && old[i].listed && old[i].key == contact.name)
            {
                matched[ci] = Some(i);
                used[i] = true;
            }
        }

        let mut old: Vec<Option<Peer>> = old.into_iter().map(Some).collect();
        let mut moved_to: Vec<Option<usize>> = vec![None; old.len()];
        let mut effects = Vec::new();
        let mut peers = Vec::with_capacity(book.contacts.len());
        for (ci, contact) in book.contacts.iter().enumerate() {
            let mut peer = match matched[ci].and_then(|i| old[i].take().map(|p| (i, p))) {
                Some((i, mut peer)) => {
                    moved_to[i] = Some(peers.len());
                    if peer.key != contact.name {
                        if let Some(command) = self.history_rename(&peer, &contact.name) {
                            effects.push(Effect::Send(command));
                        }
                        peer.key.clone_from(&contact.name);
                    }
                    if !same_addr(peer.addr, contact.addr) {
                        peer.link = None;
                    }
                    peer.name = sanitize(&contact.name);
                    peer.addr = contact.addr;
                    peer.plain = contact.plain;
                    peer.listed = true;
                    peer
                }
                None => Peer::new(
                    sanitize(&contact.name),
                    contact.name.clone(),
                    contact.addr,
                    contact.plain,
                    true,
                ),
            };
            peer.public_key = contact.key;
            peers.push(peer);
        }
        for (i, slot) in old.iter_mut().enumerate() {
            let Some(mut peer) = slot.take() else {
                continue;
            };
            if peer.listed && peer.messages.is_empty() {
                continue;
            }
            if peer.listed {
                // No longer watched: what was known of its presence goes stale, and a key
                // no longer in the book vouches for nobody.
                peer.listed = false;
                peer.link = None;
                peer.public_key = None;
            }
            moved_to[i] = Some(peers.len());
            peers.push(peer);
        }
        self.peers = peers;

        let remap = |index: usize| moved_to.get(index).copied().flatten();
        let selected = remap(self.selected);
        self.selected = selected
            .unwrap_or(self.selected)
            .min(self.peers.len().saturating_sub(1));
        if let Some(open) = self.open {
            self.open = remap(open);
            if self.open.is_none() {
                self.scroll = 0;
                self.chosen = None;
                if self.focus != Focus::Contacts {
                    self.set_focus(Focus::Contacts);
                }
            }
        }
        self.reindex();
        effects.push(Effect::Send(Command::SetContacts(book.contacts.clone())));
        effects
    }

    /// The engine command that moves `peer`'s history to `to`, unless that would overwrite
    /// another conversation's file; then the history stays where it is, and the next start
    /// joins the two by address.
    fn history_rename(&mut self, peer: &Peer, to: &str) -> Option<Command> {
        let has_history = !peer.messages.is_empty() || self.known_keys.contains(&peer.key);
        if !has_history || self.known_keys.contains(to) {
            return None;
        }
        self.known_keys.remove(&peer.key);
        self.known_keys.insert(to.to_owned());
        Some(Command::RenameHistory {
            from: peer.key.clone(),
            to: to.to_owned(),
        })
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

    /// The front end's clock at its last wake, if it has told.
    pub fn now(&self) -> Option<Timestamp> {
        self.now
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

    /// The picked message of the open conversation.
    pub fn chosen_message(&self) -> Option<&Message> {
        self.open_peer()?.messages.get(self.chosen?)
    }

    pub fn help_open(&self) -> bool {
        self.help
    }

    pub fn help_scroll(&self) -> usize {
        self.help_scroll
    }

    pub fn prompt(&self) -> Option<&Prompt> {
        self.prompt.as_ref()
    }

    pub fn notice(&self) -> Option<&Notice> {
        self.notice.as_ref()
    }

    /// The last error shown in the status line, even after it left it.
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// Whether `peer` is known to be who its name says, and whether it may be written to.
    pub fn trust(&self, peer: &Peer) -> Trust {
        if peer.is_keyed() {
            Trust::Keyed
        } else if self.require_keys {
            Trust::Refused
        } else {
            Trust::Unverified
        }
    }

    // ---- what changes it ----

    /// The front end's clock, read when it woke; only used to tell today from other days.
    pub fn set_now(&mut self, now: Timestamp) {
        self.now = Some(now);
    }

    /// Shows an error in the status line, on one line, until the next key press.
    pub fn show_error(&mut self, text: &str) {
        let text = one_line(text);
        self.last_error = Some(text.clone());
        self.notice = Some(Notice::Error(text));
    }

    /// Shows news in the status line until the next key press.
    pub fn show_info(&mut self, text: &str) {
        self.notice = Some(Notice::Info(one_line(text)));
    }

    /// The terminal was resized (or its first size is known).
    pub fn on_resize(&mut self, width: u16, height: u16) {
        self.size = Rect::new(0, 0, width, height);
        self.clamp_scroll();
    }

    /// Bracketed paste: the whole text goes into the input, newlines included; never sends.
    /// Into a prompt goes the first line that is not blank, only.
    pub fn on_paste(&mut self, text: String) {
        self.help = false;
        if let Some(prompt) = &mut self.prompt {
            if !prompt.is_confirm() {
                // Terminals may send line breaks as CR.
                let text = text.replace('\r', "\n");
                let line = text
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or_default();
                let clean: String = line.chars().filter(|c| !c.is_control()).collect();
                prompt.input.insert_str(clean);
                prompt.error = None;
            }
            return;
        }
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
        self.notice = None;
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && matches!(key.code, KeyCode::Char('c' | 'C')) {
            return vec![Effect::Quit];
        }
        if self.prompt.is_some() {
            return self.prompt_key(key);
        }
        if self.help {
            self.help_key(key);
            return Vec::new();
        }
        match key.code {
            KeyCode::F(1) => {
                self.open_help();
                return Vec::new();
            }
            KeyCode::F(5) => return vec![Effect::ReloadContacts],
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
            EngineEvent::Queued { tag, .. } => self.settle(tag, Mark::Queued),
            EngineEvent::Failed { tag, .. } => self.settle(tag, Mark::Failed),
            EngineEvent::Cancelled { tag, .. } => self.settle(tag, Mark::Cancelled),
            EngineEvent::Presence { peer, online } => {
                for p in self.peers.iter_mut().filter(|p| same_addr(p.addr, peer)) {
                    let link = p.link.get_or_insert(Link {
                        online: None,
                        last_seen: None,
                        rtt: None,
                        loss: 0.0,
                    });
                    link.online = Some(online);
                }
            }
            EngineEvent::Link { peer, link } => {
                for p in self.peers.iter_mut().filter(|p| same_addr(p.addr, peer)) {
                    p.link = Some(link);
                }
            }
            EngineEvent::Error(text) => self.show_error(&text),
            EngineEvent::History(full) => self.replace_history(full),
            EngineEvent::Pong { .. } => {}
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
            KeyCode::Char('?') => self.open_help(),
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
            KeyCode::Char('a') => self.ask_add(),
            KeyCode::Char('A') => self.ask_add_keyed(),
            KeyCode::Char('n') => self.ask_rename(),
            KeyCode::Char('d') => self.ask_remove(),
            _ => {}
        }
        Vec::new()
    }

    fn conversation_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Char('?') => self.open_help(),
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
            KeyCode::Char('x') => {
                if let (Some(peer), Some(index)) = (self.open, self.chosen) {
                    return self.cancel(peer, index);
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

    fn open_help(&mut self) {
        self.help = true;
        self.help_scroll = 0;
    }

    /// Keys while the help is open: arrows scroll it when it does not fit; any other key
    /// closes it and does nothing else.
    fn help_key(&mut self, key: KeyEvent) {
        let most = ui::help::max_scroll(self, self.size);
        let page = (self.size.height as usize).saturating_sub(4).max(1);
        let step = match key.code {
            KeyCode::Down | KeyCode::Char('j') => 1,
            KeyCode::PageDown => page as isize,
            KeyCode::Up | KeyCode::Char('k') => -1,
            KeyCode::PageUp => -(page as isize),
            _ => 0,
        };
        if step == 0 || most == 0 {
            self.help = false;
        } else {
            self.help_scroll = self.help_scroll.saturating_add_signed(step).min(most);
        }
    }

    /// Keys while a prompt is open: they all go to it.
    fn prompt_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(prompt) = &mut self.prompt else {
            return Vec::new();
        };
        if prompt.is_confirm() {
            match key.code {
                KeyCode::Char('y' | 'Y') => {
                    let kind = prompt.kind.clone();
                    self.prompt = None;
                    if let PromptKind::Remove { key } = kind {
                        return vec![Effect::RemoveContact { name: key }];
                    }
                }
                KeyCode::Char('n' | 'N') | KeyCode::Esc => self.prompt = None,
                _ => {}
            }
            return Vec::new();
        }
        prompt.error = None;
        match key.code {
            KeyCode::Esc => self.prompt = None,
            KeyCode::Enter => return self.confirm_name(),
            _ => {
                prompt.input.input(key);
                if prompt.input.lines().len() > 1 {
                    // One line only: whatever key split it (Ctrl-M, Ctrl-J) is undone.
                    prompt.input = name_input(&prompt.text());
                }
            }
        }
        Vec::new()
    }

    // ---- contacts ----

    fn selected_peer(&self) -> Option<&Peer> {
        self.peers.get(self.selected)
    }

    fn ask_add(&mut self) {
        let Some(peer) = self.selected_peer() else {
            return;
        };
        if peer.listed {
            let text = format!("{} is already in contacts; n renames it", peer.name);
            self.show_info(&text);
            return;
        }
        let question = format!("Name for {}:", display_addr(peer.addr));
        // An entry named after a contact since removed offers that name back.
        let suggestion = if peer.key.starts_with("addr-") {
            String::new()
        } else {
            peer.name.clone()
        };
        let kind = PromptKind::Add { addr: peer.addr };
        self.prompt = Some(Prompt::new(kind, question, &suggestion));
    }

    fn ask_add_keyed(&mut self) {
        let question = "Paste a contact string (from qqchat id):".to_owned();
        self.prompt = Some(Prompt::new(PromptKind::AddKeyed, question, ""));
    }

    fn ask_rename(&mut self) {
        let Some(peer) = self.selected_peer() else {
            return;
        };
        if !peer.listed {
            self.ask_add();
            return;
        }
        let question = format!("Rename {} to:", peer.name);
        let kind = PromptKind::Rename {
            key: peer.key.clone(),
        };
        let name = peer.name.clone();
        self.prompt = Some(Prompt::new(kind, question, &name));
    }

    fn ask_remove(&mut self) {
        let Some(peer) = self.selected_peer() else {
            return;
        };
        if !peer.listed {
            let text = format!("{} is not in contacts; a adds it", peer.name);
            self.show_info(&text);
            return;
        }
        let question = format!("Remove {} from contacts? y/n", peer.name);
        let kind = PromptKind::Remove {
            key: peer.key.clone(),
        };
        self.prompt = Some(Prompt::new(kind, question, ""));
    }

    /// Enter in a name prompt: the effect that carries the name out, or an error shown in
    /// the prompt, which stays open.
    fn confirm_name(&mut self) -> Vec<Effect> {
        let Some(prompt) = &self.prompt else {
            return Vec::new();
        };
        let name = prompt.text().trim().to_owned();
        let kind = prompt.kind.clone();
        let (own, effect) = match kind {
            PromptKind::AddKeyed => return self.confirm_contact_string(&name),
            PromptKind::NameKeyed { addr, key } => {
                if let Some(problem) = self.keyed_contact_problem(&addr, &key) {
                    self.set_prompt_error(problem);
                    return Vec::new();
                }
                let own = self.entry_at(&addr);
                (
                    own,
                    Effect::AddKeyedContact {
                        name: name.clone(),
                        addr,
                        key,
                    },
                )
            }
            PromptKind::Add { addr } => {
                let Some(i) = self.peers.iter().position(|p| same_addr(p.addr, addr)) else {
                    self.prompt = None;
                    return Vec::new();
                };
                let peer = &self.peers[i];
                if peer.listed {
                    self.prompt = None;
                    return Vec::new();
                }
                let effect = Effect::AddContact {
                    name: name.clone(),
                    addr: peer.addr,
                    plain: peer.plain,
                };
                (Some(i), effect)
            }
            PromptKind::Rename { key } => {
                let Some(i) = self.peers.iter().position(|p| p.listed && p.key == key) else {
                    self.prompt = None;
                    return Vec::new();
                };
                if name == key {
                    self.prompt = None;
                    return Vec::new();
                }
                (
                    Some(i),
                    Effect::RenameContact {
                        from: key,
                        to: name.clone(),
                    },
                )
            }
            PromptKind::Remove { .. } => return Vec::new(),
        };
        if let Some(problem) = self.name_problem(&name, own) {
            if let Some(prompt) = &mut self.prompt {
                prompt.error = Some(problem);
            }
            return Vec::new();
        }
        self.prompt = None;
        vec![effect]
    }

    /// Enter in the contact string prompt: the contact it describes is added, or, if its
    /// name is taken, the prompt asks for another; a string that does not read says why and
    /// stays.
    fn confirm_contact_string(&mut self, text: &str) -> Vec<Effect> {
        let parsed = match parse_contact_string(text) {
            Ok(parsed) => parsed,
            Err(why) => {
                let why = if text.is_empty() {
                    "Paste a contact string, or Esc to cancel.".to_owned()
                } else {
                    format!("Not a contact string: {why}")
                };
                self.set_prompt_error(why);
                return Vec::new();
            }
        };
        if let Some(problem) = self.keyed_contact_problem(&parsed.addr, &parsed.key) {
            self.set_prompt_error(problem);
            return Vec::new();
        }
        let name = parsed.name.trim().to_owned();
        let own = self.entry_at(&parsed.addr);
        if let Some(problem) = self.name_problem(&name, own) {
            // Same as the add prompt: the name can be changed here, and Enter tries again.
            let question = format!("Name for {}:", sanitize(&parsed.addr));
            let kind = PromptKind::NameKeyed {
                addr: parsed.addr,
                key: parsed.key,
            };
            let mut prompt = Prompt::new(kind, question, &name);
            prompt.error = Some(problem);
            self.prompt = Some(prompt);
            return Vec::new();
        }
        self.prompt = None;
        vec![Effect::AddKeyedContact {
            name,
            addr: parsed.addr,
            key: parsed.key,
        }]
    }

    /// Why a contact at `addr` with `key` cannot be added, if it cannot: the address or the
    /// key already belongs to a contact.
    fn keyed_contact_problem(&self, addr: &str, key: &[u8; 32]) -> Option<String> {
        if let Some(peer) = self
            .peers
            .iter()
            .find(|p| p.public_key.as_ref() == Some(key))
        {
            return Some(format!("That key is already {}'s.", peer.name));
        }
        let peer = &self.peers[self.entry_at(addr)?];
        if peer.listed {
            return Some(format!(
                "{} is already in contacts as {}; put the key in contacts.toml.",
                display_addr(peer.addr),
                peer.name
            ));
        }
        None
    }

    /// The entry with the address `addr` (as a contact string writes it), if there is one.
    /// A host name matches nothing: it is resolved when the file is read.
    fn entry_at(&self, addr: &str) -> Option<usize> {
        let addr: SocketAddr = addr.parse().ok()?;
        self.peers.iter().position(|p| same_addr(p.addr, addr))
    }

    fn set_prompt_error(&mut self, error: String) {
        if let Some(prompt) = &mut self.prompt {
            prompt.error = Some(error);
        }
    }

    /// Why `name` cannot be given to peer `own` (or to a new entry), if it cannot.
    fn name_problem(&self, name: &str, own: Option<usize>) -> Option<String> {
        if name.is_empty() {
            return Some("Type a name, or Esc to cancel.".into());
        }
        if name.starts_with("addr-") {
            return Some("Names starting with addr- are kept for addresses.".into());
        }
        let other = self
            .peers
            .iter()
            .enumerate()
            .any(|(i, p)| Some(i) != own && (p.name == name || p.key == name));
        let on_disk = self.known_keys.contains(name)
            && own.is_none_or(|own| self.peers.get(own).is_none_or(|p| p.key != name));
        if other || on_disk {
            return Some(format!("{name} is already taken."));
        }
        None
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
        if self.refuse_sending(peer) {
            return Vec::new();
        }
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

    /// Says so in the status line when `peer` may not be written to: it has no key and
    /// `require_keys` is on. The text typed stays in the input.
    fn refuse_sending(&mut self, peer: usize) -> bool {
        let Some(p) = self.peers.get(peer) else {
            return true;
        };
        if self.trust(p) != Trust::Refused {
            return false;
        }
        let text = format!(
            "not sent: {} has no key (require_keys); add it to contacts.toml",
            p.name
        );
        self.show_error(&text);
        true
    }

    /// Gives an own message a new mark, keeping the retryable count right.
    fn set_mark(&mut self, peer: usize, index: usize, mark: Mark, tag: u64) {
        let Some(p) = self.peers.get_mut(peer) else {
            return;
        };
        let Some(message) = p.messages.get_mut(index) else {
            return;
        };
        if message.mark().is_some_and(Mark::is_retryable) {
            p.retryable = p.retryable.saturating_sub(1);
        }
        if mark.is_retryable() {
            p.retryable += 1;
        }
        message.origin = Origin::Own { mark, tag };
    }

    /// `r` on an own message: a failed one is sent again under a new tag, a queued one is
    /// sent now under its own; anything else is left alone.
    fn retry(&mut self, peer: usize, index: usize) -> Vec<Effect> {
        let Some(Origin::Own { mark, tag: old }) = self
            .peers
            .get(peer)
            .and_then(|p| p.messages.get(index))
            .map(Message::origin)
        else {
            return Vec::new();
        };
        if mark.is_retryable() && self.refuse_sending(peer) {
            return Vec::new();
        }
        match mark {
            Mark::Failed => {
                let tag = self.alloc_tag();
                self.tags.remove(&old);
                self.set_mark(peer, index, Mark::Pending, tag);
                self.tags.insert(tag, (peer, index));
                let p = &self.peers[peer];
                vec![Effect::Send(Command::Send {
                    to: p.addr,
                    text: p.messages[index].text.clone(),
                    plain: p.plain,
                    tag,
                })]
            }
            Mark::Queued => {
                self.set_mark(peer, index, Mark::Pending, old);
                self.tags.insert(old, (peer, index));
                vec![Effect::Send(Command::SendNow { tag: old })]
            }
            _ => Vec::new(),
        }
    }

    /// `x` on a queued message asks the engine to drop it; the mark changes when it has.
    fn cancel(&mut self, peer: usize, index: usize) -> Vec<Effect> {
        match self
            .peers
            .get(peer)
            .and_then(|p| p.messages.get(index))
            .map(Message::origin)
        {
            Some(Origin::Own {
                mark: Mark::Queued,
                tag,
            }) => vec![Effect::Send(Command::Cancel { tag })],
            _ => Vec::new(),
        }
    }

    /// Ctrl-R: `r` on the newest queued or failed message of the open conversation.
    fn retry_latest(&mut self) -> Vec<Effect> {
        let Some(peer) = self.open else {
            return Vec::new();
        };
        if !self.peers[peer].has_retryable() {
            return Vec::new();
        }
        let latest = self.peers[peer]
            .messages
            .iter()
            .rposition(|m| m.mark().is_some_and(Mark::is_retryable));
        match latest {
            Some(index) => self.retry(peer, index),
            None => Vec::new(),
        }
    }

    /// Records the engine's word on a tag. The tag stays registered while the engine may
    /// still report on it (queued), and is forgotten once the message is settled.
    fn settle(&mut self, tag: u64, mark: Mark) {
        let Some(&(peer, index)) = self.tags.get(&tag) else {
            return;
        };
        if !mark.is_open() {
            self.tags.remove(&tag);
        }
        self.set_mark(peer, index, mark, tag);
    }

    fn receive(&mut self, from: SocketAddr, text: &str, at: Timestamp, plain: bool) -> Vec<Effect> {
        let peer = match self.peers.iter().position(|p| same_addr(p.addr, from)) {
            Some(i) => i,
            None => {
                self.peers.push(Peer::new(
                    display_addr(from),
                    format!("addr-{from}"),
                    from,
                    plain,
                    false,
                ));
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
        ui::conversation::message_height(self, &self.peers[peer], index, width)
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

/// An address as a name: `10.0.0.1:7000` rather than `[::ffff:10.0.0.1]:7000`.
fn display_addr(addr: SocketAddr) -> String {
    SocketAddr::new(canonical(addr.ip()), addr.port()).to_string()
}

/// Two conversations, each oldest first, as one; on equal times `a` goes first.
fn merge_by_time(a: Vec<Message>, b: Vec<Message>) -> Vec<Message> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let mut a = a.into_iter().peekable();
    let mut b = b.into_iter().peekable();
    loop {
        let take_b = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => y.at < x.at,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (None, None) => break,
        };
        out.extend(if take_b { b.next() } else { a.next() });
    }
    out
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
