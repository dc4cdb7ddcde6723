//! Keyed and unverified peers, contact strings, and require_keys.

use crossterm::event::{KeyCode, KeyModifiers};
use insta::assert_snapshot;
use jiff::tz::TimeZone;
use qqchat::app::{App, Effect, KeyedPreview, Mark, Notice, PromptKind, Trust};
use qqchat::contacts::Contact;
use qqchat::engine::EngineEvent;
use qqchat::proto::PublicKey;
use qqchat::store::MessageState;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

use crate::support::{
    ALICE, ALICE_KEY, BOB, PY, STRANGER, addr, app_with_stranger, at, book, conversation, draw,
    link, marks, open, out, peer, press, press_mod, prompt_text, received, received_plain, renames,
    screen, send, trust_app, trust_book, type_text, with_contacts,
};

fn contact_string(name: &str, at: &str, key: PublicKey) -> String {
    qqchat::identity::contact_string(name, &[addr(at)], &key)
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
        peer: peer(ALICE),
        online: true,
    });
    app.on_engine(EngineEvent::Link {
        peer: peer(BOB),
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
        peer: peer(BOB),
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
    assert!(lines[2].starts_with("\"│ · bob ?   │"), "{narrow}");
    assert!(lines[6].starts_with("\"│ 127.0.… ? │"), "{narrow}");
    assert!(lines[10].contains("Message to 127.0.0… ?"), "{narrow}");
}

#[test]
fn set_contacts_updates_keyed_and_unverified() {
    let mut app = trust_app(false, 80, 14);
    app.on_engine(received(ALICE, "hi", 0));
    assert_eq!(app.trust(&app.peers()[1]), Trust::Unverified);
    // bob gains a key, carol loses hers, alice leaves the file with her messages.
    let mut contacts = trust_book(false).contacts;
    contacts.remove(0);
    contacts[0].key = Some(PublicKey::from_bytes([2; 32]));
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
    app.on_paste(contact_string(
        "dave",
        "127.0.0.1:4020",
        PublicKey::from_bytes([4; 32]),
    ));
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
        contact_string("dave", "127.0.0.1:4020", PublicKey::from_bytes([4; 32]))
    ));
    let effects = press(&mut app, KeyCode::Enter);
    let [
        Effect::AddKeyedContact {
            name,
            addrs: to,
            key,
        },
    ] = effects.as_slice()
    else {
        panic!("expected an add, got {effects:?}");
    };
    assert_eq!(
        (name.as_str(), to.join(",").as_str(), *key),
        ("dave", "127.0.0.1:4020", PublicKey::from_bytes([4; 32]))
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
        contact_string("dave", "[::1]:4020", PublicKey::from_bytes([4; 32]))
    ));
    let effects = press(&mut app, KeyCode::Enter);
    assert!(
        matches!(effects.as_slice(), [Effect::AddKeyedContact { addrs, .. }] if addrs == &["[::1]:4020"]),
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
    // alice has a key of her own: this is someone else called alice.
    app.on_paste(contact_string(
        "alice",
        "127.0.0.1:4020",
        PublicKey::from_bytes([4; 32]),
    ));
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    let prompt = app.prompt().unwrap();
    assert_eq!(
        prompt.kind(),
        &PromptKind::NameKeyed {
            addrs: vec!["127.0.0.1:4020".into()],
            key: PublicKey::from_bytes([4; 32])
        }
    );
    assert_eq!(prompt.question(), "Name for 127.0.0.1:4020:");
    assert_eq!(prompt.error(), Some("alice is already taken."));
    assert_eq!(prompt_text(&app), "alice", "prefilled");
    assert!(screen(&app, 80, 14).contains("alice is already taken."));
    type_text(&mut app, "2", at(0));
    let effects = press(&mut app, KeyCode::Enter);
    let [Effect::AddKeyedContact { name, addrs, key }] = effects.as_slice() else {
        panic!("expected an add, got {effects:?}");
    };
    assert_eq!(
        (name.as_str(), addrs.join(",").as_str(), *key),
        ("alice2", "127.0.0.1:4020", PublicKey::from_bytes([4; 32]))
    );
}

#[test]
fn a_contact_string_for_a_contact_already_there_is_refused() {
    let mut app = trust_app(false, 80, 14);
    // pyscript talks plain UDP: a key is no upgrade for it.
    press(&mut app, KeyCode::Char('A'));
    app.on_paste(contact_string("py", PY, PublicKey::from_bytes([4; 32])));
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    let error = app.prompt().unwrap().error().unwrap().to_string();
    assert!(error.contains("already in contacts as pyscript"), "{error}");
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
    app.on_paste(contact_string(
        "carol",
        STRANGER,
        PublicKey::from_bytes([5; 32]),
    ));
    let effects = press(&mut app, KeyCode::Enter);
    assert!(
        matches!(effects.as_slice(), [Effect::AddKeyedContact { name, .. }] if name == "carol"),
        "{effects:?}"
    );
    // What the front end does next: the file has carol, and the book is reloaded.
    let mut contacts = book(true).contacts;
    contacts.push(Contact {
        name: "carol".into(),
        addrs: vec![addr(STRANGER)],
        plain: false,
        key: Some(PublicKey::from_bytes([5; 32])),
        ipmsg: false,
        encoding: None,
        accept_files: false,
        mute: false,
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
        peer: peer(ALICE),
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
fn trouble_with_a_contacts_key_shows_as_an_error_in_the_status_line() {
    let mut app = trust_app(false, 100, 10);
    app.on_engine(EngineEvent::Trouble {
        peer: peer(ALICE),
        why: qqchat::proto::Trouble::SendsPlain,
        text: "alice sends without encryption: alice has no key for you".into(),
    });
    let Some(Notice::Error(text)) = app.notice() else {
        panic!("no error shown");
    };
    assert!(text.contains("alice has no key for you"), "{text}");
    let status = screen(&app, 100, 10);
    let last = status.lines().last().unwrap().to_string();
    assert!(last.contains("alice sends without encryption"), "{last}");
}

#[test]
fn a_contact_string_gives_an_unkeyed_contact_its_key_as_add_does() {
    // By name: bob has no key, and the string is bob's from another address.
    let mut app = trust_app(false, 100, 16);
    press(&mut app, KeyCode::Char('A'));
    app.on_paste(contact_string(
        "bob",
        "127.0.0.1:4040",
        PublicKey::from_bytes([4; 32]),
    ));
    assert_eq!(
        app.keyed_preview(),
        Some(KeyedPreview::GivesKey {
            name: "bob".into(),
            key: "BAQEBAQE".into()
        })
    );
    assert_snapshot!(draw(&app, 100, 16).backend());
    let effects = press(&mut app, KeyCode::Enter);
    assert!(
        matches!(effects.as_slice(), [Effect::AddKeyedContact { name, .. }] if name == "bob"),
        "{effects:?}"
    );
    assert!(app.prompt().is_none());

    // Else by address: robert's string at bob's address gives bob the key.
    press(&mut app, KeyCode::Char('A'));
    app.on_paste(contact_string(
        "robert",
        BOB,
        PublicKey::from_bytes([4; 32]),
    ));
    assert!(matches!(
        app.keyed_preview(),
        Some(KeyedPreview::GivesKey { name, .. }) if name == "bob"
    ));
    let effects = press(&mut app, KeyCode::Enter);
    assert!(
        matches!(effects.as_slice(), [Effect::AddKeyedContact { .. }]),
        "{effects:?}"
    );

    // Someone new is added, and the preview says so.
    press(&mut app, KeyCode::Char('A'));
    app.on_paste(contact_string(
        "dave",
        "127.0.0.1:4020",
        PublicKey::from_bytes([4; 32]),
    ));
    assert!(matches!(
        app.keyed_preview(),
        Some(KeyedPreview::Adds { name, .. }) if name == "dave"
    ));
    let shown = crate::support::screen(&app, 100, 16);
    assert!(shown.contains("→ adds dave at 127.0.0.1:4020"), "{shown}");
}
