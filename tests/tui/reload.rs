//! A reloaded contacts file: what each entry keeps.

use crossterm::event::KeyCode;
use qqchat::app::{Effect, Focus, Mark};
use qqchat::contacts::Contact;
use qqchat::engine::{Command, EngineEvent};

use crate::support::{
    ALICE, BOB, PY, STRANGER, addr, app, app_with_stranger, at, book, history, marks, open, peer,
    press, received, renames, send, type_text, with_contacts,
};

fn contact(name: &str, at: &str) -> Contact {
    Contact::at(name, addr(at))
}

#[test]
fn set_contacts_keeps_messages_unread_presence_and_the_open_conversation() {
    let mut app = app();
    open(&mut app, 1);
    let id = send(&mut app, "hello bob", at(0));
    app.on_engine(received(ALICE, "psst", 0));
    app.on_engine(EngineEvent::Presence {
        peer: peer(BOB),
        online: true,
    });
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.selected(), 1);

    // bob is renamed and moves first; a new contact comes between.
    let book = with_contacts(vec![
        contact("robert", BOB),
        contact("dave", "127.0.0.1:4020"),
        contact("alice", ALICE),
        Contact {
            name: "pyscript".into(),
            addrs: vec![addr(PY)],
            plain: true,
            key: None,
            ipmsg: false,
            encoding: None,
            accept_files: false,
            mute: false,
        },
    ]);
    let effects = app.set_contacts(&book);
    assert_eq!(renames(&effects), [("bob".into(), "robert".into())]);
    assert!(
        matches!(effects.last(), Some(Effect::Send(Command::SetContacts(c))) if c.len() == 4),
        "SetContacts comes last: {effects:?}"
    );
    let names: Vec<_> = app.peers().iter().map(|p| p.name()).collect();
    assert_eq!(names, ["robert", "dave", "alice", "pyscript"]);
    let robert = &app.peers()[0];
    assert_eq!(robert.key(), "robert");
    assert_eq!(robert.messages().len(), 1);
    assert_eq!(robert.online(), Some(true));
    assert_eq!(app.peers()[2].unread(), 1);
    assert_eq!(app.selected(), 0, "the cursor stays on the same peer");
    assert_eq!(app.open(), Some(0), "and so does the open conversation");

    // Tags follow their message to its new place.
    app.on_engine(EngineEvent::Delivered { to: peer(BOB), id });
    assert_eq!(marks(&app, 0), [Some(Mark::Delivered)]);
}

#[test]
fn adding_a_stranger_moves_its_history_to_the_new_name() {
    let mut app = app_with_stranger();
    let mut contacts = book(true).contacts;
    contacts.push(Contact {
        name: "carol".into(),
        addrs: vec![addr(STRANGER)],
        plain: true,
        key: None,
        ipmsg: false,
        encoding: None,
        accept_files: false,
        mute: false,
    });
    let effects = app.set_contacts(&with_contacts(contacts));
    assert_eq!(
        renames(&effects),
        [("addr-127.0.0.1:5555".into(), "carol".into())]
    );
    let carol = &app.peers()[3];
    assert!(carol.is_listed());
    assert_eq!((carol.name(), carol.messages().len()), ("carol", 1));
    assert_eq!(app.selected(), 3);
    assert_eq!(app.peers().len(), 4, "no entry left behind");
}

#[test]
fn a_history_is_never_renamed_onto_another_one() {
    let mut app = app();
    app.load_history(history());
    // Renaming bob to carol, whose old history is on disk, keeps both files as they are.
    let book = with_contacts(vec![
        contact("alice", ALICE),
        contact("carol", BOB),
        Contact {
            name: "pyscript".into(),
            addrs: vec![addr(PY)],
            plain: true,
            key: None,
            ipmsg: false,
            encoding: None,
            accept_files: false,
            mute: false,
        },
    ]);
    let effects = app.set_contacts(&book);
    assert!(renames(&effects).is_empty(), "{effects:?}");
    // And the prompt refuses the name in the first place.
    let mut app = crate::support::app();
    app.load_history(history());
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char('n'));
    for _ in 0..3 {
        press(&mut app, KeyCode::Backspace);
    }
    type_text(&mut app, "carol", at(0));
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    assert!(app.prompt().unwrap().error().is_some());
}

#[test]
fn a_removed_contact_stays_if_it_has_messages() {
    let mut app = app();
    app.on_engine(received(ALICE, "hi", 0));
    let effects = app.set_contacts(&with_contacts(vec![contact("bob", BOB)]));
    assert!(renames(&effects).is_empty());
    let names: Vec<_> = app.peers().iter().map(|p| p.name()).collect();
    assert_eq!(names, ["bob", "alice"], "pyscript had no messages");
    let alice = &app.peers()[1];
    assert!(!alice.is_listed());
    assert_eq!(alice.key(), "alice", "its history is still under its name");
    assert_eq!(alice.messages().len(), 1);
}

#[test]
fn a_contact_whose_address_changed_keeps_its_conversation() {
    let mut app = app();
    app.on_engine(received(BOB, "moving house", 0));
    app.on_engine(EngineEvent::Presence {
        peer: peer(BOB),
        online: true,
    });
    let mut contacts = book(true).contacts;
    contacts[1].addrs = vec![addr("127.0.0.1:4999")];
    app.set_contacts(&with_contacts(contacts));
    assert_eq!(app.peers().len(), 3);
    let bob = &app.peers()[1];
    assert_eq!(bob.addr(), addr("127.0.0.1:4999"));
    assert_eq!(bob.messages().len(), 1);
    assert_eq!(
        bob.online(),
        None,
        "presence at the old address says nothing"
    );
}

#[test]
fn removing_the_open_contact_closes_its_conversation() {
    let mut app = app();
    open(&mut app, 1);
    app.set_contacts(&with_contacts(vec![contact("alice", ALICE)]));
    assert_eq!(app.open(), None);
    assert_eq!(app.focus(), Focus::Contacts);
    assert_eq!(app.selected(), 0);
}

#[test]
fn an_edited_me_applies_its_name_and_bell_at_once() {
    let mut app = crate::support::app();
    assert!(matches!(
        app.on_engine(crate::support::received(crate::support::BOB, "ding", 0))
            .as_slice(),
        [
            qqchat::app::Effect::Bell,
            qqchat::app::Effect::Notify { .. }
        ]
    ));
    app.set_me("robert", false);
    assert_eq!(app.me(), "robert");
    let shown = crate::support::screen(&app, 80, 20);
    assert!(
        shown.lines().last().unwrap().starts_with("\" robert "),
        "{shown}"
    );
    assert!(
        !app.on_engine(crate::support::received(crate::support::BOB, "quiet", 1))
            .iter()
            .any(|e| matches!(e, qqchat::app::Effect::Bell)),
        "the bell is off now"
    );
}
