//! Reading and answering: unread counts from how far each conversation was read (kept
//! across restarts), the "new" line, u and M, replies with a quote, and the mouse.

use crossterm::event::{KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use insta::assert_snapshot;
use qqchat::app::{App, Effect, Focus};
use qqchat::engine::Command;
use qqchat::store::{Conversation, ConversationKey, Direction, ReadPoints};

use crate::support::{
    ALICE, BOB, PY, app, app_sized, at, draw, open, press, received, send, stored, type_text,
};

fn key(name: &str) -> ConversationKey {
    ConversationKey::contact(name)
}

/// Alice's conversation as kept: a few messages either way, minutes 0 to 5.
fn alice_history() -> Conversation {
    Conversation {
        key: key("alice"),
        messages: vec![
            stored(1, Direction::In, ALICE, 0, "are you coming tonight?"),
            stored(2, Direction::Out, ALICE, 1, "yes, at eight"),
            stored(3, Direction::In, ALICE, 2, "great"),
            stored(4, Direction::In, ALICE, 4, "bring the map"),
            stored(5, Direction::In, ALICE, 5, "and a torch"),
        ],
    }
}

/// Read up to minute 2 in alice's conversation: her last two messages are new.
fn read_to_minute_2() -> ReadPoints {
    let mut read = ReadPoints {
        since: Some(at(0)),
        ..ReadPoints::default()
    };
    read.read_to(&key("alice"), at(2));
    read
}

fn with_history(read: ReadPoints) -> App {
    let mut app = app_sized(80, 16);
    app.set_read_points(read);
    app.load_history(vec![alice_history()]);
    app
}

#[test]
fn unread_counts_come_from_the_read_points() {
    let app = with_history(read_to_minute_2());
    assert_eq!(app.peers()[0].unread(), 2);
    let app = with_history(ReadPoints::default());
    assert_eq!(
        app.peers()[0].unread(),
        0,
        "no file yet: nothing before is new"
    );
}

#[test]
fn more_unread_than_the_first_page_holds_is_counted_in_the_history() {
    let mut app = app_sized(80, 16);
    let mut read = ReadPoints {
        since: Some(at(0)),
        ..ReadPoints::default()
    };
    read.read_to(&key("alice"), at(0));
    // Only the last message was read at start: a page of one.
    let history = alice_history();
    let last = history.messages[4..].to_vec();
    app.load_recent(
        vec![Conversation {
            key: key("alice"),
            messages: last,
        }],
        1,
    );
    app.set_read_points(read.clone());
    assert_eq!(app.peers()[0].unread(), 1, "what the page shows");
    let wanted = app.counts_wanted();
    assert_eq!(wanted, [(key("alice"), at(0))]);
    // What the history counts: everything received after minute 0.
    let counted = history
        .messages
        .iter()
        .filter(|m| m.dir == Direction::In && read.is_unread(&key("alice"), m.at))
        .count();
    app.set_unread_counts(&[(key("alice"), counted)]);
    assert_eq!(app.peers()[0].unread(), 3);
}

#[test]
fn snapshot_the_new_line_above_the_first_unread_message() {
    let mut app = with_history(read_to_minute_2());
    open(&mut app, 0);
    assert_eq!(app.unread_marker(), Some(3));
    assert_eq!(app.peers()[0].unread(), 0, "opening reads it");
    assert_snapshot!(draw(&app, 80, 16).backend());
    // The line stays for the visit, through new messages too.
    app.on_engine(received(ALICE, "see you", 6));
    assert_eq!(app.unread_marker(), Some(3));
}

#[test]
fn u_picks_the_first_unread_message() {
    let mut app = with_history(read_to_minute_2());
    open(&mut app, 0);
    press(&mut app, KeyCode::BackTab);
    press(&mut app, KeyCode::Char('u'));
    assert_eq!(app.focus(), Focus::Conversation);
    assert_eq!(app.chosen(), Some(3));
}

#[test]
fn u_in_the_contact_list_opens_the_first_conversation_with_something_unread() {
    let mut app = app();
    open(&mut app, 0);
    app.on_engine(received(PY, "ping", 1));
    app.on_engine(received(BOB, "psst", 2));
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('u'));
    assert_eq!(app.open(), Some(1), "bob, first in the list");
    assert_eq!(app.focus(), Focus::Conversation);
    assert_eq!(app.chosen(), Some(0));
    assert_eq!(app.peers()[1].unread(), 0);
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('u'));
    assert_eq!(app.open(), Some(2));
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('u'));
    assert!(format!("{:?}", app.notice()).contains("nothing unread"));
}

#[test]
fn m_marks_everything_read() {
    let mut app = app();
    open(&mut app, 0);
    app.on_engine(received(BOB, "one", 1));
    app.on_engine(received(PY, "two", 2));
    let _ = app.unsaved_read();
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('M'));
    assert!(app.peers().iter().all(|p| p.unread() == 0));
    let read = app.unsaved_read().expect("read points to keep");
    assert!(!read.is_unread(&key("bob"), at(1)));
    assert!(app.unsaved_read().is_none(), "taken once");
}

#[test]
fn messages_while_the_terminal_is_away_stay_unread_under_a_new_line() {
    let mut app = app();
    open(&mut app, 0);
    app.on_engine(received(ALICE, "hello", 1));
    assert_eq!(app.unread_marker(), None, "read as it came");
    app.set_focused(false);
    app.on_engine(received(ALICE, "are you there?", 2));
    app.on_engine(received(ALICE, "hello?", 3));
    assert_eq!(app.peers()[0].unread(), 2);
    assert_eq!(app.unread_marker(), Some(1));
    let _ = app.unsaved_read();
    app.set_focused(true);
    assert_eq!(app.peers()[0].unread(), 0, "read once back");
    assert_eq!(app.unread_marker(), Some(1), "the line stays");
    let read = app.unsaved_read().expect("kept");
    assert!(!read.is_unread(&key("alice"), at(3)));
}

#[test]
fn read_points_survive_a_restart() {
    let dir = std::env::temp_dir().join(format!("qqchat-tui-read-{}", std::process::id()));
    let mut first = app();
    first.set_read_points(ReadPoints {
        since: Some(at(0)),
        ..ReadPoints::default()
    });
    open(&mut first, 0);
    first.on_engine(received(BOB, "one", 1));
    first.on_engine(received(BOB, "two", 2));
    press(&mut first, KeyCode::Esc);
    open(&mut first, 1);
    first.on_engine(received(PY, "unread", 3));
    let points = first.unsaved_read().expect("bob was read");
    qqchat::store::save_read(&dir, &points).expect("saved");

    // The next start: the history has what came, and one more for bob since.
    let mut second = app();
    let loaded = qqchat::store::load_read(&dir)
        .expect("read")
        .expect("a file");
    second.set_read_points(loaded);
    second.load_history(vec![
        Conversation {
            key: key("bob"),
            messages: vec![
                stored(1, Direction::In, BOB, 1, "one"),
                stored(2, Direction::In, BOB, 2, "two"),
                stored(3, Direction::In, BOB, 4, "while away"),
            ],
        },
        Conversation {
            key: key("pyscript"),
            messages: vec![stored(4, Direction::In, PY, 3, "unread")],
        },
    ]);
    assert_eq!(second.peers()[1].unread(), 1, "bob: only what came after");
    assert_eq!(second.peers()[2].unread(), 1, "pyscript was never opened");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn r_answers_the_picked_message_with_its_first_line_quoted() {
    let mut app = app();
    open(&mut app, 0);
    app.on_engine(received(ALICE, "shall we meet at eight?\nor nine", 1));
    press(&mut app, KeyCode::BackTab);
    press(&mut app, KeyCode::Up);
    assert!(press(&mut app, KeyCode::Char('r')).is_empty());
    assert_eq!(app.focus(), Focus::Input);
    let reply = app.replying().expect("replying");
    assert_eq!(reply.name, "alice");
    assert_eq!(reply.shown(), "alice: shall we meet at eight?");
    type_text(&mut app, "eight is fine", at(2));
    match app
        .on_key(crate::support::key(KeyCode::Enter), at(2))
        .as_slice()
    {
        [Effect::Send(Command::Send { text, .. }), ..] => {
            assert_eq!(text, "> alice: shall we meet at eight?\neight is fine");
        }
        other => panic!("expected a send, got {other:?}"),
    }
    assert!(app.replying().is_none(), "the next message is no reply");
    send(&mut app, "plain", at(3));
}

#[test]
fn esc_lets_go_of_a_reply_and_keeps_the_text() {
    let mut app = app();
    open(&mut app, 0);
    app.on_engine(received(ALICE, "hi", 1));
    press(&mut app, KeyCode::BackTab);
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Char('r'));
    type_text(&mut app, "hey", at(2));
    press(&mut app, KeyCode::Esc);
    assert!(app.replying().is_none());
    assert_eq!(app.focus(), Focus::Input);
    assert_eq!(app.input_text(), "hey");
}

#[test]
fn snapshot_writing_a_reply() {
    let mut app = app();
    open(&mut app, 0);
    app.on_engine(received(ALICE, "shall we meet at eight?", 1));
    press(&mut app, KeyCode::BackTab);
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Char('r'));
    type_text(&mut app, "eight is fine", at(2));
    assert_snapshot!(draw(&app, 80, 12).backend());
}

#[test]
fn snapshot_replies_show_their_quote_on_a_line_of_its_own() {
    let mut app = app();
    open(&mut app, 0);
    app.on_engine(received(ALICE, "shall we meet at eight?", 1));
    app.on_engine(received(
        ALICE,
        "> me: and bring a very long list of things that does not fit on one line at all\nwhich list?",
        2,
    ));
    // A quote from the network is made safe like any text.
    app.on_engine(received(
        ALICE,
        "> \u{1b}[2Jevil\u{202e}: x\nstill shown safely",
        3,
    ));
    press(&mut app, KeyCode::BackTab);
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Char('r'));
    type_text(&mut app, "eight is fine", at(4));
    app.on_key(crate::support::key(KeyCode::Enter), at(4));
    assert_snapshot!(draw(&app, 80, 16).backend());
}

#[test]
fn heights_count_quotes_and_the_new_line() {
    let mut app = with_history(read_to_minute_2());
    open(&mut app, 0);
    app.on_engine(received(ALICE, "> me: yes, at eight\nok then", 6));
    let peer = app.open_peer().unwrap();
    for width in [0u16, 5, 12, 20, 33, 60] {
        for index in 0..peer.messages().len() {
            assert_eq!(
                app.message_height(peer, index, width),
                qqchat::ui::conversation::message_lines(&app, peer, index, width).len(),
                "message {index} at width {width}"
            );
        }
    }
}

fn mouse(kind: MouseEventKind, column: u16, row: u16) -> MouseEvent {
    MouseEvent {
        kind,
        column,
        row,
        modifiers: KeyModifiers::NONE,
    }
}

#[test]
fn a_click_on_a_contact_opens_it_and_elsewhere_does_no_harm() {
    let mut app = app_sized(80, 20);
    // The list is 24 wide at 80 columns: its border, then one line a contact.
    let effects = app.on_mouse(mouse(MouseEventKind::Down(MouseButton::Left), 5, 2));
    assert!(effects.is_empty(), "{effects:?}");
    assert_eq!(app.open(), Some(1), "bob, on the second line");
    assert_eq!(app.focus(), Focus::Input);
    // Below the last contact, on the border, in the status line: nothing.
    for (column, row) in [(5, 10), (0, 0), (40, 19)] {
        app.on_mouse(mouse(MouseEventKind::Down(MouseButton::Left), column, row));
        assert_eq!(app.open(), Some(1));
    }
    // On the conversation: it takes the keys.
    app.on_mouse(mouse(MouseEventKind::Down(MouseButton::Left), 50, 5));
    assert_eq!(app.focus(), Focus::Conversation);
    // Other buttons and moves do nothing.
    app.on_mouse(mouse(MouseEventKind::Down(MouseButton::Right), 5, 1));
    app.on_mouse(mouse(MouseEventKind::Moved, 5, 1));
    assert_eq!(app.open(), Some(1));
}

#[test]
fn a_click_lands_on_the_row_drawn_under_it_in_a_scrolled_list() {
    let mut app = app_sized(80, 8);
    // Strangers write: a divider, then their rows, past the bottom of a short list.
    for port in 0..6 {
        let from = format!("127.0.0.1:60{port:02}");
        app.on_engine(received(&from, "hi", port));
    }
    press(&mut app, KeyCode::End);
    let screen = format!("{:?}", draw(&app, 80, 8).backend());
    let lines = app.list_lines();
    let top = app.list_top(&lines, 5);
    assert!(top > 0, "scrolled");
    // The last line of the list is the cursor's row, drawn at the bottom.
    app.on_mouse(mouse(MouseEventKind::Down(MouseButton::Left), 3, 5));
    assert_eq!(app.open(), Some(app.peers().len() - 1), "{screen}");
}

#[test]
fn the_wheel_scrolls_the_open_conversation() {
    let mut app = app_sized(80, 12);
    open(&mut app, 0);
    for minute in 0..30 {
        app.on_engine(received(ALICE, &format!("line {minute}"), minute));
    }
    app.on_mouse(mouse(MouseEventKind::ScrollUp, 40, 4));
    assert_eq!(app.scroll(), qqchat::app::WHEEL_LINES);
    app.on_mouse(mouse(MouseEventKind::ScrollUp, 40, 4));
    app.on_mouse(mouse(MouseEventKind::ScrollDown, 40, 4));
    assert_eq!(app.scroll(), qqchat::app::WHEEL_LINES);
    app.on_mouse(mouse(MouseEventKind::ScrollDown, 40, 4));
    app.on_mouse(mouse(MouseEventKind::ScrollDown, 40, 4));
    assert_eq!(app.scroll(), 0, "no further than the newest");
}
