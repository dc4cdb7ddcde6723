//! The outbox on real loopback sockets: queued messages survive a restart of the sender and
//! go out, in order, when the contact is heard from.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use qqchat::contacts::Contact;
use qqchat::engine::{self, Command, EngineEvent, EngineHandle, Options, new_message_id};
use qqchat::proto::PeerId;
use qqchat::store::{ConversationKey, History, MessageState};
use qqchat_testkit::{TempDir, free_addr};

fn contact(name: &str, addr: SocketAddr) -> Contact {
    Contact::at(name, addr)
}

/// Starts an engine the way the chat does: history, contacts, outbox from disk.
fn chat_engine(dir: &Path, listen: SocketAddr, contacts: Vec<Contact>) -> EngineHandle {
    let mut options = Options::new(engine::default_config());
    options.protocol.give_up = Duration::from_millis(800);
    options.queue_failed = true;
    options.contacts = contacts;
    options.history = Some(History::open(dir).expect("history"));
    options.load_history = true;
    let socket = UdpSocket::bind(listen).expect("bind");
    engine::spawn(socket, options).expect("spawn")
}

/// Waits for events until `done` says so or 10 s pass.
fn wait(engine: &EngineHandle, done: impl FnMut(&EngineEvent) -> bool) -> bool {
    wait_for(engine, Duration::from_secs(10), done)
}

fn wait_for(
    engine: &EngineHandle,
    limit: Duration,
    mut done: impl FnMut(&EngineEvent) -> bool,
) -> bool {
    let end = Instant::now() + limit;
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        match engine.events.recv_timeout(left) {
            Ok(e) if done(&e) => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}

#[test]
fn queued_messages_survive_a_restart_and_arrive_in_order_when_the_peer_appears() {
    let (tmp_a, tmp_b) = (TempDir::new("outbox-a"), TempDir::new("outbox-b"));
    let (dir_a, dir_b) = (tmp_a.path(), tmp_b.path());
    let (addr_a, addr_b) = (free_addr(), free_addr());
    // Alice writes three messages while bob is not running: they end up queued.
    let alice = chat_engine(dir_a, addr_a, vec![contact("bob", addr_b)]);
    let texts = ["first", "second", "third"];
    for text in texts {
        alice
            .commands
            .send(Command::Send {
                to: PeerId::addr(addr_b),
                text: text.into(),
                plain: false,
                id: new_message_id(),
            })
            .expect("engine");
    }
    let mut queued = 0;
    assert!(wait(&alice, |e| {
        queued += usize::from(matches!(e, EngineEvent::Queued { .. }));
        queued == 3
    }));
    alice.shutdown();
    let stored = History::open(dir_a)
        .expect("open")
        .load(&ConversationKey::contact("bob"))
        .expect("load");
    assert!(stored.iter().all(|m| m.state == MessageState::Queued));

    // Alice restarts first; bob only later. Nobody presses anything.
    let alice = chat_engine(dir_a, addr_a, vec![contact("bob", addr_b)]);
    std::thread::sleep(Duration::from_millis(300));
    let bob = chat_engine(dir_b, addr_b, vec![contact("alice", addr_a)]);
    let mut got = Vec::new();
    assert!(
        wait(&bob, |e| {
            if let EngineEvent::Received { text, .. } = e {
                got.push(text.clone());
            }
            got.len() == 3
        }),
        "bob got {got:?}"
    );
    assert_eq!(got, texts);
    let mut delivered = 0;
    assert!(wait(&alice, |e| {
        delivered += usize::from(matches!(e, EngineEvent::Delivered { .. }));
        delivered == 3
    }));
    alice.shutdown();
    bob.shutdown();
    let stored = History::open(dir_a)
        .expect("open")
        .load(&ConversationKey::contact("bob"))
        .expect("load");
    assert!(
        stored.iter().all(|m| m.state == MessageState::Delivered),
        "{stored:?}"
    );
    let stored = History::open(dir_b)
        .expect("open")
        .load(&ConversationKey::contact("alice"))
        .expect("load");
    assert_eq!(stored.len(), 3, "stored once each");
}

#[test]
fn a_queued_message_can_be_cancelled_or_sent_now() {
    let tmp = TempDir::new("outbox-cancel");
    let dir = tmp.path();
    let (addr_a, addr_b) = (free_addr(), free_addr());
    let alice = chat_engine(dir, addr_a, vec![contact("bob", addr_b)]);
    let (keep, drop_it) = (new_message_id(), new_message_id());
    for (id, text) in [(keep, "keep"), (drop_it, "drop")] {
        alice
            .commands
            .send(Command::Send {
                to: PeerId::addr(addr_b),
                text: text.into(),
                plain: false,
                id,
            })
            .expect("engine");
    }
    let mut queued = 0;
    assert!(wait(&alice, |e| {
        queued += usize::from(matches!(e, EngineEvent::Queued { .. }));
        queued == 2
    }));
    alice
        .commands
        .send(Command::Cancel { id: drop_it })
        .expect("engine");
    assert!(wait(
        &alice,
        |e| matches!(e, EngineEvent::Cancelled { id, .. } if *id == drop_it)
    ));
    // Bob is up, but alice has not heard from him: "send now" does not wait for that.
    let bob_socket = UdpSocket::bind(addr_b).expect("bind");
    let mut options = Options::new(engine::default_config());
    options.watch = false;
    let bob = engine::spawn(bob_socket, options).expect("spawn");
    alice
        .commands
        .send(Command::SendNow { id: keep })
        .expect("engine");
    assert!(wait(
        &alice,
        |e| matches!(e, EngineEvent::Delivered { id, .. } if *id == keep)
    ));
    let mut got = Vec::new();
    // Long enough for a wrongly sent second message to arrive too.
    wait_for(&bob, Duration::from_millis(500), |e| {
        if let EngineEvent::Received { text, .. } = e {
            got.push(text.clone());
        }
        false
    });
    assert_eq!(got, vec!["keep"], "the cancelled message never went out");
    alice.shutdown();
    bob.shutdown();
    let states: Vec<MessageState> = History::open(dir)
        .expect("open")
        .load(&ConversationKey::contact("bob"))
        .expect("load")
        .iter()
        .map(|m| m.state)
        .collect();
    assert_eq!(
        states,
        vec![MessageState::Delivered, MessageState::Cancelled]
    );
}
