//! What is drawn over the panes and takes every key while it is there: the help, a prompt,
//! or the list of transfers. One [`Overlay`] value holds it, so two can never be open at once.
//!
//! Most prompts edit contacts: add an address, rename, remove, paste a contact string. They
//! only ask; the front end writes the file when the App returns the [`Effect`]. Two take a
//! path, completed with Tab: a file to send, a folder to save an offer in.

use std::net::SocketAddr;

use ratatui_textarea::TextArea;

use crate::proto::{PublicKey, canonical};

use super::composer::name_input;
use super::peer::{EntryId, NearbyKind};
use super::roster::display_addr;
use super::{App, Effect};
use crate::identity::{ContactString, parse_contact_string};
use crate::text::sanitize;

/// What is over the panes.
pub enum Overlay {
    None,
    /// The key reference, scrolled by this many lines on a terminal too short for it.
    Help {
        scroll: usize,
    },
    /// Boxed: a prompt holds an editor, and the overlay is most often `None`.
    Prompt(Box<Prompt>),
    /// This user's contact string, to give to friends; any key closes it.
    Card(Card),
    /// Every file sent and received in this run (Ctrl-T), the cursor on transfer `selected`.
    Transfers {
        selected: usize,
    },
    /// A new group (Ctrl-G), or a member to add to or take out of the open group.
    Group(Box<super::GroupDialog>),
    /// What a search of every conversation found (`/` in the list).
    Results(Box<super::SearchResults>),
    /// The safety number with entry `id` (v): mark it verified, accept a changed key.
    Safety {
        id: EntryId,
    },
}

/// What the contact string overlay shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    /// The line to give friends; `None` when this chat cannot make a usable one.
    pub line: Option<String>,
    /// What to do with it, or why there is none and what to use instead.
    pub note: String,
}

/// What a prompt is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptKind {
    /// Name the address, which is not in contacts yet, to add it.
    Add { addr: SocketAddr },
    /// Name entry `id`, someone on this network, to add it as discovery found it: with its
    /// key, or as an IP Messenger contact.
    AddNeighbour { id: EntryId },
    /// Rename the contact written `name` in the file.
    Rename { name: String },
    /// Confirm taking the contact written `name` out of the file.
    Remove { name: String },
    /// Confirm taking entry `id`, not in contacts, off the list; its history stays.
    Forget { id: EntryId, name: String },
    /// Paste a contact string (`qqchat:alice@192.168.1.20:9001?key=…`) to add it.
    AddKeyed,
    /// A name for the contact string read already, whose own name was taken.
    NameKeyed { addrs: Vec<String>, key: PublicKey },
    /// The path of a file or folder to send to entry `to` (Ctrl-O).
    SendFile { to: EntryId },
    /// The folder to save transfer `transfer` in (y on an offer); `from_list`: asked from
    /// the list of transfers, which comes back after.
    SaveFile { transfer: usize, from_list: bool },
    /// Confirm leaving `group`.
    LeaveGroup { group: crate::proto::group::GroupId },
    /// What to find in this conversation or group, or in every one.
    Search { place: Option<super::search::Place> },
}

/// Tab in a path prompt: the names that fit, and which one Tab put in last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completions {
    /// The text up to its last `/`, which every candidate goes after.
    base: String,
    candidates: Vec<String>,
    /// The candidate in the text, once Tab went on to cycle through them.
    current: Option<usize>,
    /// The text as Tab left it: a key that changes it ends the cycle.
    left: String,
}

/// A small question over the screen: a name to type, or yes or no.
pub struct Prompt {
    kind: PromptKind,
    question: String,
    pub(super) input: TextArea<'static>,
    /// Why Enter did not take the name, until the next key.
    pub(super) error: Option<String>,
    /// What Tab found, in a path prompt.
    completions: Option<Completions>,
}

impl Prompt {
    fn new(kind: PromptKind, question: String, text: &str) -> Prompt {
        // A name offered for renaming is selected: typing replaces it, an arrow keeps it.
        let selected = matches!(kind, PromptKind::Rename { .. });
        Prompt {
            kind,
            question,
            input: name_input(text, selected),
            error: None,
            completions: None,
        }
    }

    /// A path is typed, so Tab completes it.
    pub fn is_path(&self) -> bool {
        matches!(
            self.kind,
            PromptKind::SendFile { .. } | PromptKind::SaveFile { .. }
        )
    }

    /// The names Tab found, and which one is in the text, while they still apply.
    pub fn completions(&self) -> Option<(&[String], Option<usize>)> {
        let c = self.completions.as_ref()?;
        (c.left == self.text() && c.candidates.len() > 1)
            .then_some((c.candidates.as_slice(), c.current))
    }

    /// Tab: the path is completed as far as the names that fit agree; Tab again, with
    /// nothing typed since, puts each of them in turn.
    pub(super) fn complete(&mut self) {
        let text = self.text();
        let cycling = self
            .completions
            .as_mut()
            .filter(|c| c.left == text && c.candidates.len() > 1);
        let next = match cycling {
            Some(c) => {
                let next = c.current.map_or(0, |i| (i + 1) % c.candidates.len());
                c.current = Some(next);
                c.left = format!("{}{}", c.base, c.candidates[next]);
                c.left.clone()
            }
            None => {
                let found = crate::files::complete::complete(&text);
                if found.candidates.is_empty() {
                    self.error = Some(format!("nothing here starts with {text:?}"));
                }
                let left = found.text.clone();
                self.completions = Some(Completions {
                    base: found.base,
                    candidates: found.candidates,
                    current: None,
                    left: left.clone(),
                });
                left
            }
        };
        self.input = name_input(&next, false);
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
        matches!(
            self.kind,
            PromptKind::Remove { .. } | PromptKind::Forget { .. } | PromptKind::LeaveGroup { .. }
        )
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
}

/// What Enter does with the contact string pasted, shown under it before it is pressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyedPreview {
    /// A contact without a key gets this one (its name as shown).
    GivesKey { name: String, key: String },
    /// A new contact; `key` is the start of the key, to compare with the friend's.
    Adds {
        name: String,
        /// Every address, comma-separated.
        addrs: String,
        key: String,
    },
    /// Enter will refuse it, for this reason.
    Refused(String),
}

impl Prompt {
    /// In the contact string prompt, what the text reads as, once it does.
    pub fn contact_string(&self) -> Option<ContactString> {
        if self.kind != PromptKind::AddKeyed {
            return None;
        }
        parse_contact_string(&self.text()).ok()
    }

    /// Puts pasted text in: the first line that is not blank, without control characters.
    pub(super) fn paste(&mut self, text: &str) {
        // Terminals may send line breaks as CR.
        let text = text.replace('\r', "\n");
        let line = text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default();
        let clean: String = line.chars().filter(|c| !c.is_control()).collect();
        self.input.insert_str(clean);
        self.error = None;
    }

    /// A key typed into the name; one line only: whatever key split it (Ctrl-M, Ctrl-J) is
    /// undone.
    pub(super) fn key(&mut self, key: crossterm::event::KeyEvent) {
        use crossterm::event::KeyCode;
        let edits = matches!(
            key.code,
            KeyCode::Char(_) | KeyCode::Backspace | KeyCode::Delete
        );
        if !edits {
            // Moving ends the selection rather than stretching it, as in a line editor.
            self.input.cancel_selection();
        }
        self.input.input(key);
        if self.input.lines().len() > 1 {
            self.input = name_input(&self.text(), false);
        }
    }

    /// A readline editing key (Ctrl-U, Ctrl-W, …).
    pub(super) fn edit(&mut self, edit: super::composer::Edit) {
        super::composer::apply_edit(&mut self.input, edit);
    }
}

impl App {
    pub(super) fn prompt_mut(&mut self) -> Option<&mut Prompt> {
        match &mut self.overlay {
            Overlay::Prompt(prompt) => Some(prompt),
            _ => None,
        }
    }

    pub(super) fn ask(&mut self, kind: PromptKind, question: String, text: &str) {
        self.overlay = Overlay::Prompt(Box::new(Prompt::new(kind, question, text)));
    }

    pub(super) fn ask_add(&mut self) {
        let Some(peer) = self.selected_peer() else {
            return;
        };
        if peer.is_listed() {
            let text = format!("{} is already in contacts; n renames it", peer.name());
            self.show_info(&text);
            return;
        }
        if let Some(nearby) = peer.neighbour() {
            let what = match nearby.kind() {
                NearbyKind::Qqchat { .. } => "qqchat",
                NearbyKind::IpMsg { client, .. } => client,
            };
            let question = format!(
                "Name for {} ({what} at {}):",
                peer.name(),
                display_addr(nearby.addr())
            );
            let id = peer.id();
            // Its own name if free, else with a number: Enter alone adds it.
            let suggestion = self.free_name(peer.name(), id);
            self.ask(PromptKind::AddNeighbour { id }, question, &suggestion);
            return;
        }
        let question = format!("Name for {}:", display_addr(peer.addr()));
        // An entry named after a contact since removed offers that name back.
        let suggestion = if peer.key().is_address() {
            String::new()
        } else {
            peer.name().to_owned()
        };
        let kind = PromptKind::Add { addr: peer.addr() };
        self.ask(kind, question, &suggestion);
    }

    /// `name`, or `name 2`, `name 3`, … : the first that entry `own` may take; empty when
    /// none of them may be (a name kept for addresses).
    fn free_name(&self, name: &str, own: EntryId) -> String {
        std::iter::once(name.to_owned())
            .chain((2..100).map(|n| format!("{name} {n}")))
            .find(|candidate| self.roster.name_problem(candidate, Some(own)).is_none())
            .unwrap_or_default()
    }

    /// F2: this user's contact string, with every address the front end found, shown and
    /// copied. Never one with an address nobody can send to (every interface, any port):
    /// when no other is left, it says what to run instead.
    pub(super) fn show_card(&mut self) -> Vec<Effect> {
        let addr = self.local_addr;
        let addrs = match self.own_addrs.split_first() {
            Some((&first, rest)) => crate::identity::own_candidates(first, rest),
            None => crate::identity::own_candidates(addr, &[]),
        };
        let why = match addrs.is_empty() {
            true => Some(crate::identity::unusable(addr).unwrap_or("no address")),
            false => None,
        };
        let (card, copy) = match (self.public_key, why) {
            (None, _) => (
                Card {
                    line: None,
                    note: "This chat has no key of its own, so it has no contact string."
                        .to_owned(),
                },
                None,
            ),
            (Some(_), Some(why)) => (
                Card {
                    line: None,
                    note: format!(
                        "You listen on {addr}: {why}. Give friends the line from \
                         qqchat id --addr <the address they reach you at>:{}",
                        addr.port()
                    ),
                },
                None,
            ),
            (Some(key), None) => {
                let line = crate::identity::contact_string(&self.me, &addrs, &key);
                let card = Card {
                    line: Some(line.clone()),
                    note: "Copied to the clipboard (where the terminal allows). A friend \
                           pastes it with A in qqchat, or runs qqchat add with it."
                        .to_owned(),
                };
                (card, Some(line))
            }
        };
        self.overlay = Overlay::Card(card);
        copy.map(Effect::Copy).into_iter().collect()
    }

    pub(super) fn ask_add_keyed(&mut self) {
        let question = "Paste a contact string (from qqchat id):".to_owned();
        self.ask(PromptKind::AddKeyed, question, "");
    }

    pub(super) fn ask_rename(&mut self) {
        let Some(peer) = self.selected_peer() else {
            return;
        };
        if !peer.is_listed() {
            self.ask_add();
            return;
        }
        let question = format!("Rename {} to:", peer.name());
        let kind = PromptKind::Rename {
            name: peer.key().to_string(),
        };
        let name = peer.name().to_owned();
        self.ask(kind, question, &name);
    }

    pub(super) fn ask_remove(&mut self) {
        let Some(peer) = self.selected_peer() else {
            return;
        };
        if !peer.is_listed() {
            // Strangers pile up; one can go. Its history file stays, as with a contact.
            let question = format!(
                "Remove {} from the list? Its history is kept. y/n",
                peer.name()
            );
            let kind = PromptKind::Forget {
                id: peer.id(),
                name: peer.name().to_owned(),
            };
            self.ask(kind, question, "");
            return;
        }
        let question = format!("Remove {} from contacts? y/n", peer.name());
        let kind = PromptKind::Remove {
            name: peer.key().to_string(),
        };
        self.ask(kind, question, "");
    }

    /// y in the remove prompt.
    pub(super) fn confirm_remove(&mut self) -> Vec<Effect> {
        let overlay = std::mem::replace(&mut self.overlay, Overlay::None);
        match overlay {
            Overlay::Prompt(prompt) => match prompt.kind {
                PromptKind::Remove { name } => vec![Effect::RemoveContact { name }],
                PromptKind::Forget { id, name } => self.forget(id, &name),
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    /// Takes entry `id` off the list. Nothing on disk changes: its history file stays, and
    /// the entry comes back with it if the address writes again.
    fn forget(&mut self, id: EntryId, name: &str) -> Vec<Effect> {
        let row = self.selected();
        if self.view.open == Some(id) {
            self.composer = super::Composer::new(false);
            self.view.open = None;
            self.view.follow();
            self.set_focus(super::Focus::Contacts);
        }
        self.roster.remove(id);
        let last = self.peers().len().saturating_sub(1);
        self.view.select_index(&self.roster, row.min(last));
        self.show_info(&format!(
            "{name} removed from the list; its history is kept, and it comes back if it writes"
        ));
        self.unsaved_drafts().into_iter().collect()
    }

    pub(super) fn set_prompt_error(&mut self, error: String) {
        if let Some(prompt) = self.prompt_mut() {
            prompt.error = Some(error);
        }
    }

    /// Enter in a name prompt: the effect that carries the name out, or an error shown in
    /// the prompt, which stays open.
    pub(super) fn confirm_name(&mut self, now: jiff::Timestamp) -> Vec<Effect> {
        let Overlay::Prompt(prompt) = &self.overlay else {
            return Vec::new();
        };
        let name = prompt.text().trim().to_owned();
        let kind = prompt.kind.clone();
        let (own, effect): (Option<EntryId>, Effect) = match kind {
            PromptKind::SendFile { to } => return self.confirm_send_file(to, &name, now),
            PromptKind::SaveFile {
                transfer,
                from_list,
            } => return self.confirm_accept(transfer, from_list, &name),
            PromptKind::AddKeyed => return self.confirm_contact_string(&name),
            PromptKind::Search { place } => return self.confirm_search(place, &name),
            PromptKind::NameKeyed { addrs, key } => {
                if let Some(problem) = self.roster.keyed_contact_problem(&name, &addrs, &key) {
                    self.set_prompt_error(problem);
                    return Vec::new();
                }
                let own = self.roster.entry_at(&addrs).map(|p| p.id());
                let effect = Effect::AddKeyedContact {
                    name: name.clone(),
                    addrs,
                    key,
                };
                (own, effect)
            }
            PromptKind::AddNeighbour { id } => {
                let nearby = self.roster.get(id).and_then(|p| p.neighbour()).cloned();
                let Some(nearby) = nearby else {
                    // Gone, or a contact already.
                    self.overlay = Overlay::None;
                    return Vec::new();
                };
                let addr = nearby.addr();
                let taken = self.peers().iter().find(|p| {
                    p.is_listed()
                        && p.candidates()
                            .iter()
                            .any(|&a| canonical(a) == canonical(addr))
                });
                if let Some(contact) = taken {
                    let problem = format!(
                        "{} is already in contacts as {}.",
                        display_addr(addr),
                        contact.name()
                    );
                    self.set_prompt_error(problem);
                    return Vec::new();
                }
                let effect = match nearby.kind() {
                    NearbyKind::IpMsg { .. } => Effect::AddIpmsgContact {
                        name: name.clone(),
                        addr,
                    },
                    NearbyKind::Qqchat { key: Some(key) } => Effect::AddKeyedContact {
                        name: name.clone(),
                        addrs: vec![display_addr(addr)],
                        key: *key,
                    },
                    NearbyKind::Qqchat { key: None } => Effect::AddContact {
                        name: name.clone(),
                        addr,
                        plain: false,
                    },
                };
                (Some(id), effect)
            }
            PromptKind::Add { addr } => {
                let Some(peer) = self.roster.at_addr(addr) else {
                    self.overlay = Overlay::None;
                    return Vec::new();
                };
                if peer.is_listed() {
                    self.overlay = Overlay::None;
                    return Vec::new();
                }
                let effect = Effect::AddContact {
                    name: name.clone(),
                    addr: peer.addr(),
                    plain: peer.is_plain(),
                };
                (Some(peer.id()), effect)
            }
            PromptKind::Rename { name: from } => {
                let Some(peer) = self
                    .peers()
                    .iter()
                    .find(|p| p.is_listed() && *p.key() == *from)
                else {
                    self.overlay = Overlay::None;
                    return Vec::new();
                };
                if name == from {
                    self.overlay = Overlay::None;
                    return Vec::new();
                }
                let own = Some(peer.id());
                (
                    own,
                    Effect::RenameContact {
                        from,
                        to: name.clone(),
                    },
                )
            }
            PromptKind::Remove { .. }
            | PromptKind::Forget { .. }
            | PromptKind::LeaveGroup { .. } => return Vec::new(),
        };
        if let Some(problem) = self.roster.name_problem(&name, own) {
            self.set_prompt_error(problem);
            return Vec::new();
        }
        self.overlay = Overlay::None;
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
        let name = parsed.name.trim().to_owned();
        if let Some(problem) = self
            .roster
            .keyed_contact_problem(&name, &parsed.addrs, &parsed.key)
        {
            self.set_prompt_error(problem);
            return Vec::new();
        }
        if self.roster.key_receiver(&name, &parsed.addrs).is_some() {
            // A friend already listed without a key: the file gives it the key, as
            // `qqchat add` does; no name to ask for.
            self.overlay = Overlay::None;
            return vec![Effect::AddKeyedContact {
                name,
                addrs: parsed.addrs,
                key: parsed.key,
            }];
        }
        let own = self.roster.entry_at(&parsed.addrs).map(|p| p.id());
        if let Some(problem) = self.roster.name_problem(&name, own) {
            // Same as the add prompt: the name can be changed here, and Enter tries again.
            let question = format!("Name for {}:", sanitize(&parsed.addrs.join(", ")));
            let kind = PromptKind::NameKeyed {
                addrs: parsed.addrs,
                key: parsed.key,
            };
            let mut prompt = Prompt::new(kind, question, &name);
            prompt.error = Some(problem);
            self.overlay = Overlay::Prompt(Box::new(prompt));
            return Vec::new();
        }
        self.overlay = Overlay::None;
        vec![Effect::AddKeyedContact {
            name,
            addrs: parsed.addrs,
            key: parsed.key,
        }]
    }

    /// In the contact string prompt, what Enter will do with the text, once it reads.
    pub fn keyed_preview(&self) -> Option<KeyedPreview> {
        let Overlay::Prompt(prompt) = &self.overlay else {
            return None;
        };
        let contact = prompt.contact_string()?;
        let name = contact.name.trim();
        if let Some(problem) = self
            .roster
            .keyed_contact_problem(name, &contact.addrs, &contact.key)
        {
            return Some(KeyedPreview::Refused(problem));
        }
        let key = crate::identity::encode_key(&contact.key);
        let key = key.get(..8).unwrap_or(&key).to_owned();
        Some(match self.roster.key_receiver(name, &contact.addrs) {
            Some(peer) => KeyedPreview::GivesKey {
                name: peer.name().to_owned(),
                key,
            },
            None => KeyedPreview::Adds {
                name: sanitize(name),
                addrs: sanitize(&contact.addrs.join(", ")),
                key,
            },
        })
    }
}
