//! Drawing one frame of the chat with a long conversation open, as the user sees it: the
//! conversation on the right, the input focused. The cost must not grow with the history.

use std::net::SocketAddr;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use qqchat::app::{App, Focus};
use qqchat::contacts::{Contact, ContactBook, Me};
use qqchat::proto::PublicKey;
use qqchat::store::Conversation;
use qqchat::store::{Direction, MessageState, StoredMessage};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const WIDTH: u16 = 200;
const HEIGHT: u16 = 60;
const ALICE: &str = "127.0.0.1:4001";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("a socket address")
}

fn book() -> ContactBook {
    let contact = |name: &str, at: &str, key: Option<PublicKey>| Contact {
        name: name.into(),
        addrs: vec![addr(at)],
        plain: false,
        key,
        ipmsg: false,
        encoding: None,
        accept_files: false,
        mute: false,
    };
    ContactBook {
        me: Me {
            name: "me".into(),
            listen: addr("0.0.0.0:4000"),
            bell: false,
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
            contact("alice", ALICE, Some(PublicKey::from_bytes([1; 32]))),
            contact("bob", "127.0.0.1:4002", None),
            contact(
                "carol",
                "127.0.0.1:4003",
                Some(PublicKey::from_bytes([3; 32])),
            ),
        ],
        lan: Default::default(),
    }
}

/// `n` messages with alice, one a minute (so days change now and then), alternating
/// directions; every seventh is long enough to wrap over a few lines.
fn conversation(n: u64) -> Conversation {
    let start = 1_700_000_000;
    let messages = (0..n)
        .map(|i| {
            let own = i % 2 == 1;
            let mut text = format!("message number {i}, with a little text to make it typical");
            if i % 7 == 0 {
                text.push_str(&" and then a good deal more to say about it".repeat(8));
            }
            StoredMessage {
                id: i,
                dir: if own { Direction::Out } else { Direction::In },
                peer: ALICE.into(),
                path: None,
                at: Timestamp::from_second(start + i as i64 * 60).expect("in range"),
                sent_at: None,
                text,
                plain: false,
                state: if own {
                    MessageState::Delivered
                } else {
                    MessageState::Received
                },
            }
        })
        .collect();
    Conversation {
        key: qqchat::store::ConversationKey::contact("alice"),
        messages,
    }
}

fn press(app: &mut App, code: KeyCode) {
    let now = Timestamp::from_second(1_800_000_000).expect("in range");
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE), now);
}

/// The chat with alice's conversation of `n` messages open and the input focused, scrolled
/// back `pages` pages.
fn app(n: u64, pages: usize) -> App {
    let mut app = App::new(&book(), addr("0.0.0.0:4000"), TimeZone::UTC);
    app.on_resize(WIDTH, HEIGHT);
    app.load_history(vec![conversation(n)]);
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.open(), Some(0));
    assert_eq!(app.focus(), Focus::Input);
    for _ in 0..pages {
        press(&mut app, KeyCode::PageUp);
    }
    app
}

fn terminal() -> Terminal<TestBackend> {
    Terminal::new(TestBackend::new(WIDTH, HEIGHT)).expect("a test terminal")
}

fn draw(c: &mut Criterion) {
    let mut group = c.benchmark_group("draw");
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    for (n, pages) in [(1_000, 0), (100_000, 0), (100_000, 10), (100_000, 100)] {
        let app = app(n, pages);
        let mut terminal = terminal();
        let name = if pages == 0 {
            format!("{n} messages")
        } else {
            format!("{n} messages, PgUp x{pages}")
        };
        let scroll = app.scroll();
        assert_eq!(scroll > 0, pages > 0);
        group.bench_function(name, |b| {
            b.iter(|| {
                terminal
                    .draw(|frame| qqchat::ui::draw(frame, &app))
                    .expect("draws");
            });
        });
    }
    group.finish();

    // Paging walks back through the lines it scrolls over: a PgUp and a PgDn, from a view
    // scrolled back this far.
    let mut group = c.benchmark_group("page");
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    for pages in [0, 10, 100] {
        let mut app = app(100_000, pages);
        let scroll = app.scroll();
        group.bench_function(format!("100000 messages, PgUp PgDn at x{pages}"), |b| {
            b.iter(|| {
                press(&mut app, KeyCode::PageUp);
                press(&mut app, KeyCode::PageDown);
            });
        });
        assert_eq!(app.scroll(), scroll);
    }
    group.finish();
}

criterion_group!(benches, draw);
criterion_main!(benches);
