//! Writing and sending a message, pastes included.

use crossterm::event::{KeyCode, KeyEventKind, KeyModifiers};
use qqchat::app::{Effect, Mark};
use qqchat::engine::Command;

use crate::support::{ALICE, app, at, key, open, peer, press, press_mod, send, type_text};

#[test]
fn enter_in_the_input_sends_with_a_fresh_tag_and_clears_it() {
    let mut app = app();
    open(&mut app, 0);
    type_text(&mut app, "hello", at(0));
    let effects = press(&mut app, KeyCode::Enter);
    let [
        Effect::Send(Command::Send {
            to,
            text,
            plain,
            id,
        }),
    ] = effects.as_slice()
    else {
        panic!("expected a send, got {effects:?}");
    };
    assert_eq!((*to, text.as_str(), *plain), (peer(ALICE), "hello", false));
    assert_eq!(app.input_text(), "");
    let second = send(&mut app, "again", at(0));
    assert_ne!(*id, second, "every message gets its own id");

    let messages = app.open_peer().unwrap().messages();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].display_text(), "hello");
    assert_eq!(messages[0].mark(), Some(Mark::Pending));
}

#[test]
fn empty_or_blank_input_is_not_sent() {
    let mut app = app();
    open(&mut app, 0);
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    type_text(&mut app, "   ", at(0));
    press_mod(&mut app, KeyCode::Enter, KeyModifiers::ALT);
    type_text(&mut app, " ", at(0));
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    assert!(app.open_peer().unwrap().messages().is_empty());
}

#[test]
fn alt_enter_and_shift_enter_add_lines() {
    let mut app = app();
    open(&mut app, 0);
    type_text(&mut app, "one", at(0));
    assert!(press_mod(&mut app, KeyCode::Enter, KeyModifiers::ALT).is_empty());
    type_text(&mut app, "two", at(0));
    assert!(press_mod(&mut app, KeyCode::Enter, KeyModifiers::SHIFT).is_empty());
    type_text(&mut app, "three", at(0));
    let effects = press(&mut app, KeyCode::Enter);
    let [Effect::Send(Command::Send { text, .. })] = effects.as_slice() else {
        panic!("expected a send, got {effects:?}");
    };
    assert_eq!(text, "one\ntwo\nthree");
}

#[test]
fn plain_contacts_are_sent_plain() {
    let mut app = app();
    open(&mut app, 2);
    type_text(&mut app, "hi", at(0));
    let effects = press(&mut app, KeyCode::Enter);
    assert!(matches!(
        effects.as_slice(),
        [Effect::Send(Command::Send { plain: true, .. })]
    ));
}

#[test]
fn paste_inserts_everything_and_never_sends() {
    let mut app = app();
    open(&mut app, 0);
    app.on_paste("first line\r\nsecond\rthird\n".into());
    assert_eq!(app.input_text(), "first line\nsecond\nthird\n");
    assert!(app.open_peer().unwrap().messages().is_empty());
    type_text(&mut app, "end", at(0));
    assert_eq!(app.input_text(), "first line\nsecond\nthird\nend");
}

#[test]
fn paste_cannot_smuggle_escape_sequences_into_the_input() {
    let mut app = app();
    open(&mut app, 0);
    app.on_paste("a\x1b[2Jb\u{202e}c".into());
    assert_eq!(app.input_text(), "a^[[2Jb\u{FFFD}c");
}

#[test]
fn key_releases_are_ignored() {
    let mut app = app();
    let mut release = key(KeyCode::Down);
    release.kind = KeyEventKind::Release;
    app.on_key(release, at(0));
    assert_eq!(app.selected(), 0);
}

#[test]
fn a_message_over_the_limit_is_refused_and_the_draft_kept() {
    let mut app = app();
    open(&mut app, 0);
    let text = "x".repeat(qqchat::proto::MAX_MESSAGE + 1);
    app.on_paste(text.clone());
    let effects = press(&mut app, KeyCode::Enter);
    assert!(
        !effects.iter().any(|e| matches!(e, Effect::Send(_))),
        "nothing may be sent"
    );
    assert!(app.peers()[0].messages().is_empty(), "nothing stored");
    assert_eq!(app.input_text().len(), text.len(), "the draft stays");
    let notice = format!("{:?}", app.notice());
    assert!(notice.contains("at most 1,048,576 bytes"), "{notice}");
}

#[test]
fn a_message_sent_by_qqchat_send_through_the_running_chat_shows_in_it() {
    use qqchat::engine::EngineEvent;
    let mut app = app();
    open(&mut app, 0);
    let typed = send(&mut app, "typed here", at(0));
    // The engine reports every send, the chat's own too: that one is not shown twice.
    app.on_engine(EngineEvent::Outgoing {
        to: crate::support::peer(ALICE),
        id: typed,
        text: "typed here".into(),
        plain: false,
        at: at(0),
    });
    app.on_engine(EngineEvent::Outgoing {
        to: crate::support::peer(ALICE),
        id: 4242,
        text: "from the command line\u{1b}[2J".into(),
        plain: false,
        at: at(1),
    });
    let texts: Vec<String> = app.peers()[0]
        .messages()
        .iter()
        .map(|m| m.display_text().into_owned())
        .collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[1].starts_with("from the command line"), "{texts:?}");
    assert!(!texts[1].contains('\u{1b}'), "sanitized: {texts:?}");
    app.on_engine(EngineEvent::Delivered {
        to: crate::support::peer(ALICE),
        id: 4242,
    });
    assert_eq!(app.peers()[0].messages()[1].mark(), Some(Mark::Delivered));
}
