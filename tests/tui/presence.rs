//! Presence dots, last seen, link figures, and engine errors.

use crossterm::event::KeyCode;
use insta::assert_snapshot;
use jiff::tz::TimeZone;
use qqchat::app::{App, Notice};
use qqchat::contacts::Contact;
use qqchat::engine::EngineEvent;

use crate::support::{
    ALICE, BOB, PY, STRANGER, addr, app, at, book, draw, link, open, peer, press, received,
    received_plain,
};

/// A book with one more contact, to show every kind of dot at once.
fn app_with_carol() -> App {
    let mut book = book(true);
    book.contacts.insert(
        2,
        Contact {
            name: "carol".into(),
            addrs: vec![addr("127.0.0.1:4010")],
            plain: false,
            key: None,
            ipmsg: false,
            encoding: None,
            accept_files: false,
            mute: false,
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
        peer: peer(ALICE),
        online: true,
    });
    // Offline since earlier today, and since yesterday.
    app.on_engine(EngineEvent::Link {
        peer: peer(BOB),
        link: link(Some(false), Some(at(-4)), Some(300), 0.0),
    });
    app.on_engine(EngineEvent::Link {
        peer: peer("127.0.0.1:4010"),
        link: link(Some(false), Some(at(-24 * 60)), None, 0.0),
    });
    app.on_engine(received_plain(STRANGER, "hi\n", 0));
    app.on_engine(EngineEvent::Presence {
        peer: peer(STRANGER),
        online: true,
    });
    assert_snapshot!(draw(&app, 80, 14).backend());
}

#[test]
fn snapshot_header_with_rtt_and_loss() {
    let mut app = app_with_carol();
    app.on_engine(EngineEvent::Link {
        peer: peer("[::ffff:127.0.0.1]:4002"),
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
        peer: peer(BOB),
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
        peer: peer(BOB),
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
        peer: peer(BOB),
        online: true,
    });
    assert!(header(&app).contains("· online ·"), "{}", header(&app));
    assert_eq!(app.peers()[1].online(), Some(true));
}

#[test]
fn plain_contacts_and_strangers_show_no_presence() {
    let mut app = app();
    app.on_engine(EngineEvent::Presence {
        peer: peer(PY),
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

#[test]
fn snapshot_a_reachable_contact_has_a_dot_of_its_own() {
    let mut app = app_with_carol();
    app.set_now(at(60));
    app.on_engine(EngineEvent::Presence {
        peer: peer(ALICE),
        online: true,
    });
    app.on_engine(EngineEvent::Presence {
        peer: peer(BOB),
        online: false,
    });
    // Carol was offline and answers again: reachable, not yet confirmed online.
    let mut reachable = link(Some(false), Some(at(59)), Some(300), 0.0);
    reachable.reachable = true;
    app.on_engine(EngineEvent::Link {
        peer: peer("127.0.0.1:4010"),
        link: reachable,
    });
    assert!(app.peers()[2].reachable());
    open(&mut app, 2);
    assert_snapshot!(draw(&app, 80, 8).backend());
    // Confirmed: online, no longer merely reachable.
    app.on_engine(EngineEvent::Presence {
        peer: peer("127.0.0.1:4010"),
        online: true,
    });
    assert!(!app.peers()[2].reachable());
    let screen = format!("{}", draw(&app, 80, 8).backend());
    assert!(screen.contains("● carol"), "{screen}");
    assert!(!screen.contains("◐"), "{screen}");
}
