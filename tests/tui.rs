//! The TUI without a terminal: `App` behaviour from keys and engine events, and snapshots of
//! each screen state drawn on a `TestBackend`.
// Test data is written here by hand; a bad value should fail the test loudly.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use insta::assert_snapshot;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use qqchat::app::{App, Effect, Focus, Mark, Notice, PromptKind, Trust};
use qqchat::cli::Conversation;
use qqchat::contacts::{Contact, ContactBook, Me};
use qqchat::engine::{Command, EngineEvent, Link};
use qqchat::store::{Direction, MessageState, StoredMessage};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

const ALICE: &str = "127.0.0.1:4001";
const BOB: &str = "127.0.0.1:4002";
const PY: &str = "127.0.0.1:4003";
const STRANGER: &str = "127.0.0.1:5555";
/// Alice is the one contact of [`book`] with a key; bob and pyscript are unverified.
const ALICE_KEY: [u8; 32] = [1; 32];

fn book(bell: bool) -> ContactBook {
    ContactBook {
        me: Me {
            name: "me".into(),
            listen: addr("0.0.0.0:4000"),
            bell,
            require_keys: false,
        },
        contacts: vec![
            Contact {
                name: "alice".into(),
                addr: addr(ALICE),
                plain: false,
                key: Some(ALICE_KEY),
            },
            Contact {
                name: "bob".into(),
                addr: addr(BOB),
                plain: false,
                key: None,
            },
            Contact {
                name: "pyscript".into(),
                addr: addr(PY),
                plain: true,
                key: None,
            },
        ],
    }
}

/// 2023-11-14 22:13:20 UTC, plus `minutes`.
fn at(minutes: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + minutes * 60).unwrap()
}

fn app_sized(width: u16, height: u16) -> App {
    let mut app = App::new(&book(true), addr("0.0.0.0:4000"), TimeZone::UTC);
    app.on_resize(width, height);
    app
}

fn app() -> App {
    app_sized(80, 20)
}

fn draw(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| qqchat::ui::draw(frame, app)).unwrap();
    terminal
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.on_key(key(code), at(0))
}

fn press_mod(app: &mut App, code: KeyCode, modifiers: KeyModifiers) -> Vec<Effect> {
    app.on_key(KeyEvent::new(code, modifiers), at(0))
}

fn type_text(app: &mut App, text: &str, now: Timestamp) {
    for c in text.chars() {
        assert!(app.on_key(key(KeyCode::Char(c)), now).is_empty());
    }
}

/// Types `text` and presses Enter; returns the tag of the message sent.
fn send(app: &mut App, text: &str, now: Timestamp) -> u64 {
    type_text(app, text, now);
    let effects = app.on_key(key(KeyCode::Enter), now);
    match effects.as_slice() {
        [Effect::Send(Command::Send { tag, .. })] => *tag,
        other => panic!("expected one send, got {other:?}"),
    }
}

fn received(from: &str, text: &str, minutes: i64) -> EngineEvent {
    EngineEvent::Received {
        from: addr(from),
        id: None,
        text: text.into(),
        sent_at: None,
        received_at: at(minutes),
        plain: false,
    }
}

fn received_plain(from: &str, text: &str, minutes: i64) -> EngineEvent {
    EngineEvent::Received {
        from: addr(from),
        id: None,
        text: text.into(),
        sent_at: None,
        received_at: at(minutes),
        plain: true,
    }
}

/// Moves the contact cursor to `index` and opens that conversation.
fn open(app: &mut App, index: usize) {
    while app.selected() > index {
        press(app, KeyCode::Up);
    }
    while app.selected() < index {
        press(app, KeyCode::Down);
    }
    press(app, KeyCode::Enter);
    assert_eq!(app.open(), Some(index));
}

fn is_quit(effects: &[Effect]) -> bool {
    matches!(effects, [Effect::Quit])
}

// ---------------------------------------------------------------- snapshots

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
        to: addr(ALICE),
        tag: delivered,
    });
    app.on_engine(received(
        ALICE,
        "Great. Did the build pass on your machine? Mine still fails in the linker step.",
        2,
    ));
    let failed = send(&mut app, "it passed here", at(3));
    app.on_engine(EngineEvent::Failed {
        to: addr(ALICE),
        tag: failed,
    });
    send(&mut app, "sending it again later", at(4));
    assert_snapshot!(draw(&app, 80, 20).backend());
}

#[test]
fn snapshot_plain_conversation() {
    let mut app = app();
    open(&mut app, 2);
    app.on_engine(received_plain(PY, "hello from python\n", 0));
    let tag = send(&mut app, "hello, script", at(1));
    app.on_engine(EngineEvent::Sent { to: addr(PY), tag });
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
    let tag = send(&mut app, "好的 ok 👍 这句话没有空格也能按宽度换行", at(1));
    app.on_engine(EngineEvent::Delivered { to: addr(BOB), tag });
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
    for _ in 0..20 {
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

// ---------------------------------------------------------------- contact list

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
    assert!(is_quit(&press(&mut app, KeyCode::Char('q'))));
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

// ---------------------------------------------------------------- help

#[test]
fn help_opens_with_f1_or_question_mark_and_any_key_closes_it() {
    let mut app = app();
    press(&mut app, KeyCode::Char('?'));
    assert!(app.help_open());
    // The closing key does nothing else: `q` here must not quit.
    assert!(press(&mut app, KeyCode::Char('q')).is_empty());
    assert!(!app.help_open());

    open(&mut app, 0);
    press(&mut app, KeyCode::Char('?'));
    assert!(!app.help_open(), "? is text while typing");
    assert_eq!(app.input_text(), "?");
    press(&mut app, KeyCode::F(1));
    assert!(app.help_open());
    press(&mut app, KeyCode::Enter);
    assert!(!app.help_open());
    assert_eq!(app.input_text(), "?", "the closing Enter did not send");
}

// ---------------------------------------------------------------- sending

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
            tag,
        }),
    ] = effects.as_slice()
    else {
        panic!("expected a send, got {effects:?}");
    };
    assert_eq!((*to, text.as_str(), *plain), (addr(ALICE), "hello", false));
    assert_eq!(app.input_text(), "");
    let second = send(&mut app, "again", at(0));
    assert_ne!(*tag, second, "every message gets its own tag");

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

// ---------------------------------------------------------------- marks and retry

#[test]
fn engine_events_set_the_mark_of_the_tagged_message() {
    let mut app = app();
    open(&mut app, 0);
    let a = send(&mut app, "a", at(0));
    let b = send(&mut app, "b", at(0));
    let c = send(&mut app, "c", at(0));
    app.on_engine(EngineEvent::Failed {
        to: addr(ALICE),
        tag: b,
    });
    app.on_engine(EngineEvent::Delivered {
        to: addr(ALICE),
        tag: a,
    });
    app.on_engine(EngineEvent::Sent {
        to: addr(ALICE),
        tag: c,
    });
    // An unknown tag changes nothing.
    app.on_engine(EngineEvent::Delivered {
        to: addr(ALICE),
        tag: 999,
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
        to: addr(ALICE),
        tag: failed,
    });
    app.on_engine(EngineEvent::Delivered {
        to: addr(ALICE),
        tag: ok,
    });

    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.focus(), Focus::Conversation);
    press(&mut app, KeyCode::Up);
    assert_eq!(
        app.chosen(),
        Some(1),
        "the newest own message is picked first"
    );
    assert!(
        press(&mut app, KeyCode::Char('r')).is_empty(),
        "a delivered message is not retried"
    );
    press(&mut app, KeyCode::Up);
    assert_eq!(app.chosen(), Some(0));
    press(&mut app, KeyCode::Up);
    assert_eq!(app.chosen(), Some(0), "no earlier own message");

    let effects = press(&mut app, KeyCode::Char('r'));
    let [Effect::Send(Command::Send { to, text, tag, .. })] = effects.as_slice() else {
        panic!("expected a retry, got {effects:?}");
    };
    assert_eq!((*to, text.as_str()), (addr(ALICE), "lost one"));
    assert!(*tag != failed && *tag != ok, "a retry gets a new tag");
    let messages = app.open_peer().unwrap().messages();
    assert_eq!(messages[0].mark(), Some(Mark::Pending));
    assert_eq!(messages.len(), 3, "the retry reuses the message");

    // The new tag now drives the mark; the old one is forgotten.
    let new_tag = *tag;
    app.on_engine(EngineEvent::Delivered {
        to: addr(ALICE),
        tag: failed,
    });
    assert_eq!(
        app.open_peer().unwrap().messages()[0].mark(),
        Some(Mark::Pending)
    );
    app.on_engine(EngineEvent::Delivered {
        to: addr(ALICE),
        tag: new_tag,
    });
    assert_eq!(
        app.open_peer().unwrap().messages()[0].mark(),
        Some(Mark::Delivered)
    );

    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Down);
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
    for tag in [first, second] {
        app.on_engine(EngineEvent::Failed {
            to: addr(ALICE),
            tag,
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

// ---------------------------------------------------------------- receiving

#[test]
fn a_message_to_a_closed_conversation_counts_as_unread_and_rings() {
    let mut app = app();
    open(&mut app, 0);
    let effects = app.on_engine(received(BOB, "psst", 0));
    assert!(matches!(effects.as_slice(), [Effect::Bell]));
    assert_eq!(app.peers()[1].unread(), 1);
    app.on_engine(received(BOB, "psst", 0));
    assert_eq!(app.peers()[1].unread(), 2);

    let effects = app.on_engine(received(ALICE, "here", 0));
    assert!(effects.is_empty(), "no bell for the open conversation");
    assert_eq!(app.peers()[0].unread(), 0);

    press(&mut app, KeyCode::Esc);
    open(&mut app, 1);
    assert_eq!(app.peers()[1].unread(), 0, "opening reads it");
}

#[test]
fn no_bell_when_the_book_says_so() {
    let mut app = App::new(&book(false), addr("0.0.0.0:4000"), TimeZone::UTC);
    assert!(app.on_engine(received(BOB, "psst", 0)).is_empty());
    assert_eq!(app.peers()[1].unread(), 1);
}

#[test]
fn an_unknown_address_gets_its_own_entry_and_can_be_answered() {
    let mut app = app();
    app.on_engine(received_plain(STRANGER, "hello?\n", 0));
    assert_eq!(app.peers().len(), 4);
    let stranger = &app.peers()[3];
    assert_eq!(stranger.name(), STRANGER);
    assert!(!stranger.is_listed());
    assert_eq!(stranger.unread(), 1);
    assert_eq!(stranger.messages()[0].display_text(), "hello?");

    app.on_engine(received_plain(STRANGER, "still?", 1));
    assert_eq!(app.peers().len(), 4, "the same address reuses its entry");

    open(&mut app, 3);
    type_text(&mut app, "who are you?", at(2));
    let effects = press(&mut app, KeyCode::Enter);
    let [Effect::Send(Command::Send { to, plain, .. })] = effects.as_slice() else {
        panic!("expected a send, got {effects:?}");
    };
    assert_eq!((*to, *plain), (addr(STRANGER), true));
}

#[test]
fn an_ipv4_mapped_address_is_the_ipv4_contact() {
    let mut app = app();
    app.on_engine(received("[::ffff:127.0.0.1]:4002", "via v6 socket", 0));
    assert_eq!(app.peers().len(), 3);
    assert_eq!(app.peers()[1].unread(), 1);

    app.on_engine(received("[::ffff:10.0.0.9]:7000", "new", 0));
    assert_eq!(app.peers()[3].name(), "10.0.0.9:7000");
    assert_eq!(app.peers()[3].addr(), addr("[::ffff:10.0.0.9]:7000"));
}

#[test]
fn received_text_is_sanitized() {
    let mut app = app();
    app.on_engine(received(ALICE, "\x1b]0;pwned\x07\u{202e}evil\tx", 0));
    assert_eq!(
        app.peers()[0].messages()[0].display_text(),
        "^[]0;pwned^G\u{FFFD}evil   x"
    );
}

// ---------------------------------------------------------------- scrolling

#[test]
fn page_keys_scroll_within_the_history() {
    let mut app = app_sized(60, 12);
    open(&mut app, 0);
    for i in 0..30 {
        app.on_engine(received(ALICE, &format!("message {i}"), 0));
    }
    press(&mut app, KeyCode::PageUp);
    let page = app.scroll();
    assert!(page > 0);
    for _ in 0..20 {
        press(&mut app, KeyCode::PageUp);
    }
    // 30 messages plus the day line, in a view 6 lines tall (12 - status - input - borders).
    assert_eq!(app.scroll(), 31 - 6, "stops at the first message");
    let top = draw(&app, 60, 12);
    assert!(format!("{}", top.backend()).contains("message 0"));

    press(&mut app, KeyCode::PageDown);
    assert_eq!(app.scroll(), 31 - 6 - page);
    for _ in 0..20 {
        press(&mut app, KeyCode::PageDown);
    }
    assert_eq!(app.scroll(), 0);
}

#[test]
fn a_new_message_does_not_move_a_scrolled_view() {
    let mut app = app_sized(60, 12);
    open(&mut app, 0);
    for i in 0..30 {
        app.on_engine(received(ALICE, &format!("message {i}"), 0));
    }
    press(&mut app, KeyCode::PageUp);
    let before = format!("{}", draw(&app, 60, 12).backend());
    app.on_engine(received(ALICE, "new one", 0));
    let after = format!("{}", draw(&app, 60, 12).backend());
    let conversation = |s: &str| s.lines().skip(1).take(6).collect::<Vec<_>>().join("\n");
    assert_eq!(conversation(&before), conversation(&after));
    // Sending returns to the newest message.
    send(&mut app, "back down", at(0));
    assert_eq!(app.scroll(), 0);
}

#[test]
fn a_long_history_draws() {
    let mut app = app_sized(80, 20);
    open(&mut app, 0);
    for i in 0..100_000 {
        app.on_engine(received(ALICE, &format!("message {i}"), 0));
    }
    let start = std::time::Instant::now();
    let shown = format!("{}", draw(&app, 80, 20).backend());
    press(&mut app, KeyCode::PageUp);
    draw(&app, 80, 20);
    assert!(shown.contains("message 99999"));
    // Only what is on screen is wrapped; drawing all 100,000 would take far longer.
    assert!(start.elapsed() < std::time::Duration::from_secs(1));
}

// ---------------------------------------------------------------- history on start

fn stored(id: u64, dir: Direction, peer: &str, minutes: i64, text: &str) -> StoredMessage {
    StoredMessage {
        id,
        dir,
        peer: peer.into(),
        at: at(minutes),
        sent_at: None,
        text: text.into(),
        plain: false,
        state: match dir {
            Direction::In => MessageState::Received,
            Direction::Out => MessageState::Delivered,
        },
    }
}

fn out(id: u64, peer: &str, minutes: i64, text: &str, state: MessageState) -> StoredMessage {
    StoredMessage {
        state,
        ..stored(id, Direction::Out, peer, minutes, text)
    }
}

fn inc(id: u64, peer: &str, minutes: i64, text: &str) -> StoredMessage {
    stored(id, Direction::In, peer, minutes, text)
}

fn conversation(key: &str, messages: Vec<StoredMessage>) -> Conversation {
    Conversation {
        key: key.into(),
        messages,
    }
}

/// Alice's conversation with one own message in every state, a stranger's, and one of a
/// contact since removed from the file.
fn history() -> Vec<Conversation> {
    vec![
        conversation(
            "addr-127.0.0.1:5555",
            vec![inc(100, STRANGER, 0, "who is this?\n")],
        ),
        conversation(
            "alice",
            vec![
                inc(1, ALICE, 0, "morning!"),
                out(2, ALICE, 1, "hi alice", MessageState::Delivered),
                out(3, ALICE, 2, "lunch at noon?", MessageState::Queued),
                out(4, ALICE, 3, "never mind", MessageState::Cancelled),
                out(5, ALICE, 4, "see you", MessageState::Pending),
                out(6, ALICE, 5, "lost", MessageState::Failed),
            ],
        ),
        conversation("carol", vec![inc(200, "127.0.0.1:4010", 6, "bye for now")]),
    ]
}

fn marks(app: &App, peer: usize) -> Vec<Option<Mark>> {
    app.peers()[peer]
        .messages()
        .iter()
        .map(|m| m.mark())
        .collect()
}

#[test]
fn snapshot_history_loaded_on_start() {
    let mut app = app();
    app.load_history(history());
    open(&mut app, 0);
    assert_snapshot!(draw(&app, 80, 20).backend());
}

#[test]
fn history_keeps_each_message_s_state_as_its_mark() {
    let mut app = app();
    app.load_history(history());
    assert_eq!(
        marks(&app, 0),
        [
            None,
            Some(Mark::Delivered),
            Some(Mark::Queued),
            Some(Mark::Cancelled),
            Some(Mark::Pending),
            Some(Mark::Failed),
        ]
    );
    assert_eq!(app.peers()[0].unread(), 0, "history is read already");
    assert!(app.peers()[0].has_retryable());
}

#[test]
fn tags_from_history_settle_with_later_engine_events() {
    let mut app = app();
    app.load_history(history());
    // The ids are the tags: the engine reports on them when the outbox is sent.
    app.on_engine(EngineEvent::Delivered {
        to: addr(ALICE),
        tag: 3,
    });
    app.on_engine(EngineEvent::Queued {
        to: addr(ALICE),
        tag: 5,
    });
    // Settled messages are not reopened.
    app.on_engine(EngineEvent::Delivered {
        to: addr(ALICE),
        tag: 4,
    });
    app.on_engine(EngineEvent::Delivered {
        to: addr(ALICE),
        tag: 6,
    });
    assert_eq!(
        marks(&app, 0)[2..],
        [
            Some(Mark::Delivered),
            Some(Mark::Cancelled),
            Some(Mark::Queued),
            Some(Mark::Failed),
        ]
    );
    app.on_engine(EngineEvent::Delivered {
        to: addr(ALICE),
        tag: 5,
    });
    assert_eq!(marks(&app, 0)[4], Some(Mark::Delivered));
}

#[test]
fn history_of_strangers_and_removed_contacts_becomes_unlisted_entries() {
    let mut app = app();
    let mut conversations = history();
    // A removed contact whose address no longer parses cannot be placed.
    conversations.push(conversation(
        "dan",
        vec![inc(300, "not an address", 0, "?")],
    ));
    // A stranger's history at a contact's address belongs to that contact.
    conversations.push(conversation(
        "addr-[::ffff:127.0.0.1]:4002",
        vec![inc(
            400,
            "[::ffff:127.0.0.1]:4002",
            0,
            "before I was a contact",
        )],
    ));
    app.load_history(conversations);
    let names: Vec<_> = app.peers().iter().map(|p| p.name()).collect();
    assert_eq!(names, ["alice", "bob", "pyscript", STRANGER, "carol"]);
    let stranger = &app.peers()[3];
    assert!(!stranger.is_listed());
    assert_eq!(stranger.addr(), addr(STRANGER));
    assert_eq!(stranger.key(), "addr-127.0.0.1:5555");
    assert_eq!(stranger.messages()[0].display_text(), "who is this?");
    let carol = &app.peers()[4];
    assert!(!carol.is_listed());
    assert_eq!(
        (carol.addr(), carol.key()),
        (addr("127.0.0.1:4010"), "carol")
    );
    assert_eq!(app.peers()[1].messages().len(), 1);

    // A new message from a known address joins its entry.
    app.on_engine(received("127.0.0.1:4010", "back again", 7));
    assert_eq!(app.peers().len(), 5);
    assert_eq!(app.peers()[4].messages().len(), 2);
}

#[test]
fn history_text_from_the_network_is_sanitized() {
    let mut app = app();
    app.load_history(vec![conversation(
        "alice",
        vec![inc(1, ALICE, 0, "\x1b[2Jgotcha\u{202e}")],
    )]);
    assert_eq!(
        app.peers()[0].messages()[0].display_text(),
        "^[[2Jgotcha\u{FFFD}"
    );
}

#[test]
fn history_from_two_files_of_one_peer_is_merged_in_time_order() {
    let mut app = app();
    app.load_history(vec![
        conversation(
            "addr-127.0.0.1:4010",
            vec![
                inc(1, "127.0.0.1:4010", 5, "second"),
                inc(2, "127.0.0.1:4010", 20, "fourth"),
            ],
        ),
        conversation(
            "carol",
            vec![
                inc(3, "127.0.0.1:4010", 0, "first"),
                inc(4, "127.0.0.1:4010", 10, "third"),
            ],
        ),
    ]);
    assert_eq!(app.peers().len(), 4);
    let carol = &app.peers()[3];
    assert_eq!(carol.name(), "carol", "a name says more than an address");
    let texts: Vec<_> = carol.messages().iter().map(|m| m.display_text()).collect();
    assert_eq!(texts, ["first", "second", "third", "fourth"]);
}

#[test]
fn scrolling_back_reaches_the_first_message_of_the_history() {
    let mut app = app_sized(60, 12);
    let messages = (0..50)
        .map(|i| inc(i, ALICE, i as i64, &format!("old message {i}")))
        .collect();
    app.load_history(vec![conversation("alice", messages)]);
    open(&mut app, 0);
    for _ in 0..30 {
        press(&mut app, KeyCode::PageUp);
    }
    let top = format!("{}", draw(&app, 60, 12).backend());
    assert!(top.contains("old message 0"), "{top}");
}

#[test]
fn a_long_history_loads_and_draws_quickly() {
    let mut app = app_sized(80, 20);
    let messages: Vec<_> = (0..100_000u64)
        .map(|i| {
            if i % 2 == 0 {
                inc(i, ALICE, 0, &format!("message {i}"))
            } else {
                out(i, ALICE, 0, &format!("message {i}"), MessageState::Pending)
            }
        })
        .collect();
    let start = std::time::Instant::now();
    app.load_history(vec![conversation("alice", messages)]);
    open(&mut app, 0);
    let shown = format!("{}", draw(&app, 80, 20).backend());
    press(&mut app, KeyCode::PageUp);
    draw(&app, 80, 20);
    assert!(shown.contains("message 99999"));
    // Loading moves messages without wrapping them; every pending one is registered.
    app.on_engine(EngineEvent::Delivered {
        to: addr(ALICE),
        tag: 1,
    });
    assert_eq!(app.peers()[0].messages()[1].mark(), Some(Mark::Delivered));
    assert!(start.elapsed() < std::time::Duration::from_secs(2));
}

// ---------------------------------------------------------------- outbox

/// Opens alice, sends `text`, and has the engine queue it; focus goes to the conversation
/// with the message picked.
fn queued_message(app: &mut App, text: &str) -> u64 {
    open(app, 0);
    let tag = send(app, text, at(0));
    app.on_engine(EngineEvent::Queued {
        to: addr(ALICE),
        tag,
    });
    press(app, KeyCode::BackTab);
    press(app, KeyCode::Up);
    assert_eq!(app.focus(), Focus::Conversation);
    tag
}

#[test]
fn a_queued_message_keeps_its_tag_until_delivered() {
    let mut app = app();
    let tag = queued_message(&mut app, "later");
    assert_eq!(marks(&app, 0), [Some(Mark::Queued)]);
    app.on_engine(EngineEvent::Delivered {
        to: addr(ALICE),
        tag,
    });
    assert_eq!(marks(&app, 0), [Some(Mark::Delivered)]);
}

#[test]
fn r_on_a_queued_message_sends_it_now_under_the_same_tag() {
    let mut app = app();
    let tag = queued_message(&mut app, "later");
    let effects = press(&mut app, KeyCode::Char('r'));
    assert!(
        matches!(effects.as_slice(), [Effect::Send(Command::SendNow { tag: t })] if *t == tag),
        "{effects:?}"
    );
    assert_eq!(marks(&app, 0), [Some(Mark::Pending)]);
    // Queued again when that fails too, then delivered: still the same tag.
    app.on_engine(EngineEvent::Queued {
        to: addr(ALICE),
        tag,
    });
    app.on_engine(EngineEvent::Delivered {
        to: addr(ALICE),
        tag,
    });
    assert_eq!(marks(&app, 0), [Some(Mark::Delivered)]);
}

#[test]
fn x_cancels_a_queued_message_once_the_engine_confirms() {
    let mut app = app();
    let tag = queued_message(&mut app, "later");
    let effects = press(&mut app, KeyCode::Char('x'));
    assert!(
        matches!(effects.as_slice(), [Effect::Send(Command::Cancel { tag: t })] if *t == tag),
        "{effects:?}"
    );
    assert_eq!(
        marks(&app, 0),
        [Some(Mark::Queued)],
        "not until the engine says so"
    );
    app.on_engine(EngineEvent::Cancelled {
        to: addr(ALICE),
        tag,
    });
    assert_eq!(marks(&app, 0), [Some(Mark::Cancelled)]);
    assert!(press(&mut app, KeyCode::Char('r')).is_empty());
    assert!(press(&mut app, KeyCode::Char('x')).is_empty());
    // A late report on the cancelled tag changes nothing.
    app.on_engine(EngineEvent::Delivered {
        to: addr(ALICE),
        tag,
    });
    assert_eq!(marks(&app, 0), [Some(Mark::Cancelled)]);
}

#[test]
fn x_leaves_other_messages_alone() {
    let mut app = app();
    open(&mut app, 0);
    let tag = send(&mut app, "pending", at(0));
    press(&mut app, KeyCode::BackTab);
    press(&mut app, KeyCode::Up);
    assert!(press(&mut app, KeyCode::Char('x')).is_empty());
    app.on_engine(EngineEvent::Failed {
        to: addr(ALICE),
        tag,
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
        to: addr(ALICE),
        tag: failed,
    });
    app.on_engine(EngineEvent::Queued {
        to: addr(ALICE),
        tag: queued,
    });
    let effects = press_mod(&mut app, KeyCode::Char('r'), KeyModifiers::CONTROL);
    assert!(
        matches!(effects.as_slice(), [Effect::Send(Command::SendNow { tag })] if *tag == queued),
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
        to: addr(ALICE),
        tag: delivered,
    });
    let queued = send(&mut app, "I'll wait until you are back online", at(1));
    let cancelled = send(&mut app, "ignore that", at(2));
    for tag in [queued, cancelled] {
        app.on_engine(EngineEvent::Queued {
            to: addr(ALICE),
            tag,
        });
    }
    app.on_engine(EngineEvent::Cancelled {
        to: addr(ALICE),
        tag: cancelled,
    });
    press(&mut app, KeyCode::BackTab);
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Up);
    assert_snapshot!(draw(&app, 80, 12).backend());
}

// ---------------------------------------------------------------- presence and errors

fn link(online: Option<bool>, seen: Option<Timestamp>, rtt_us: Option<u64>, loss: f32) -> Link {
    Link {
        online,
        last_seen: seen,
        rtt: rtt_us.map(std::time::Duration::from_micros),
        loss,
    }
}

/// A book with one more contact, to show every kind of dot at once.
fn app_with_carol() -> App {
    let mut book = book(true);
    book.contacts.insert(
        2,
        Contact {
            name: "carol".into(),
            addr: addr("127.0.0.1:4010"),
            plain: false,
            key: None,
        },
    );
    let mut app = App::new(&book, addr("0.0.0.0:4000"), TimeZone::UTC);
    app.on_resize(80, 14);
    app
}

#[test]
fn snapshot_presence_dots_and_last_seen() {
    let mut app = app_with_carol();
    app.set_now(at(60));
    app.on_engine(EngineEvent::Presence {
        peer: addr(ALICE),
        online: true,
    });
    // Offline since earlier today, and since yesterday.
    app.on_engine(EngineEvent::Link {
        peer: addr(BOB),
        link: link(Some(false), Some(at(-4)), Some(300), 0.0),
    });
    app.on_engine(EngineEvent::Link {
        peer: addr("127.0.0.1:4010"),
        link: link(Some(false), Some(at(-24 * 60)), None, 0.0),
    });
    app.on_engine(received_plain(STRANGER, "hi\n", 0));
    app.on_engine(EngineEvent::Presence {
        peer: addr(STRANGER),
        online: true,
    });
    assert_snapshot!(draw(&app, 80, 14).backend());
}

#[test]
fn snapshot_header_with_rtt_and_loss() {
    let mut app = app_with_carol();
    app.on_engine(EngineEvent::Link {
        peer: addr("[::ffff:127.0.0.1]:4002"),
        link: link(Some(true), Some(at(0)), Some(420), 0.02),
    });
    open(&mut app, 1);
    app.on_engine(received(BOB, "pong", 0));
    assert_snapshot!(draw(&app, 80, 8).backend());
}

#[test]
fn the_header_says_when_an_offline_contact_was_last_seen() {
    let mut app = app();
    app.set_now(at(60));
    open(&mut app, 1);
    app.on_engine(EngineEvent::Link {
        peer: addr(BOB),
        link: link(Some(true), Some(at(0)), Some(25_000), 0.0),
    });
    let header = |app: &App| {
        format!("{}", draw(app, 100, 8).backend())
            .lines()
            .next()
            .unwrap()
            .to_string()
    };
    assert!(
        header(&app).contains("bob (unverified) · 127.0.0.1:4002 · online · rtt 25 ms · loss 0%"),
        "{}",
        header(&app)
    );
    app.on_engine(EngineEvent::Presence {
        peer: addr(BOB),
        online: false,
    });
    assert!(
        header(&app).contains("bob (unverified) · 127.0.0.1:4002 · offline · seen 22:13 "),
        "{}",
        header(&app)
    );
    assert!(!header(&app).contains("rtt"));
    app.set_now(at(2 * 24 * 60));
    assert!(
        header(&app).contains("offline · seen 14 Nov 22:13"),
        "{}",
        header(&app)
    );
    app.on_engine(EngineEvent::Presence {
        peer: addr(BOB),
        online: true,
    });
    assert!(header(&app).contains("· online ·"), "{}", header(&app));
    assert_eq!(app.peers()[1].online(), Some(true));
}

#[test]
fn plain_contacts_and_strangers_show_no_presence() {
    let mut app = app();
    app.on_engine(EngineEvent::Presence {
        peer: addr(PY),
        online: true,
    });
    open(&mut app, 2);
    let screen = format!("{}", draw(&app, 80, 8).backend());
    assert!(!screen.contains("online"), "{screen}");
    assert!(screen.contains("→ pyscript"), "{screen}");
}

#[test]
fn an_engine_error_shows_until_the_next_key() {
    let mut app = app();
    app.on_engine(EngineEvent::Error(
        "cannot write the history file /x/y: disk full\nsecond line\x1b[31m".into(),
    ));
    let Some(Notice::Error(text)) = app.notice() else {
        panic!("no error shown");
    };
    assert!(!text.contains('\n') && !text.contains('\x1b'), "{text:?}");
    let status = format!("{}", draw(&app, 100, 10).backend());
    let last = status.lines().last().unwrap().to_string();
    assert!(last.contains("disk full ↵ second line^[[31m"), "{last}");
    press(&mut app, KeyCode::Down);
    assert!(app.notice().is_none());
    assert_eq!(app.selected(), 1, "the key still does its job");
}

// ---------------------------------------------------------------- contacts from the UI

/// An app with a stranger's entry (index 3) selected.
fn app_with_stranger() -> App {
    let mut app = app();
    app.on_engine(received_plain(STRANGER, "who is this?\n", 0));
    press(&mut app, KeyCode::End);
    assert_eq!(app.selected(), 3);
    app
}

fn prompt_text(app: &App) -> String {
    app.prompt().unwrap().text()
}

#[test]
fn snapshot_add_contact_prompt() {
    let mut app = app_with_stranger();
    press(&mut app, KeyCode::Char('a'));
    type_text(&mut app, "carol", at(0));
    assert_snapshot!(draw(&app, 80, 14).backend());
}

#[test]
fn a_on_a_stranger_asks_for_a_name_and_adds_it() {
    let mut app = app_with_stranger();
    press(&mut app, KeyCode::Char('a'));
    let prompt = app.prompt().unwrap();
    assert_eq!(prompt.question(), "Name for 127.0.0.1:5555:");
    assert_eq!(
        prompt.kind(),
        &PromptKind::Add {
            addr: addr(STRANGER)
        }
    );
    assert_eq!(prompt_text(&app), "");
    // Keys go to the prompt: q is a letter here, not quit.
    type_text(&mut app, "caqx", at(0));
    press(&mut app, KeyCode::Backspace);
    press(&mut app, KeyCode::Backspace);
    type_text(&mut app, "rol", at(0));
    assert_eq!(prompt_text(&app), "carol");
    let effects = press(&mut app, KeyCode::Enter);
    let [
        Effect::AddContact {
            name,
            addr: to,
            plain,
        },
    ] = effects.as_slice()
    else {
        panic!("expected an add, got {effects:?}");
    };
    assert_eq!(
        (name.as_str(), *to, *plain),
        ("carol", addr(STRANGER), true)
    );
    assert!(app.prompt().is_none());
}

#[test]
fn esc_cancels_a_prompt_and_enter_needs_a_free_name() {
    let mut app = app_with_stranger();
    press(&mut app, KeyCode::Char('a'));
    type_text(&mut app, "x", at(0));
    assert!(press(&mut app, KeyCode::Esc).is_empty());
    assert!(app.prompt().is_none());
    assert_eq!(app.focus(), Focus::Contacts);

    press(&mut app, KeyCode::Char('a'));
    assert!(press(&mut app, KeyCode::Enter).is_empty(), "an empty name");
    assert!(app.prompt().unwrap().error().is_some());
    type_text(&mut app, "  bob ", at(0));
    assert!(press(&mut app, KeyCode::Enter).is_empty(), "bob is taken");
    assert_eq!(app.prompt().unwrap().error(), Some("bob is already taken."));
    type_text(&mut app, "b", at(0));
    assert_eq!(
        app.prompt().unwrap().error(),
        None,
        "typing clears the complaint"
    );
    app.on_paste("\x1b[31maddr-x\nsecond line".into());
    assert_eq!(
        prompt_text(&app),
        "  bob b[31maddr-x",
        "one line, no controls"
    );
    for _ in 0..prompt_text(&app).chars().count() {
        press(&mut app, KeyCode::Backspace);
    }
    type_text(&mut app, "addr-1", at(0));
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    assert!(app.prompt().unwrap().error().unwrap().contains("addr-"));
}

#[test]
fn prompts_take_cjk_names() {
    let mut app = app_with_stranger();
    press(&mut app, KeyCode::Char('a'));
    type_text(&mut app, "小明明", at(0));
    press(&mut app, KeyCode::Backspace);
    assert_eq!(prompt_text(&app), "小明");
    let screen = format!("{}", draw(&app, 80, 14).backend());
    assert!(screen.contains("小明"), "{screen}");
    let effects = press(&mut app, KeyCode::Enter);
    assert!(
        matches!(effects.as_slice(), [Effect::AddContact { name, .. }] if name == "小明"),
        "{effects:?}"
    );
}

#[test]
fn alt_enter_in_a_prompt_confirms_instead_of_adding_a_line() {
    let mut app = app_with_stranger();
    press(&mut app, KeyCode::Char('a'));
    type_text(&mut app, "carol", at(0));
    press_mod(&mut app, KeyCode::Char('m'), KeyModifiers::CONTROL);
    assert_eq!(prompt_text(&app), "carol");
    assert_eq!(app.prompt().unwrap().input().lines().len(), 1);
    let effects = press_mod(&mut app, KeyCode::Enter, KeyModifiers::ALT);
    assert!(matches!(effects.as_slice(), [Effect::AddContact { .. }]));
}

#[test]
fn n_renames_a_contact_starting_from_its_name() {
    let mut app = app();
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char('n'));
    assert_eq!(app.prompt().unwrap().question(), "Rename bob to:");
    assert_eq!(prompt_text(&app), "bob");
    assert!(
        press(&mut app, KeyCode::Enter).is_empty(),
        "same name: nothing to do"
    );
    assert!(app.prompt().is_none());

    press(&mut app, KeyCode::Char('n'));
    for _ in 0..3 {
        press(&mut app, KeyCode::Backspace);
    }
    type_text(&mut app, "鲍勃", at(0));
    let effects = press(&mut app, KeyCode::Enter);
    let [Effect::RenameContact { from, to }] = effects.as_slice() else {
        panic!("expected a rename, got {effects:?}");
    };
    assert_eq!((from.as_str(), to.as_str()), ("bob", "鲍勃"));
}

#[test]
fn d_asks_before_removing_a_contact() {
    let mut app = app();
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char('d'));
    assert_eq!(
        app.prompt().unwrap().question(),
        "Remove bob from contacts? y/n"
    );
    assert!(
        press(&mut app, KeyCode::Char('q')).is_empty(),
        "other keys wait"
    );
    assert!(app.prompt().is_some());
    assert!(press(&mut app, KeyCode::Char('n')).is_empty());
    assert!(app.prompt().is_none());
    press(&mut app, KeyCode::Char('d'));
    assert!(press(&mut app, KeyCode::Esc).is_empty());
    assert!(app.prompt().is_none());
    press(&mut app, KeyCode::Char('d'));
    let effects = press(&mut app, KeyCode::Char('y'));
    assert!(
        matches!(effects.as_slice(), [Effect::RemoveContact { name }] if name == "bob"),
        "{effects:?}"
    );
}

#[test]
fn contact_keys_say_why_they_do_nothing() {
    let mut app = app();
    press(&mut app, KeyCode::Char('a'));
    assert!(app.prompt().is_none());
    assert!(matches!(app.notice(), Some(Notice::Info(t)) if t.contains("already in contacts")));
    let mut app = app_with_stranger();
    press(&mut app, KeyCode::Char('d'));
    assert!(app.prompt().is_none());
    assert!(matches!(app.notice(), Some(Notice::Info(t)) if t.contains("not in contacts")));
    // n on a stranger names it, as a does.
    press(&mut app, KeyCode::Char('n'));
    assert!(matches!(
        app.prompt().unwrap().kind(),
        PromptKind::Add { .. }
    ));
}

#[test]
fn f5_asks_for_a_reload() {
    let mut app = app();
    assert!(matches!(
        press(&mut app, KeyCode::F(5)).as_slice(),
        [Effect::ReloadContacts]
    ));
    open(&mut app, 0);
    assert!(matches!(
        press(&mut app, KeyCode::F(5)).as_slice(),
        [Effect::ReloadContacts]
    ));
    assert_eq!(app.input_text(), "");
}

// ---------------------------------------------------------------- set_contacts

fn contact(name: &str, at: &str) -> Contact {
    Contact {
        name: name.into(),
        addr: addr(at),
        plain: false,
        key: None,
    }
}

fn with_contacts(contacts: Vec<Contact>) -> ContactBook {
    ContactBook {
        contacts,
        ..book(true)
    }
}

fn renames(effects: &[Effect]) -> Vec<(String, String)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send(Command::RenameHistory { from, to }) => Some((from.clone(), to.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn set_contacts_keeps_messages_unread_presence_and_the_open_conversation() {
    let mut app = app();
    open(&mut app, 1);
    let tag = send(&mut app, "hello bob", at(0));
    app.on_engine(received(ALICE, "psst", 0));
    app.on_engine(EngineEvent::Presence {
        peer: addr(BOB),
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
            addr: addr(PY),
            plain: true,
            key: None,
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
    app.on_engine(EngineEvent::Delivered { to: addr(BOB), tag });
    assert_eq!(marks(&app, 0), [Some(Mark::Delivered)]);
}

#[test]
fn adding_a_stranger_moves_its_history_to_the_new_name() {
    let mut app = app_with_stranger();
    let mut contacts = book(true).contacts;
    contacts.push(Contact {
        name: "carol".into(),
        addr: addr(STRANGER),
        plain: true,
        key: None,
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
            addr: addr(PY),
            plain: true,
            key: None,
        },
    ]);
    let effects = app.set_contacts(&book);
    assert!(renames(&effects).is_empty(), "{effects:?}");
    // And the prompt refuses the name in the first place.
    let mut app = crate::app();
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
        peer: addr(BOB),
        online: true,
    });
    let mut contacts = book(true).contacts;
    contacts[1].addr = addr("127.0.0.1:4999");
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

// ---------------------------------------------------------------- keys: verified and unverified

/// The book with every kind of peer the trust marks tell apart: alice and carol keyed, bob
/// without a key, pyscript plain; `require_keys` as given.
fn trust_book(require_keys: bool) -> ContactBook {
    let mut book = book(true);
    book.me.require_keys = require_keys;
    book.contacts.insert(
        2,
        Contact {
            name: "carol".into(),
            addr: addr("127.0.0.1:4010"),
            plain: false,
            key: Some([3; 32]),
        },
    );
    book
}

fn trust_app(require_keys: bool, width: u16, height: u16) -> App {
    let mut app = App::new(
        &trust_book(require_keys),
        addr("0.0.0.0:4000"),
        TimeZone::UTC,
    );
    app.on_resize(width, height);
    app
}

fn contact_string(name: &str, at: &str, key: [u8; 32]) -> String {
    qqchat::identity::contact_string(name, addr(at), &key)
}

fn screen(app: &App, width: u16, height: u16) -> String {
    format!("{}", draw(app, width, height).backend())
}

fn first_line(app: &App, width: u16, height: u16) -> String {
    screen(app, width, height)
        .lines()
        .next()
        .unwrap()
        .to_string()
}

/// The foreground of the first cell of the last place on row `y` that shows `text` (the
/// conversation is right of the contact list).
fn colour_of(terminal: &Terminal<TestBackend>, y: u16, text: &str) -> Color {
    let buffer = terminal.backend().buffer();
    let row: String = (0..buffer.area.width)
        .map(|x| buffer[(x, y)].symbol().to_string())
        .collect();
    let column = row.rfind(text).unwrap();
    // Columns, not bytes: every cell before it is one character here.
    let x = row[..column].chars().count() as u16;
    buffer[(x, y)].fg
}

#[test]
fn snapshot_keyed_and_unverified_contacts() {
    let mut app = trust_app(false, 80, 12);
    app.on_engine(EngineEvent::Presence {
        peer: addr(ALICE),
        online: true,
    });
    app.on_engine(EngineEvent::Link {
        peer: addr(BOB),
        link: link(Some(true), Some(at(0)), Some(420), 0.0),
    });
    app.on_engine(received_plain(STRANGER, "who is this?\n", 0));
    open(&mut app, 1);
    app.on_engine(received(BOB, "it's me, bob", 0));
    send(&mut app, "prove it", at(1));
    assert_snapshot!(draw(&app, 80, 12).backend());
}

#[test]
fn snapshot_keyed_contact_conversation() {
    let mut app = trust_app(false, 80, 12);
    open(&mut app, 0);
    app.on_engine(received(ALICE, "this one is signed", 0));
    assert_snapshot!(draw(&app, 80, 12).backend());
}

#[test]
fn an_unverified_peer_is_marked_wherever_its_name_is_shown() {
    let mut app = trust_app(false, 100, 12);
    open(&mut app, 1);
    app.on_engine(EngineEvent::Presence {
        peer: addr(BOB),
        online: true,
    });
    app.on_engine(received(BOB, "hello", 0));
    assert_eq!(app.trust(app.open_peer().unwrap()), Trust::Unverified);
    let terminal = draw(&app, 100, 12);
    let text = format!("{}", terminal.backend());
    let header = text.lines().next().unwrap();
    assert!(
        header.contains("bob (unverified) · 127.0.0.1:4002 · online"),
        "{header}"
    );
    assert_eq!(colour_of(&terminal, 0, "(unverified)"), Color::Yellow);
    assert!(text.contains("bob unverified"), "in the list: {text}");
    assert!(
        text.contains("Message to bob (unverified)"),
        "input title: {text}"
    );
    // The sender column warns; a keyed sender's name does not.
    assert_eq!(colour_of(&terminal, 2, "bob"), Color::Yellow);

    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Enter);
    app.on_engine(received(ALICE, "hello", 0));
    assert_eq!(app.trust(app.open_peer().unwrap()), Trust::Keyed);
    let terminal = draw(&app, 100, 12);
    let text = format!("{}", terminal.backend());
    let header = text.lines().next().unwrap();
    assert!(header.contains(" alice · 127.0.0.1:4001"), "{header}");
    assert!(text.contains("Message to alice "), "{text}");
    assert!(!text.contains("alice unverified"), "{text}");
    assert_eq!(colour_of(&terminal, 2, "alice"), Color::Magenta);
}

#[test]
fn strangers_and_plain_contacts_are_unverified() {
    let mut app = trust_app(false, 80, 14);
    app.on_engine(received_plain(STRANGER, "hi\n", 0));
    let trust: Vec<Trust> = app.peers().iter().map(|p| app.trust(p)).collect();
    assert_eq!(
        trust,
        [
            Trust::Keyed,
            Trust::Unverified,
            Trust::Keyed,
            Trust::Unverified,
            Trust::Unverified
        ]
    );
    open(&mut app, 4);
    assert!(
        first_line(&app, 80, 14).contains("127.0.0.1:5555 (unverified) · not in contacts"),
        "{}",
        first_line(&app, 80, 14)
    );
    // The mark stays at narrow widths, in the list and in both titles; the name is cut first.
    let narrow = screen(&app, 40, 14);
    let lines: Vec<&str> = narrow.lines().collect();
    assert!(lines[0].contains("127.0.0.1… (unverified)"), "{narrow}");
    assert!(lines[2].starts_with("\"│  · bob ?  │"), "{narrow}");
    assert!(lines[6].starts_with("\"│▸ 127.0… ? │"), "{narrow}");
    assert!(lines[10].contains("Message to 127.0.0.1… ?"), "{narrow}");
}

#[test]
fn set_contacts_updates_keyed_and_unverified() {
    let mut app = trust_app(false, 80, 14);
    app.on_engine(received(ALICE, "hi", 0));
    assert_eq!(app.trust(&app.peers()[1]), Trust::Unverified);
    // bob gains a key, carol loses hers, alice leaves the file with her messages.
    let mut contacts = trust_book(false).contacts;
    contacts.remove(0);
    contacts[0].key = Some([2; 32]);
    contacts[1].key = None;
    app.set_contacts(&with_contacts(contacts));
    let names: Vec<_> = app.peers().iter().map(|p| p.name()).collect();
    assert_eq!(names, ["bob", "carol", "pyscript", "alice"]);
    let trust: Vec<Trust> = app.peers().iter().map(|p| app.trust(p)).collect();
    assert_eq!(
        trust,
        [
            Trust::Keyed,
            Trust::Unverified,
            Trust::Unverified,
            Trust::Unverified
        ],
        "a key no longer in the book vouches for nobody"
    );
    assert!(app.peers()[0].is_keyed());
}

#[test]
fn snapshot_paste_contact_string_prompt() {
    let mut app = trust_app(false, 80, 14);
    press_mod(&mut app, KeyCode::Char('A'), KeyModifiers::SHIFT);
    app.on_paste(contact_string("dave", "127.0.0.1:4020", [4; 32]));
    assert_snapshot!(draw(&app, 80, 14).backend());
}

#[test]
fn snapshot_bad_contact_string() {
    let mut app = trust_app(false, 80, 14);
    press_mod(&mut app, KeyCode::Char('A'), KeyModifiers::SHIFT);
    app.on_paste("dave@127.0.0.1:4020".into());
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    assert_snapshot!(draw(&app, 80, 14).backend());
}

#[test]
fn shift_a_pastes_a_contact_string_and_adds_it() {
    let mut app = trust_app(false, 80, 14);
    press_mod(&mut app, KeyCode::Char('A'), KeyModifiers::SHIFT);
    let prompt = app.prompt().unwrap();
    assert_eq!(prompt.kind(), &PromptKind::AddKeyed);
    assert_eq!(
        prompt.question(),
        "Paste a contact string (from qqchat id):"
    );
    // As a terminal pastes it: with a line ending.
    app.on_paste(format!(
        "{}\n",
        contact_string("dave", "127.0.0.1:4020", [4; 32])
    ));
    let effects = press(&mut app, KeyCode::Enter);
    let [
        Effect::AddKeyedContact {
            name,
            addr: to,
            key,
        },
    ] = effects.as_slice()
    else {
        panic!("expected an add, got {effects:?}");
    };
    assert_eq!(
        (name.as_str(), to.as_str(), *key),
        ("dave", "127.0.0.1:4020", [4; 32])
    );
    assert!(app.prompt().is_none());

    // An empty book has nothing to select, and A still works.
    let mut app = App::new(
        &with_contacts(Vec::new()),
        addr("0.0.0.0:4000"),
        TimeZone::UTC,
    );
    press(&mut app, KeyCode::Char('A'));
    // Line breaks as CR, as some terminals paste them: only the first line is taken.
    app.on_paste(format!(
        "\r{}\rsecond line\r",
        contact_string("dave", "[::1]:4020", [4; 32])
    ));
    let effects = press(&mut app, KeyCode::Enter);
    assert!(
        matches!(effects.as_slice(), [Effect::AddKeyedContact { addr, .. }] if addr == "[::1]:4020"),
        "{effects:?}"
    );
}

#[test]
fn a_bad_contact_string_keeps_the_prompt_open_with_the_reason() {
    let mut app = trust_app(false, 80, 14);
    press(&mut app, KeyCode::Char('A'));
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    assert!(
        app.prompt().unwrap().error().unwrap().contains("Paste"),
        "an empty prompt asks for a paste"
    );
    app.on_paste("qqchat:dave@127.0.0.1:4020?key=short".into());
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    let prompt = app.prompt().unwrap();
    assert_eq!(prompt.kind(), &PromptKind::AddKeyed, "still open");
    let error = prompt.error().unwrap();
    assert!(error.contains("not 44 characters of base64"), "{error}");
    assert_eq!(
        prompt_text(&app),
        "qqchat:dave@127.0.0.1:4020?key=short",
        "the text stays, to be fixed"
    );
    press(&mut app, KeyCode::Backspace);
    assert_eq!(
        app.prompt().unwrap().error(),
        None,
        "typing clears the complaint"
    );
    assert!(press(&mut app, KeyCode::Esc).is_empty());
    assert!(app.prompt().is_none());
}

#[test]
fn a_taken_name_from_a_contact_string_asks_for_another() {
    let mut app = trust_app(false, 80, 14);
    press(&mut app, KeyCode::Char('A'));
    app.on_paste(contact_string("bob", "127.0.0.1:4020", [4; 32]));
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    let prompt = app.prompt().unwrap();
    assert_eq!(
        prompt.kind(),
        &PromptKind::NameKeyed {
            addr: "127.0.0.1:4020".into(),
            key: [4; 32]
        }
    );
    assert_eq!(prompt.question(), "Name for 127.0.0.1:4020:");
    assert_eq!(prompt.error(), Some("bob is already taken."));
    assert_eq!(prompt_text(&app), "bob", "prefilled");
    assert!(screen(&app, 80, 14).contains("bob is already taken."));
    type_text(&mut app, "by", at(0));
    let effects = press(&mut app, KeyCode::Enter);
    let [Effect::AddKeyedContact { name, addr, key }] = effects.as_slice() else {
        panic!("expected an add, got {effects:?}");
    };
    assert_eq!(
        (name.as_str(), addr.as_str(), *key),
        ("bobby", "127.0.0.1:4020", [4; 32])
    );
}

#[test]
fn a_contact_string_for_a_contact_already_there_is_refused() {
    let mut app = trust_app(false, 80, 14);
    press(&mut app, KeyCode::Char('A'));
    app.on_paste(contact_string("robert", BOB, [4; 32]));
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    let error = app.prompt().unwrap().error().unwrap().to_string();
    assert!(error.contains("already in contacts as bob"), "{error}");
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('A'));
    app.on_paste(contact_string("alicia", "127.0.0.1:4020", ALICE_KEY));
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    let error = app.prompt().unwrap().error().unwrap().to_string();
    assert!(error.contains("already alice's"), "{error}");
}

#[test]
fn a_contact_string_for_a_stranger_takes_its_conversation() {
    let mut app = app_with_stranger();
    press(&mut app, KeyCode::Char('A'));
    app.on_paste(contact_string("carol", STRANGER, [5; 32]));
    let effects = press(&mut app, KeyCode::Enter);
    assert!(
        matches!(effects.as_slice(), [Effect::AddKeyedContact { name, .. }] if name == "carol"),
        "{effects:?}"
    );
    // What the front end does next: the file has carol, and the book is reloaded.
    let mut contacts = book(true).contacts;
    contacts.push(Contact {
        name: "carol".into(),
        addr: addr(STRANGER),
        plain: false,
        key: Some([5; 32]),
    });
    let effects = app.set_contacts(&with_contacts(contacts));
    assert_eq!(
        renames(&effects),
        [("addr-127.0.0.1:5555".into(), "carol".into())]
    );
    let carol = &app.peers()[3];
    assert_eq!((carol.name(), carol.messages().len()), ("carol", 1));
    assert_eq!(app.trust(carol), Trust::Keyed);
}

#[test]
fn snapshot_require_keys_refused() {
    let mut app = trust_app(true, 80, 12);
    app.on_engine(EngineEvent::Presence {
        peer: addr(ALICE),
        online: true,
    });
    open(&mut app, 1);
    assert_snapshot!(draw(&app, 80, 12).backend());
}

#[test]
fn require_keys_blocks_sending_to_an_unkeyed_contact() {
    let mut app = trust_app(true, 80, 12);
    app.load_history(vec![conversation(
        "bob",
        vec![out(7, BOB, 0, "from before", MessageState::Failed)],
    )]);
    open(&mut app, 1);
    assert_eq!(app.trust(app.open_peer().unwrap()), Trust::Refused);
    type_text(&mut app, "hi bob", at(0));
    assert!(press(&mut app, KeyCode::Enter).is_empty(), "nothing sent");
    let Some(Notice::Error(text)) = app.notice() else {
        panic!("no error shown");
    };
    assert!(text.contains("bob has no key"), "{text}");
    assert_eq!(app.input_text(), "hi bob", "the text is kept");
    assert!(
        press_mod(&mut app, KeyCode::Char('r'), KeyModifiers::CONTROL).is_empty(),
        "nor retried"
    );
    assert!(matches!(app.notice(), Some(Notice::Error(_))));
    assert_eq!(marks(&app, 1), [Some(Mark::Failed)]);
    let text = screen(&app, 80, 12);
    assert!(text.contains("bob (no key: refused)"), "{text}");

    // A keyed contact is written to as ever.
    press(&mut app, KeyCode::Esc);
    open(&mut app, 0);
    send(&mut app, "hi alice", at(0));
}

#[test]
fn a_long_error_is_cut_in_the_status_line_and_whole_in_the_help() {
    let mut app = trust_app(false, 80, 30);
    let refusal = "REFUSED: 127.0.0.1:4002 claimed to be bob with another key (AAAA), not the \
                   one in your contacts (BBBB). If bob really made a new identity, put the new \
                   key in contacts.toml; if not, someone is impersonating bob.";
    app.on_engine(EngineEvent::Error(refusal.into()));
    let text = screen(&app, 80, 30);
    // Each line of the backend's text is quoted.
    let status = text.lines().last().unwrap().trim_matches('"');
    assert!(
        status.contains("REFUSED: 127.0.0.1:4002 claimed"),
        "{status}"
    );
    assert!(status.trim_end().ends_with("… F1 shows all"), "{status}");
    press(&mut app, KeyCode::F(1));
    assert!(app.help_open());
    let help = screen(&app, 80, 30);
    assert!(help.contains("Last error"), "{help}");
    assert!(help.contains("impersonating bob."), "{help}");
    // A short one fits as it is.
    press(&mut app, KeyCode::Esc);
    app.on_engine(EngineEvent::Error("disk full".into()));
    let status = screen(&app, 80, 30).lines().last().unwrap().to_string();
    assert!(!status.contains("F1 shows all"), "{status}");
}

#[test]
fn snapshot_help_with_last_error() {
    let mut app = app_sized(80, 34);
    app.on_engine(EngineEvent::Error(
        "refused a handshake from 127.0.0.1:4999: its key AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
         is in none of your contacts (add it with qqchat add)"
            .into(),
    ));
    press(&mut app, KeyCode::F(1));
    assert_snapshot!(draw(&app, 80, 34).backend());
}

#[test]
fn the_full_history_replaces_the_recent_part_and_keeps_what_came_since() {
    let mut app = app();
    // At start only the last part of alice's conversation is read...
    let full = history();
    let recent: Vec<Conversation> = full
        .iter()
        .map(|c| {
            conversation(
                &c.key,
                c.messages[c.messages.len().saturating_sub(2)..].to_vec(),
            )
        })
        .collect();
    app.load_history(recent);
    open(&mut app, 0);
    assert_eq!(app.peers()[0].messages().len(), 2);
    // ...then a message arrives and one is sent, before the whole history is read.
    app.on_engine(received(ALICE, "live one", 10));
    let tag = send(&mut app, "live two", at(11));
    app.on_engine(EngineEvent::History(full));
    let texts: Vec<String> = app.peers()[0]
        .messages()
        .iter()
        .map(|m| m.display_text().into_owned())
        .collect();
    assert_eq!(
        texts,
        [
            "morning!",
            "hi alice",
            "lunch at noon?",
            "never mind",
            "see you",
            "lost",
            "live one",
            "live two"
        ]
    );
    // The live message's tag still settles it.
    app.on_engine(EngineEvent::Delivered {
        to: addr(ALICE),
        tag,
    });
    assert_eq!(app.peers()[0].messages()[7].mark(), Some(Mark::Delivered));
    // A queued message from the history settles too.
    app.on_engine(EngineEvent::Delivered {
        to: addr(ALICE),
        tag: 3,
    });
    assert_eq!(app.peers()[0].messages()[2].mark(), Some(Mark::Delivered));
}

#[test]
fn every_page_shows_the_lines_of_the_whole_conversation() {
    use qqchat::ui::conversation::message_lines;
    use ratatui::buffer::Buffer;
    use ratatui::layout::Rect;
    use ratatui::text::Line;
    use ratatui::widgets::{Paragraph, Widget};

    let (width, height) = (60, 14);
    let mut app = app_sized(width, height);
    let texts = [
        "short",
        "a message long enough to wrap over two lines of this narrow pane, or three",
        "你好世界，这是一条很长的中文消息，需要在几行上换行显示才行",
        "two\nlines",
        "",
    ];
    let messages = (0..60u64)
        .map(|i| {
            let text = format!("{i} {}", texts[i as usize % texts.len()]);
            // A day line now and then, and a hint under some own messages.
            let minutes = i as i64 * 97;
            match i % 4 {
                0 => inc(i, ALICE, minutes, &text),
                1 => out(i, ALICE, minutes, &text, MessageState::Delivered),
                2 => out(i, ALICE, minutes, &text, MessageState::Failed),
                _ => out(i, ALICE, minutes, &text, MessageState::Queued),
            }
        })
        .collect();
    app.load_history(vec![conversation("alice", messages)]);
    open(&mut app, 0);
    let area = Rect::new(0, 0, width, height);
    let inner = qqchat::layout::conversation_text(area, app.input().lines().len());
    let peer = &app.peers()[0];
    let all: Vec<Line> = (0..peer.messages().len())
        .flat_map(|i| message_lines(&app, peer, i, inner.width))
        .collect();
    let mut pages = 0;
    loop {
        let terminal = draw(&app, width, height);
        let bottom = all.len() - app.scroll();
        let top = bottom.saturating_sub(usize::from(inner.height));
        let mut want = Buffer::empty(area);
        Paragraph::new(all[top..bottom].to_vec()).render(inner, &mut want);
        let got = terminal.backend().buffer();
        for y in inner.top()..inner.bottom() {
            for x in inner.left()..inner.right() {
                assert_eq!(
                    got[(x, y)],
                    want[(x, y)],
                    "({x}, {y}) at scroll {}",
                    app.scroll()
                );
            }
        }
        let scroll = app.scroll();
        press(&mut app, KeyCode::PageUp);
        if app.scroll() == scroll {
            break;
        }
        pages += 1;
    }
    assert_eq!(
        all.len() - app.scroll(),
        usize::from(inner.height),
        "at the top"
    );
    assert!(pages > 10, "{pages} pages");
}
