//! Strangers cannot flood you: junk from 500 source ports leaves a bounded list of
//! requests in the history, and a contact's message still arrives. Real binaries on
//! loopback.

use std::collections::BTreeSet;
use std::net::UdpSocket;
use std::time::Duration;

use qqchat_testkit::{WAIT, friends, loopback, run, text};
use serde_json::Value;

#[test]
fn a_flood_from_500_ports_leaves_a_bounded_list_and_a_contact_gets_through() {
    let (alice, bob) = friends("alice", "bob");
    let mut listening = bob.listen();
    let target = loopback(bob.port);
    let sockets: Vec<UdpSocket> = (0..500)
        .map(|_| UdpSocket::bind("127.0.0.1:0").expect("a socket"))
        .collect();
    for round in 0..3 {
        for (n, socket) in sockets.iter().enumerate() {
            let junk = format!("junk {round} from socket {n}");
            socket.send_to(junk.as_bytes(), target).expect("sent");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // A contact's message still arrives, and is acked.
    let out = run(
        &alice.dir,
        &["--contacts", &alice.contacts(), "send", "bob", "still here"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        listening.stdout.wait_for("still here", WAIT).is_ok(),
        "listen printed alice's message"
    );
    listening.child.terminate();
    assert_eq!(listening.child.wait_for(WAIT), Some(143));

    let out = run(&bob.dir, &["--contacts", &bob.contacts(), "export"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let messages: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let conversations: BTreeSet<&str> = messages
        .iter()
        .filter_map(|m| m["conversation"].as_str())
        .collect();
    let strangers = conversations
        .iter()
        .filter(|c| c.starts_with("addr-"))
        .count();
    assert!(
        (1..=50).contains(&strangers),
        "{strangers} strangers' conversations kept"
    );
    let kept: usize = messages
        .iter()
        .filter_map(|m| m["text"].as_str())
        .map(str::len)
        .sum();
    assert!(kept <= 2 * 1024 * 1024 + 100, "{kept} bytes kept");
    assert!(
        messages
            .iter()
            .any(|m| m["conversation"] == "alice" && m["text"] == "still here")
    );
    // One database, no file per conversation.
    let files =
        std::fs::read_dir(bob.dir.path().join("data").join("history")).map_or(0, |d| d.count());
    assert_eq!(files, 0, "no history file per conversation");
}
