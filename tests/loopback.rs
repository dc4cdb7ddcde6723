//! Two real engines in one process, on real loopback sockets: ordering, exactly-once delivery
//! through a lossy relay, plain UDP peers, junk on the wire, and large messages.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;
use qqchat::engine::{self, Command, EngineEvent, EngineHandle};
use qqchat::proto::{Config, PeerId};
use qqchat_testkit::{Impairment, Relay, Rng, WAIT, junk_datagrams, loopback_socket};

/// An engine on an ephemeral loopback port with the shipped configuration.
fn start() -> EngineHandle {
    start_with(engine::default_config())
}

fn start_with(config: Config) -> EngineHandle {
    engine::spawn(loopback_socket(), engine::Options::new(config)).expect("start an engine")
}

/// The shipped configuration: losses are found from later receipts, so the timeouts'
/// backoff does not stretch a lossy but live link.
fn lossy_link_config() -> Config {
    engine::default_config()
}

fn send(from: &EngineHandle, to: SocketAddr, text: impl Into<String>, id: u64, plain: bool) {
    from.commands
        .send(Command::Send {
            to: PeerId::addr(to),
            text: text.into(),
            plain,
            id,
        })
        .expect("the engine is running");
}

/// Reads events until `done` says enough, or panics after `timeout` saying what came.
fn events_until(
    engine: &EngineHandle,
    timeout: Duration,
    mut done: impl FnMut(&[EngineEvent]) -> bool,
) -> Vec<EngineEvent> {
    let deadline = Instant::now() + timeout;
    let mut events = Vec::new();
    while !done(&events) {
        let left = deadline.saturating_duration_since(Instant::now());
        match engine.events.recv_timeout(left) {
            Ok(event) => events.push(event),
            Err(RecvTimeoutError::Timeout) => panic!(
                "timed out after {timeout:?} with {} event(s); the last: {:?}",
                events.len(),
                events.last()
            ),
            Err(RecvTimeoutError::Disconnected) => panic!("the engine stopped"),
        }
    }
    events
}

/// The next `count` messages, as (from, text).
fn receive(engine: &EngineHandle, count: usize) -> Vec<(SocketAddr, String)> {
    let events = events_until(engine, WAIT, |events| {
        events
            .iter()
            .filter(|e| matches!(e, EngineEvent::Received { .. }))
            .count()
            >= count
    });
    events
        .into_iter()
        .filter_map(|e| match e {
            EngineEvent::Received { path, text, .. } => Some((path, text)),
            _ => None,
        })
        .collect()
}

/// Waits for an outcome for each of `count` ids and checks that each id was delivered to
/// `to`, exactly once.
fn assert_all_delivered(engine: &EngineHandle, to: SocketAddr, count: u64) {
    let events = events_until(engine, WAIT, |events| {
        events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    EngineEvent::Delivered { .. } | EngineEvent::Failed { .. }
                )
            })
            .count()
            >= usize::try_from(count).expect("a small count")
    });
    let mut ids = BTreeSet::new();
    for event in events {
        match event {
            EngineEvent::Delivered { to: at, id } => {
                assert_eq!(at, PeerId::addr(to), "delivered to the wrong address");
                assert!(ids.insert(id), "id {id} was reported delivered twice");
            }
            EngineEvent::Failed { id, .. } | EngineEvent::Queued { id, .. } => {
                panic!("message {id} failed")
            }
            _ => {}
        }
    }
    assert_eq!(ids, (0..count).collect::<BTreeSet<_>>());
}

/// Checks that no event at all arrives for a while: no late duplicate, no stray receipt.
fn assert_quiet(engine: &EngineHandle, what: &str) {
    match engine.events.recv_timeout(Duration::from_millis(300)) {
        Err(RecvTimeoutError::Timeout) => {}
        Ok(event) => panic!("{what}: unexpected event {event:?}"),
        Err(RecvTimeoutError::Disconnected) => panic!("{what}: the engine stopped"),
    }
}

fn numbered(count: u64) -> Vec<String> {
    (0..count)
        .map(|i| format!("message {i} of {count}"))
        .collect()
}

#[test]
fn five_hundred_messages_arrive_once_in_order_and_are_all_acknowledged() {
    let a = start();
    let b = start();
    let texts = numbered(500);
    for (id, text) in (0..).zip(&texts) {
        send(&a, b.local_addr, text.as_str(), id, false);
    }

    let received = receive(&b, texts.len());
    assert!(received.iter().all(|(from, _)| *from == a.local_addr));
    let received: Vec<String> = received.into_iter().map(|(_, text)| text).collect();
    assert_eq!(received, texts);
    assert_all_delivered(&a, b.local_addr, 500);

    assert_quiet(&b, "receiver after the last message");
    assert_quiet(&a, "sender after the last receipt");
}

#[test]
fn a_lossy_duplicating_reordering_relay_still_gives_exactly_once_in_order() {
    let a = start_with(lossy_link_config());
    let b = start_with(lossy_link_config());
    let relay = Relay::start(b.local_addr, Impairment::HOSTILE, 0x5EED);
    let texts = numbered(300);
    for (id, text) in (0..).zip(&texts) {
        send(&a, relay.addr(), text.as_str(), id, false);
    }

    let received = receive(&b, texts.len());
    let senders: BTreeSet<SocketAddr> = received.iter().map(|(from, _)| *from).collect();
    assert_eq!(senders.len(), 1, "one sender, seen through the relay");
    let received: Vec<String> = received.into_iter().map(|(_, text)| text).collect();
    assert_eq!(received, texts, "{}", relay.summary());
    assert_all_delivered(&a, relay.addr(), 300);

    // Duplicates still in flight must not show up as messages.
    assert_quiet(&b, "receiver after the last message");
    relay.assert_was_hostile();
}

#[test]
fn a_plain_udp_peer_is_understood_and_answered_in_bare_utf8() {
    let engine = start();
    let script = loopback_socket();
    script
        .set_read_timeout(Some(WAIT))
        .expect("set a read timeout");
    let script_addr = script.local_addr().expect("script address");

    script
        .send_to(b"hello from a script", engine.local_addr)
        .expect("send a plain datagram");
    let events = events_until(&engine, WAIT, |e| !e.is_empty());
    match &events[..] {
        [
            EngineEvent::Received {
                from,
                text,
                sent_at,
                plain,
                ..
            },
        ] => {
            assert_eq!(*from, PeerId::addr(script_addr));
            assert_eq!(text, "hello from a script");
            assert_eq!(*sent_at, None);
            assert!(*plain);
        }
        other => panic!("expected one plain message, got {other:?}"),
    }

    send(&engine, script_addr, "héllo, script", 7, true);
    let mut buf = [0u8; 2048];
    let (len, from) = script.recv_from(&mut buf).expect("the bare reply");
    assert_eq!(from, engine.local_addr);
    assert_eq!(&buf[..len], "héllo, script".as_bytes());
    let events = events_until(&engine, WAIT, |e| !e.is_empty());
    assert_eq!(
        events,
        [EngineEvent::Sent {
            to: PeerId::addr(script_addr),
            id: 7
        }]
    );
}

#[test]
fn junk_datagrams_are_ignored_and_real_messages_still_arrive_in_order() {
    let a = start();
    let b = start();
    let junk_socket = loopback_socket();
    let junk_addr = junk_socket.local_addr().expect("junk address");
    let mut rng = Rng::new(4);
    let junk = junk_datagrams(&mut rng, 1_000);

    // Real messages interleaved with the junk: one every hundred datagrams.
    let mut sent = Vec::new();
    for (i, datagram) in junk.iter().enumerate() {
        if i % 100 == 0 {
            let text = format!("real message {}", sent.len());
            send(&a, b.local_addr, text.as_str(), sent.len() as u64, false);
            sent.push(text);
        }
        // A full receive buffer drops some; that is the same as junk lost on the way.
        let _ = junk_socket.send_to(datagram, b.local_addr);
    }
    // An empty datagram: the only junk that is valid UTF-8.
    let _ = junk_socket.send_to(&[], b.local_addr);
    let text = format!("real message {}", sent.len());
    send(&a, b.local_addr, text.as_str(), sent.len() as u64, false);
    sent.push(text);

    let events = events_until(&b, WAIT, |events| {
        events
            .iter()
            .filter(|e| matches!(e, EngineEvent::Received { path, .. } if *path == a.local_addr))
            .count()
            >= sent.len()
    });
    let mut real = Vec::new();
    for event in events {
        match event {
            EngineEvent::Received { path, text, .. } if path == a.local_addr => real.push(text),
            EngineEvent::Received {
                from, text, plain, ..
            } if from == PeerId::addr(junk_addr) => {
                assert!(
                    plain && text.is_empty(),
                    "junk was taken for a message: {text:?} (plain: {plain})"
                );
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
    assert_eq!(real, sent);
    assert_all_delivered(&a, b.local_addr, sent.len() as u64);

    // The receiver can still answer.
    send(&b, a.local_addr, "still here", 0, false);
    assert_eq!(receive(&a, 1), [(b.local_addr, "still here".to_owned())]);
}

#[test]
fn a_100_kib_message_arrives_whole() {
    let a = start();
    let b = start();
    // Multi-byte characters, so that fragment boundaries fall inside characters.
    let mut text = String::new();
    let mut i = 0u32;
    while text.len() < 100 * 1024 {
        text.push_str(&format!("{i}:é€😀 "));
        i += 1;
    }
    send(&a, b.local_addr, text.as_str(), 1, false);

    let received = receive(&b, 1);
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].0, a.local_addr);
    assert!(
        received[0].1 == text,
        "the message arrived altered: {} bytes instead of {}",
        received[0].1.len(),
        text.len()
    );
    let events = events_until(&a, WAIT, |e| !e.is_empty());
    assert_eq!(
        events,
        [EngineEvent::Delivered {
            to: PeerId::addr(b.local_addr),
            id: 1
        }]
    );
    assert_quiet(&b, "receiver after the large message");
}
