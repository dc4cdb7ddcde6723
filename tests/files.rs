//! Files between two real qqchats on loopback: `send-file` into `listen --accept-files`,
//! between friends (so over Noise) and byte for byte, and what is refused.

use std::time::Duration;

use qqchat_testkit::{Running, TempDir, friends, qqchat, run_within, text};

/// Bytes that no two runs share and no compressor shrinks.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn a_file_between_friends_arrives_verified_and_byte_for_byte() {
    let (alice, bob) = friends("alice", "bob");
    let inbox = TempDir::new("inbox");
    let inbox_path = inbox.path().to_str().expect("a UTF-8 path").to_owned();
    let mut command = qqchat(bob.dir.path());
    command.args([
        "--contacts",
        &bob.contacts(),
        "listen",
        "--json",
        "--accept-files",
        &inbox_path,
    ]);
    let bob_listens = Running::start(command);
    bob_listens.wait_ready("listening on");

    let bytes = noise(1_500_000, 7);
    let file = alice.dir.path().join("holiday photos.bin");
    std::fs::write(&file, &bytes).expect("write the file");
    let file = file.to_str().expect("a UTF-8 path");
    let out = run_within(
        &alice.dir,
        &[
            "--contacts",
            &alice.contacts(),
            "send-file",
            "--timeout",
            "60",
            "bob",
            file,
        ],
        None,
        Duration::from_secs(70),
    );
    assert!(out.status.success(), "not sent: {}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("verified by bob"),
        "{}",
        text(&out.stderr)
    );
    let line = bob_listens
        .stdout
        .wait_for("\"verified\":true", Duration::from_secs(5))
        .unwrap_or_else(|seen| panic!("no line for the file; bob printed {seen:#?}"));
    assert!(line.contains("\"from\":\"alice\""), "{line}");
    let got = std::fs::read(inbox.path().join("holiday photos.bin")).expect("the file arrived");
    assert!(got == bytes, "the file differs");
    // Nothing half-done is left beside it.
    let names: Vec<String> = std::fs::read_dir(inbox.path())
        .expect("the inbox")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    assert_eq!(names, ["holiday photos.bin"]);
}

#[test]
fn a_listen_without_accept_files_declines_and_the_sender_says_so() {
    let (alice, bob) = friends("alice", "bob");
    let _bob_listens = bob.listen();
    let file = alice.dir.write("unwanted.txt", "no thanks");
    let file = file.to_str().expect("a UTF-8 path");
    let out = run_within(
        &alice.dir,
        &[
            "--contacts",
            &alice.contacts(),
            "send-file",
            "--timeout",
            "20",
            "bob",
            file,
        ],
        None,
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("declined"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_directory_is_refused_with_the_reason() {
    let (alice, _bob) = friends("alice", "bob");
    let dir = alice.dir.path().to_str().expect("a UTF-8 path").to_owned();
    let out = run_within(
        &alice.dir,
        &["--contacts", &alice.contacts(), "send-file", "bob", &dir],
        None,
        Duration::from_secs(20),
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("not a file"),
        "{}",
        text(&out.stderr)
    );
}
