//! One qqchat per person: while a `listen` (or the chat) runs, `send`, `ping` and `id` ask it
//! through its control socket instead of binding a second port, and a second long-running
//! qqchat on the same data directory is refused.

use std::time::Duration;

use qqchat_testkit::{Person, Running, TempDir, WAIT, friends, loopback, qqchat, run, text};

#[test]
fn send_and_ping_go_through_the_running_qqchat() {
    let (alice, bob) = friends("alice", "bob");
    let _alice_listens = alice.listen();
    let bob_listens = bob.listen();

    let out = run(
        &alice.dir,
        &[
            "--contacts",
            &alice.contacts(),
            "send",
            "bob",
            "hello from the running one",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("in use"),
        "{}",
        text(&out.stderr)
    );
    let line = bob_listens
        .stdout
        .wait_for("hello from the running one", WAIT)
        .unwrap_or_else(|seen| panic!("bob got nothing; he saw {seen:?}"));
    // Named as alice: it came from her own port, the one bob has for her.
    assert!(line.contains("alice: "), "{line}");

    let out = run(
        &alice.dir,
        &["--contacts", &alice.contacts(), "history", "--json", "bob"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let kept = text(&out.stdout);
    assert!(kept.contains("hello from the running one"), "{kept}");
    assert!(kept.contains("\"state\":\"delivered\""), "{kept}");
    // Sent messages carry no path; bob's copy says how it came.
    assert!(kept.contains("\"path\":null"), "{kept}");
    let out = run(
        &bob.dir,
        &["--contacts", &bob.contacts(), "history", "--json", "alice"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let kept = text(&out.stdout);
    assert!(kept.contains("hello from the running one"), "{kept}");
    assert!(kept.contains("\"path\":\"loopback\""), "{kept}");

    let out = run(
        &alice.dir,
        &[
            "--contacts",
            &alice.contacts(),
            "ping",
            "-n",
            "2",
            "-i",
            "0.3",
            "bob",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains(&format!("from {}", loopback(alice.port))),
        "the probe left from alice's own port: {said}"
    );
    assert!(said.contains("2 probes sent, 2 answered"), "{said}");
    assert!(
        said.contains(&format!(
            "reply from bob via {} (loopback): seq=2 time=",
            loopback(bob.port)
        )),
        "{said}"
    );
}

#[test]
fn id_reports_the_port_the_running_qqchat_really_has() {
    let alice = Person::new("alice");
    let mut command = qqchat(alice.dir.path());
    command.args([
        "--contacts",
        &alice.contacts(),
        "listen",
        "--bind",
        "127.0.0.1:0",
    ]);
    let running = qqchat_testkit::Running::start(command);
    let ready = running.wait_ready("listening on");
    let port = ready
        .split("listening on 127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the port in the start-up line");
    let out = run(
        &alice.dir,
        &["--contacts", &alice.contacts(), "id", "-q"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("@127.0.0.1:{port}?key=")),
        "{} / {ready}",
        text(&out.stdout)
    );
}

#[test]
fn send_file_goes_through_the_running_qqchat_from_its_own_port() {
    let (alice, bob) = friends("alice", "bob");
    let _alice_listens = alice.listen();
    let inbox = TempDir::new("inbox");
    let mut command = qqchat(bob.dir.path());
    command.args([
        "--contacts",
        &bob.contacts(),
        "listen",
        "--accept-files",
        inbox.path().to_str().expect("a UTF-8 path"),
    ]);
    let bob_listens = Running::start(command);
    bob_listens.wait_ready("listening on");
    alice.dir.write("notes.txt", "taken by the running one");
    // A relative path: the running qqchat has another working directory.
    let mut command = assert_cmd::Command::from_std(qqchat(alice.dir.path()));
    command
        .current_dir(alice.dir.path())
        .args([
            "--contacts",
            &alice.contacts(),
            "send-file",
            "bob",
            "notes.txt",
        ])
        .timeout(Duration::from_secs(60));
    let out = command.output().expect("run send-file");
    let said = text(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(!said.contains("in use"), "{said}");
    assert!(
        said.contains("notes.txt: received and verified by bob"),
        "{said}"
    );
    // From alice's own port, so bob took it as hers.
    let got = std::fs::read_to_string(inbox.path().join("notes.txt")).expect("the file arrived");
    assert_eq!(got, "taken by the running one");
}

#[test]
fn listen_stops_on_sigterm_after_its_control_socket_was_deleted() {
    let alice = Person::new("alice");
    let mut listening = alice.listen();
    let socket = alice.dir.path().join("data").join("qqchat.sock");
    assert!(socket.exists(), "no control socket at {}", socket.display());
    std::fs::remove_file(&socket).expect("remove the socket");
    listening.child.terminate();
    // Not a timing: a stop that never comes is the bug.
    let status = listening.child.wait_for(Duration::from_secs(30));
    // 128 + 15, as a shell reports a process SIGTERM ended.
    assert_eq!(status, Some(143), "listen did not stop after SIGTERM");
}

#[test]
fn a_second_long_running_qqchat_on_one_data_directory_is_refused() {
    let alice = Person::new("alice");
    let _first = alice.listen();
    let out = run(
        &alice.dir,
        &[
            "--contacts",
            &alice.contacts(),
            "listen",
            "--bind",
            "127.0.0.1:0",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("already running"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn send_queue_hands_the_message_to_the_running_qqchat_which_delivers_it_later() {
    let (alice, bob) = friends("alice", "bob");
    let _alice_listens = alice.listen();
    let out = run(
        &alice.dir,
        &[
            "--contacts",
            &alice.contacts(),
            "send",
            "--queue",
            "--timeout",
            "1",
            "bob",
            "for when you are back",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("left in the outbox"),
        "{}",
        text(&out.stderr)
    );
    // The running listen keeps it, and sends it when bob's qqchat says hello.
    std::thread::sleep(Duration::from_millis(200));
    let bob_listens = bob.listen();
    let line = bob_listens
        .stdout
        .wait_for("for when you are back", Duration::from_secs(60))
        .unwrap_or_else(|seen| panic!("the queued message never came; bob saw {seen:?}"));
    assert!(line.contains("alice: "), "{line}");
}
