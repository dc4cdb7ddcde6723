//! The state of the terminal UI and how keys and engine events change it.
//!
//! Nothing here touches the terminal, the network or the clock: keys, pastes, resizes and
//! [`EngineEvent`]s go in, [`Effect`]s come out, and the front end carries them out. That
//! keeps every behaviour testable without a terminal, and keeps drawing read-only.
//!
//! The state is in parts, each owning one concern: the [`Roster`] (peers, messages, marks,
//! trust), the [`ConversationView`] (focus, cursor, open conversation, scroll, pick), the
//! [`Composer`] (the message being written), the [`Overlay`] (help, a prompt, the list of
//! transfers), the [`StatusLine`], and the files sent and received ([`Transfer`]). Keys become [`Action`]s through the one table in [`keys`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use crossterm::event::{KeyEvent, KeyEventKind};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use ratatui_textarea::TextArea;

use crate::contacts::ContactBook;
use crate::engine::{Command, EngineEvent};
use crate::layout::{self, Columns};
use crate::proto::{PeerId, PublicKey};
use crate::store::{Conversation, ConversationKey, ReadPoints, StoredMessage};
use crate::text::sanitize;

mod actions;
mod composer;
mod drafts;
mod files;
mod group_actions;
mod groups;
pub mod keys;
mod message;
mod mouse;
mod overlay;
mod peer;
mod reply;
mod roster;
mod safety;
mod search;
mod status;
mod transfers;
mod unread;
mod view;

pub use composer::{Composer, Edit};
pub use files::{BAR_WIDTH, FileItem, FileRef, FileState, Summary, Transfer};
pub use group_actions::{Choice, DialogKind, GroupDialog, item_height};
pub use groups::{Group, Groups};
pub use keys::{Action, Context};
pub use message::{Mark, Message, Origin};
pub use mouse::{ListLine, WHEEL_LINES};
pub use overlay::{Card, KeyedPreview, Overlay, Prompt, PromptKind};
pub use peer::{EntryId, Nearby, NearbyKind, Part, PathKind, Peer, Seq, Trust};
pub use reply::Reply;
pub use roster::Roster;
pub use safety::SafetyScreen;
pub use search::{ConversationSearch, Found, Place, ResultRow, SearchResults, SearchScope};
pub use status::{Notice, StatusLine};
pub use view::{ConversationView, Focus, Marker};

/// Something the front end must do on the App's behalf.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Hand this command to the engine.
    Send(Command),
    /// Ring the terminal bell.
    Bell,
    /// Open the draft in the user's editor; what it saves comes back with
    /// [`App::edited`].
    EditDraft(String),
    /// Ask the terminal for a desktop notification (made safe to write by the front end).
    Notify { title: String, body: String },
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
    /// Write a contact with a public key into the contacts file, then reload it. `addrs`
    /// (one or more) are kept as the contact string wrote them (a host name stays a host name).
    AddKeyedContact {
        name: String,
        addrs: Vec<String>,
        key: PublicKey,
    },
    /// Write an IP Messenger user into the contacts file as `name`, as
    /// `{ addr = "ip", ipmsg = true }` (the port too if it is not 2425), then reload it.
    AddIpmsgContact { name: String, addr: SocketAddr },
    /// Take contact `name` out of the contacts file, then reload it.
    RemoveContact { name: String },
    /// Keep the candidate addresses keyed contact `name` told in its entry, then reload.
    LearnAddrs {
        name: String,
        key: PublicKey,
        addrs: Vec<SocketAddr>,
    },
    /// Read the contacts file again.
    ReloadContacts,
    /// The user accepted the new key the contacts file names for a contact: trust it from
    /// now on (in the record on disk and in the engine), then reload the file.
    AcceptKey(crate::engine::KeyChange),
    /// Mark contact `name` (its name in the file) verified, or not, in the record on disk.
    SetVerified { name: String, verified: bool },
    /// Put this text on the clipboard (the terminal's, by OSC 52).
    Copy(String),
    /// Keep these drafts (conversation, text), in place of those kept before.
    SaveDrafts(Vec<(ConversationKey, String)>),
    /// Hash these files off the UI thread, then offer each to `to` under its id
    /// ([`Command::SendFile`]); a file that cannot be read is reported as a
    /// [`EngineEvent::FileFailed`] of its id.
    PrepareFiles {
        to: PeerId,
        files: Vec<(u64, crate::files::outgoing::ToSend)>,
    },
    /// Search the history; what is found goes back through [`App::searched`].
    Search {
        scope: SearchScope,
        search: crate::store::Search,
    },
}

/// The whole UI state, owned by the UI thread.
/// Messages read from the history per conversation at a time: the last page of each draws
/// the first screen, and older pages come as the view reaches them.
pub const HISTORY_PAGE: usize = 200;

/// Messages the open conversation needs from the history: up to a page of conversation
/// `key` written at or before `before`, for entry `peer` ([`App::history_wanted`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryWant {
    pub peer: EntryId,
    pub key: ConversationKey,
    pub before: Timestamp,
    /// Read every message back to this instant, not a page: a search match is there.
    pub since: Option<Timestamp>,
}

pub struct App {
    me: String,
    /// This user's public key, for the contact string; `None` without an identity.
    public_key: Option<PublicKey>,
    bell: bool,
    /// `[me] notify` and `notify_preview`.
    notify: crate::contacts::Notify,
    notify_preview: bool,
    /// Whether the terminal has the focus, as it reports (terminals that do not report it
    /// count as focused).
    focused: bool,
    local_addr: SocketAddr,
    /// Where friends can reach this chat, for its contact string (F2): set by the front end,
    /// which alone may ask the system; empty means `local_addr` alone.
    own_addrs: Vec<SocketAddr>,
    tz: TimeZone,
    /// The front end's clock at its last wake, so "today" can be told from other days.
    now: Option<Timestamp>,
    roster: Roster,
    view: ConversationView,
    composer: Composer,
    overlay: Overlay,
    status: StatusLine,
    /// The relay's last line shown: a failure retried every minute is shown once.
    relay_said: Option<String>,
    /// Drafts for conversations with no entry (yet).
    orphan_drafts: Vec<(ConversationKey, String)>,
    /// The drafts as last handed out to be saved.
    saved_drafts: Option<Vec<(ConversationKey, String)>>,
    /// Files sent and received in this run, oldest first; messages refer to them by index.
    transfers: Vec<files::Transfer>,
    /// Where each file the engine reports on is: (transfer, file within it).
    file_index: HashMap<files::FileRef, (usize, usize)>,
    /// The folder offered when a file is accepted.
    downloads: Option<PathBuf>,
    /// Groups and their conversations.
    groups: Groups,
    /// The id of the group asked for with Ctrl-G, to open once the engine made it.
    pending_create: Option<u64>,
    /// The search being stepped through in a conversation (`/`, then `n` and `N`).
    search: Option<ConversationSearch>,
    /// Contacts whose key the contacts file changed, held to the trusted one.
    key_changes: Vec<crate::engine::KeyChange>,
    /// How far each conversation was read.
    read: ReadPoints,
    /// The message the input answers, while a reply is being written.
    replying: Option<Reply>,
    /// The read points changed since the front end last took them.
    read_dirty: bool,
}

/// Lines message `index` of `peer` takes in a pane `width` cells wide, between `me` and
/// `peer`. A free function so that scrolling can borrow the view while it measures.
/// `marker`: the message the "new" line goes above, if it is in this conversation.
fn height_of(
    me: &str,
    tz: &TimeZone,
    peer: &Peer,
    index: usize,
    width: u16,
    marker: Option<Seq>,
) -> usize {
    let Some(message) = peer.messages().get(index) else {
        return 0;
    };
    let width = usize::from(width);
    let text = message.display_text();
    let (quote, text) = crate::text::split_reply(&text);
    let lines = layout::message_height(
        &Columns::new(me, peer.name(), width),
        text,
        peer.starts_day(tz, index),
        message.mark().and_then(Mark::hint),
        width,
    );
    lines + usize::from(quote.is_some()) + usize::from(marker == Some(peer.seq_at(index)))
}

impl App {
    /// Starts with the book's contacts, in file order, and nothing open.
    pub fn new(book: &ContactBook, local_addr: SocketAddr, tz: TimeZone) -> App {
        let roster = Roster::new(book);
        let mut view = ConversationView::new();
        view.select_index(&roster, 0);
        App {
            me: sanitize(&book.me.name),
            public_key: None,
            bell: book.me.bell,
            notify: book.me.notify,
            notify_preview: book.me.notify_preview,
            focused: true,
            local_addr,
            own_addrs: Vec::new(),
            tz,
            now: None,
            roster,
            view,
            composer: Composer::new(false),
            overlay: Overlay::None,
            status: StatusLine::default(),
            relay_said: None,
            orphan_drafts: Vec::new(),
            saved_drafts: Some(Vec::new()),
            transfers: Vec::new(),
            file_index: HashMap::new(),
            downloads: None,
            groups: Groups::default(),
            pending_create: None,
            search: None,
            key_changes: Vec::new(),
            read: ReadPoints::default(),
            replying: None,
            read_dirty: false,
        }
    }

    /// With exactly one contact there is nobody else to choose: its conversation opens,
    /// ready to type in (the demo's bot). With several, the list comes first.
    pub fn open_if_only_contact(&mut self) {
        let mut listed = self.roster.peers().iter().filter(|p| p.is_listed());
        if let (Some(only), None) = (listed.next(), listed.next()) {
            let id = only.id();
            self.view.selected = Some(id);
            // The engine watches every contact from its start: nothing more to ask.
            let _ = self.open_selected();
        }
    }

    /// Shows the conversations kept from earlier runs.
    ///
    /// A conversation named after a contact fills that contact. One named after an address
    /// belongs to whoever has that address, or becomes an entry of its own, as a message
    /// from an unknown address does. Any other name is a contact since removed from the
    /// file: it becomes an entry under that name at the address it last talked to (or joins
    /// the entry that already has that address, so one address never has two entries).
    ///
    /// Messages are moved, not wrapped or copied: a history of any length loads in linear
    /// time, and is wrapped only as it is scrolled into view.
    pub fn load_history(&mut self, history: Vec<Conversation>) {
        self.roster.load_history(history, None);
        self.recount_peers();
        self.adopt_drafts();
        self.clamp_scroll();
    }

    /// [`App::load_history`] with the last `page` messages of each conversation: one given
    /// that many may have older ones, which [`App::history_wanted`] asks for as the view
    /// reaches them.
    pub fn load_recent(&mut self, history: Vec<Conversation>, page: usize) {
        self.roster.load_history(history, Some(page));
        self.recount_peers();
        self.adopt_drafts();
        self.clamp_scroll();
    }

    /// Older messages the open conversation needs from the history: its view (or the pick)
    /// is within a screen of the first message shown, and the history holds more before it.
    pub fn history_wanted(&self) -> Option<HistoryWant> {
        let id = self.view.open?;
        let peer = self.roster.get(id)?;
        let key = peer.older.first()?.clone();
        let before = peer
            .messages()
            .first()
            .map_or_else(Timestamp::now, Message::at);
        if let Some(since) = self.search_reaches_back() {
            return Some(HistoryWant {
                peer: id,
                key,
                before,
                since: Some(since),
            });
        }
        let viewport = self.viewport();
        let view = usize::from(viewport.height);
        let reach = self.view.scroll + 2 * view;
        let mut total = 0;
        let near_pick = self
            .chosen()
            .is_some_and(|index| index < layout::page(viewport.height));
        if !near_pick {
            for index in (0..peer.messages().len()).rev() {
                total += height_of(&self.me, &self.tz, peer, index, viewport.width, None);
                if total >= reach {
                    return None;
                }
            }
        }
        Some(HistoryWant {
            peer: id,
            key,
            before,
            since: None,
        })
    }

    /// Messages read for [`App::history_wanted`] (up to `page` of them): they go before what
    /// the conversation shows, and the view stays where it is.
    pub fn put_older(&mut self, want: &HistoryWant, older: Vec<StoredMessage>, page: usize) {
        // Read back to an instant, rather than a page: there may be more before it.
        let whole = want.since.is_none() && older.len() < page;
        self.roster.put_older(want.peer, &want.key, older, whole);
        self.clamp_scroll();
        if want.since.is_some() {
            self.show_match();
        }
    }

    /// Takes the contacts of a (re)loaded book, and returns the engine commands that go with
    /// it: a [`Command::RenameHistory`] for each conversation whose name changes, then
    /// [`Command::SetContacts`]. Send them in that order.
    ///
    /// The cursor and the open conversation stay on the same peer; a cursor whose peer is
    /// gone stays on the same row.
    pub fn set_contacts(&mut self, book: &ContactBook) -> Vec<Effect> {
        let row = self.selected();
        let selected = self
            .view
            .selected
            .or_else(|| self.roster.peers().first().map(Peer::id));
        let mut effects: Vec<Effect> = self
            .roster
            .set_contacts(book)
            .into_iter()
            .map(Effect::Send)
            .collect();
        // A conversation renamed keeps how far it was read.
        let mut renamed = false;
        for effect in &effects {
            if let Effect::Send(Command::RenameHistory { from, to }) = effect {
                self.read.rename(from, to);
                renamed = true;
            }
        }
        self.read_dirty |= renamed;
        // A row of someone on this network that joined its contact's: the view goes along.
        let moved = |id: EntryId| {
            self.roster
                .absorbed
                .iter()
                .find(|(from, _)| *from == id)
                .map_or(id, |&(_, to)| to)
        };
        let selected = selected.map(moved);
        self.view.open = self.view.open.map(moved);
        self.view.selected = selected.filter(|&id| self.roster.position(id).is_some());
        if self.view.selected.is_none() {
            let last = self.roster.peers().len().saturating_sub(1);
            self.view.select_index(&self.roster, row.min(last));
        }
        if let Some(open) = self.view.open
            && self.roster.position(open).is_none()
        {
            self.view.open = None;
            self.view.follow();
            if self.view.focus != Focus::Contacts {
                self.set_focus(Focus::Contacts);
            }
        }
        self.adopt_drafts();
        effects.push(Effect::Send(Command::SetContacts(book.contacts.clone())));
        effects
    }

    // ---- what the UI reads ----

    pub fn me(&self) -> &str {
        &self.me
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Every address friends may reach this chat at (the LAN one, a public one), for the
    /// contact string F2 shows.
    pub fn set_own_addrs(&mut self, addrs: Vec<SocketAddr>) {
        self.own_addrs = addrs;
    }

    pub fn tz(&self) -> &TimeZone {
        &self.tz
    }

    /// The front end's clock at its last wake, if it has told.
    pub fn now(&self) -> Option<Timestamp> {
        self.now
    }

    pub fn roster(&self) -> &Roster {
        &self.roster
    }

    pub fn peers(&self) -> &[Peer] {
        self.roster.peers()
    }

    /// The row of the contact list the cursor is on: a peer's, or after every peer, a
    /// group's.
    pub fn selected(&self) -> usize {
        if let Some(row) = self.view.group.and_then(|g| self.groups.position(g)) {
            return self.peers().len() + row;
        }
        self.view.selected_index(&self.roster)
    }

    /// The row of the contact list whose conversation is open.
    pub fn open(&self) -> Option<usize> {
        self.roster.position(self.view.open?)
    }

    pub fn open_peer(&self) -> Option<&Peer> {
        self.roster.get(self.view.open?)
    }

    pub fn focus(&self) -> Focus {
        self.view.focus
    }

    pub fn input(&self) -> &TextArea<'static> {
        self.composer.textarea()
    }

    /// The input's text as it would be sent.
    pub fn input_text(&self) -> String {
        self.composer.text()
    }

    pub fn scroll(&self) -> usize {
        self.view.scroll
    }

    /// Where the picked message is in the open conversation.
    pub fn chosen(&self) -> Option<usize> {
        self.view.chosen_index(self.open_peer()?)
    }

    /// The picked message of the open conversation.
    pub fn chosen_message(&self) -> Option<&Message> {
        self.open_peer()?.messages().get(self.chosen()?)
    }

    pub fn overlay(&self) -> &Overlay {
        &self.overlay
    }

    pub fn help_open(&self) -> bool {
        matches!(self.overlay, Overlay::Help { .. })
    }

    pub fn help_scroll(&self) -> usize {
        match self.overlay {
            Overlay::Help { scroll } => scroll,
            _ => 0,
        }
    }

    pub fn prompt(&self) -> Option<&Prompt> {
        match &self.overlay {
            Overlay::Prompt(prompt) => Some(prompt),
            _ => None,
        }
    }

    pub fn notice(&self) -> Option<&Notice> {
        self.status.notice()
    }

    /// The last error shown in the status line, even after it left it.
    pub fn last_error(&self) -> Option<&str> {
        self.status.last_error()
    }

    /// Whether `peer` is known to be who its name says, and whether it may be written to.
    pub fn trust(&self, peer: &Peer) -> Trust {
        self.roster.trust(peer)
    }

    /// Where keys go right now: an overlay, or the focused pane.
    pub fn context(&self) -> Context {
        match &self.overlay {
            Overlay::Prompt(prompt) if prompt.is_confirm() => Context::Confirm,
            Overlay::Prompt(_) => Context::Prompt,
            Overlay::Help { .. } => Context::Help,
            Overlay::Card(_) => Context::Card,
            Overlay::Safety { .. } => Context::Safety,
            Overlay::Transfers { .. } => Context::Transfers,
            Overlay::Group(_) => Context::Dialog,
            Overlay::Results(_) => Context::Results,
            Overlay::None => match self.view.focus {
                Focus::Contacts => Context::Contacts,
                Focus::Conversation if self.open_group().is_some_and(Group::is_invitation) => {
                    Context::Invitation
                }
                Focus::Conversation if self.conversation_search().is_some() => Context::Search,
                Focus::Conversation => Context::Conversation,
                Focus::Input => Context::Input,
            },
        }
    }

    /// Lines message `index` of `peer` takes in a pane `width` cells wide. Scrolling and
    /// drawing both count with this.
    pub fn message_height(&self, peer: &Peer, index: usize, width: u16) -> usize {
        height_of(
            &self.me,
            &self.tz,
            peer,
            index,
            width,
            self.peer_marker(peer.id()),
        )
    }

    // ---- what changes it ----

    /// `[me]` was edited: the name shown (and put in the contact string) and the bell.
    pub fn set_me(&mut self, name: &str, bell: bool) {
        self.me = sanitize(name);
        self.bell = bell;
        self.clamp_scroll();
    }

    /// `[me] notify` and `notify_preview`, as read from the contacts file.
    pub fn set_notify(&mut self, notify: crate::contacts::Notify, preview: bool) {
        self.notify = notify;
        self.notify_preview = preview;
    }

    /// The draft as the editor saved it: back in the input, not sent until Enter. One
    /// newline at the end (editors add it) is dropped.
    pub fn edited(&mut self, text: &str) {
        let text = text.strip_suffix('\n').unwrap_or(text);
        let text = text.strip_suffix('\r').unwrap_or(text);
        self.composer = Composer::with_text(text, true);
        self.set_focus(Focus::Input);
    }

    /// The terminal gained or lost the focus. Back in focus, the open conversation is read.
    pub fn set_focused(&mut self, focused: bool) {
        let back = focused && !self.focused;
        self.focused = focused;
        if back {
            self.read_open();
        }
    }

    /// What a new message from `from` (a contact or not) rings: the bell, and a desktop
    /// notification unless `[me] notify` leaves it out; nothing for a muted contact. `text`
    /// is shown only with `notify_preview`.
    pub(crate) fn alert(&self, from: &str, contact: bool, muted: bool, text: &str) -> Vec<Effect> {
        use crate::contacts::Notify;
        let mut effects = Vec::new();
        if muted {
            return effects;
        }
        if self.bell {
            effects.push(Effect::Bell);
        }
        let wanted = match self.notify {
            Notify::All => true,
            Notify::Contacts => contact,
            Notify::None => false,
        };
        if wanted {
            effects.push(if self.notify_preview {
                Effect::Notify {
                    title: from.to_owned(),
                    body: text.to_owned(),
                }
            } else {
                Effect::Notify {
                    title: "qqchat".to_owned(),
                    body: "new message".to_owned(),
                }
            });
        }
        effects
    }

    /// This user's public key, which the contact string carries.
    pub fn set_public_key(&mut self, key: Option<PublicKey>) {
        self.public_key = key;
    }

    /// The front end's clock, read when it woke; only used to tell today from other days.
    pub fn set_now(&mut self, now: Timestamp) {
        self.now = Some(now);
    }

    /// Shows an error in the status line, on one line, until the next key press.
    pub fn show_error(&mut self, text: &str) {
        self.status.error(text);
    }

    /// Shows news in the status line until the next key press.
    pub fn show_info(&mut self, text: &str) {
        self.status.info(text);
    }

    /// The terminal was resized (or its first size is known).
    pub fn on_resize(&mut self, width: u16, height: u16) {
        self.view.size = ratatui::layout::Rect::new(0, 0, width, height);
        self.clamp_scroll();
    }

    /// Bracketed paste: the whole text goes into the input, newlines included; never sends.
    /// Into a prompt goes the first line that is not blank, only.
    pub fn on_paste(&mut self, text: String) {
        if self.help_open() {
            self.overlay = Overlay::None;
        }
        if let Some(prompt) = self.prompt_mut() {
            if !prompt.is_confirm() {
                prompt.paste(&text);
            }
            return;
        }
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        self.composer.insert_str(&sanitize(&text));
        if self.view.open.is_some() {
            self.set_focus(Focus::Input);
        }
    }

    /// A key was pressed. `now` stamps a message sent by it.
    pub fn on_key(&mut self, key: KeyEvent, now: Timestamp) -> Vec<Effect> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        self.status.clear();
        let context = self.context();
        let contexts: &[Context] = match context {
            Context::Contacts | Context::Conversation | Context::Input | Context::Invitation => {
                &[Context::Always, Context::Panes, context]
            }
            // Stepping through matches; every other key is the conversation's.
            Context::Search => &[
                Context::Always,
                Context::Panes,
                Context::Search,
                Context::Conversation,
            ],
            _ => &[Context::Always, context],
        };
        match contexts.iter().find_map(|&c| keys::lookup(c, &key)) {
            Some(action) => self.run(action, Some(key), now),
            None => Vec::new(),
        }
    }

    /// Does what a key bound to `action` does, without the key. `now` stamps a message sent
    /// by it. [`Action::Type`] needs the key, so it does nothing here.
    pub fn apply(&mut self, action: Action, now: Timestamp) -> Vec<Effect> {
        self.run(action, None, now)
    }

    /// Something happened in the engine.
    pub fn on_engine(&mut self, event: EngineEvent) -> Vec<Effect> {
        match event {
            EngineEvent::Delivered { id: msg_id, .. } => {
                self.roster.settle(msg_id, Mark::Delivered)
            }
            EngineEvent::Sent { id: msg_id, .. } => self.roster.settle(msg_id, Mark::Sent),
            EngineEvent::Queued { id: msg_id, .. } => self.roster.settle(msg_id, Mark::Queued),
            EngineEvent::Failed { id: msg_id, .. } => self.roster.settle(msg_id, Mark::Failed),
            EngineEvent::Cancelled { id: msg_id, .. } => {
                self.roster.settle(msg_id, Mark::Cancelled)
            }
            EngineEvent::Presence { peer, online } => self.roster.set_online(peer, online),
            EngineEvent::Link { peer, link } => self.roster.set_link(peer, link),
            EngineEvent::Error(text) | EngineEvent::Trouble { text, .. } => self.show_error(&text),
            // Reported by `qqchat doctor`; the chat does not show it yet.
            EngineEvent::Dht(crate::dht::DhtEvent::Found { key, record }) => {
                for p in self.roster.peers_mut() {
                    if p.public_key == Some(key) {
                        p.dht_found = record.candidates.iter().map(|c| c.addr).collect();
                    }
                }
            }
            EngineEvent::Pong { .. } | EngineEvent::Reachability(_) | EngineEvent::Dht(_) => {}
            event @ (EngineEvent::Groups(_)
            | EngineEvent::Group(_)
            | EngineEvent::GroupItems { .. }
            | EngineEvent::GroupCreated { .. }
            | EngineEvent::GroupSent { .. }
            | EngineEvent::GroupRefused { .. }) => return self.on_group_event(event),
            EngineEvent::Neighbour(found) => {
                self.roster.neighbour(&found);
                self.adopt_drafts();
            }
            EngineEvent::NeighbourGone { peer } => self.neighbour_gone(peer),
            EngineEvent::FileOffered {
                from,
                id,
                name,
                size,
                saving_to,
            } => return self.file_offered(from, id, &name, size, saving_to),
            EngineEvent::FileProgress(progress) => return self.file_progress(&progress),
            EngineEvent::FileDone {
                peer,
                id,
                outgoing,
                path,
            } => self.file_done(files::FileRef { peer, id, outgoing }, path),
            EngineEvent::FileFailed {
                peer,
                id,
                outgoing,
                reason,
            } => self.file_failed(files::FileRef { peer, id, outgoing }, &reason),
            EngineEvent::Relay(report) => {
                if let Some(line) = report
                    .describe()
                    .filter(|l| self.relay_said.as_ref() != Some(l))
                {
                    if report.relayed().is_some() {
                        self.show_info(&line);
                    } else {
                        self.show_error(&line);
                    }
                    self.relay_said = Some(line);
                }
            }
            EngineEvent::Outgoing {
                to,
                id: msg_id,
                text,
                plain,
                at,
            } => {
                self.roster.outgoing(to, msg_id, &text, at, plain);
            }
            EngineEvent::PathChanged {
                peer,
                path,
                relayed,
            } => self.roster.set_path(peer, path, relayed),
            EngineEvent::Candidates { peer, addrs } => {
                let listed = self
                    .roster
                    .peers()
                    .iter()
                    .find(|p| p.is_listed() && p.peer_id() == peer);
                if let (Some(p), PeerId::Key(key)) = (listed, peer) {
                    return vec![Effect::LearnAddrs {
                        name: p.key().to_string(),
                        key,
                        addrs,
                    }];
                }
            }
            EngineEvent::RequestDropped { key } => self.request_dropped(&key),
            EngineEvent::Received {
                from,
                path,
                text,
                received_at,
                sent_at,
                plain,
                ..
            } => return self.receive(from, path, &text, (received_at, sent_at), plain),
        }
        Vec::new()
    }

    /// A stranger's request was dropped to make room for newer ones: its row goes, and its
    /// conversation if it was open.
    fn request_dropped(&mut self, key: &ConversationKey) {
        let Some(id) = self
            .peers()
            .iter()
            .find(|p| !p.is_listed() && p.key() == key)
            .map(Peer::id)
        else {
            return;
        };
        let row = self.selected();
        if self.view.open == Some(id) {
            self.view.open = None;
            self.search = None;
            self.set_focus(Focus::Contacts);
        }
        self.roster.remove(id);
        if self.view.selected == Some(id) {
            let last = self.peers().len().saturating_sub(1);
            self.view.select_index(&self.roster, row.min(last));
        }
    }

    /// Someone on this network left: their row goes, unless it is open or holds a draft
    /// (or a conversation); the cursor stays on the same row.
    fn neighbour_gone(&mut self, peer: PeerId) {
        let row = self.selected();
        let open = self.view.open;
        let gone = self
            .roster
            .neighbour_gone(peer, |p| Some(p.id()) == open || !p.draft.is_empty());
        if self.view.selected.is_some_and(|id| gone.contains(&id)) {
            let last = self.peers().len().saturating_sub(1);
            self.view.select_index(&self.roster, row.min(last));
        }
    }

    fn receive(
        &mut self,
        from: PeerId,
        path: SocketAddr,
        text: &str,
        at: (Timestamp, Option<Timestamp>),
        plain: bool,
    ) -> Vec<Effect> {
        let (id, index) = self.roster.receive(from, path, text, at, plain);
        self.adopt_drafts();
        let (name, contact, muted) = self.roster.get(id).map_or_else(
            || (path.to_string(), false, false),
            |p| (p.name().to_string(), p.is_listed(), p.muted),
        );
        if self.view.open != Some(id) {
            if let Some(p) = self.roster.get_mut(id) {
                p.unread += 1;
            }
            return self.alert(&name, contact, muted, text);
        }
        self.arrived_in_open(id, index);
        // Open, but the terminal is in the background: a notification, no bell.
        let unfocused: Vec<Effect> = if self.focused {
            Vec::new()
        } else {
            self.alert(&name, contact, muted, text)
                .into_iter()
                .filter(|e| !matches!(e, Effect::Bell))
                .collect()
        };
        if self.view.scroll > 0 {
            // The reader is looking at older lines: keep them where they are.
            let width = self.viewport().width;
            let marker = self.peer_marker(id);
            if let Some(peer) = self.roster.get(id) {
                self.view.scroll += height_of(&self.me, &self.tz, peer, index, width, marker);
            }
        }
        unfocused
    }
}
