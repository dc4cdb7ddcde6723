//! Whole screens in their usual states, drawn on a test terminal.

use crossterm::event::KeyCode;
use insta::assert_snapshot;
use qqchat::engine::EngineEvent;

use crate::support::{
    ALICE, BOB, PY, STRANGER, app, app_sized, at, draw, open, peer, press, received,
    received_plain, send, type_text,
};

#[test]
fn snapshot_empty_state() {
    let app = app();
    assert_snapshot!(draw(&app, 80, 20).backend());
}

#[test]
fn snapshot_conversation_with_marks() {
    let mut app = app();
    open(&mut app, 0);
    app.on_engine(received(ALICE, "hi! are you there?", 0));
    let delivered = send(&mut app, "yes, here", at(1));
    app.on_engine(EngineEvent::Delivered {
        to: peer(ALICE),
        id: delivered,
    });
    app.on_engine(received(
        ALICE,
        "Great. Did the build pass on your machine? Mine still fails in the linker step.",
        2,
    ));
    let failed = send(&mut app, "it passed here", at(3));
    app.on_engine(EngineEvent::Failed {
        to: peer(ALICE),
        id: failed,
    });
    send(&mut app, "sending it again later", at(4));
    assert_snapshot!(draw(&app, 80, 20).backend());
}

#[test]
fn snapshot_plain_conversation() {
    let mut app = app();
    open(&mut app, 2);
    app.on_engine(received_plain(PY, "hello from python\n", 0));
    let id = send(&mut app, "hello, script", at(1));
    app.on_engine(EngineEvent::Sent { to: peer(PY), id });
    send(&mut app, "still there?", at(2));
    assert_snapshot!(draw(&app, 80, 14).backend());
}

#[test]
fn snapshot_unread_counts_and_unknown_address() {
    let mut app = app();
    app.on_engine(received(BOB, "one", 0));
    app.on_engine(received(BOB, "two", 1));
    app.on_engine(received(PY, "three", 2));
    app.on_engine(received_plain(STRANGER, "who is this?\n", 3));
    app.on_engine(received(ALICE, "four", 4));
    press(&mut app, KeyCode::Down);
    assert_snapshot!(draw(&app, 80, 14).backend());
}

#[test]
fn snapshot_cjk_wrapping_in_narrow_terminal() {
    let mut app = app_sized(40, 16);
    open(&mut app, 1);
    app.on_engine(received(BOB, &"你好，世界 🚀".repeat(3), 0));
    let id = send(&mut app, "好的 ok 👍 这句话没有空格也能按宽度换行", at(1));
    app.on_engine(EngineEvent::Delivered { to: peer(BOB), id });
    type_text(&mut app, "中文输入🚀", at(2));
    let terminal = draw(&app, 40, 16);
    // Nothing was cut off at the edge: the text column holds every character of both messages.
    let buffer = terminal.backend().buffer();
    let shown: String = (2..11)
        .flat_map(|y| (27..39).map(move |x| (x, y)))
        .map(|(x, y)| buffer[(x, y)].symbol().to_string())
        .collect::<String>()
        .replace(' ', "");
    assert_eq!(
        shown,
        format!(
            "{}{}",
            "你好，世界🚀".repeat(3),
            "好的ok👍这句话没有空格也能按宽度换行"
        )
    );
    assert_snapshot!(terminal.backend());
}

#[test]
fn snapshot_help() {
    let mut app = app_sized(80, 30);
    press(&mut app, KeyCode::F(1));
    assert!(app.help_open());
    assert_snapshot!(draw(&app, 80, 30).backend());
}

#[test]
fn on_a_short_terminal_the_help_scrolls_to_its_last_line() {
    let mut app = app_sized(80, 20);
    press(&mut app, KeyCode::F(1));
    let first = format!("{}", draw(&app, 80, 20).backend());
    assert!(first.contains("↑↓ scroll"), "{first}");
    assert!(!first.contains("cancelled"));
    for _ in 0..40 {
        press(&mut app, KeyCode::Down);
    }
    assert!(app.help_open(), "arrows scroll rather than close");
    let last = format!("{}", draw(&app, 80, 20).backend());
    assert!(last.contains("✗ cancelled"), "{last}");
    press(&mut app, KeyCode::Char('x'));
    assert!(!app.help_open());
}

#[test]
fn snapshot_scrolled_back() {
    let mut app = app_sized(60, 12);
    open(&mut app, 0);
    for i in 0..30 {
        app.on_engine(received(ALICE, &format!("message number {i}"), i));
    }
    press(&mut app, KeyCode::PageUp);
    assert!(app.scroll() > 0);
    assert_snapshot!(draw(&app, 60, 12).backend());
}
