//! Where the eye goes: the first screen, the one cursor in the list, the focused pane and
//! the picked message.

use crossterm::event::KeyCode;
use insta::assert_snapshot;
use jiff::tz::TimeZone;
use qqchat::app::{App, Focus};
use qqchat::contacts::{Contact, ContactBook, Me};
use ratatui::style::{Color, Modifier};

use crate::support::{ALICE, addr, app, at, draw, open, press, received, screen, send};

/// A book with only the demo's bot in it.
fn bot_book() -> ContactBook {
    ContactBook {
        me: Me {
            name: "you".into(),
            listen: addr("127.0.0.1:4000"),
            bell: true,
            require_keys: false,
            keepalive: 25,
            stun: Vec::new(),
            relay: None,
            downloads: None,
            max_file_size: None,
            notify: qqchat::contacts::Notify::All,
            notify_preview: true,
            mouse: true,
            notify_command: None,
            on_message: None,
            strangers: qqchat::contacts::Strangers::Requests,
            dht: false,
            dht_bootstrap: None,
        },
        contacts: vec![Contact {
            name: "bot".into(),
            addrs: vec![addr("127.0.0.1:4100")],
            plain: false,
            key: None,
            ipmsg: false,
            encoding: None,
            accept_files: false,
            mute: false,
        }],
        lan: Default::default(),
    }
}

#[test]
fn with_one_contact_its_conversation_opens_ready_to_type() {
    let mut app = App::new(&bot_book(), addr("127.0.0.1:4000"), TimeZone::UTC);
    app.on_resize(80, 20);
    app.open_if_only_contact();
    assert_eq!(app.open(), Some(0));
    assert_eq!(app.focus(), Focus::Input);
    assert_snapshot!(draw(&app, 80, 20).backend());
}

#[test]
fn with_several_contacts_the_list_comes_first() {
    let mut app = app();
    app.open_if_only_contact();
    assert_eq!(app.open(), None);
    assert_eq!(app.focus(), Focus::Contacts);
}

#[test]
fn the_list_has_one_cursor_and_it_follows_the_open_conversation() {
    let mut app = app();
    open(&mut app, 1);
    let shown = screen(&app, 80, 20);
    assert!(
        !shown.contains("│▸"),
        "no second marker in the list: {shown}"
    );
    // Moved off the open conversation in the list, then back into it with Tab: the cursor
    // comes back to the open conversation, so the list never shows two rows marked.
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Down);
    assert_eq!(app.selected(), 2);
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.focus(), Focus::Conversation);
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.selected(), 1);
    let terminal = draw(&app, 80, 20);
    let buffer = terminal.backend().buffer();
    // Row 2 is bob's; only it is marked, reversed while the list has the keys.
    assert!(buffer[(5, 2)].modifier.contains(Modifier::REVERSED));
    assert!(!buffer[(5, 1)].modifier.contains(Modifier::REVERSED));
    assert!(!buffer[(5, 3)].modifier.contains(Modifier::REVERSED));
}

#[test]
fn the_focused_pane_has_a_double_border_and_a_marked_title() {
    let mut app = app();
    let list = screen(&app, 80, 20);
    assert!(list.starts_with("\"╔ ▸ Contacts ═"), "{list}");
    open(&mut app, 0);
    let input = screen(&app, 80, 20);
    assert!(input.contains("╔ ▸ Message to alice ═"), "{input}");
    assert!(input.starts_with("\"╭ Contacts ─"), "{input}");
    press(&mut app, KeyCode::BackTab);
    let conversation = screen(&app, 80, 20);
    assert!(conversation.contains("╔ ▸ alice"), "{conversation}");
}

#[test]
fn snapshot_picked_message_is_marked_in_the_gutter() {
    let mut app = app();
    open(&mut app, 0);
    app.on_engine(received(ALICE, "are you there?", 0));
    send(&mut app, "yes", at(1));
    send(
        &mut app,
        "a longer answer that wraps onto a second line in this narrow pane",
        at(2),
    );
    press(&mut app, KeyCode::BackTab);
    press(&mut app, KeyCode::Up);
    let terminal = draw(&app, 60, 14);
    let cell = &terminal.backend().buffer()[(30, 4)];
    assert_eq!(cell.bg, Color::Blue, "the band is plain to see");
    assert_snapshot!(terminal.backend());
}
