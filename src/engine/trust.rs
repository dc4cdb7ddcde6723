//! Trust on first use, with teeth: a contact is held to the key it was first trusted with.
//!
//! When the contacts file names another key for a contact (edited by hand, a new contact
//! string added over it), the contact keeps the old key here, so nothing is sent to the new
//! one and nothing from it passes as the contact, until the user accepts it. Pure: the front
//! ends keep the record on disk and show the warnings.

use crate::contacts::Contact;
use crate::proto::PublicKey;
use crate::store::TrustBook;

/// A contact whose key in the file is not the one trusted: the one still used, and the
/// one the file names (`None`: the file dropped the key, which would turn encryption off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChange {
    pub name: String,
    pub trusted: PublicKey,
    pub offered: Option<PublicKey>,
}

/// Holds every contact in `contacts` to its trusted key, and trusts the key of a contact
/// seen for the first time. Returns the contacts whose file key was set aside; `trust`
/// changed when a first key was recorded (compare it with a copy to know whether to save).
pub fn hold_keys(trust: &mut TrustBook, contacts: &mut [Contact]) -> Vec<KeyChange> {
    let mut changes = Vec::new();
    for contact in contacts.iter_mut() {
        let held = trust.get(&contact.name).map(|t| t.key);
        match (held, contact.key) {
            (Some(held), Some(key)) if held != key => {
                changes.push(KeyChange {
                    name: contact.name.clone(),
                    trusted: held,
                    offered: Some(key),
                });
                contact.key = Some(held);
            }
            // Only a contact that can carry a key keeps it: plain UDP and IP Messenger
            // contacts speak no Noise, and say so themselves.
            (Some(held), None) if !contact.plain && !contact.ipmsg => {
                changes.push(KeyChange {
                    name: contact.name.clone(),
                    trusted: held,
                    offered: None,
                });
                contact.key = Some(held);
            }
            (None, Some(key)) => {
                trust.trust(&contact.name, key);
            }
            _ => {}
        }
    }
    changes
}

/// Makes the key the file names for `change`'s contact the trusted one (or, when the file
/// dropped the key, forgets the old one). The user accepted it.
pub fn accept_change(trust: &mut TrustBook, change: &KeyChange) {
    match change.offered {
        Some(key) => {
            trust.trust(&change.name, key);
        }
        None => {
            trust.forget(&change.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyed(name: &str, byte: u8) -> Contact {
        let mut c = Contact::at(name, "127.0.0.1:9002".parse().expect("addr"));
        c.key = Some(PublicKey::from_bytes([byte; 32]));
        c
    }

    #[test]
    fn a_first_key_is_trusted_and_a_later_one_held_back() {
        let mut trust = TrustBook::default();
        let mut contacts = vec![keyed("bob", 1)];
        assert!(hold_keys(&mut trust, &mut contacts).is_empty());
        assert_eq!(
            trust.get("bob").map(|t| t.key),
            Some(PublicKey::from_bytes([1; 32]))
        );
        let mut edited = vec![keyed("bob", 2)];
        let changes = hold_keys(&mut trust, &mut edited);
        assert_eq!(
            changes,
            [KeyChange {
                name: "bob".into(),
                trusted: PublicKey::from_bytes([1; 32]),
                offered: Some(PublicKey::from_bytes([2; 32])),
            }]
        );
        assert_eq!(
            edited[0].key,
            Some(PublicKey::from_bytes([1; 32])),
            "old key kept"
        );
        let mut dropped = vec![Contact::at("bob", "127.0.0.1:9002".parse().expect("addr"))];
        let changes = hold_keys(&mut trust, &mut dropped);
        assert_eq!(changes.len(), 1);
        assert_eq!(dropped[0].key, Some(PublicKey::from_bytes([1; 32])));
        let change = hold_keys(&mut trust, &mut [keyed("bob", 2)]).remove(0);
        accept_change(&mut trust, &change);
        let mut again = vec![keyed("bob", 2)];
        assert!(hold_keys(&mut trust, &mut again).is_empty(), "accepted");
        assert_eq!(again[0].key, Some(PublicKey::from_bytes([2; 32])));
    }
}
