//! Drafts: what was typed and not sent stays with its conversation, across switching,
//! quitting and starting again.

use crossterm::event::KeyCode;
use qqchat::app::{App, Effect};
use qqchat::store::ConversationKey;

use crate::support::{app, at, is_quit, open, press, send, type_text};

fn saved(effects: &[Effect]) -> Option<Vec<(ConversationKey, String)>> {
    effects.iter().find_map(|e| match e {
        Effect::SaveDrafts(drafts) => Some(drafts.clone()),
        _ => None,
    })
}

#[test]
fn a_draft_stays_with_its_conversation_when_switching() {
    let mut app = app();
    open(&mut app, 0);
    type_text(&mut app, "half a thought", at(0));
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Down);
    let effects = press(&mut app, KeyCode::Enter);
    assert_eq!(app.input_text(), "", "bob's input is bob's");
    assert_eq!(
        saved(&effects),
        Some(vec![(
            ConversationKey::new("alice"),
            "half a thought".into()
        )]),
        "switching keeps the draft on disk"
    );
    type_text(&mut app, "for bob", at(0));
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.input_text(), "half a thought");
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.input_text(), "for bob");
}

#[test]
fn quitting_keeps_the_drafts_and_a_new_app_gets_them_back() {
    let mut app = app();
    open(&mut app, 1);
    type_text(&mut app, "unsent", at(0));
    press(&mut app, KeyCode::Esc);
    let effects = press(&mut app, KeyCode::Char('q'));
    assert!(matches!(effects.last(), Some(Effect::Quit)));
    let drafts = saved(&effects).expect("the drafts are saved before quitting");
    assert_eq!(drafts, vec![(ConversationKey::new("bob"), "unsent".into())]);

    let mut again: App = crate::support::app();
    again.set_drafts(drafts);
    open(&mut again, 1);
    assert_eq!(again.input_text(), "unsent");
    // Nothing changed since: quitting needs no save.
    press(&mut again, KeyCode::Esc);
    assert!(is_quit(&press(&mut again, KeyCode::Char('q'))));
}

#[test]
fn a_sent_message_is_no_draft_any_more() {
    let mut app = app();
    // The file is text anyone could have edited: nothing in it reaches the terminal raw.
    app.set_drafts(vec![(
        ConversationKey::new("alice"),
        "kept\u{1b}[2J".into(),
    )]);
    open(&mut app, 0);
    assert!(app.input_text().starts_with("kept"));
    assert!(!app.input_text().contains('\u{1b}'));
    press(&mut app, KeyCode::Char('!'));
    let effects = app.on_key(crate::support::key(KeyCode::Enter), at(1));
    assert_eq!(saved(&effects), Some(Vec::new()));
    assert_eq!(app.drafts(), Vec::new());
    send(&mut app, "and another", at(2));
}

#[test]
fn a_draft_for_a_conversation_not_listed_yet_waits_for_it() {
    let mut app = app();
    app.set_drafts(vec![(ConversationKey::new("carol"), "hi carol".into())]);
    app.load_history(vec![crate::support::conversation(
        "carol",
        vec![crate::support::inc(1, "127.0.0.1:4010", 0, "hello")],
    )]);
    open(&mut app, 3);
    assert_eq!(app.input_text(), "hi carol");
}

#[test]
fn drafts_the_front_end_could_not_write_are_offered_again() {
    let mut app = app();
    open(&mut app, 0);
    type_text(&mut app, "half a thought", at(0));
    let first = saved(&Vec::from_iter(app.unsaved_drafts()));
    assert!(first.is_some());
    assert!(app.unsaved_drafts().is_none(), "nothing changed since");
    // The write failed (a full disk): the way out must try again.
    app.drafts_not_saved();
    assert_eq!(saved(&Vec::from_iter(app.unsaved_drafts())), first);
}
