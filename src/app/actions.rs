//! What each [`Action`] does to the App: moving between panes and through the list,
//! sending, retrying and cancelling, scrolling and picking messages, and the overlays.

use crossterm::event::KeyEvent;
use jiff::Timestamp;
use ratatui::layout::Rect;

use super::keys::{Action, LEGEND_ROWS, help_shape};
use super::message::{Mark, Message, Origin};
use super::overlay::{Overlay, PromptKind};
use super::peer::{EntryId, Peer, Seq, Trust};
use super::transfers::Want;
use super::view::Focus;
use super::{App, Effect, height_of};
use crate::engine::Command;
use crate::layout;

impl App {
    /// Carries out `action`; `key` is the key that asked for it, where one did.
    pub(super) fn run(
        &mut self,
        action: Action,
        key: Option<KeyEvent>,
        now: Timestamp,
    ) -> Vec<Effect> {
        if matches!(action, Action::Confirm | Action::Dismiss | Action::Type)
            && let Some(prompt) = self.prompt_mut()
        {
            // The prompt's complaint was about the text before this key.
            prompt.error = None;
        }
        match action {
            // Drafts are kept first: quitting never loses what was being written.
            Action::Quit => {
                return self
                    .unsaved_drafts()
                    .into_iter()
                    .chain([Effect::Quit])
                    .collect();
            }
            Action::ReloadContacts => return vec![Effect::ReloadContacts],
            Action::OpenHelp => self.overlay = Overlay::Help { scroll: 0 },
            Action::ShowCard => return self.show_card(),
            Action::ShowSafety => {
                let id = match self.view.focus {
                    Focus::Contacts => self.peers().get(self.selected()).map(Peer::id),
                    _ => self.view.open,
                };
                self.open_safety(id);
            }
            Action::AcceptKey => return self.accept_key(),
            Action::ToggleVerified => return self.toggle_verified(),
            Action::PageUp => self.scroll_by(self.page() as isize),
            Action::PageDown => self.scroll_by(-(self.page() as isize)),
            Action::NextPane => match self.view.focus {
                Focus::Contacts if self.view.open.is_some() || self.view.open_group.is_some() => {
                    self.set_focus(Focus::Conversation);
                }
                Focus::Contacts => {}
                Focus::Conversation => self.set_focus(Focus::Input),
                Focus::Input => self.set_focus(Focus::Contacts),
            },
            Action::PreviousPane => match self.view.focus {
                Focus::Contacts if self.view.open.is_some() || self.view.open_group.is_some() => {
                    self.set_focus(Focus::Input);
                }
                Focus::Contacts => {}
                Focus::Conversation => self.set_focus(Focus::Contacts),
                Focus::Input => self.set_focus(Focus::Conversation),
            },
            Action::Back => {
                // Esc first lets go of a reply being written, then of the input.
                if self.view.focus == Focus::Input && self.cancel_reply() {
                    return Vec::new();
                }
                if self.view.focus != Focus::Contacts {
                    self.set_focus(Focus::Contacts);
                }
            }
            Action::SelectUp => self.select_row(self.selected().saturating_sub(1)),
            Action::SelectDown => {
                let last = self.rows().saturating_sub(1);
                self.select_row((self.selected() + 1).min(last));
            }
            Action::SelectFirst => self.select_row(0),
            Action::SelectLast => self.select_row(self.rows().saturating_sub(1)),
            Action::OpenConversation => {
                let want = self.open_selected();
                return want.into_iter().chain(self.unsaved_drafts()).collect();
            }
            Action::AddContact => self.ask_add(),
            Action::PasteContact => self.ask_add_keyed(),
            Action::RenameContact => self.ask_rename(),
            Action::RemoveContact => self.ask_remove(),
            Action::ChooseEarlier => self.choose_earlier(),
            Action::ChooseLater => self.choose_later(),
            Action::Newest => self.view.follow(),
            Action::Oldest => {
                // As far back as there is; clamping stops at the first message.
                self.view.chosen = None;
                self.view.scroll = usize::MAX / 2;
                self.clamp_scroll();
            }
            Action::Details if self.view.open_group.is_some() => match self.group_chosen() {
                Some(index) => self.group_details(index),
                None => self.set_focus(Focus::Input),
            },
            Action::Details => match self.chosen_message() {
                Some(message) if message.transfer().is_some() => {
                    let text = message
                        .transfer()
                        .and_then(|i| self.transfer_details(i))
                        .unwrap_or_default();
                    self.show_info(&text);
                }
                Some(message) => {
                    let text = self.details(message);
                    self.show_info(&text);
                }
                None => self.set_focus(Focus::Input),
            },
            Action::Write => self.set_focus(Focus::Input),
            Action::Reply => return self.reply(),
            Action::FirstUnread => return self.first_unread(),
            Action::MarkAllRead => self.mark_all_read(),
            Action::Cancel => {
                if let Some(index) = self.chosen_message().and_then(Message::transfer) {
                    return self.cancel_transfer(Some(index));
                }
                if let (Some(id), Some(seq)) = (self.view.open, self.view.chosen) {
                    return self.cancel(id, seq);
                }
            }
            Action::Send => match self.view.open_group {
                Some(group) => {
                    let sent = self.send_to_group(group);
                    if !sent.is_empty() {
                        self.clamp_scroll();
                    }
                    return sent;
                }
                None => return self.send_input(now),
            },
            Action::NewLine => self.composer.insert_newline(),
            Action::RetryLatest => return self.retry_latest(),
            Action::ExternalEditor => return vec![Effect::EditDraft(self.composer.text())],
            Action::Recall => self.recall(key),
            Action::Edit(edit) => match self.prompt_mut() {
                Some(prompt) => prompt.edit(edit),
                None => self.composer.edit(edit),
            },
            Action::HelpDown => self.help_step(1),
            Action::HelpUp => self.help_step(-1),
            Action::HelpPageDown => self.help_step(self.help_page() as isize),
            Action::HelpPageUp => self.help_step(-(self.help_page() as isize)),
            Action::CloseHelp | Action::No | Action::CloseTransfers => {
                self.overlay = Overlay::None;
            }
            Action::Dismiss => {
                // A folder asked from the list of transfers goes back to the list.
                self.overlay = match self.prompt().map(|p| p.kind().clone()) {
                    Some(PromptKind::SaveFile {
                        transfer,
                        from_list: true,
                    }) => Overlay::Transfers { selected: transfer },
                    _ => Overlay::None,
                };
            }
            Action::Yes => match self.prompt().map(|p| p.kind().clone()) {
                Some(PromptKind::LeaveGroup { group }) => return self.confirm_leave(group),
                _ => return self.confirm_remove(),
            },
            Action::Confirm => return self.confirm_name(now),
            Action::Complete => match self.prompt_mut() {
                Some(prompt) if prompt.is_path() => prompt.complete(),
                Some(prompt) => {
                    if let Some(key) = key {
                        prompt.key(key);
                    }
                }
                None => {}
            },
            Action::SendFile => return self.ask_send_file(),
            Action::OpenTransfers => self.open_transfers(),
            Action::Accept => {
                if !matches!(self.overlay, Overlay::Transfers { .. })
                    && let Some(text) = self.chosen_text()
                {
                    // A picked message (not a file): `y` copies it, by OSC 52, which also
                    // works over SSH; base64 in the sequence, so any text is safe in it.
                    self.show_info("message copied to the clipboard");
                    return vec![Effect::Copy(text)];
                }
                let (index, from_list) = match self.overlay {
                    Overlay::Transfers { .. } => (self.transfers_selected(), true),
                    _ => (self.file_target(Want::Asking), false),
                };
                self.ask_accept(index, from_list);
            }
            Action::Decline => {
                let index = match self.overlay {
                    Overlay::Transfers { .. } => self.transfers_selected(),
                    _ => self.file_target(Want::Asking),
                };
                return self.decline(index);
            }
            Action::PauseResume => {
                let index = match self.overlay {
                    Overlay::Transfers { .. } => self.transfers_selected(),
                    _ => self.file_target(Want::Moving),
                };
                return self.pause_or_resume(index);
            }
            Action::CancelFile => return self.cancel_transfer(self.transfers_selected()),
            Action::TransferUp => self.transfers_step(-1),
            Action::TransferDown => self.transfers_step(1),
            Action::GoToTransfer => return self.go_to_transfer(),
            Action::NewGroup => self.ask_new_group(),
            Action::AddMember => self.ask_add_member(),
            Action::RemoveMember => self.ask_remove_member(),
            Action::LeaveGroup => self.ask_leave(),
            Action::JoinGroup => return self.answer_invitation(true),
            Action::DeclineGroup => return self.answer_invitation(false),
            Action::DialogUp => {
                if let Some(d) = self.group_dialog_mut() {
                    d.step(-1);
                }
            }
            Action::DialogDown => {
                if let Some(d) = self.group_dialog_mut() {
                    d.step(1);
                }
            }
            Action::DialogField => {
                if let Some(d) = self.group_dialog_mut()
                    && d.name.is_some()
                    && !d.choices.is_empty()
                {
                    d.on_name = !d.on_name;
                }
            }
            Action::Toggle => self.dialog_toggle(key),
            Action::DialogConfirm => return self.dialog_confirm(),
            Action::Search => self.ask_search(self.view.focus == Focus::Contacts),
            Action::SearchOlder => self.step_search(true),
            Action::SearchNewer => self.step_search(false),
            Action::EndSearch => self.end_search(),
            Action::ResultsUp => self.results_move(false),
            Action::ResultsDown => self.results_move(true),
            Action::ResultsOpen => return self.results_open(),
            Action::CloseResults => self.overlay = Overlay::None,
            Action::Type if self.group_dialog().is_some() => {
                if let Some(key) = key {
                    self.dialog_type(key);
                }
            }
            Action::Type => {
                if let Some(key) = key {
                    match self.prompt_mut() {
                        Some(prompt) => prompt.key(key),
                        None => self.composer.key(key),
                    }
                }
            }
        }
        Vec::new()
    }

    pub(super) fn set_focus(&mut self, focus: Focus) {
        self.view.focus = focus;
        if focus != Focus::Contacts && self.view.open.is_some() {
            // One cursor: out of the list it rests on the open conversation, and Esc comes
            // back to it there.
            self.view.selected = self.view.open;
            self.view.group = None;
        }
        if focus != Focus::Contacts && self.view.open_group.is_some() {
            self.view.group = self.view.open_group;
        }
        if focus != Focus::Conversation {
            self.view.chosen = None;
        }
        self.composer.set_focused(focus == Focus::Input);
    }

    pub(super) fn selected_peer(&self) -> Option<&Peer> {
        if self.view.group.is_some() {
            return None;
        }
        self.peers().get(self.selected())
    }

    /// Opens the conversation under the cursor, with the keys in the input. A keyed contact
    /// that is not online is wanted: the engine looks for a path to it now, so that the
    /// first message does not wait for one.
    pub(super) fn open_selected(&mut self) -> Vec<Effect> {
        if let Some(group) = self
            .view
            .group
            .filter(|g| self.groups.position(*g).is_some())
        {
            self.open_group_id(group);
            return Vec::new();
        }
        let Some(peer) = self.selected_peer() else {
            return Vec::new();
        };
        let id = peer.id();
        let want = (peer.is_keyed() && peer.is_listed() && peer.online() != Some(true))
            .then(|| Effect::Send(Command::Want(peer.peer_id())));
        self.leave_group_view();
        if self.view.open != Some(id) {
            self.replying = None;
        }
        self.switch_draft(id);
        self.view.open = Some(id);
        self.open_peer_unread(id);
        self.view.follow();
        self.set_focus(Focus::Input);
        want.into_iter().collect()
    }

    fn send_input(&mut self, now: Timestamp) -> Vec<Effect> {
        let Some(id) = self.view.open else {
            return Vec::new();
        };
        if self.refuse_sending(id) {
            return Vec::new();
        }
        let Some(text) = self.composed() else {
            return Vec::new();
        };
        self.composer = super::Composer::new(false);
        self.replying = None;
        self.set_focus(self.view.focus);
        let msg_id = crate::engine::new_message_id();
        self.roster
            .push_own(id, Message::own(now, text.clone(), msg_id));
        self.view.follow();
        let Some(p) = self.roster.get(id) else {
            return Vec::new();
        };
        let send = Effect::Send(Command::Send {
            to: p.peer_id(),
            text,
            plain: p.is_plain(),
            id: msg_id,
        });
        // The sent text is no draft any more, on disk either.
        std::iter::once(send).chain(self.unsaved_drafts()).collect()
    }

    /// Says so in the status line when peer `id` may not be written to: it has no key and
    /// `require_keys` is on. The text typed stays in the input.
    pub(super) fn refuse_sending(&mut self, id: EntryId) -> bool {
        let Some(p) = self.roster.get(id) else {
            return true;
        };
        if self.roster.trust(p) != Trust::Refused {
            return false;
        }
        let text = format!(
            "not sent: {} has no key (require_keys); add it to contacts.toml",
            p.name()
        );
        self.show_error(&text);
        true
    }

    /// The full times of `message`, to the second: for a received one the sender's clock
    /// when it was sent (if it said) and when it arrived; for an own one when it was written.
    fn details(&self, message: &Message) -> String {
        let full = |at: Timestamp| {
            self.tz
                .to_datetime(at)
                .strftime("%a %-d %b %Y %H:%M:%S")
                .to_string()
        };
        match message.mark() {
            None => match message.sent_at() {
                Some(sent) => format!(
                    "sent {} (their clock) · received {}",
                    full(sent),
                    full(message.at())
                ),
                None => format!("received {} (no send time given)", full(message.at())),
            },
            Some(mark) => {
                let state = match mark {
                    Mark::Pending => "being sent",
                    Mark::Delivered => "delivered",
                    Mark::Sent => "sent plain, no receipt",
                    Mark::Queued => "queued",
                    Mark::Failed => "failed",
                    Mark::Cancelled => "cancelled",
                };
                format!("written {} · {state}", full(message.at()))
            }
        }
    }

    /// ↑ in the input: when it is empty, the last message sent in this conversation comes
    /// back to be edited and sent again (as in irssi, weechat); otherwise the cursor moves.
    fn recall(&mut self, key: Option<KeyEvent>) {
        if !self.composer.is_empty() {
            if let Some(key) = key {
                self.composer.key(key);
            }
            return;
        }
        let last = self
            .open_peer()
            .and_then(|p| p.messages().iter().rev().find(|m| m.is_own()))
            .map(|m| m.display_text().into_owned());
        if let Some(text) = last {
            self.composer.insert_str(&text);
        }
    }

    /// `r` on an own failed or queued message (see [`App::reply`] for the others): a failed
    /// one is sent again under a new msg_id, a queued one is sent now under its own; any
    /// other is left alone, and the status line says why.
    pub(super) fn retry(&mut self, id: EntryId, seq: Seq) -> Vec<Effect> {
        let origin = self.message(id, seq).map(Message::origin);
        let Some(Origin::Own { mark, msg_id: old }) = origin else {
            if let Some(Origin::File { .. }) = origin {
                self.show_info("a file is not sent again with r; Ctrl-O offers it anew");
            } else if origin.is_some() {
                self.show_info("r sends your own messages again; this one was received");
            }
            return Vec::new();
        };
        if mark.is_retryable() && self.refuse_sending(id) {
            return Vec::new();
        }
        match mark {
            Mark::Failed => {
                let msg_id = crate::engine::new_message_id();
                self.roster.set_mark(id, seq, Mark::Pending, msg_id);
                let (Some(p), Some(m)) = (self.roster.get(id), self.message(id, seq)) else {
                    return Vec::new();
                };
                vec![Effect::Send(Command::Send {
                    to: p.peer_id(),
                    text: m.text.clone(),
                    plain: p.is_plain(),
                    id: msg_id,
                })]
            }
            Mark::Queued => {
                self.roster.set_mark(id, seq, Mark::Pending, old);
                vec![Effect::Send(Command::SendNow { id: old })]
            }
            Mark::Pending => {
                self.show_info("still being sent: qqchat retries by itself until it is delivered");
                Vec::new()
            }
            Mark::Delivered => {
                self.show_info("already delivered: nothing to send again");
                Vec::new()
            }
            Mark::Sent => {
                self.show_info("sent as plain UDP: no receipt ever comes, so nothing to retry");
                Vec::new()
            }
            Mark::Cancelled => {
                self.show_info("cancelled: write it again to send it");
                Vec::new()
            }
        }
    }

    /// `x` on a queued message asks the engine to drop it; the mark changes when it has.
    fn cancel(&mut self, id: EntryId, seq: Seq) -> Vec<Effect> {
        let why = match self.message(id, seq).map(Message::origin) {
            Some(Origin::Own {
                mark: Mark::Queued,
                msg_id,
            }) => return vec![Effect::Send(Command::Cancel { id: msg_id })],
            Some(Origin::Own { mark, .. }) => match mark {
                Mark::Delivered | Mark::Sent => "already sent: a message cannot be taken back",
                Mark::Pending => "being sent now: x cancels only queued messages",
                Mark::Failed => "not queued, so nothing to cancel (r sends it again)",
                Mark::Cancelled => "already cancelled",
                Mark::Queued => return Vec::new(),
            },
            Some(Origin::Received) => "x cancels your own queued messages; this one was received",
            Some(Origin::File { .. }) => return Vec::new(),
            None => return Vec::new(),
        };
        self.show_info(why);
        Vec::new()
    }

    /// Ctrl-R: `r` on the newest queued or failed message of the open conversation.
    fn retry_latest(&mut self) -> Vec<Effect> {
        let Some(peer) = self.open_peer() else {
            return Vec::new();
        };
        if !peer.has_retryable() {
            self.show_info("nothing queued or failed in this conversation");
            return Vec::new();
        }
        let latest = peer
            .messages()
            .iter()
            .rposition(|m| m.mark().is_some_and(Mark::is_retryable))
            .map(|index| (peer.id(), peer.seq_at(index)));
        match latest {
            Some((id, seq)) => self.retry(id, seq),
            None => Vec::new(),
        }
    }

    fn message(&self, id: EntryId, seq: Seq) -> Option<&Message> {
        let peer = self.roster.get(id)?;
        peer.messages().get(peer.index_of(seq)?)
    }

    // ---- scrolling and choosing ----

    /// The conversation's text area for the current terminal size.
    pub(super) fn viewport(&self) -> Rect {
        layout::conversation_text(self.view.size, self.composer.textarea().lines().len())
    }

    /// Lines a PgUp/PgDn moves.
    fn page(&self) -> usize {
        layout::page(self.viewport().height)
    }

    pub(super) fn scroll_by(&mut self, delta: isize) {
        if self.view.open.is_none() && self.view.open_group.is_none() {
            return;
        }
        self.view.scroll = self.view.scroll.saturating_add_signed(delta);
        self.clamp_scroll();
    }

    /// Keeps the view from scrolling past the first message.
    /// The text of the picked message of the open conversation or group, unless it is a
    /// file (whose `y` accepts it).
    fn chosen_text(&self) -> Option<String> {
        if self.view.open_group.is_some() {
            let index = self.group_chosen()?;
            let item = self.open_group()?.shown().nth(index)?;
            return match &item.kind {
                crate::engine::GroupItemKind::Text(text) => Some(text.clone()),
                _ => None,
            };
        }
        let message = self.chosen_message()?;
        message.transfer().is_none().then(|| message.text.clone())
    }

    /// The text in the input, ready to send; `None` when there is nothing to send or it is
    /// too long (said in the status line). Refused here, before anything is stored or sent,
    /// so the draft stays to be cut.
    pub(super) fn composed(&mut self) -> Option<String> {
        let text = self.composer.text();
        if text.trim().is_empty() {
            return None;
        }
        let text = self.with_quote(text.trim_end().to_string());
        if let Some(err) = crate::engine::too_long(&text, crate::proto::MAX_MESSAGE) {
            self.show_error(&format!("not sent: {err}"));
            return None;
        }
        Some(text)
    }

    /// The height of each item of a group conversation, at this width.
    fn group_heights(&self, group: &super::Group, width: u16) -> Vec<usize> {
        let columns = self.group_columns(group, usize::from(width));
        (0..group.shown_len())
            .map(|i| self.group_item_height(group, &columns, i, width))
            .collect()
    }

    pub(super) fn clamp_scroll(&mut self) {
        let viewport = self.viewport();
        if let Some(group) = self.open_group() {
            let heights = self.group_heights(group, viewport.width);
            let count = heights.len();
            self.view
                .clamp_scroll(count, usize::from(viewport.height), |i| heights[i]);
            return;
        }
        let Some(peer) = self.view.open.and_then(|id| self.roster.get(id)) else {
            self.view.scroll = 0;
            return;
        };
        let (me, tz) = (&self.me, &self.tz);
        let marker = self.peer_marker(peer.id());
        self.view
            .clamp_scroll(peer.messages().len(), usize::from(viewport.height), |i| {
                height_of(me, tz, peer, i, viewport.width, marker)
            });
    }

    fn choose_earlier(&mut self) {
        if let Some(group) = self.open_group() {
            let end = self.group_chosen().unwrap_or(group.shown_len());
            if let Some(index) = end.checked_sub(1) {
                self.view.chosen = Some(index as Seq);
                self.reveal(index);
            }
            return;
        }
        let Some(peer) = self.open_peer() else { return };
        let messages = peer.messages();
        let end = self.chosen().unwrap_or(messages.len());
        if let Some(index) = end.min(messages.len()).checked_sub(1) {
            self.view.chosen = Some(peer.seq_at(index));
            self.reveal(index);
        }
    }

    fn choose_later(&mut self) {
        if let Some(group) = self.open_group() {
            let Some(current) = self.group_chosen() else {
                return;
            };
            if current + 1 < group.shown_len() {
                self.view.chosen = Some(current as Seq + 1);
                self.reveal(current + 1);
            } else {
                self.view.follow();
            }
            return;
        }
        let Some(peer) = self.open_peer() else { return };
        let Some(current) = self.chosen() else { return };
        let index = current + 1;
        if index < peer.messages().len() {
            self.view.chosen = Some(peer.seq_at(index));
            self.reveal(index);
        } else {
            // Past the newest message: back to following the conversation.
            self.view.follow();
        }
    }

    /// Scrolls just enough for message `index` of the open conversation to be in view.
    pub(super) fn reveal(&mut self, index: usize) {
        let viewport = self.viewport();
        if let Some(group) = self.open_group() {
            let heights = self.group_heights(group, viewport.width);
            let count = heights.len();
            self.view
                .reveal(index, count, usize::from(viewport.height), |i| heights[i]);
            return;
        }
        let Some(peer) = self.view.open.and_then(|id| self.roster.get(id)) else {
            return;
        };
        let (me, tz) = (&self.me, &self.tz);
        let marker = self.peer_marker(peer.id());
        self.view.reveal(
            index,
            peer.messages().len(),
            usize::from(viewport.height),
            |i| height_of(me, tz, peer, i, viewport.width, marker),
        );
    }

    // ---- the help ----

    /// Lines a PgUp/PgDn moves the help.
    fn help_page(&self) -> usize {
        usize::from(self.view.size.height).saturating_sub(4).max(1)
    }

    /// Arrows scroll the help when it does not fit; when it fits they close it, as any
    /// other key does.
    fn help_step(&mut self, step: isize) {
        let most =
            layout::help_max_scroll(help_shape(LEGEND_ROWS), self.last_error(), self.view.size);
        match &mut self.overlay {
            Overlay::Help { scroll } if most > 0 => {
                *scroll = scroll.saturating_add_signed(step).min(most);
            }
            _ => self.overlay = Overlay::None,
        }
    }
}
