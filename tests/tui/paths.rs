//! Contacts with several candidate addresses: the path found is shown, and opening the
//! conversation asks the engine to look for one.

use crossterm::event::KeyCode;
use insta::assert_snapshot;
use qqchat::app::{App, Effect, PathKind};
use qqchat::contacts::Contact;
use qqchat::engine::{Command, EngineEvent};
use qqchat::proto::{PeerId, PublicKey};

use crate::support::{addr, at, draw, link, open, press, screen, trust_book, with_contacts};

const DANA_KEY: PublicKey = PublicKey::from_bytes([5; 32]);
const DANA_PUBLIC: &str = "203.0.113.21:40000";
const DANA_LAN: &str = "192.168.1.20:9001";
const DANA_RELAYED: &str = "198.51.100.1:49152";

/// The trust book and dana, keyed, with a public and a LAN candidate (index 4).
fn paths_app() -> App {
    let mut contacts = trust_book(false).contacts;
    contacts.push(Contact {
        name: "dana".into(),
        addrs: vec![addr(DANA_PUBLIC), addr(DANA_LAN)],
        plain: false,
        key: Some(DANA_KEY),
        ipmsg: false,
        encoding: None,
        accept_files: false,
        mute: false,
    });
    let mut app = App::new(
        &with_contacts(contacts),
        addr("0.0.0.0:4000"),
        jiff::tz::TimeZone::UTC,
    );
    app.on_resize(90, 8);
    app
}

fn dana() -> PeerId {
    PeerId::Key(DANA_KEY)
}

fn online(app: &mut App) {
    app.on_engine(EngineEvent::Link {
        peer: dana(),
        link: link(Some(true), Some(at(0)), Some(1_800), 0.0),
    });
}

fn wants(effects: &[Effect]) -> Vec<PeerId> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send(Command::Want(peer)) => Some(*peer),
            _ => None,
        })
        .collect()
}

/// Back to the contact list, onto entry `index`, and Enter: what opening it asks for.
fn open_from_list(app: &mut App, index: usize) -> Vec<Effect> {
    press(app, KeyCode::Esc);
    press(app, KeyCode::Home);
    for _ in 0..index {
        press(app, KeyCode::Down);
    }
    assert_eq!(app.selected(), index);
    press(app, KeyCode::Enter)
}

#[test]
fn opening_a_keyed_contact_that_is_not_online_wants_it() {
    let mut app = paths_app();
    let effects = open_from_list(&mut app, 4);
    assert_eq!(wants(&effects), [dana()]);

    // Online already: nothing to look for.
    online(&mut app);
    let effects = open_from_list(&mut app, 4);
    assert!(wants(&effects).is_empty(), "{effects:?}");

    // A contact without a key has one address and nothing to punch.
    let effects = open_from_list(&mut app, 1);
    assert!(wants(&effects).is_empty(), "{effects:?}");
}

#[test]
fn the_path_kind_follows_the_path_the_engine_reports() {
    let mut app = paths_app();
    let dana_entry = |app: &App| app.peers()[4].clone();
    assert_eq!(dana_entry(&app).path_kind(), None, "not online yet");
    online(&mut app);
    // The first candidate until the engine says otherwise.
    assert_eq!(dana_entry(&app).path_kind(), Some(PathKind::Direct));
    app.on_engine(EngineEvent::PathChanged {
        peer: dana(),
        path: addr(DANA_LAN),
        relayed: false,
    });
    assert_eq!(dana_entry(&app).path_kind(), Some(PathKind::Lan));
    assert_eq!(dana_entry(&app).addr(), addr(DANA_LAN));
    // Through the relay, whatever the address looks like.
    app.on_engine(EngineEvent::PathChanged {
        peer: dana(),
        path: addr(DANA_RELAYED),
        relayed: true,
    });
    assert_eq!(dana_entry(&app).path_kind(), Some(PathKind::Relay));
    // Another qqchat on this machine is neither LAN nor direct.
    app.on_engine(EngineEvent::PathChanged {
        peer: dana(),
        path: addr("127.0.0.1:9001"),
        relayed: false,
    });
    assert_eq!(dana_entry(&app).path_kind(), Some(PathKind::Loopback));
    assert_eq!(PathKind::Loopback.label(), "loopback");
    // Contacts with one address say nothing of it.
    app.on_engine(EngineEvent::Presence {
        peer: PeerId::Key(PublicKey::from_bytes([3; 32])),
        online: true,
    });
    assert_eq!(app.peers()[2].path_kind(), None);
}

#[test]
fn snapshot_contact_reached_on_the_lan() {
    let mut app = paths_app();
    online(&mut app);
    app.on_engine(EngineEvent::PathChanged {
        peer: dana(),
        path: addr(DANA_LAN),
        relayed: false,
    });
    open(&mut app, 4);
    assert_snapshot!(draw(&app, 90, 8).backend());
}

#[test]
fn snapshot_contact_reached_through_the_relay() {
    let mut app = paths_app();
    online(&mut app);
    app.on_engine(EngineEvent::PathChanged {
        peer: dana(),
        path: addr(DANA_RELAYED),
        relayed: true,
    });
    open(&mut app, 4);
    let text = screen(&app, 90, 8);
    assert!(text.contains("online · relay · rtt"), "{text}");
    let listed = text.lines().find(|l| l.contains("● dana"));
    assert!(listed.is_some_and(|l| l.contains("relay")), "{text}");
    assert_snapshot!(draw(&app, 90, 8).backend());
}

#[test]
fn snapshot_contact_reached_directly() {
    let mut app = paths_app();
    online(&mut app);
    open(&mut app, 4);
    let text = screen(&app, 90, 8);
    assert!(text.contains("online · direct · rtt 1.8 ms"), "{text}");
    assert_snapshot!(draw(&app, 90, 8).backend());
}

#[test]
fn a_path_to_an_address_the_dht_gave_says_found_via_dht() {
    let mut app = paths_app();
    open(&mut app, 4);
    online(&mut app);
    let moved = "203.0.113.99:41000";
    app.on_engine(EngineEvent::Dht(qqchat::dht::DhtEvent::Found {
        key: DANA_KEY,
        record: qqchat::proto::dht::Record {
            seq: 7,
            candidates: vec![qqchat::proto::dht::Candidate {
                addr: addr(moved),
                kind: qqchat::proto::dht::CandidateKind::Public,
            }],
        },
    }));
    // Still on the old address: nothing to say yet.
    assert!(!screen(&app, 90, 8).contains("found via DHT"));
    app.on_engine(EngineEvent::PathChanged {
        peer: dana(),
        path: addr(moved),
        relayed: false,
    });
    let shown = screen(&app, 90, 8);
    assert!(shown.contains("found via DHT"), "{shown}");
    // Another path later: no longer.
    app.on_engine(EngineEvent::PathChanged {
        peer: dana(),
        path: addr(DANA_LAN),
        relayed: false,
    });
    assert!(!screen(&app, 90, 8).contains("found via DHT"));
}
