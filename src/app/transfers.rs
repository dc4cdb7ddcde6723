//! What the file keys and the engine's file events do to the App: Ctrl-O's path prompt and
//! the plan it makes, answering offers (y with a folder to save in, n), pausing, resuming
//! and cancelling, and the list of every transfer (Ctrl-T).
//!
//! Reading a file to hash it takes seconds for a large one, so the App never does it: it
//! hands the files to the front end ([`Effect::PrepareFiles`]), which hashes them off the
//! UI thread and makes the offers.

use std::path::PathBuf;

use jiff::Timestamp;

use super::files::{FileItem, FileRef, FileState, Transfer, apply_progress, shown_path};
use super::message::Message;
use super::overlay::{Overlay, PromptKind};
use super::peer::EntryId;
use super::view::Focus;
use super::{App, Effect};
use crate::engine::{Command, FileAction, FileProgress};
use crate::files::complete::expand;
use crate::files::human_bytes;
use crate::files::outgoing::{ToSend, plan};
use crate::proto::PeerId;
use crate::text::one_line;

/// What y, n, p and x act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Want {
    /// An offer waiting for an answer.
    Asking,
    /// A transfer under way.
    Moving,
}

impl App {
    /// The transfers of this run, oldest first.
    pub fn transfers(&self) -> &[Transfer] {
        &self.transfers
    }

    /// Transfer `index`, as a message of a conversation refers to it.
    pub fn transfer(&self, index: usize) -> Option<&Transfer> {
        self.transfers.get(index)
    }

    /// The folder offered when a file is accepted: `[me] downloads` or the system's.
    pub fn set_downloads(&mut self, dir: Option<PathBuf>) {
        self.downloads = dir;
    }

    /// Offers waiting for an answer, and transfers under way, with entry `id`.
    pub fn file_counts(&self, id: EntryId) -> (usize, usize) {
        let mine = self.transfers.iter().filter(|t| t.entry == id);
        let (mut asking, mut moving) = (0, 0);
        for t in mine {
            if t.is_asking() {
                asking += 1;
            } else if t.is_moving() {
                moving += 1;
            }
        }
        (asking, moving)
    }

    /// The transfer y, n, p or x act on in the conversation: the picked one, else the newest
    /// in the open conversation that is `want`.
    pub(super) fn file_target(&self, want: Want) -> Option<usize> {
        if let Some(index) = self.chosen_message().and_then(Message::transfer) {
            return Some(index);
        }
        if self.chosen().is_some() {
            return None;
        }
        let open = self.view.open?;
        self.transfers.iter().rposition(|t| {
            t.entry == open
                && match want {
                    Want::Asking => t.is_asking(),
                    Want::Moving => t.is_moving(),
                }
        })
    }

    /// The transfer under the cursor of the list (Ctrl-T).
    pub fn transfers_selected(&self) -> Option<usize> {
        match self.overlay {
            Overlay::Transfers { selected } => {
                Some(selected.min(self.transfers.len().checked_sub(1)?))
            }
            _ => None,
        }
    }

    /// Ctrl-T: the list of every transfer, the cursor on the newest offer waiting for an
    /// answer, else on the newest.
    pub(super) fn open_transfers(&mut self) {
        if self.transfers.is_empty() {
            self.show_info("no files sent or received yet; Ctrl-O sends one");
            return;
        }
        let selected = self
            .transfers
            .iter()
            .rposition(Transfer::is_asking)
            .unwrap_or(self.transfers.len() - 1);
        self.overlay = Overlay::Transfers { selected };
    }

    pub(super) fn transfers_step(&mut self, step: isize) {
        let last = self.transfers.len().saturating_sub(1);
        if let Overlay::Transfers { selected } = &mut self.overlay {
            *selected = selected.saturating_add_signed(step).min(last);
        }
    }

    /// Enter in the list: the conversation of the transfer picked, with it picked there.
    pub(super) fn go_to_transfer(&mut self) -> Vec<Effect> {
        let Some(t) = self
            .transfers_selected()
            .and_then(|i| self.transfers.get(i))
        else {
            return Vec::new();
        };
        let (entry, seq) = (t.entry, t.seq);
        self.overlay = Overlay::None;
        if self.roster.position(entry).is_none() {
            return Vec::new();
        }
        self.view.selected = Some(entry);
        let want = self.open_selected();
        self.set_focus(Focus::Conversation);
        self.view.chosen = Some(seq);
        if let Some(index) = self.chosen() {
            self.reveal(index);
        }
        want.into_iter().chain(self.unsaved_drafts()).collect()
    }

    /// Ctrl-O: asks for a path to send to the open conversation (from the list, to the
    /// contact under the cursor).
    pub(super) fn ask_send_file(&mut self) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.view.focus == Focus::Contacts && self.selected_peer().is_some() {
            effects.extend(self.open_selected());
            effects.extend(self.unsaved_drafts());
        }
        if self.open_group().is_some() {
            self.show_info("files go to one contact at a time; groups take messages only");
            return effects;
        }
        let Some(peer) = self.open_peer() else {
            self.show_info("open a conversation first: the file goes to it");
            return effects;
        };
        if peer.is_plain() {
            let text = format!("{} speaks plain UDP, which carries no files", peer.name());
            self.show_error(&text);
            return effects;
        }
        let id = peer.id();
        if self.refuse_sending(id) {
            return effects;
        }
        let question = format!(
            "Send to {} (a file or a folder; Tab completes):",
            self.open_peer().map_or("", |p| p.name())
        );
        self.ask(PromptKind::SendFile { to: id }, question, "");
        effects
    }

    /// Enter in the send prompt: the files of the path are planned here (sizes only) and
    /// handed to the front end to hash and offer; a path that cannot be sent says why in
    /// the prompt, and nothing goes.
    pub(super) fn confirm_send_file(
        &mut self,
        to: EntryId,
        text: &str,
        now: Timestamp,
    ) -> Vec<Effect> {
        if text.is_empty() {
            self.set_prompt_error("Type the path of a file or a folder, or Esc.".to_owned());
            return Vec::new();
        }
        let path = expand(text);
        let plan = match plan(std::slice::from_ref(&path)) {
            Ok(plan) => plan,
            Err(err) => {
                self.set_prompt_error(one_line(&err.to_string()));
                return Vec::new();
            }
        };
        if plan.files.is_empty() {
            self.set_prompt_error(format!("{text}: no file in it to send"));
            return Vec::new();
        }
        let Some(peer) = self.roster.get(to) else {
            self.overlay = Overlay::None;
            return Vec::new();
        };
        let peer_id = peer.peer_id();
        self.overlay = Overlay::None;
        let folder = path.is_dir();
        let title = path
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| text.to_owned());
        let files: Vec<(u64, ToSend)> = plan
            .files
            .into_iter()
            .map(|f| (crate::engine::new_message_id(), f))
            .collect();
        let items = files
            .iter()
            .map(|(id, f)| {
                let key = FileRef {
                    peer: peer_id,
                    id: *id,
                    outgoing: true,
                };
                FileItem::new(key, &f.name, f.size, FileState::Preparing)
            })
            .collect();
        self.add_transfer(to, peer_id, true, &title, folder, items, now);
        if !plan.skipped.is_empty() {
            let what: Vec<String> = plan
                .skipped
                .iter()
                .take(3)
                .map(|(path, why)| format!("{} ({why})", shown_path(path)))
                .collect();
            let more = plan.skipped.len().saturating_sub(3);
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            self.show_info(&format!("left out: {}{more}", what.join(", ")));
        }
        self.view.follow();
        vec![Effect::PrepareFiles { to: peer_id, files }]
    }

    /// y: asks where to save the offer (the download folder offered, to edit).
    pub(super) fn ask_accept(&mut self, index: Option<usize>, from_list: bool) {
        let Some(t) = index.and_then(|i| self.transfers.get(i)) else {
            self.show_info("no file offer here to accept");
            return;
        };
        if !t.is_asking() {
            self.show_info("that file is not waiting for an answer");
            return;
        }
        let from = self
            .roster
            .get(t.entry)
            .map_or_else(String::new, |p| p.name().to_owned());
        let question = format!("Save {} from {from} in (Tab completes):", t.heading());
        let dir = self
            .downloads
            .as_deref()
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_default();
        let kind = PromptKind::SaveFile {
            transfer: index.unwrap_or_default(),
            from_list,
        };
        self.ask(kind, question, &dir);
    }

    /// Enter in the save prompt: every file of the offer still waiting is taken into the
    /// folder typed.
    pub(super) fn confirm_accept(
        &mut self,
        index: usize,
        from_list: bool,
        text: &str,
    ) -> Vec<Effect> {
        if text.is_empty() {
            self.set_prompt_error("Type the folder to save in, or Esc.".to_owned());
            return Vec::new();
        }
        let dir = expand(text);
        if dir.exists() && !dir.is_dir() {
            self.set_prompt_error(format!("{text} is a file, not a folder"));
            return Vec::new();
        }
        self.overlay = if from_list {
            Overlay::Transfers { selected: index }
        } else {
            Overlay::None
        };
        let Some(t) = self.transfers.get_mut(index) else {
            return Vec::new();
        };
        t.dir = Some(shown_path(&dir));
        let mut effects = Vec::new();
        for file in t.files.iter_mut().filter(|f| f.state == FileState::Asking) {
            file.state = FileState::Running;
            effects.push(Effect::Send(Command::AcceptFile {
                from: file.key.peer,
                id: file.key.id,
                dir: dir.clone(),
            }));
        }
        self.refresh_transfer(index);
        effects
    }

    /// n: every file of the offer still waiting is declined.
    pub(super) fn decline(&mut self, index: Option<usize>) -> Vec<Effect> {
        let Some(t) = index.and_then(|i| self.transfers.get_mut(i)) else {
            self.show_info("no file offer here to decline");
            return Vec::new();
        };
        let mut effects = Vec::new();
        for file in t.files.iter_mut().filter(|f| f.state == FileState::Asking) {
            file.state = FileState::Failed("declined here".to_owned());
            effects.push(Effect::Send(Command::DeclineFile {
                from: file.key.peer,
                id: file.key.id,
            }));
        }
        if effects.is_empty() {
            self.show_info("that file is not waiting for an answer");
        }
        if let Some(index) = index {
            self.refresh_transfer(index);
        }
        effects
    }

    /// p: pauses what moves; when everything is paused already, resumes it.
    pub(super) fn pause_or_resume(&mut self, index: Option<usize>) -> Vec<Effect> {
        let Some(t) = index.and_then(|i| self.transfers.get(i)) else {
            self.show_info("no transfer here to pause or resume");
            return Vec::new();
        };
        let moving = |s: &FileState| matches!(s, FileState::Running | FileState::Offered);
        let (action, which): (FileAction, fn(&FileState) -> bool) =
            if t.files.iter().any(|f| moving(&f.state)) {
                (FileAction::Pause, |s| {
                    matches!(s, FileState::Running | FileState::Offered)
                })
            } else if t.files.iter().any(|f| f.state == FileState::Paused) {
                (FileAction::Resume, |s| *s == FileState::Paused)
            } else {
                self.show_info("nothing of it is moving: nothing to pause or resume");
                return Vec::new();
            };
        t.files
            .iter()
            .filter(|f| which(&f.state))
            .map(|f| file_action(f.key, action))
            .collect()
    }

    /// x on a file: cancels what is under way, declines what waits for an answer.
    pub(super) fn cancel_transfer(&mut self, index: Option<usize>) -> Vec<Effect> {
        let Some(t) = index.and_then(|i| self.transfers.get_mut(i)) else {
            self.show_info("no transfer here to cancel");
            return Vec::new();
        };
        let mut effects = Vec::new();
        for file in t.files.iter_mut() {
            match file.state {
                FileState::Asking => {
                    file.state = FileState::Failed("declined here".to_owned());
                    effects.push(Effect::Send(Command::DeclineFile {
                        from: file.key.peer,
                        id: file.key.id,
                    }));
                }
                // Not offered yet: it is cancelled as soon as the engine reports it.
                FileState::Preparing => {
                    file.state = FileState::Failed("cancelled here".to_owned());
                }
                FileState::Offered | FileState::Running | FileState::Paused => {
                    effects.push(file_action(file.key, FileAction::Cancel));
                }
                FileState::Done | FileState::Failed(_) => {}
            }
        }
        if effects.is_empty() {
            self.show_info("already over: nothing to cancel");
        }
        if let Some(index) = index {
            self.refresh_transfer(index);
        }
        effects
    }

    // ---- what the engine says ----

    /// A file offered to this user (or taken already: `saving_to`). Files of one folder
    /// join the item of that folder while it is under way.
    pub(super) fn file_offered(
        &mut self,
        from: PeerId,
        id: u64,
        name: &str,
        size: u64,
        saving_to: Option<PathBuf>,
    ) -> Vec<Effect> {
        let Some(entry) = self.roster.entry_for(from) else {
            return Vec::new();
        };
        self.adopt_drafts();
        let key = FileRef {
            peer: from,
            id,
            outgoing: false,
        };
        if self.file_index.contains_key(&key) {
            return Vec::new();
        }
        let state = match saving_to {
            Some(_) => FileState::Running,
            None => FileState::Asking,
        };
        let asking = state == FileState::Asking;
        let item = FileItem::new(key, name, size, state);
        let dir = saving_to.as_deref().map(shown_path);
        let top = name.split_once('/').map(|(top, _)| top);
        let joins = top.and_then(|top| {
            let top = crate::text::short_name(top, 60);
            self.transfers.iter().rposition(|t| {
                t.peer == from && !t.outgoing && t.folder && t.title == top && t.is_active()
            })
        });
        if let Some(index) = joins {
            // Never taken on the user's behalf: a file that comes after the folder was
            // answered makes it ask again.
            if let Some(t) = self.transfers.get_mut(index) {
                t.files.push(item);
                self.file_index.insert(key, (index, t.files.len() - 1));
                if t.dir.is_none() {
                    t.dir = dir;
                }
            }
            self.refresh_transfer(index);
            return Vec::new();
        }
        let (title, folder) = match top {
            Some(top) => (top.to_owned(), true),
            None => (name.to_owned(), false),
        };
        let at = self.stamp();
        let index = self.add_transfer(entry, from, false, &title, folder, vec![item], at);
        if let Some(t) = self.transfers.get_mut(index) {
            t.dir = dir;
        }
        self.refresh_transfer(index);
        self.notify_file(entry, index, asking)
    }

    /// A new incoming item: counted as unread and rung for as a message is, and said in
    /// the status line when its conversation is open.
    fn notify_file(&mut self, entry: EntryId, index: usize, asking: bool) -> Vec<Effect> {
        if self.view.open != Some(entry) {
            if let Some(p) = self.roster.get_mut(entry) {
                p.unread += 1;
            }
            let (name, contact, muted) = self.roster.get(entry).map_or_else(
                || (String::new(), false, false),
                |p| (p.name().to_string(), p.is_listed(), p.muted),
            );
            return self.alert(&name, contact, muted, "offers a file");
        }
        if asking && let Some(t) = self.transfers.get(index) {
            let from = self.roster.get(entry).map_or("", |p| p.name()).to_owned();
            let keys = if self.view.focus == Focus::Input {
                "Ctrl-T to answer (or Shift+Tab, then y or n)"
            } else {
                "y accepts, n declines"
            };
            // A folder's files come one by one: its count is not known yet.
            let what = if t.is_folder() {
                format!("the folder {}/", t.title())
            } else {
                t.heading()
            };
            let text = format!("{from} offers {what}: {keys}");
            self.show_info(&text);
        }
        Vec::new()
    }

    pub(super) fn file_progress(&mut self, p: &FileProgress) -> Vec<Effect> {
        let key = FileRef {
            peer: p.peer,
            id: p.id,
            outgoing: p.outgoing,
        };
        if !self.file_index.contains_key(&key) {
            // A transfer this chat did not start (continued from an earlier run).
            let Some(entry) = self.roster.entry_for(p.peer) else {
                return Vec::new();
            };
            let item = FileItem::new(key, &p.name, p.size, FileState::Offered);
            let at = self.stamp();
            self.add_transfer(
                entry,
                p.peer,
                p.outgoing,
                &p.name.clone(),
                false,
                vec![item],
                at,
            );
        }
        let Some(&(t, f)) = self.file_index.get(&key) else {
            return Vec::new();
        };
        let Some(file) = self.transfers.get_mut(t).and_then(|t| t.files.get_mut(f)) else {
            return Vec::new();
        };
        let cancelled_early = matches!(file.state, FileState::Failed(_)) && p.outgoing;
        apply_progress(file, p);
        self.refresh_transfer(t);
        if cancelled_early {
            // Cancelled while it was being read: the offer is taken back now it exists.
            return vec![file_action(key, FileAction::Cancel)];
        }
        Vec::new()
    }

    pub(super) fn file_done(&mut self, key: FileRef, path: Option<PathBuf>) {
        let Some(&(t, f)) = self.file_index.get(&key) else {
            return;
        };
        let Some(transfer) = self.transfers.get_mut(t) else {
            return;
        };
        if let Some(file) = transfer.files.get_mut(f) {
            file.done = file.size;
            file.state = FileState::Done;
        }
        if !transfer.folder {
            transfer.saved = path.as_deref().map(shown_path);
        }
        self.refresh_transfer(t);
    }

    pub(super) fn file_failed(&mut self, key: FileRef, reason: &str) {
        let reason = one_line(reason);
        let Some(&(t, f)) = self.file_index.get(&key) else {
            // An offer refused before it was shown (over `max_file_size`): said, and kept
            // in its conversation.
            if let Some(entry) = self.roster.entry_for(key.peer) {
                let item = FileItem::new(key, "a file", 0, FileState::Failed(reason));
                let at = self.stamp();
                self.add_transfer(
                    entry,
                    key.peer,
                    key.outgoing,
                    "a file",
                    false,
                    vec![item],
                    at,
                );
            }
            return;
        };
        if let Some(file) = self.transfers.get_mut(t).and_then(|t| t.files.get_mut(f))
            && file.state != FileState::Done
        {
            // Declined here says so already; the engine's word adds nothing.
            if !matches!(file.state, FileState::Failed(_)) {
                file.state = FileState::Failed(reason);
            }
        }
        self.refresh_transfer(t);
    }

    // ---- the items ----

    /// When an incoming item is shown as having come: the front end's clock at its last
    /// wake (the App reads none itself).
    fn stamp(&self) -> Timestamp {
        self.now.unwrap_or(Timestamp::UNIX_EPOCH)
    }

    /// A new item in `entry`'s conversation; returns its index.
    #[allow(clippy::too_many_arguments)]
    fn add_transfer(
        &mut self,
        entry: EntryId,
        peer: PeerId,
        outgoing: bool,
        title: &str,
        folder: bool,
        files: Vec<FileItem>,
        at: Timestamp,
    ) -> usize {
        let index = self.transfers.len();
        for (f, file) in files.iter().enumerate() {
            self.file_index.insert(file.key, (index, f));
        }
        let transfer = Transfer {
            entry,
            seq: 0,
            peer,
            outgoing,
            title: crate::text::short_name(title, 60),
            folder,
            files,
            dir: None,
            saved: None,
            at,
        };
        let peer_name = self.roster.get(entry).map_or("", |p| p.name()).to_owned();
        let message = Message::file(at, transfer.text(&peer_name), outgoing, index);
        let seq = self.roster.push_file(entry, message);
        self.transfers.push(Transfer {
            seq: seq.unwrap_or_default(),
            ..transfer
        });
        index
    }

    /// Writes transfer `index`'s message again from its state.
    pub(super) fn refresh_transfer(&mut self, index: usize) {
        let Some(t) = self.transfers.get(index) else {
            return;
        };
        let peer_name = self.roster.get(t.entry).map_or("", |p| p.name()).to_owned();
        let text = t.text(&peer_name);
        let (entry, seq) = (t.entry, t.seq);
        self.roster.set_text(entry, seq, text);
        self.clamp_scroll();
    }

    /// The full description of a transfer, for Enter on its message.
    pub(super) fn transfer_details(&self, index: usize) -> Option<String> {
        let t = self.transfers.get(index)?;
        let mut text = format!(
            "{} {} · {} of {}",
            if t.outgoing { "sent" } else { "received" },
            t.heading(),
            human_bytes(t.done()),
            human_bytes(t.size())
        );
        if let Some(path) = t.saved.as_ref().or(t.dir.as_ref()) {
            text.push_str(&format!(" · in {path}"));
        }
        Some(text)
    }
}

fn file_action(key: FileRef, action: FileAction) -> Effect {
    Effect::Send(Command::FileAction {
        peer: key.peer,
        id: key.id,
        outgoing: key.outgoing,
        action,
    })
}
