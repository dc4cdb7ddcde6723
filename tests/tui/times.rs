//! Time in a conversation: the sender's time on each message, a date line when the day
//! changes, the oldest message one key away, and the full times of a picked message.

use crossterm::event::KeyCode;
use insta::assert_snapshot;
use qqchat::app::{Focus, Notice};
use qqchat::engine::EngineEvent;

use crate::support::{ALICE, addr, app_sized, at, draw, open, peer, press, received, screen, send};

/// A message alice wrote at `sent` minutes that arrived at `arrived` minutes.
fn late(text: &str, sent: i64, arrived: i64) -> EngineEvent {
    EngineEvent::Received {
        from: peer(ALICE),
        path: addr(ALICE),
        kind: qqchat::proto::PathKind::of(addr(ALICE), false),
        id: Some(7),
        text: text.into(),
        sent_at: Some(at(sent)),
        received_at: at(arrived),
        plain: false,
    }
}

#[test]
fn a_queued_message_shows_when_it_was_written_not_when_it_arrived() {
    let mut app = app_sized(80, 12);
    open(&mut app, 0);
    // Written at 22:13, delivered from the sender's outbox at 22:20.
    app.on_engine(late("written while you were away", 0, 7));
    let shown = screen(&app, 80, 12);
    assert!(
        shown.contains("22:13 alice   written while you were away"),
        "{shown}"
    );
    assert!(!shown.contains("22:20"), "{shown}");
}

#[test]
fn snapshot_a_day_change_gets_its_date_line() {
    let mut app = app_sized(70, 12);
    open(&mut app, 0);
    app.on_engine(received(ALICE, "good night", 0));
    send(&mut app, "night!", at(1));
    app.on_engine(received(ALICE, "morning", 60 * 10));
    let shown = screen(&app, 70, 12);
    assert!(shown.contains("── Tue 14 Nov 2023 ──"), "{shown}");
    assert!(shown.contains("── Wed 15 Nov 2023 ──"), "{shown}");
    assert_snapshot!(draw(&app, 70, 12).backend());
}

#[test]
fn home_and_g_go_to_the_oldest_message_end_and_capital_g_to_the_newest() {
    let mut app = app_sized(60, 12);
    open(&mut app, 0);
    for i in 0..40 {
        app.on_engine(received(ALICE, &format!("message number {i}"), i));
    }
    press(&mut app, KeyCode::BackTab);
    assert_eq!(app.focus(), Focus::Conversation);
    press(&mut app, KeyCode::Home);
    let top = screen(&app, 60, 12);
    assert!(top.contains("message number 0 "), "{top}");
    press(&mut app, KeyCode::End);
    assert_eq!(app.scroll(), 0);
    press(&mut app, KeyCode::Char('g'));
    assert!(screen(&app, 60, 12).contains("message number 0 "));
    press(&mut app, KeyCode::Char('G'));
    assert!(screen(&app, 60, 12).contains("message number 39"));
}

#[test]
fn enter_on_a_picked_message_tells_its_full_times() {
    let mut app = app_sized(100, 12);
    open(&mut app, 0);
    send(&mut app, "mine", at(0));
    app.on_engine(late("theirs", 1, 8));
    press(&mut app, KeyCode::BackTab);
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Enter);
    let Some(Notice::Info(text)) = app.notice() else {
        panic!("no details: {:?}", app.notice());
    };
    assert_eq!(
        text,
        "sent Tue 14 Nov 2023 22:14:20 (their clock) · received Tue 14 Nov 2023 22:21:20"
    );
    assert_eq!(app.focus(), Focus::Conversation, "Enter on a pick stays");
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Enter);
    assert!(
        matches!(app.notice(), Some(Notice::Info(t)) if t == "written Tue 14 Nov 2023 22:13:20 · being sent"),
        "{:?}",
        app.notice()
    );
    // With nothing picked, Enter writes, as before.
    press(&mut app, KeyCode::End);
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.focus(), Focus::Input);
}
