//! The history on disk: the last page of each conversation loaded on start, older pages as
//! the view reaches them.

use crossterm::event::KeyCode;
use insta::assert_snapshot;
use qqchat::app::Mark;
use qqchat::engine::EngineEvent;
use qqchat::store::{Conversation, MessageState};

use crate::support::{
    ALICE, STRANGER, addr, app, app_sized, at, conversation, draw, history, inc, marks, open, out,
    peer, press, received, send,
};

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
    // The ids are the ids: the engine reports on them when the outbox is sent.
    app.on_engine(EngineEvent::Delivered {
        to: peer(ALICE),
        id: 3,
    });
    app.on_engine(EngineEvent::Queued {
        to: peer(ALICE),
        id: 5,
    });
    // Settled messages are not reopened.
    app.on_engine(EngineEvent::Delivered {
        to: peer(ALICE),
        id: 4,
    });
    app.on_engine(EngineEvent::Delivered {
        to: peer(ALICE),
        id: 6,
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
        to: peer(ALICE),
        id: 5,
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
        (carol.addr(), carol.key().as_str()),
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
        to: peer(ALICE),
        id: 1,
    });
    assert_eq!(app.peers()[0].messages()[1].mark(), Some(Mark::Delivered));
    assert!(start.elapsed() < std::time::Duration::from_secs(2));
}

#[test]
fn older_pages_come_as_the_view_reaches_them_and_keep_what_came_since() {
    let mut app = app();
    // At start only the last page of alice's conversation is read (a page of 2 here)...
    let full = history();
    let page = 2;
    let recent: Vec<Conversation> = full
        .iter()
        .map(|c| {
            conversation(
                c.key.as_str(),
                c.messages[c.messages.len().saturating_sub(page)..].to_vec(),
            )
        })
        .collect();
    app.load_recent(recent, page);
    open(&mut app, 0);
    assert_eq!(app.peers()[0].messages().len(), 2);
    // ...then a message arrives and one is sent, before anything older is read.
    app.on_engine(received(ALICE, "live one", 10));
    let id = send(&mut app, "live two", at(11));
    // The view shows everything it has: it wants the page before, as the chat then reads.
    let alice = &full[1];
    let mut reads = 0;
    while let Some(want) = app.history_wanted() {
        assert_eq!(want.key, alice.key);
        // What the store gives: the last `page` written at or before `before`.
        let upto: Vec<_> = alice
            .messages
            .iter()
            .filter(|m| m.at <= want.before)
            .cloned()
            .collect();
        let older = upto[upto.len().saturating_sub(page)..].to_vec();
        app.put_older(&want, older, page);
        reads += 1;
        assert!(reads < 10, "paging ends");
    }
    // Each page repeats the first message shown (it may share its instant with another).
    assert_eq!(reads, 5);
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
    // The live message's id still settles it.
    app.on_engine(EngineEvent::Delivered {
        to: peer(ALICE),
        id,
    });
    assert_eq!(app.peers()[0].messages()[7].mark(), Some(Mark::Delivered));
    // A queued message from an older page settles too.
    app.on_engine(EngineEvent::Delivered {
        to: peer(ALICE),
        id: 3,
    });
    assert_eq!(app.peers()[0].messages()[2].mark(), Some(Mark::Delivered));
}

#[test]
fn a_conversation_read_whole_wants_nothing_older() {
    let mut app = app();
    app.load_history(history());
    open(&mut app, 0);
    assert_eq!(app.history_wanted(), None);
}
