//! Trust on first use, with teeth, in the chat: a contact whose key the contacts file
//! changed is marked loudly and held to its old key until the user accepts the new one on
//! the safety number screen (v); a qqchat on this network announcing a contact's name with
//! another key is not that contact.

use std::collections::HashSet;

use crossterm::event::KeyCode;
use insta::assert_snapshot;
use qqchat::app::{App, Effect, Trust};
use qqchat::engine::KeyChange;
use qqchat::proto::{PeerId, PublicKey};

use crate::support::{
    ALICE, ALICE_KEY, found, listed, open, press, qqchat_neighbour, received, screen, trust_app,
};

const NEW_KEY: PublicKey = PublicKey::from_bytes([9; 32]);
const OWN_KEY: PublicKey = PublicKey::from_bytes([5; 32]);

fn alice_changed() -> KeyChange {
    KeyChange {
        name: "alice".into(),
        trusted: ALICE_KEY,
        offered: Some(NEW_KEY),
    }
}

/// The trust app with alice's key changed in the file, her conversation open.
fn changed_app(width: u16, height: u16) -> App {
    let mut app = trust_app(false, width, height);
    app.set_public_key(Some(OWN_KEY));
    app.set_key_trust(vec![alice_changed()], HashSet::new());
    open(&mut app, 0);
    app.on_engine(received(ALICE, "hi, it's alice", 0));
    app
}

#[test]
fn snapshot_a_changed_key_is_marked_in_the_list_and_over_the_conversation() {
    let app = changed_app(100, 12);
    let alice = &app.peers()[0];
    assert_eq!(app.trust(alice), Trust::KeyChanged);
    assert_eq!(
        alice.peer_id(),
        PeerId::Key(ALICE_KEY),
        "still the key first trusted"
    );
    let shown = screen(&app, 100, 12);
    assert!(shown.contains("key changed"), "{shown}");
    assert!(shown.contains("⚠ alice's key changed"), "{shown}");
    assert_snapshot!(shown);
}

#[test]
fn snapshot_the_safety_number_screen_with_a_changed_key() {
    let mut app = changed_app(100, 24);
    press(&mut app, KeyCode::Esc);
    assert!(press(&mut app, KeyCode::Char('v')).is_empty());
    let screen_now = app.safety_screen().expect("the safety number screen");
    assert_eq!(screen_now.key, ALICE_KEY);
    assert_eq!(screen_now.change.as_ref().map(|c| c.0), Some(Some(NEW_KEY)));
    assert_eq!(screen_now.number.len(), 3);
    assert_snapshot!(screen(&app, 100, 24));
    // Marking the old key verified is refused; a accepts the new key.
    assert!(press(&mut app, KeyCode::Char('m')).is_empty());
    let effects = press(&mut app, KeyCode::Char('a'));
    assert!(
        matches!(effects.as_slice(), [Effect::AcceptKey(change)] if *change == alice_changed()),
        "{effects:?}"
    );
    // Any other key closes it.
    press(&mut app, KeyCode::Esc);
    assert!(app.safety_screen().is_none());
}

#[test]
fn a_contact_is_marked_verified_from_the_safety_number_screen() {
    let mut app = trust_app(false, 100, 24);
    app.set_public_key(Some(OWN_KEY));
    press(&mut app, KeyCode::Char('v'));
    let effects = press(&mut app, KeyCode::Char('m'));
    assert!(
        matches!(effects.as_slice(), [Effect::SetVerified { name, verified: true }] if name == "alice"),
        "{effects:?}"
    );
    app.set_key_trust(Vec::new(), HashSet::from(["alice".to_owned()]));
    assert_eq!(app.trust(&app.peers()[0]), Trust::Verified);
    assert!(app.safety_screen().is_some_and(|s| s.verified));
    let effects = press(&mut app, KeyCode::Char('m'));
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::SetVerified {
                verified: false,
                ..
            }]
        ),
        "{effects:?}"
    );
    // A contact without a key has no safety number.
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('j'));
    press(&mut app, KeyCode::Char('v'));
    assert!(app.safety_screen().is_none());
}

#[test]
fn snapshot_a_neighbour_with_a_contacts_name_and_another_key_is_not_that_contact() {
    let mut app = trust_app(false, 100, 12);
    found(
        &mut app,
        qqchat_neighbour("alice", "192.168.1.66:9001", Some(NEW_KEY)),
    );
    assert_eq!(
        listed(&app).iter().filter(|n| *n == "alice").count(),
        2,
        "a row of its own, never joined to the contact"
    );
    let claimant = app
        .peers()
        .iter()
        .find(|p| p.peer_id() == PeerId::Key(NEW_KEY))
        .expect("its own row");
    assert!(!claimant.is_listed());
    assert_eq!(app.trust(claimant), Trust::ClaimsContact);
    assert_eq!(app.trust(&app.peers()[0]), Trust::Keyed);
    assert_eq!(app.peers()[0].peer_id(), PeerId::Key(ALICE_KEY));
    let row = app.peers().len() - 1;
    open(&mut app, row);
    let shown = screen(&app, 100, 12);
    assert!(shown.contains("not your contact"), "{shown}");
    assert_snapshot!(shown);
}
