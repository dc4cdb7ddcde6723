//! Queued messages: sending them now, cancelling them.

use crossterm::event::{KeyCode, KeyModifiers};
use insta::assert_snapshot;
use qqchat::app::{App, Effect, Focus, Mark, Notice};
use qqchat::engine::{Command, EngineEvent};

use crate::support::{ALICE, app, at, draw, marks, open, peer, press, press_mod, send};

/// Opens alice, sends `text`, and has the engine queue it; focus goes to the conversation
/// with the message picked.
fn queued_message(app: &mut App, text: &str) -> u64 {
    open(app, 0);
    let id = send(app, text, at(0));
    app.on_engine(EngineEvent::Queued {
        to: peer(ALICE),
        id,
    });
    press(app, KeyCode::BackTab);
    press(app, KeyCode::Up);
    assert_eq!(app.focus(), Focus::Conversation);
    id
}

#[test]
fn a_queued_message_keeps_its_tag_until_delivered() {
    let mut app = app();
    let id = queued_message(&mut app, "later");
    assert_eq!(marks(&app, 0), [Some(Mark::Queued)]);
    app.on_engine(EngineEvent::Delivered {
        to: peer(ALICE),
        id,
    });
    assert_eq!(marks(&app, 0), [Some(Mark::Delivered)]);
}

#[test]
fn r_on_a_queued_message_sends_it_now_under_the_same_tag() {
    let mut app = app();
    let id = queued_message(&mut app, "later");
    let effects = press(&mut app, KeyCode::Char('r'));
    assert!(
        matches!(effects.as_slice(), [Effect::Send(Command::SendNow { id: t })] if *t == id),
        "{effects:?}"
    );
    assert_eq!(marks(&app, 0), [Some(Mark::Pending)]);
    // Queued again when that fails too, then delivered: still the same id.
    app.on_engine(EngineEvent::Queued {
        to: peer(ALICE),
        id,
    });
    app.on_engine(EngineEvent::Delivered {
        to: peer(ALICE),
        id,
    });
    assert_eq!(marks(&app, 0), [Some(Mark::Delivered)]);
}

#[test]
fn x_cancels_a_queued_message_once_the_engine_confirms() {
    let mut app = app();
    let id = queued_message(&mut app, "later");
    let effects = press(&mut app, KeyCode::Char('x'));
    assert!(
        matches!(effects.as_slice(), [Effect::Send(Command::Cancel { id: t })] if *t == id),
        "{effects:?}"
    );
    assert_eq!(
        marks(&app, 0),
        [Some(Mark::Queued)],
        "not until the engine says so"
    );
    app.on_engine(EngineEvent::Cancelled {
        to: peer(ALICE),
        id,
    });
    assert_eq!(marks(&app, 0), [Some(Mark::Cancelled)]);
    assert!(press(&mut app, KeyCode::Char('r')).is_empty());
    assert!(press(&mut app, KeyCode::Char('x')).is_empty());
    // A late report on the cancelled id changes nothing.
    app.on_engine(EngineEvent::Delivered {
        to: peer(ALICE),
        id,
    });
    assert_eq!(marks(&app, 0), [Some(Mark::Cancelled)]);
}

#[test]
fn x_leaves_other_messages_alone() {
    let mut app = app();
    open(&mut app, 0);
    let id = send(&mut app, "pending", at(0));
    press(&mut app, KeyCode::BackTab);
    press(&mut app, KeyCode::Up);
    assert!(press(&mut app, KeyCode::Char('x')).is_empty());
    app.on_engine(EngineEvent::Failed {
        to: peer(ALICE),
        id,
    });
    assert!(press(&mut app, KeyCode::Char('x')).is_empty());
}

#[test]
fn ctrl_r_sends_the_latest_queued_or_failed_message() {
    let mut app = app();
    open(&mut app, 0);
    let failed = send(&mut app, "failed", at(0));
    let queued = send(&mut app, "queued", at(1));
    send(&mut app, "pending", at(2));
    app.on_engine(EngineEvent::Failed {
        to: peer(ALICE),
        id: failed,
    });
    app.on_engine(EngineEvent::Queued {
        to: peer(ALICE),
        id: queued,
    });
    let effects = press_mod(&mut app, KeyCode::Char('r'), KeyModifiers::CONTROL);
    assert!(
        matches!(effects.as_slice(), [Effect::Send(Command::SendNow { id })] if *id == queued),
        "{effects:?}"
    );
    let effects = press_mod(&mut app, KeyCode::Char('r'), KeyModifiers::CONTROL);
    assert!(
        matches!(effects.as_slice(), [Effect::Send(Command::Send { text, .. })] if text == "failed"),
        "{effects:?}"
    );
    assert!(press_mod(&mut app, KeyCode::Char('r'), KeyModifiers::CONTROL).is_empty());
    assert!(!app.peers()[0].has_retryable());
}

#[test]
fn snapshot_queued_and_cancelled_marks() {
    let mut app = app();
    open(&mut app, 0);
    let delivered = send(&mut app, "are you there?", at(0));
    app.on_engine(EngineEvent::Delivered {
        to: peer(ALICE),
        id: delivered,
    });
    let queued = send(&mut app, "I'll wait until you are back online", at(1));
    let cancelled = send(&mut app, "ignore that", at(2));
    for id in [queued, cancelled] {
        app.on_engine(EngineEvent::Queued {
            to: peer(ALICE),
            id,
        });
    }
    app.on_engine(EngineEvent::Cancelled {
        to: peer(ALICE),
        id: cancelled,
    });
    press(&mut app, KeyCode::BackTab);
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Up);
    assert_snapshot!(draw(&app, 80, 12).backend());
}

/// The text of the status line's notice, or "" when there is none.
fn notice(app: &App) -> String {
    match app.notice() {
        Some(Notice::Info(text) | Notice::Error(text)) => text.clone(),
        None => String::new(),
    }
}

#[test]
fn keys_that_do_nothing_say_why() {
    let mut app = app();
    open(&mut app, 0);
    let id = send(&mut app, "hello", at(0));
    // Ctrl-R in the input with nothing queued or failed.
    assert!(press_mod(&mut app, KeyCode::Char('r'), KeyModifiers::CONTROL).is_empty());
    assert!(
        notice(&app).contains("nothing queued or failed"),
        "{}",
        notice(&app)
    );
    press(&mut app, KeyCode::BackTab);
    press(&mut app, KeyCode::Up);
    assert_eq!(app.focus(), Focus::Conversation);
    // r on a message still being sent answers it: nothing is sent again.
    assert!(press(&mut app, KeyCode::Char('r')).is_empty());
    assert!(app.replying().is_some());
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::BackTab);
    press(&mut app, KeyCode::Up);
    // x on a delivered one.
    app.on_engine(EngineEvent::Delivered {
        to: peer(ALICE),
        id,
    });
    assert!(press(&mut app, KeyCode::Char('x')).is_empty());
    assert!(
        notice(&app).contains("cannot be taken back"),
        "{}",
        notice(&app)
    );
    // r on a delivered one answers it too.
    assert!(press(&mut app, KeyCode::Char('r')).is_empty());
    assert!(app.replying().is_some());
}

#[test]
fn r_and_x_on_a_cancelled_message_say_why() {
    let mut app = app();
    let id = queued_message(&mut app, "later");
    press(&mut app, KeyCode::Char('x'));
    app.on_engine(EngineEvent::Cancelled {
        to: peer(ALICE),
        id,
    });
    assert!(press(&mut app, KeyCode::Char('r')).is_empty());
    assert!(notice(&app).contains("cancelled"), "{}", notice(&app));
    assert!(press(&mut app, KeyCode::Char('x')).is_empty());
    assert!(
        notice(&app).contains("already cancelled"),
        "{}",
        notice(&app)
    );
}
