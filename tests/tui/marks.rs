//! The marks on own messages as the engine reports on them, and retrying a failed one.

use crossterm::event::{KeyCode, KeyModifiers};
use qqchat::app::{Effect, Focus, Mark};
use qqchat::engine::{Command, EngineEvent};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

use crate::support::{ALICE, app, at, draw, open, peer, press, press_mod, received, send};

#[test]
fn engine_events_set_the_mark_of_the_tagged_message() {
    let mut app = app();
    open(&mut app, 0);
    let a = send(&mut app, "a", at(0));
    let b = send(&mut app, "b", at(0));
    let c = send(&mut app, "c", at(0));
    app.on_engine(EngineEvent::Failed {
        to: peer(ALICE),
        id: b,
    });
    app.on_engine(EngineEvent::Delivered {
        to: peer(ALICE),
        id: a,
    });
    app.on_engine(EngineEvent::Sent {
        to: peer(ALICE),
        id: c,
    });
    // An unknown id changes nothing.
    app.on_engine(EngineEvent::Delivered {
        to: peer(ALICE),
        id: 999,
    });
    let marks: Vec<_> = app
        .open_peer()
        .unwrap()
        .messages()
        .iter()
        .map(|m| m.mark())
        .collect();
    assert_eq!(
        marks,
        [Some(Mark::Delivered), Some(Mark::Failed), Some(Mark::Sent)]
    );
}

#[test]
fn r_retries_the_picked_failed_message_with_a_new_tag() {
    let mut app = app();
    open(&mut app, 0);
    let failed = send(&mut app, "lost one", at(0));
    let ok = send(&mut app, "arrived", at(1));
    app.on_engine(received(ALICE, "hm?", 2));
    app.on_engine(EngineEvent::Failed {
        to: peer(ALICE),
        id: failed,
    });
    app.on_engine(EngineEvent::Delivered {
        to: peer(ALICE),
        id: ok,
    });

    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.focus(), Focus::Conversation);
    press(&mut app, KeyCode::Up);
    assert_eq!(app.chosen(), Some(2), "the newest message is picked first");
    assert!(
        press(&mut app, KeyCode::Char('r')).is_empty(),
        "a received message is not sent again"
    );
    assert!(app.replying().is_some(), "r answers it instead");
    press(&mut app, KeyCode::Esc);
    assert!(app.replying().is_none(), "Esc lets go of the reply");
    assert_eq!(app.focus(), Focus::Input, "and stays in the input");
    press(&mut app, KeyCode::BackTab);
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Up);
    assert_eq!(app.chosen(), Some(1));
    assert!(
        press(&mut app, KeyCode::Char('r')).is_empty(),
        "a delivered message is not retried"
    );
    assert!(app.replying().is_some(), "but answered");
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::BackTab);
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Up);
    assert_eq!(app.chosen(), Some(0));
    press(&mut app, KeyCode::Up);
    assert_eq!(app.chosen(), Some(0), "no earlier message");

    let effects = press(&mut app, KeyCode::Char('r'));
    let [Effect::Send(Command::Send { to, text, id, .. })] = effects.as_slice() else {
        panic!("expected a retry, got {effects:?}");
    };
    assert_eq!((*to, text.as_str()), (peer(ALICE), "lost one"));
    assert!(*id != failed && *id != ok, "a retry gets a new id");
    let messages = app.open_peer().unwrap().messages();
    assert_eq!(messages[0].mark(), Some(Mark::Pending));
    assert_eq!(messages.len(), 3, "the retry reuses the message");

    // The new id now drives the mark; the old one is forgotten.
    let new_tag = *id;
    app.on_engine(EngineEvent::Delivered {
        to: peer(ALICE),
        id: failed,
    });
    assert_eq!(
        app.open_peer().unwrap().messages()[0].mark(),
        Some(Mark::Pending)
    );
    app.on_engine(EngineEvent::Delivered {
        to: peer(ALICE),
        id: new_tag,
    });
    assert_eq!(
        app.open_peer().unwrap().messages()[0].mark(),
        Some(Mark::Delivered)
    );

    for _ in 0..3 {
        press(&mut app, KeyCode::Down);
    }
    assert_eq!(app.chosen(), None, "down past the newest gives the pick up");
}

#[test]
fn the_picked_message_is_highlighted() {
    let mut app = app();
    open(&mut app, 0);
    send(&mut app, "pick me", at(0));
    press(&mut app, KeyCode::BackTab);
    assert_eq!(app.focus(), Focus::Conversation);
    let before = draw(&app, 80, 20);
    press(&mut app, KeyCode::Up);
    let after = draw(&app, 80, 20);
    // Row 2 holds the message (row 1 is the day separator); column 30 is inside its text.
    let cell = |t: &Terminal<TestBackend>| t.backend().buffer()[(30, 2)].bg;
    assert_eq!(cell(&before), Color::Reset);
    assert_ne!(cell(&after), Color::Reset);
}

#[test]
fn ctrl_r_in_the_input_retries_the_latest_failed_message() {
    let mut app = app();
    open(&mut app, 0);
    let first = send(&mut app, "first", at(0));
    let second = send(&mut app, "second", at(0));
    send(&mut app, "third", at(0));
    for id in [first, second] {
        app.on_engine(EngineEvent::Failed {
            to: peer(ALICE),
            id,
        });
    }
    let effects = press_mod(&mut app, KeyCode::Char('r'), KeyModifiers::CONTROL);
    let [Effect::Send(Command::Send { text, .. })] = effects.as_slice() else {
        panic!("expected a retry, got {effects:?}");
    };
    assert_eq!(text, "second");
    assert_eq!(app.input_text(), "", "Ctrl-R typed nothing");
    let effects = press_mod(&mut app, KeyCode::Char('r'), KeyModifiers::CONTROL);
    assert!(matches!(
        effects.as_slice(),
        [Effect::Send(Command::Send { text, .. })] if text == "first"
    ));
    assert!(press_mod(&mut app, KeyCode::Char('r'), KeyModifiers::CONTROL).is_empty());
}

#[test]
fn y_copies_the_picked_message_to_the_clipboard() {
    let mut app = app();
    open(&mut app, 0);
    send(&mut app, "mine", at(0));
    app.on_engine(received(ALICE, "copy \x1b]52;c;evil\x07 me", 1));
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Tab);
    // Nothing picked: `y` is about file offers, and there is none.
    assert!(
        !press(&mut app, KeyCode::Char('y'))
            .iter()
            .any(|e| matches!(e, Effect::Copy(_)))
    );
    press(&mut app, KeyCode::Up);
    let effects = press(&mut app, KeyCode::Char('y'));
    let [Effect::Copy(text)] = effects.as_slice() else {
        panic!("{effects:?}");
    };
    // As shown: what came from the network was made safe on arrival.
    assert!(
        text.starts_with("copy ") && text.ends_with(" me"),
        "{text:?}"
    );
    assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text:?}");
    press(&mut app, KeyCode::Up);
    let effects = press(&mut app, KeyCode::Char('y'));
    assert!(
        matches!(effects.as_slice(), [Effect::Copy(t)] if t == "mine"),
        "{effects:?}"
    );
}
