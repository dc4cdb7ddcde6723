//! The real `qqchat` binary on loopback: `send`, `listen` and `bot`, with each other, with
//! plain UDP peers, through a lossy relay, under junk, and with every start-up mistake.

use std::net::{SocketAddr, UdpSocket};
use std::process::Output;
use std::time::Duration;

use qqchat_testkit::{
    Impairment, Relay, Rng, Running, TempDir, WAIT, free_port, junk_datagrams, loopback,
    loopback_socket, qqchat, run,
};
use serde_json::Value;

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts that the command succeeded, showing its stderr if not.
fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}; stderr: {}",
        output.status,
        stderr(output)
    );
}

/// Asserts an ordinary failure: exit status 1 (not a crash, not killed), nothing on stdout.
fn assert_failure(output: &Output) {
    assert_eq!(
        output.status.code(),
        Some(1),
        "expected exit 1; stderr: {}",
        stderr(output)
    );
    assert!(
        output.stdout.is_empty(),
        "stdout: {:?}",
        String::from_utf8_lossy(&output.stdout)
    );
}

/// `qqchat [PRE...] listen --bind 127.0.0.1:PORT [POST...]`, once it says it is listening.
fn listen(dir: &TempDir, port: u16, pre: &[&str], post: &[&str]) -> Running {
    let mut command = qqchat(dir.path());
    let bind = loopback(port).to_string();
    command
        .args(pre)
        .args(["listen", "--bind", &bind])
        .args(post);
    let running = Running::start(command);
    let ready = running.wait_ready("listening on");
    assert!(ready.contains(&bind), "startup line: {ready}");
    running
}

/// The next line `listen` prints, or a panic saying nothing came.
fn next_line(listener: &Running, what: &str) -> String {
    listener
        .stdout
        .next(WAIT)
        .unwrap_or_else(|| panic!("listen printed nothing for {what} within {WAIT:?}"))
}

/// Checks a text line of `listen`: `[HH:MM:SS] name: text`.
fn assert_text_line(line: &str, name: &str, text: &str) {
    let bytes = line.as_bytes();
    let clock_ok = bytes.len() > 11
        && bytes[0] == b'['
        && bytes[3] == b':'
        && bytes[6] == b':'
        && bytes[9] == b']'
        && bytes[10] == b' '
        && [1, 2, 4, 5, 7, 8]
            .iter()
            .all(|&i| bytes[i].is_ascii_digit());
    assert!(clock_ok, "no [HH:MM:SS] at the start of {line:?}");
    assert_eq!(&line[11..], format!("{name}: {text}"), "in {line:?}");
}

/// Asserts that `listen` prints nothing more for a while (no duplicate, no junk).
fn assert_no_more_lines(listener: &Running) {
    if let Some(line) = listener.stdout.next(Duration::from_millis(500)) {
        panic!("unexpected extra line: {line:?}");
    }
}

/// A socket standing in for a plain UDP peer (a script, `nc -u`), with a read timeout.
fn plain_peer() -> (UdpSocket, SocketAddr) {
    let socket = loopback_socket();
    socket.set_read_timeout(Some(WAIT)).expect("read timeout");
    let addr = socket.local_addr().expect("peer address");
    (socket, addr)
}

/// Receives one datagram, panicking with `what` when none comes.
fn recv_bytes(socket: &UdpSocket, what: &str) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0u8; 65_536];
    let (len, from) = socket
        .recv_from(&mut buf)
        .unwrap_or_else(|e| panic!("no datagram for {what}: {e}"));
    buf.truncate(len);
    (buf, from)
}

#[test]
fn send_delivers_into_listen() {
    let dir = TempDir::new("send-listen");
    // The sender is another person, with their own data directory.
    let sender_dir = TempDir::new("send-listen-sender");
    let port = free_port();
    let listener = listen(&dir, port, &[], &[]);
    let to = loopback(port).to_string();

    let output = run(
        &sender_dir,
        &["send", "--bind", "127.0.0.1:0", &to, "hello", "world"],
        None,
    );
    assert_success(&output);

    let line = next_line(&listener, "the message");
    assert!(line.ends_with(": hello world"), "{line:?}");
    assert_no_more_lines(&listener);
}

#[test]
fn send_sends_each_line_of_stdin_in_order() {
    let dir = TempDir::new("send-stdin");
    // The sender is another person, with their own data directory.
    let sender_dir = TempDir::new("send-stdin-sender");
    let port = free_port();
    let listener = listen(&dir, port, &[], &[]);
    let to = loopback(port).to_string();

    let output = run(
        &sender_dir,
        &["send", "--bind", "127.0.0.1:0", &to],
        Some("first line\nsecond line\nthird line\n"),
    );
    assert_success(&output);

    for expected in ["first line", "second line", "third line"] {
        let line = next_line(&listener, expected);
        assert!(line.ends_with(&format!(": {expected}")), "{line:?}");
    }
    assert_no_more_lines(&listener);
}

#[test]
fn send_to_nobody_fails_and_names_what_was_not_delivered() {
    let dir = TempDir::new("send-nobody");
    let to = loopback(free_port()).to_string();

    let output = run(
        &dir,
        &[
            "send",
            "--bind",
            "127.0.0.1:0",
            "--timeout",
            "1",
            &to,
            "is anybody there",
        ],
        None,
    );
    assert_failure(&output);
    let err = stderr(&output);
    assert!(err.contains("not delivered"), "{err}");
    assert!(err.contains("is anybody there"), "{err}");
    assert!(err.contains(&to), "{err}");
}

#[test]
fn send_refuses_an_absurd_timeout_instead_of_crashing() {
    let dir = TempDir::new("send-timeout");
    let to = loopback(free_port()).to_string();
    for timeout in ["1e20", "1e19", "0", "NaN"] {
        let output = run(
            &dir,
            &[
                "send",
                "--bind",
                "127.0.0.1:0",
                "--timeout",
                timeout,
                &to,
                "hi",
            ],
            None,
        );
        assert_failure(&output);
        let err = stderr(&output);
        assert!(err.contains("--timeout"), "--timeout {timeout}: {err}");
        assert!(!err.contains("panicked"), "--timeout {timeout}: {err}");
    }
}

#[test]
fn listen_json_has_every_field_and_names_known_senders() {
    let dir = TempDir::new("listen-json");
    // The sender is another person, with their own data directory.
    let sender_dir = TempDir::new("listen-json-sender");
    let sender_port = free_port();
    let sender = loopback(sender_port).to_string();
    let book = dir.write(
        "listener-contacts.toml",
        &format!("[contacts]\nsender = \"{sender}\"\n"),
    );
    let book = book.to_str().expect("a UTF-8 temporary path");
    let port = free_port();
    let to = loopback(port).to_string();
    let listener = listen(&dir, port, &["--contacts", book], &["--json"]);

    // A qqchat sender the contacts file names.
    let output = run(
        &sender_dir,
        &["send", "--bind", &sender, &to, "json \"quoted\" hello"],
        None,
    );
    assert_success(&output);
    let line = next_line(&listener, "the named sender");
    let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    let object = v.as_object().expect("one JSON object per line");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "addr",
            "from",
            "path",
            "plain",
            "received_at",
            "sent_at",
            "text",
            "via"
        ]
    );
    assert_eq!(v["from"], "sender");
    assert_eq!(v["via"], "qqchat", "the protocol it came in");
    assert_eq!(v["addr"], sender.as_str());
    assert_eq!(v["path"], "loopback", "the kind of path it came over");
    assert_eq!(v["text"], "json \"quoted\" hello");
    assert_eq!(v["plain"], false);
    for key in ["sent_at", "received_at"] {
        let stamp = v[key].as_str().unwrap_or_else(|| panic!("{key}: {v}"));
        stamp
            .parse::<jiff::Timestamp>()
            .unwrap_or_else(|e| panic!("{key} {stamp:?}: {e}"));
    }

    // A plain peer nobody named.
    let (peer, peer_addr) = plain_peer();
    peer.send_to(b"plain json", loopback(port))
        .expect("send plain");
    let line = next_line(&listener, "the plain peer");
    let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    assert_eq!(v["from"], Value::Null);
    assert_eq!(v["addr"], peer_addr.to_string().as_str());
    assert_eq!(v["text"], "plain json");
    assert_eq!(v["plain"], true);
    assert_eq!(v["via"], "plain");
    assert_eq!(v["sent_at"], Value::Null);
    assert!(v["received_at"].is_string(), "{v}");
    drop(listener);

    // The text form uses the contact's name too.
    let port = free_port();
    let to = loopback(port).to_string();
    let listener = listen(&dir, port, &["--contacts", book], &[]);
    let output = run(
        &sender_dir,
        &["send", "--bind", &sender, &to, "named hello"],
        None,
    );
    assert_success(&output);
    assert_text_line(
        &next_line(&listener, "the named sender"),
        "sender",
        "named hello",
    );
}

#[test]
fn send_through_a_lossy_relay_delivers_fifty_lines_once_in_order() {
    let dir = TempDir::new("relay");
    // The sender is another person, with their own data directory.
    let sender_dir = TempDir::new("relay-sender");
    let port = free_port();
    let listener = listen(&dir, port, &[], &[]);
    let relay = Relay::start(loopback(port), Impairment::HOSTILE, 0xC11);
    let via = relay.addr().to_string();
    // Long enough that the fifty, sent in one go and packed together, still fill dozens of
    // datagrams for the relay to drop, duplicate and reorder.
    let pad = "x".repeat(600);
    let lines: Vec<String> = (0..50).map(|i| format!("line {i} of 50 {pad}")).collect();
    let input = lines.join("\n") + "\n";

    let output = run(
        &sender_dir,
        &["send", "--bind", "127.0.0.1:0", &via],
        Some(&input),
    );
    assert_success(&output);

    for expected in &lines {
        let line = next_line(&listener, expected);
        assert!(
            line.ends_with(&format!(": {expected}")),
            "expected {expected:?}, got {line:?}; {}",
            relay.summary()
        );
    }
    assert_no_more_lines(&listener);
    relay.assert_was_hostile();
}

#[test]
fn a_plain_udp_peer_can_talk_to_listen_and_be_sent_to() {
    let dir = TempDir::new("plain");
    let port = free_port();
    let listener = listen(&dir, port, &[], &[]);
    let (peer, peer_addr) = plain_peer();

    peer.send_to(b"plain hi", loopback(port))
        .expect("send plain");
    assert_text_line(
        &next_line(&listener, "the plain datagram"),
        &peer_addr.to_string(),
        "plain hi",
    );

    let book = dir.write(
        "plain-contacts.toml",
        &format!("[contacts]\nscript = {{ addr = \"{peer_addr}\", plain = true }}\n"),
    );
    let book = book.to_str().expect("a UTF-8 temporary path");
    let output = run(
        &dir,
        &[
            "--contacts",
            book,
            "send",
            "--bind",
            "127.0.0.1:0",
            "script",
            "bare text, ünïcode",
        ],
        None,
    );
    assert_success(&output);
    let (bytes, _) = recv_bytes(&peer, "the plain send");
    assert_eq!(
        String::from_utf8_lossy(&bytes),
        "bare text, ünïcode",
        "exactly the bare UTF-8"
    );
}

#[test]
fn junk_datagrams_leave_listen_alive_and_printing_nothing() {
    let dir = TempDir::new("junk");
    // The sender is another person, with their own data directory.
    let sender_dir = TempDir::new("junk-sender");
    let port = free_port();
    let mut listener = listen(&dir, port, &[], &[]);
    let junk_socket = loopback_socket();
    let mut rng = Rng::new(7);
    for datagram in junk_datagrams(&mut rng, 1_000) {
        // A full receive buffer drops some; that is the same as junk lost on the way.
        let _ = junk_socket.send_to(&datagram, loopback(port));
    }

    assert!(listener.child.is_running(), "listen died on junk");
    let to = loopback(port).to_string();
    let output = run(
        &sender_dir,
        &["send", "--bind", "127.0.0.1:0", &to, "after the junk"],
        None,
    );
    assert_success(&output);
    // The first line printed is the real message: no junk was shown.
    let line = next_line(&listener, "the message after the junk");
    assert!(line.ends_with(": after the junk"), "{line:?}");
    assert!(listener.child.is_running(), "listen died");
}

#[test]
fn escape_sequences_from_the_network_are_never_printed_raw() {
    let dir = TempDir::new("escapes");
    let port = free_port();
    let listener = listen(&dir, port, &[], &[]);
    let (peer, _) = plain_peer();

    peer.send_to(b"evil \x1b[2J\x1b]0;pwned\x07 text\r", loopback(port))
        .expect("send plain");
    let line = listener
        .stdout
        .next_bytes(WAIT)
        .expect("listen printed the message");
    let shown = String::from_utf8_lossy(&line);
    assert!(
        shown.contains("evil") && shown.contains("text"),
        "{shown:?}"
    );
    for byte in [0x1b, 0x07, b'\r'] {
        assert!(
            !line.contains(&byte),
            "byte {byte:#04x} reached the terminal: {shown:?}"
        );
    }
}

/// Starts `bot --reply MODE`, sends `text` from a plain peer, returns the bare answer.
fn ask_bot(mode: &str, text: &str) -> String {
    let dir = TempDir::new("bot");
    let port = free_port();
    let mut command = qqchat(dir.path());
    command.args([
        "bot",
        "--bind",
        &loopback(port).to_string(),
        "--reply",
        mode,
    ]);
    let bot = Running::start(command);
    bot.wait_ready("answering on");

    let (peer, _) = plain_peer();
    peer.send_to(text.as_bytes(), loopback(port))
        .expect("send plain");
    let (bytes, from) = recv_bytes(&peer, "the bot's answer");
    assert_eq!(from, loopback(port), "the answer comes from the bot");
    String::from_utf8(bytes).expect("the answer is bare UTF-8")
}

#[test]
fn bot_upper_answers_in_capitals() {
    assert_eq!(ask_bot("upper", "ping me"), "PING ME");
}

#[test]
fn bot_echo_answers_the_same_text() {
    assert_eq!(
        ask_bot("echo", "Echo ünïcode, please"),
        "Echo ünïcode, please"
    );
}

#[test]
fn bot_time_formats_the_text_as_a_pattern() {
    let answer = ask_bot("time", "%Y");
    assert!(
        answer.len() == 4 && answer.bytes().all(|b| b.is_ascii_digit()),
        "{answer:?}"
    );
    let year: i16 = answer.parse().expect("a year");
    let now = jiff::Zoned::now().year();
    assert!(
        (now - 1..=now + 1).contains(&year),
        "{year} is not this year"
    );
}

#[test]
fn listen_on_a_port_in_use_says_so_and_suggests_bind() {
    let dir = TempDir::new("in-use");
    let taken = loopback_socket();
    let taken_addr = taken.local_addr().expect("taken address");
    // The port after it is busy too, so "one up" would be bad advice.
    let _next = std::net::UdpSocket::bind(loopback(taken_addr.port().wrapping_add(1)));
    let addr = taken_addr.to_string();

    let output = run(&dir, &["listen", "--bind", &addr], None);
    assert_failure(&output);
    let err = stderr(&output);
    assert!(err.contains("in use"), "{err}");
    assert!(!err.contains("listening on"), "{err}");
    let suggested: std::net::SocketAddr = err
        .split("--bind ")
        .last()
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no --bind ADDRESS suggested: {err}"));
    assert_ne!(suggested.port(), taken_addr.port().wrapping_add(1), "{err}");
    assert!(
        std::net::UdpSocket::bind(suggested).is_ok(),
        "the suggested {suggested} is not free: {err}"
    );
}

#[test]
fn a_broken_contacts_file_stops_listen_with_file_line_and_name() {
    let dir = TempDir::new("broken-contacts");
    let book = dir.write(
        "broken.toml",
        "# friends\n[contacts]\nalice = \"127.0.0.1:9002\"\nbob = \"127.0.0.1\"\n",
    );
    let book = book.to_str().expect("a UTF-8 temporary path");

    let output = run(
        &dir,
        &["--contacts", book, "listen", "--bind", "127.0.0.1:0"],
        None,
    );
    assert_failure(&output);
    let err = stderr(&output);
    assert!(err.contains(&format!("{book}:4:")), "{err}");
    assert!(err.contains("bob"), "{err}");
    assert!(!err.contains("listening on"), "{err}");
}

#[test]
fn a_missing_contacts_file_is_named() {
    let dir = TempDir::new("missing-contacts");
    let book = dir.path().join("no-such-contacts.toml");
    let book = book.to_str().expect("a UTF-8 temporary path");

    let output = run(
        &dir,
        &["--contacts", book, "listen", "--bind", "127.0.0.1:0"],
        None,
    );
    assert_failure(&output);
    let err = stderr(&output);
    assert!(err.contains(book), "{err}");
    assert!(!err.contains("listening on"), "{err}");
}

#[test]
fn ping_reports_each_probe_and_explains_silence() {
    let dir = TempDir::new("ping");
    // The sender is another person, with their own data directory.
    let sender_dir = TempDir::new("ping-sender");
    let port = free_port();
    let _listener = listen(&dir, port, &[], &[]);
    let to = loopback(port).to_string();
    let output = run(&sender_dir, &["ping", "-n", "2", "-i", "0.3", &to], None);
    assert_success(&output);
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(out.matches("reply from").count(), 2, "{out}");
    // Which path answered, and what kind it is.
    assert!(
        out.contains(&format!("reply from {to} via {to} (loopback): seq=1 time=")),
        "{out}"
    );
    assert!(out.contains("2 probes sent, 2 answered, 0% loss"), "{out}");
    assert!(out.contains("rtt min/avg/max"), "{out}");

    let nobody = loopback(free_port()).to_string();
    let output = run(
        &sender_dir,
        &["ping", "-n", "1", "-i", "0.3", &nobody],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(out.contains("100% loss"), "{out}");
    let err = stderr(&output);
    for hint in ["running on this machine", "qqchat listen --bind"] {
        assert!(err.contains(hint), "no {hint:?} in {err}");
    }
    assert!(
        !err.contains("not 127.0.0.1"),
        "LAN advice for loopback: {err}"
    );
}

#[test]
fn demo_refuses_a_contacts_file_and_honours_bind() {
    let dir = TempDir::new("demo-flags");
    let output = run(&dir, &["demo", "--contacts", "x.toml"], None);
    assert_failure(&output);
    assert!(
        stderr(&output).contains("--contacts"),
        "{}",
        stderr(&output)
    );

    let taken = loopback_socket();
    let addr = taken.local_addr().expect("taken address").to_string();
    let output = run(&dir, &["demo", "--bind", &addr], None);
    assert_failure(&output);
    assert!(stderr(&output).contains("in use"), "{}", stderr(&output));
}

#[test]
fn history_of_an_address_never_heard_from_is_an_error() {
    let dir = TempDir::new("history-unknown");
    let output = run(&dir, &["history", "127.0.0.1:9999"], None);
    assert_failure(&output);
    assert!(
        stderr(&output).contains("no conversation with 127.0.0.1:9999"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn ping_refuses_zero_probes() {
    let dir = TempDir::new("ping-zero");
    let output = run(&dir, &["ping", "-n", "0", "127.0.0.1:9"], None);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("--count"), "{}", stderr(&output));
}

#[test]
fn add_takes_the_common_name_flag() {
    let dir = TempDir::new("add-name");
    let line = "qqchat:bob@127.0.0.1:9002?key=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let output = run(&dir, &["add", "--name", "alice", line], None);
    assert!(
        !stderr(&output).contains("unexpected argument"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn the_default_name_comes_from_the_system_when_no_variable_names_the_user() {
    let dir = TempDir::new("default-name");
    let expected = std::process::Command::new("id")
        .arg("-un")
        .output()
        .expect("run id -un");
    let expected = String::from_utf8_lossy(&expected.stdout).trim().to_owned();
    let output = assert_cmd::Command::from_std(qqchat(dir.path()))
        .env_remove("USER")
        .env_remove("LOGNAME")
        .env_remove("USERNAME")
        .args(["--bind", "127.0.0.1:9001", "id", "-q"])
        .output()
        .expect("run qqchat id");
    let line = String::from_utf8_lossy(&output.stdout);
    assert!(
        line.starts_with(&format!("qqchat:{expected}@")),
        "{line} / {}",
        stderr(&output)
    );
}

#[test]
fn send_refuses_a_message_over_the_limit_at_once_and_stores_nothing() {
    let dir = TempDir::new("send-too-long");
    let long = format!("{}\n", "y".repeat(qqchat::proto::MAX_MESSAGE + 10));
    let to = loopback(free_port()).to_string();
    let output = run(&dir, &["send", &to], Some(&long));
    assert_failure(&output);
    let err = stderr(&output);
    assert!(err.contains("at most 1,048,576 bytes"), "{err}");
    assert!(!err.contains("is qqchat running"), "{err}");
    assert!(
        err.len() < 500,
        "the text is not echoed: {} bytes",
        err.len()
    );
    let history = run(&dir, &["history", &to], None);
    assert_failure(&history);
}

#[test]
fn a_gb18030_plain_peer_is_read_and_written_in_its_encoding() {
    let dir = TempDir::new("gb18030");
    let port = free_port();
    let (peer, peer_addr) = plain_peer();
    let book = dir.write(
        "gb-contacts.toml",
        &format!(
            "[contacts]\nold = {{ addr = \"{peer_addr}\", plain = true, encoding = \"gb18030\" }}\n"
        ),
    );
    let book = book.to_str().expect("a UTF-8 temporary path");
    let listener = listen(&dir, port, &["--contacts", book], &[]);

    // 你好，世界 in GBK, as a Chinese Windows tool sends it.
    let (gbk, _, _) = encoding_rs::GBK.encode("你好，世界");
    peer.send_to(&gbk, loopback(port)).expect("send GBK");
    assert_text_line(
        &next_line(&listener, "the GBK datagram"),
        "old",
        "你好，世界",
    );

    let output = run(
        &dir,
        &[
            "--contacts",
            book,
            "send",
            "--bind",
            "127.0.0.1:0",
            "old",
            "收到了",
        ],
        None,
    );
    assert_success(&output);
    let (bytes, _) = recv_bytes(&peer, "the GB18030 send");
    let (want, _, _) = encoding_rs::GB18030.encode("收到了");
    assert_eq!(bytes, want.as_ref(), "GB18030 bytes, not UTF-8");
}

#[test]
fn text_in_gb18030_from_an_unknown_address_is_shown_not_dropped() {
    let dir = TempDir::new("gb-unknown");
    let port = free_port();
    let listener = listen(&dir, port, &[], &[]);
    let (peer, peer_addr) = plain_peer();
    let (gb, _, _) = encoding_rs::GB18030.encode("测试消息");
    assert!(std::str::from_utf8(&gb).is_err(), "not UTF-8 by accident");
    peer.send_to(&gb, loopback(port)).expect("send GB18030");
    assert_text_line(
        &next_line(&listener, "the GB18030 datagram"),
        &peer_addr.to_string(),
        "测试消息",
    );
    // Bytes that are text in no encoding qqchat tries are still dropped.
    peer.send_to(&[0x81], loopback(port)).expect("send junk");
    assert_no_more_lines(&listener);
}

/// A received message, as the history keeps it.
fn received_record(id: u64, peer: &str, at: jiff::Timestamp, text: &str) -> qqchat::store::Record {
    qqchat::store::Record::Msg {
        id,
        dir: qqchat::store::Direction::In,
        peer: peer.to_owned(),
        path: None,
        at,
        sent_at: None,
        text: text.to_owned(),
        plain: false,
        state: qqchat::store::MessageState::Received,
    }
}

#[test]
fn unread_counts_what_came_after_each_read_point() {
    use qqchat::store::{ConversationKey, History, ReadPoints, save_read};
    let dir = TempDir::new("unread");
    let minute = |m: i64| jiff::Timestamp::from_second(1_700_000_000 + m * 60).expect("a time");
    // Nothing kept yet: nothing unread, and still a total for a status bar.
    let output = run(&dir, &["unread"], None);
    assert_success(&output);
    assert_eq!(String::from_utf8_lossy(&output.stdout), "total 0\n");

    let mut history = History::open(&dir.path().join("data")).expect("a history");
    let bob = ConversationKey::contact("bob");
    let carol = ConversationKey::contact("carol");
    let stranger = ConversationKey::from_address("127.0.0.1:5555".parse().expect("addr"));
    let dave = ConversationKey::contact("dave");
    for (id, m) in [(1, 1), (2, 2), (3, 3)] {
        history.append(
            &bob,
            &received_record(id, "127.0.0.1:4002", minute(m), "hi"),
        );
    }
    history.append(
        &carol,
        &received_record(4, "127.0.0.1:4003", minute(5), "new"),
    );
    history.append(
        &stranger,
        &received_record(5, "127.0.0.1:5555", minute(6), "who?"),
    );
    history.append(
        &dave,
        &received_record(6, "127.0.0.1:4004", minute(-5), "old"),
    );
    history.commit().expect("written");
    let mut read = ReadPoints {
        since: Some(minute(0)),
        ..ReadPoints::default()
    };
    read.read_to(&bob, minute(1));
    save_read(history.dir(), &read).expect("read points kept");

    let output = run(&dir, &["unread"], None);
    assert_success(&output);
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        text, "127.0.0.1:5555 1\nbob 2\ncarol 1\ntotal 4\n",
        "{text}"
    );

    let output = run(&dir, &["unread", "--json"], None);
    assert_success(&output);
    let value: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    assert_eq!(value["total"], 4);
    let bob = value["conversations"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|c| c["name"] == "bob")
        .expect("bob is there");
    assert_eq!(bob["unread"], 2);
    assert_eq!(bob["group"], false);
}
