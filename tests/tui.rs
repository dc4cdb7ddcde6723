//! The TUI without a terminal: `App` behaviour from keys and engine events, and snapshots of
//! each screen state drawn on a `TestBackend`.
// Test data is written here by hand; a bad value should fail the test loudly.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use insta::assert_snapshot;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use qqchat::app::{App, Effect, Focus, Mark};
use qqchat::contacts::{Contact, ContactBook, Me};
use qqchat::engine::{Command, EngineEvent};
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

fn book(bell: bool) -> ContactBook {
    ContactBook {
        me: Me {
            name: "me".into(),
            listen: addr("0.0.0.0:4000"),
            bell,
        },
        contacts: vec![
            Contact {
                name: "alice".into(),
                addr: addr(ALICE),
                plain: false,
            },
            Contact {
                name: "bob".into(),
                addr: addr(BOB),
                plain: false,
            },
            Contact {
                name: "pyscript".into(),
                addr: addr(PY),
                plain: true,
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
