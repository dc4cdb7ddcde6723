//! Drafts: what was typed to each conversation and not sent. The input holds the open
//! conversation's; the others wait in their peers until opened again. The front end keeps
//! them on disk when the App asks with [`Effect::SaveDrafts`]: on switching, sending and
//! quitting, whenever they changed since last saved.

use super::composer::Composer;
use super::peer::EntryId;
use super::view::Focus;
use super::{App, Effect};
use crate::store::ConversationKey;
use crate::text::sanitize;

impl App {
    /// Takes the drafts kept from an earlier run. One for a conversation with no entry yet
    /// waits until its entry comes (with the history, say).
    pub fn set_drafts(&mut self, drafts: Vec<(ConversationKey, String)>) {
        // A file anyone may have edited: its text is drawn, so it is cleaned first.
        self.orphan_drafts = drafts
            .into_iter()
            .map(|(key, text)| (key, sanitize(&text)))
            .collect();
        self.adopt_drafts();
        self.saved_drafts = Some(self.drafts());
    }

    /// Every draft by conversation, the open one's from the input; empty ones left out.
    pub fn drafts(&self) -> Vec<(ConversationKey, String)> {
        let open = self.view.open;
        let mut drafts: Vec<(ConversationKey, String)> = self
            .roster
            .peers()
            .iter()
            .map(|p| {
                let text = if Some(p.id()) == open {
                    self.composer.text()
                } else {
                    p.draft.clone()
                };
                (p.key().clone(), text)
            })
            .chain(self.orphan_drafts.iter().cloned())
            .filter(|(_, text)| !text.trim().is_empty())
            .collect();
        drafts.sort();
        drafts
    }

    /// [`Effect::SaveDrafts`] if the drafts changed since they were last saved.
    pub fn unsaved_drafts(&mut self) -> Option<Effect> {
        let drafts = self.drafts();
        if self.saved_drafts.as_ref() == Some(&drafts) {
            return None;
        }
        self.saved_drafts = Some(drafts.clone());
        Some(Effect::SaveDrafts(drafts))
    }

    /// The front end could not write the drafts it was given: they count as unsaved, so the
    /// next chance (at the latest, on the way out) tries again.
    pub fn drafts_not_saved(&mut self) {
        self.saved_drafts = None;
    }

    /// Gives drafts waiting for an entry to the entries that have come.
    pub(super) fn adopt_drafts(&mut self) {
        if self.orphan_drafts.is_empty() {
            return;
        }
        let open = self.view.open;
        let mut into_input = None;
        for (key, text) in std::mem::take(&mut self.orphan_drafts) {
            let peer = self
                .roster
                .peers()
                .iter()
                .find(|p| *p.key() == key)
                .map(|p| p.id());
            match peer.and_then(|id| self.roster.get_mut(id)) {
                Some(p) if Some(p.id()) == open => into_input = Some(text),
                Some(p) => p.draft = text,
                None => self.orphan_drafts.push((key, text)),
            }
        }
        if let Some(text) = into_input
            && self.composer.is_empty()
        {
            self.composer = Composer::with_text(&text, self.view.focus == Focus::Input);
        }
    }

    /// Opening `id`: the input's text stays with the conversation it was written to, and
    /// `id`'s own draft comes back.
    pub(super) fn switch_draft(&mut self, id: EntryId) {
        if self.view.open == Some(id) {
            return;
        }
        let text = self.composer.text();
        if let Some(old) = self.view.open.and_then(|old| self.roster.get_mut(old)) {
            old.draft = text;
        }
        let draft = self
            .roster
            .get_mut(id)
            .map(|p| std::mem::take(&mut p.draft))
            .unwrap_or_default();
        self.composer = Composer::with_text(&draft, false);
    }
}
