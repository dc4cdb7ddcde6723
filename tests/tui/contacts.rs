//! Moving through the contact list, opening a conversation, and the panes focus goes to.

use crossterm::event::{KeyCode, KeyModifiers};
use qqchat::app::{Effect, Focus};

use crate::support::{app, is_quit, open, press, press_mod};

#[test]
fn arrows_and_jk_move_in_the_contact_list_within_bounds() {
    let mut app = app();
    assert_eq!(app.selected(), 0);
    press(&mut app, KeyCode::Up);
    assert_eq!(app.selected(), 0);
    press(&mut app, KeyCode::Down);
    assert_eq!(app.selected(), 1);
    press(&mut app, KeyCode::Char('j'));
    assert_eq!(app.selected(), 2);
    press(&mut app, KeyCode::Char('j'));
    assert_eq!(app.selected(), 2, "stops at the last contact");
    press(&mut app, KeyCode::Char('k'));
    assert_eq!(app.selected(), 1);
    assert_eq!(app.open(), None, "moving does not open");
}

#[test]
fn enter_opens_the_conversation_and_focuses_the_input() {
    let mut app = app();
    press(&mut app, KeyCode::Down);
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    assert_eq!(app.open(), Some(1));
    assert_eq!(app.open_peer().unwrap().name(), "bob");
    assert_eq!(app.focus(), Focus::Input);
}

#[test]
fn q_quits_from_contacts_but_is_text_in_the_input() {
    let mut app = app();
    open(&mut app, 0);
    assert!(press(&mut app, KeyCode::Char('q')).is_empty());
    assert_eq!(app.input_text(), "q");
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.focus(), Focus::Contacts);
    // The q typed is a draft, kept before leaving.
    let effects = press(&mut app, KeyCode::Char('q'));
    assert!(matches!(
        effects.as_slice(),
        [Effect::SaveDrafts(_), Effect::Quit]
    ));
}

#[test]
fn ctrl_c_quits_from_every_focus_and_from_help() {
    for focus_steps in 0..3 {
        let mut app = app();
        open(&mut app, 0);
        press(&mut app, KeyCode::Esc);
        for _ in 0..focus_steps {
            press(&mut app, KeyCode::Tab);
        }
        let effects = press_mod(&mut app, KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert!(is_quit(&effects), "focus {:?}", app.focus());
    }
    let mut app = app();
    press(&mut app, KeyCode::F(1));
    let effects = press_mod(&mut app, KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert!(is_quit(&effects));
}

#[test]
fn tab_cycles_focus_and_esc_goes_back_to_contacts() {
    let mut app = app();
    press(&mut app, KeyCode::Tab);
    assert_eq!(
        app.focus(),
        Focus::Contacts,
        "nothing to focus before a conversation is open"
    );
    open(&mut app, 0);
    assert_eq!(app.focus(), Focus::Input);
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.focus(), Focus::Contacts);
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.focus(), Focus::Conversation);
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.focus(), Focus::Input);
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.focus(), Focus::Contacts);
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.focus(), Focus::Contacts);
    assert_eq!(app.open(), Some(0), "Esc keeps the conversation open");
}
