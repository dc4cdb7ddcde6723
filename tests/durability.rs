//! Nothing lost: a receiver killed with SIGKILL mid-burst, and a sender whose queued messages
//! wait across a restart for a peer that starts later. Real binaries on loopback.

use std::collections::HashMap;
use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use qqchat_testkit::{Person, Running, TempDir, WAIT, free_port, loopback, qqchat};
use serde_json::Value;

fn listen(dir: &TempDir, port: u16, extra: &[&str]) -> Running {
    let mut command = qqchat(dir.path());
    command
        .args(extra)
        .args(["listen", "--bind", &loopback(port).to_string()]);
    let running = Running::start(command);
    running.wait_ready("listening on");
    running
}

/// The conversation with `who` as stored in `dir`'s history.
fn history(dir: &TempDir, who: &str, extra: &[&str]) -> Vec<Value> {
    let output = qqchat(dir.path())
        .args(extra)
        .args(["history", "--json", who])
        .output()
        .expect("run history");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[test]
fn a_receiver_killed_mid_burst_loses_nothing_it_acked_and_stores_nothing_twice() {
    let (receiver_dir, sender_dir) = (TempDir::new("kill-recv"), TempDir::new("kill-send"));
    let (port_b, port_a) = (free_port(), free_port());
    let send_args = vec![
        "send".to_owned(),
        "--bind".to_owned(),
        loopback(port_a).to_string(),
        loopback(port_b).to_string(),
    ];
    kill_mid_burst(&receiver_dir, port_b, &[], &sender_dir, &send_args);
    let stored = history(&receiver_dir, &loopback(port_a).to_string(), &[]);
    assert_each_once(&stored);
}

/// The same with keys: the restarted receiver has lost its Noise sessions too.
#[test]
fn a_keyed_receiver_killed_mid_burst_loses_nothing_either() {
    let (bob, alice) = (Person::new("bob"), Person::new("alice"));
    bob.add(&alice.id());
    alice.add(&bob.id());
    let bob_flags = ["--contacts".to_owned(), bob.contacts()];
    let send_args: Vec<String> = ["--contacts", &alice.contacts(), "send", "bob"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let bob_flags: Vec<&str> = bob_flags.iter().map(String::as_str).collect();
    kill_mid_burst(&bob.dir, bob.port, &bob_flags, &alice.dir, &send_args);
    let stored = history(&bob.dir, "alice", &bob_flags);
    assert_each_once(&stored);
}

fn burst() -> Vec<String> {
    (0..400).map(|i| format!("burst message {i:03}")).collect()
}

/// Starts a receiver, sends it a burst, kills it with SIGKILL part-way, restarts it, and
/// waits until the sender has every receipt.
fn kill_mid_burst(
    receiver_dir: &TempDir,
    port: u16,
    receiver_flags: &[&str],
    sender_dir: &TempDir,
    send_args: &[String],
) {
    let mut first = listen(receiver_dir, port, receiver_flags);
    let mut sender = qqchat(sender_dir.path());
    sender.args(send_args).stdin(Stdio::piped());
    let mut sender = qqchat_testkit::ChildGuard::spawn(&mut sender);
    {
        let mut stdin = sender.take_stdin();
        stdin
            .write_all(format!("{}\n", burst().join("\n")).as_bytes())
            .expect("write stdin");
    }
    // Kill the receiver once part of the burst is in, without any chance to clean up.
    let mut seen = 0;
    while seen < 40 && first.stdout.next(WAIT).is_some() {
        seen += 1;
    }
    assert_eq!(seen, 40, "the burst began");
    first.child.kill_hard();
    drop(first);
    let second = listen(receiver_dir, port, receiver_flags);
    // The sender only exits 0 once every message was acked.
    let status = sender.wait_for(Duration::from_secs(40));
    assert_eq!(
        status,
        Some(0),
        "send exit status: {}",
        sender.read_stderr()
    );
    drop(second);
}

fn assert_each_once(stored: &[Value]) {
    let mut count: HashMap<String, usize> = HashMap::new();
    for record in stored {
        let text = record["text"].as_str().expect("text").to_owned();
        *count.entry(text).or_default() += 1;
    }
    let lines = burst();
    for line in &lines {
        assert_eq!(count.get(line), Some(&1), "{line:?} stored once");
    }
    assert_eq!(stored.len(), lines.len());
}

#[test]
fn queued_messages_wait_for_a_restart_and_a_peer_that_starts_later() {
    let (alice_dir, bob_dir) = (TempDir::new("queue-alice"), TempDir::new("queue-bob"));
    let (port_a, port_b) = (free_port(), free_port());
    let alice_contacts = alice_dir.write(
        "contacts.toml",
        &format!(
            "[me]\nname = \"alice\"\nlisten = \"{}\"\nstun = []\n\n[contacts]\nbob = \"{}\"\n",
            loopback(port_a),
            loopback(port_b)
        ),
    );
    let bob_contacts = bob_dir.write(
        "contacts.toml",
        &format!(
            "[me]\nname = \"bob\"\nlisten = \"{}\"\nstun = []\n\n[contacts]\nalice = \"{}\"\n",
            loopback(port_b),
            loopback(port_a)
        ),
    );
    let alice_flag = ["--contacts", alice_contacts.to_str().expect("utf-8 path")];
    let bob_flag = ["--contacts", bob_contacts.to_str().expect("utf-8 path")];

    // Bob is not running: alice's messages are queued.
    let mut send = qqchat(alice_dir.path());
    send.args(alice_flag)
        .args(["send", "--queue", "--timeout", "1", "bob"])
        .stdin(Stdio::piped());
    let mut send = qqchat_testkit::ChildGuard::spawn(&mut send);
    send.take_stdin()
        .write_all(b"one\ntwo\nthree\n")
        .expect("write stdin");
    assert_eq!(
        send.wait_for(Duration::from_secs(20)),
        Some(1),
        "not delivered"
    );
    let stderr = send.read_stderr();
    assert!(stderr.contains("left in the outbox"), "{stderr}");
    let queued: Vec<String> = history(&alice_dir, "bob", &alice_flag)
        .iter()
        .map(|m| m["state"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(queued, ["queued", "queued", "queued"]);

    // Alice's qqchat runs again (headless), then bob starts: the outbox goes out by itself.
    let alice = listen(&alice_dir, port_a, &alice_flag);
    std::thread::sleep(Duration::from_millis(300));
    let bob = listen(&bob_dir, port_b, &bob_flag);
    let mut got = Vec::new();
    let end = Instant::now() + WAIT;
    while got.len() < 3 && Instant::now() < end {
        if let Some(line) = bob.stdout.next(Duration::from_millis(200)) {
            got.push(line);
        }
    }
    let texts: Vec<&str> = got.iter().filter_map(|l| l.split(": ").nth(1)).collect();
    assert_eq!(texts, ["one", "two", "three"], "in order: {got:?}");
    assert!(got.iter().all(|l| l.contains("] alice: ")), "{got:?}");
    // Alice's history says delivered once her engine has the receipts.
    let end = Instant::now() + WAIT;
    loop {
        let states: Vec<String> = history(&alice_dir, "bob", &alice_flag)
            .iter()
            .map(|m| m["state"].as_str().unwrap_or_default().to_owned())
            .collect();
        if states == ["delivered", "delivered", "delivered"] {
            break;
        }
        assert!(Instant::now() < end, "alice's history: {states:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    drop((alice, bob));
}
