//! Keys you can trust, in the chat: which contacts' keys the contacts file changed (held to
//! the key first trusted), which are verified, and the screen with the safety number that
//! marks a contact verified or accepts its new key. The front end keeps the record on disk
//! when the App returns [`Effect::AcceptKey`] or [`Effect::SetVerified`].

use std::collections::HashSet;

use super::overlay::Overlay;
use super::peer::{EntryId, Peer, Trust};
use super::{App, Effect};
use crate::engine::KeyChange;
use crate::identity::{format_safety_number, safety_number};
use crate::proto::PublicKey;

/// What the safety number screen shows, worked out when it is drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafetyScreen {
    /// The contact, as shown.
    pub name: String,
    pub own_key: Option<PublicKey>,
    /// The key in use for the contact (the trusted one).
    pub key: PublicKey,
    /// The safety number with that key, in lines of four groups.
    pub number: Vec<String>,
    pub verified: bool,
    /// The contacts file names another key (`Some(None)`: none at all), and the safety
    /// number with it.
    pub change: Option<(Option<PublicKey>, Vec<String>)>,
}

impl App {
    /// The contacts whose key the file changed, and those marked verified (by their name in
    /// the file): given at start and after every reload of the file or of the trusted keys.
    pub fn set_key_trust(&mut self, changes: Vec<KeyChange>, verified: HashSet<String>) {
        let changed = changes.iter().map(|c| c.name.clone()).collect();
        self.key_changes = changes;
        self.roster.set_key_marks(changed, verified);
    }

    /// What the contacts file changed of `peer`'s key, while that waits for the user.
    pub fn key_change(&self, peer: &Peer) -> Option<&KeyChange> {
        if !peer.is_listed() {
            return None;
        }
        self.key_changes
            .iter()
            .find(|c| *peer.key() == *c.name.as_str())
    }

    /// The loud line over `peer`'s conversation, when there is something to fear: its key
    /// changed, or it claims a contact's name with another key.
    pub fn trust_warning(&self, peer: &Peer) -> Option<String> {
        match self.trust(peer) {
            Trust::KeyChanged => Some(format!(
                "⚠ {}'s key changed: the old key is still used · v: safety number",
                peer.name()
            )),
            Trust::ClaimsContact => {
                let contact = self.roster.claimed_contact(peer)?;
                Some(format!(
                    "⚠ Not your contact {}: another key",
                    contact.name()
                ))
            }
            _ => None,
        }
    }

    /// The safety number screen's content, while it is open.
    pub fn safety_screen(&self) -> Option<SafetyScreen> {
        let Overlay::Safety { id } = self.overlay else {
            return None;
        };
        let peer = self.roster.get(id)?;
        let key = match peer.peer_id() {
            crate::proto::PeerId::Key(key) => key,
            crate::proto::PeerId::Addr(_) => return None,
        };
        let number = |theirs: &PublicKey| {
            self.public_key
                .map(|mine| format_safety_number(&safety_number(&mine, theirs), 4))
                .unwrap_or_default()
        };
        Some(SafetyScreen {
            name: peer.name().to_owned(),
            own_key: self.public_key,
            key,
            number: number(&key),
            verified: self.trust(peer) == Trust::Verified,
            change: self.key_change(peer).map(|c| {
                (
                    c.offered,
                    c.offered.as_ref().map(number).unwrap_or_default(),
                )
            }),
        })
    }

    /// `v`: the safety number with the contact under the cursor (in the list) or open.
    pub(super) fn open_safety(&mut self, id: Option<EntryId>) {
        let Some(peer) = id.and_then(|id| self.roster.get(id)) else {
            return;
        };
        if !matches!(peer.peer_id(), crate::proto::PeerId::Key(_)) {
            let text = format!(
                "{} has no key, so there is no safety number: paste their contact string (A)",
                peer.name()
            );
            self.show_error(&text);
            return;
        }
        if self.public_key.is_none() {
            self.show_error("this chat has no key of its own, so there is no safety number");
            return;
        }
        self.overlay = Overlay::Safety { id: peer.id() };
    }

    /// `a` on the safety number screen: the new key the file names becomes the contact's.
    pub(super) fn accept_key(&mut self) -> Vec<Effect> {
        let Overlay::Safety { id } = self.overlay else {
            return Vec::new();
        };
        let Some(peer) = self.roster.get(id) else {
            return Vec::new();
        };
        let Some(change) = self.key_change(peer).cloned() else {
            self.show_info("nothing to accept: the key has not changed");
            return Vec::new();
        };
        vec![Effect::AcceptKey(change)]
    }

    /// `m` on the safety number screen: marks the contact verified, or not any more.
    pub(super) fn toggle_verified(&mut self) -> Vec<Effect> {
        let Overlay::Safety { id } = self.overlay else {
            return Vec::new();
        };
        let Some(peer) = self.roster.get(id).filter(|p| p.is_listed()) else {
            self.show_error("only a contact can be marked verified: add it first (a)");
            return Vec::new();
        };
        match self.trust(peer) {
            Trust::KeyChanged => {
                self.show_error("the key changed: accept the new key (a) before marking it");
                Vec::new()
            }
            trust => vec![Effect::SetVerified {
                name: peer.key().as_str().to_owned(),
                verified: trust != Trust::Verified,
            }],
        }
    }
}
