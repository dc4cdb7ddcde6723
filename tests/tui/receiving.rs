//! Messages arriving: unread counts, the bell, strangers, sanitizing.

use crossterm::event::KeyCode;
use jiff::tz::TimeZone;
use qqchat::app::{App, Effect};
use qqchat::engine::Command;

use crate::support::{
    ALICE, BOB, STRANGER, addr, app, at, book, open, peer, press, received, received_plain,
    type_text,
};

#[test]
fn a_message_to_a_closed_conversation_counts_as_unread_and_rings() {
    let mut app = app();
    open(&mut app, 0);
    let effects = app.on_engine(received(BOB, "psst", 0));
    assert!(
        matches!(effects.as_slice(), [Effect::Bell, Effect::Notify { title, body }]
            if title == "bob" && body == "psst"),
        "{effects:?}"
    );
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
    let effects = app.on_engine(received(BOB, "psst", 0));
    assert!(
        matches!(effects.as_slice(), [Effect::Notify { .. }]),
        "no bell, the notification stays: {effects:?}"
    );
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
    assert_eq!((*to, *plain), (peer(STRANGER), true));
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

#[test]
fn notify_contacts_leaves_strangers_out_and_none_leaves_everyone_out() {
    use qqchat::contacts::Notify;
    let mut app = app();
    open(&mut app, 0);
    app.set_notify(Notify::Contacts, true);
    let effects = app.on_engine(received_plain(STRANGER, "buy now", 0));
    assert!(matches!(effects.as_slice(), [Effect::Bell]), "{effects:?}");
    let effects = app.on_engine(received(BOB, "hi", 0));
    assert!(matches!(
        effects.as_slice(),
        [Effect::Bell, Effect::Notify { .. }]
    ));
    app.set_notify(Notify::None, true);
    let effects = app.on_engine(received(BOB, "hi", 1));
    assert!(matches!(effects.as_slice(), [Effect::Bell]), "{effects:?}");
}

#[test]
fn without_preview_a_notification_says_only_new_message() {
    let mut app = app();
    open(&mut app, 0);
    app.set_notify(qqchat::contacts::Notify::All, false);
    let effects = app.on_engine(received(BOB, "the secret plan", 0));
    assert!(
        matches!(effects.as_slice(), [Effect::Bell, Effect::Notify { title, body }]
            if title == "qqchat" && body == "new message"),
        "{effects:?}"
    );
}

#[test]
fn the_open_conversation_notifies_while_the_terminal_is_in_the_background() {
    let mut app = app();
    open(&mut app, 0);
    assert!(app.on_engine(received(ALICE, "here", 0)).is_empty());
    app.set_focused(false);
    let effects = app.on_engine(received(ALICE, "still there?", 1));
    assert!(
        matches!(effects.as_slice(), [Effect::Notify { title, .. }] if title == "alice"),
        "a notification, no bell: {effects:?}"
    );
    app.set_focused(true);
    assert!(app.on_engine(received(ALICE, "ok", 2)).is_empty());
}

#[test]
fn a_muted_contact_neither_rings_nor_notifies_but_counts_as_unread() {
    let mut b = book(true);
    for c in b.contacts.iter_mut().filter(|c| c.name == "bob") {
        c.mute = true;
    }
    let mut app = App::new(&b, addr("0.0.0.0:4000"), TimeZone::UTC);
    open(&mut app, 0);
    let effects = app.on_engine(received(BOB, "psst", 0));
    assert!(effects.is_empty(), "{effects:?}");
    assert_eq!(app.peers()[1].unread(), 1);
}

#[test]
fn a_request_dropped_by_the_engine_leaves_the_list_and_its_open_conversation() {
    let mut app = crate::support::app_with_stranger();
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.open(), Some(3));
    // Someone else's request stays; this one goes.
    app.on_engine(qqchat::engine::EngineEvent::RequestDropped {
        key: qqchat::store::ConversationKey::new("addr-127.0.0.1:9"),
    });
    assert_eq!(app.peers().len(), 4);
    app.on_engine(qqchat::engine::EngineEvent::RequestDropped {
        key: qqchat::store::ConversationKey::from_address(crate::support::addr(
            crate::support::STRANGER,
        )),
    });
    assert_eq!(app.peers().len(), 3, "the stranger's row is gone");
    assert_eq!(app.open(), None);
    assert!(app.selected() < 3);
    // A contact is never taken off by it.
    app.on_engine(qqchat::engine::EngineEvent::RequestDropped {
        key: qqchat::store::ConversationKey::new("alice"),
    });
    assert_eq!(app.peers().len(), 3);
}
