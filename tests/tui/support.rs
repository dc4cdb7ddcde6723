//! What the TUI tests share: a book of contacts, an App on a test terminal, keys, engine
//! events, and stored history.

use std::net::SocketAddr;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use qqchat::app::{App, Effect, Mark};
use qqchat::contacts::{Contact, ContactBook, Me};
use qqchat::engine::{Command, EngineEvent, Link, Neighbour, NeighbourKind};
use qqchat::proto::{PeerId, PublicKey};
use qqchat::store::{Conversation, ConversationKey, Direction, MessageState, StoredMessage};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub const ALICE: &str = "127.0.0.1:4001";
pub const BOB: &str = "127.0.0.1:4002";
pub const PY: &str = "127.0.0.1:4003";
pub const STRANGER: &str = "127.0.0.1:5555";
/// Alice is the one contact of [`book`] with a key; bob and pyscript are unverified.
pub const ALICE_KEY: PublicKey = PublicKey::from_bytes([1; 32]);

/// Who the engine says an event is about, for the peers of [`book`]: alice by her key,
/// anyone else by address.
pub fn peer(at: &str) -> PeerId {
    if at == ALICE {
        PeerId::Key(ALICE_KEY)
    } else {
        PeerId::addr(addr(at))
    }
}

pub fn book(bell: bool) -> ContactBook {
    ContactBook {
        me: Me {
            name: "me".into(),
            listen: addr("0.0.0.0:4000"),
            bell,
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
        contacts: vec![
            Contact {
                name: "alice".into(),
                addrs: vec![addr(ALICE)],
                plain: false,
                key: Some(ALICE_KEY),
                ipmsg: false,
                encoding: None,
                accept_files: false,
                mute: false,
            },
            Contact {
                name: "bob".into(),
                addrs: vec![addr(BOB)],
                plain: false,
                key: None,
                ipmsg: false,
                encoding: None,
                accept_files: false,
                mute: false,
            },
            Contact {
                name: "pyscript".into(),
                addrs: vec![addr(PY)],
                plain: true,
                key: None,
                ipmsg: false,
                encoding: None,
                accept_files: false,
                mute: false,
            },
        ],
        lan: Default::default(),
    }
}

/// 2023-11-14 22:13:20 UTC, plus `minutes`.
pub fn at(minutes: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + minutes * 60).unwrap()
}

pub fn app_sized(width: u16, height: u16) -> App {
    let mut app = App::new(&book(true), addr("0.0.0.0:4000"), TimeZone::UTC);
    app.on_resize(width, height);
    app
}

pub fn app() -> App {
    app_sized(80, 20)
}

pub fn draw(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| qqchat::ui::draw(frame, app)).unwrap();
    terminal
}

pub fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

pub fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.on_key(key(code), at(0))
}

pub fn press_mod(app: &mut App, code: KeyCode, modifiers: KeyModifiers) -> Vec<Effect> {
    app.on_key(KeyEvent::new(code, modifiers), at(0))
}

pub fn type_text(app: &mut App, text: &str, now: Timestamp) {
    for c in text.chars() {
        assert!(app.on_key(key(KeyCode::Char(c)), now).is_empty());
    }
}

/// Types `text` and presses Enter; returns the id of the message sent.
pub fn send(app: &mut App, text: &str, now: Timestamp) -> u64 {
    type_text(app, text, now);
    let effects = app.on_key(key(KeyCode::Enter), now);
    match effects.as_slice() {
        [Effect::Send(Command::Send { id, .. })] => *id,
        other => panic!("expected one send, got {other:?}"),
    }
}

pub fn received(from: &str, text: &str, minutes: i64) -> EngineEvent {
    EngineEvent::Received {
        from: peer(from),
        path: addr(from),
        kind: qqchat::proto::PathKind::of(addr(from), false),
        id: None,
        text: text.into(),
        sent_at: None,
        received_at: at(minutes),
        plain: false,
    }
}

pub fn received_plain(from: &str, text: &str, minutes: i64) -> EngineEvent {
    let mut event = received(from, text, minutes);
    if let EngineEvent::Received { plain, .. } = &mut event {
        *plain = true;
    }
    event
}

/// Moves the contact cursor to `index` and opens that conversation.
pub fn open(app: &mut App, index: usize) {
    while app.selected() > index {
        press(app, KeyCode::Up);
    }
    while app.selected() < index {
        press(app, KeyCode::Down);
    }
    press(app, KeyCode::Enter);
    assert_eq!(app.open(), Some(index));
}

pub fn is_quit(effects: &[Effect]) -> bool {
    matches!(effects, [Effect::Quit])
}

pub fn stored(id: u64, dir: Direction, peer: &str, minutes: i64, text: &str) -> StoredMessage {
    StoredMessage {
        id,
        dir,
        peer: peer.into(),
        path: None,
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

pub fn out(id: u64, peer: &str, minutes: i64, text: &str, state: MessageState) -> StoredMessage {
    StoredMessage {
        state,
        ..stored(id, Direction::Out, peer, minutes, text)
    }
}

pub fn inc(id: u64, peer: &str, minutes: i64, text: &str) -> StoredMessage {
    stored(id, Direction::In, peer, minutes, text)
}

pub fn conversation(key: &str, messages: Vec<StoredMessage>) -> Conversation {
    Conversation {
        key: ConversationKey::new(key),
        messages,
    }
}

/// Alice's conversation with one own message in every state, a stranger's, and one of a
/// contact since removed from the file.
pub fn history() -> Vec<Conversation> {
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

pub fn marks(app: &App, peer: usize) -> Vec<Option<Mark>> {
    app.peers()[peer]
        .messages()
        .iter()
        .map(|m| m.mark())
        .collect()
}

pub fn link(online: Option<bool>, seen: Option<Timestamp>, rtt_us: Option<u64>, loss: f32) -> Link {
    Link {
        online,
        reachable: false,
        last_seen: seen,
        rtt: rtt_us.map(std::time::Duration::from_micros),
        loss,
    }
}

/// An app with a stranger's entry (index 3) selected.
pub fn app_with_stranger() -> App {
    let mut app = app();
    app.on_engine(received_plain(STRANGER, "who is this?\n", 0));
    press(&mut app, KeyCode::End);
    assert_eq!(app.selected(), 3);
    app
}

pub fn prompt_text(app: &App) -> String {
    app.prompt().unwrap().text()
}

pub fn with_contacts(contacts: Vec<Contact>) -> ContactBook {
    ContactBook {
        contacts,
        ..book(true)
    }
}

pub fn renames(effects: &[Effect]) -> Vec<(String, String)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send(Command::RenameHistory { from, to }) => {
                Some((from.to_string(), to.to_string()))
            }
            _ => None,
        })
        .collect()
}

/// The book with every kind of peer the trust marks tell apart: alice and carol keyed, bob
/// without a key, pyscript plain; `require_keys` as given.
pub fn trust_book(require_keys: bool) -> ContactBook {
    let mut book = book(true);
    book.me.require_keys = require_keys;
    book.contacts.insert(
        2,
        Contact {
            name: "carol".into(),
            addrs: vec![addr("127.0.0.1:4010")],
            plain: false,
            key: Some(PublicKey::from_bytes([3; 32])),
            ipmsg: false,
            encoding: None,
            accept_files: false,
            mute: false,
        },
    );
    book
}

pub fn trust_app(require_keys: bool, width: u16, height: u16) -> App {
    let mut app = App::new(
        &trust_book(require_keys),
        addr("0.0.0.0:4000"),
        TimeZone::UTC,
    );
    app.on_resize(width, height);
    app
}

pub fn screen(app: &App, width: u16, height: u16) -> String {
    format!("{}", draw(app, width, height).backend())
}

/// Where the iptux user of [`iptux`] is, and the qqchat of [`qqchat_neighbour`].
pub const WANG: &str = "192.168.1.30:2425";
pub const LAPTOP: &str = "192.168.1.20:9001";
pub const LAPTOP_KEY: PublicKey = PublicKey::from_bytes([7; 32]);

/// An iptux user found on this network, by address.
pub fn iptux(name: &str, group: &str, at: &str, absent: bool) -> Neighbour {
    Neighbour {
        peer: PeerId::addr(addr(at)),
        name: name.into(),
        addr: addr(at),
        kind: NeighbourKind::IpMsg {
            client: "iptux",
            group: group.into(),
            host: "wxm-pc".into(),
            absent,
        },
    }
}

/// A qqchat announced on this network, by its key when it has one.
pub fn qqchat_neighbour(name: &str, at: &str, key: Option<PublicKey>) -> Neighbour {
    Neighbour {
        peer: key.map_or_else(|| PeerId::addr(addr(at)), PeerId::Key),
        name: name.into(),
        addr: addr(at),
        kind: NeighbourKind::Qqchat {
            key,
            version: "0.1.0".into(),
        },
    }
}

pub fn found(app: &mut App, neighbour: Neighbour) {
    assert!(app.on_engine(EngineEvent::Neighbour(neighbour)).is_empty());
}

/// The names in the contact list, in order.
pub fn listed(app: &App) -> Vec<String> {
    app.peers().iter().map(|p| p.name().to_owned()).collect()
}
