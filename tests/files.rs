//! Files between two real qqchats on loopback: `send-file` into `listen --accept-files`,
//! between friends (so over Noise) and byte for byte, a folder, hostile names, a receiver
//! killed half way, and what is refused.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

use qqchat_testkit::{Person, Running, TempDir, friends, noise, qqchat, run_within, text};

#[test]
fn a_file_between_friends_arrives_verified_and_byte_for_byte() {
    let (alice, bob) = friends("alice", "bob");
    let inbox = TempDir::new("inbox");
    let bob_listens = bob_takes_files(&bob, &inbox);

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

/// Bob listening with `--accept-files` into a fresh inbox.
fn bob_takes_files(bob: &Person, inbox: &TempDir) -> Running {
    let mut command = qqchat(bob.dir.path());
    command.args([
        "--contacts",
        &bob.contacts(),
        "listen",
        "--json",
        "--accept-files",
        inbox.path().to_str().expect("a UTF-8 path"),
    ]);
    let listening = Running::start(command);
    listening.wait_ready("listening on");
    listening
}

/// `qqchat send-file` from `alice` with `args` before the contact and path.
fn send_file(alice: &Person, args: &[&str], path: &Path) -> std::process::Output {
    let contacts = alice.contacts();
    let mut all = vec!["--contacts", &contacts, "send-file", "--timeout", "60"];
    all.extend_from_slice(args);
    all.extend(["bob", path.to_str().expect("a UTF-8 path")]);
    run_within(&alice.dir, &all, None, Duration::from_secs(70))
}

#[test]
fn a_folder_arrives_as_its_tree_without_its_links() {
    let (alice, bob) = friends("alice", "bob");
    let inbox = TempDir::new("inbox");
    let _bob = bob_takes_files(&bob, &inbox);
    let trip = alice.dir.path().join("trip");
    std::fs::create_dir_all(trip.join("day 2")).expect("the folder");
    std::fs::write(trip.join("notes.txt"), "day one").expect("a file");
    let photo = noise(300_000, 3);
    std::fs::write(trip.join("day 2").join("photo.jpg"), &photo).expect("a file");
    // A name that is not UTF-8 (Latin-1 "café") still goes, shown with U+FFFD.
    let latin1 = std::ffi::OsStr::from_bytes(b"caf\xe9.txt");
    std::fs::write(trip.join(latin1), "old name").expect("a file");
    let secret = alice.dir.write("secret.txt", "not for bob");
    std::os::unix::fs::symlink(&secret, trip.join("link.txt")).expect("a link");

    let out = send_file(&alice, &[], &trip);
    let said = text(&out.stderr);
    assert!(out.status.success(), "not sent: {said}");
    assert!(
        said.contains("link.txt: left out: a symbolic link"),
        "{said}"
    );
    let got = inbox.path().join("trip");
    assert_eq!(
        std::fs::read_to_string(got.join("notes.txt")).expect("notes.txt"),
        "day one"
    );
    assert!(std::fs::read(got.join("day 2").join("photo.jpg")).expect("the photo") == photo);
    assert_eq!(
        std::fs::read_to_string(got.join("caf\u{FFFD}.txt")).expect("the Latin-1 name"),
        "old name"
    );
    let mut names: Vec<String> = std::fs::read_dir(&got)
        .expect("the folder")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["caf\u{FFFD}.txt", "day 2", "notes.txt"]);
}

#[test]
fn hostile_names_land_inside_the_inbox_or_are_refused_with_the_reason() {
    let (alice, bob) = friends("alice", "bob");
    let inbox = TempDir::new("inbox");
    let bob_listens = bob_takes_files(&bob, &inbox);
    let file = alice.dir.write("payload", "payload");
    for (name, why) in [
        ("../x", "goes up with `..`"),
        ("/etc/passwd", "is an absolute path"),
        ("CON", "is a device name on Windows"),
    ] {
        let out = send_file(&alice, &["--as", name], &file);
        assert_eq!(out.status.code(), Some(1), "{name} was taken");
        let seen = bob_listens
            .stderr
            .wait_for(why, Duration::from_secs(10))
            .unwrap_or_else(|seen| panic!("no reason for {name}; bob said {seen:#?}"));
        assert!(seen.contains("did not arrive"), "{seen}");
    }
    // The longest name a file system takes: its `.part` file (longer still) is cut while it
    // arrives, and it lands under its own name. One byte more is refused before it goes.
    let long = format!("{}.txt", "a".repeat(251));
    let out = send_file(&alice, &["--as", &format!("a{long}")], &file);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("1 to 255 bytes"),
        "{}",
        text(&out.stderr)
    );
    let out = send_file(&alice, &["--as", &long], &file);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let names: Vec<String> = std::fs::read_dir(inbox.path())
        .expect("the inbox")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [long]);
    let beside: Vec<String> = std::fs::read_dir(inbox.path().parent().expect("a parent"))
        .expect("the directory above")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n == "x" || n == "passwd" || n == "CON")
        .collect();
    assert!(beside.is_empty(), "written outside the inbox: {beside:?}");
}

/// The bytes the `.part` file's state says are held (its `held` ranges).
fn held_on_disk(inbox: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(inbox) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part.state"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .filter_map(|v| v["held"].as_array().cloned())
        .flatten()
        .filter_map(|r| Some(r[1].as_u64()? - r[0].as_u64()?))
        .sum()
}

#[test]
fn a_receiver_killed_mid_file_continues_where_it_was() {
    let (alice, bob) = friends("alice", "bob");
    let inbox = TempDir::new("inbox");
    let mut bob_listens = bob_takes_files(&bob, &inbox);
    let bytes = noise(12 << 20, 11);
    let file = alice.dir.path().join("disk.img");
    std::fs::write(&file, &bytes).expect("write the file");
    let mut command = qqchat(alice.dir.path());
    command.args([
        "--contacts",
        &alice.contacts(),
        "send-file",
        "--timeout",
        "300",
        "bob",
        file.to_str().expect("a UTF-8 path"),
    ]);
    let mut sending = Running::start(command);
    // The receiver persists what it holds every 8 MiB: kill it once that is on disk.
    let mut waited = 0;
    while held_on_disk(inbox.path()) < 8 << 20 {
        assert!(waited < 3000, "8 MiB never arrived");
        assert!(
            sending.child.is_running(),
            "{}",
            sending.child.read_stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
        waited += 1;
    }
    bob_listens.child.kill_hard();
    let bob_again = bob_takes_files(&bob, &inbox);
    let status = sending.child.wait_for(Duration::from_secs(300));
    assert_eq!(status, Some(0), "{}", sending.child.read_stderr());
    let seen = bob_again
        .stderr
        .wait_for("already here, continuing", Duration::from_secs(5))
        .unwrap_or_else(|seen| panic!("not continued; bob said {seen:#?}"));
    assert!(seen.contains("disk.img"), "{seen}");
    let got = std::fs::read(inbox.path().join("disk.img")).expect("the file arrived");
    assert!(got == bytes, "the file differs");
}
