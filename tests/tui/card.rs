//! This user's contact string, one key away: shown, and copied for pasting to a friend.

use crossterm::event::KeyCode;
use insta::assert_snapshot;
use jiff::tz::TimeZone;
use qqchat::app::{App, Effect, Overlay};
use qqchat::proto::PublicKey;

use crate::support::{addr, book, draw, open, press, screen};

const MY_KEY: PublicKey = PublicKey::from_bytes([9; 32]);

fn app_at(listen: &str) -> App {
    let mut app = App::new(&book(true), addr(listen), TimeZone::UTC);
    app.set_public_key(Some(MY_KEY));
    app.on_resize(100, 20);
    app
}

#[test]
fn f2_shows_the_contact_string_and_copies_it() {
    let mut app = app_at("192.168.1.20:4000");
    let effects = press(&mut app, KeyCode::F(2));
    let line = qqchat::identity::contact_string("me", &[addr("192.168.1.20:4000")], &MY_KEY);
    assert!(
        matches!(effects.as_slice(), [Effect::Copy(text)] if *text == line),
        "{effects:?}"
    );
    assert!(matches!(app.overlay(), Overlay::Card(card) if card.line.as_deref() == Some(&*line)));
    assert_snapshot!(draw(&app, 100, 20).backend());
    // Any key closes it, and does nothing else.
    assert!(press(&mut app, KeyCode::Char('q')).is_empty());
    assert!(matches!(app.overlay(), Overlay::None));
    // From the input too, with F2; I there is text.
    open(&mut app, 0);
    assert!(matches!(
        press(&mut app, KeyCode::F(2)).as_slice(),
        [Effect::Copy(_)]
    ));
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('I'));
    assert_eq!(app.input_text(), "I");
}

#[test]
fn an_address_nobody_can_reach_is_never_given_out() {
    let mut app = app_at("0.0.0.0:4000");
    let effects = press(&mut app, KeyCode::Char('I'));
    assert!(effects.is_empty(), "nothing copied: {effects:?}");
    let shown = screen(&app, 100, 20);
    assert!(!shown.contains("qqchat:me@0.0.0.0"), "{shown}");
    assert!(shown.contains("qqchat id --addr"), "{shown}");
}
