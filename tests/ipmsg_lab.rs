//! IP Messenger on one LAN, in the lab: `qqchat listen` with no contacts at all next to an
//! IP Messenger peer that speaks the protocol byte for byte as iptux 0.8 does (a small
//! Python program on its own host). qqchat answers its entry, shows its message once with
//! `"via": "ipmsg"`, sends it one that it acknowledges with iptux's 289, and hears it leave.
//! Skips loudly where the lab cannot run (not root) and fails instead in CI.

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use qqchat_testkit::{ChildGuard, Lab, Lines, Person, Running};

const PORT: u16 = 7000;
const WAIT: Duration = Duration::from_secs(20);
const PYTHON: &str = "/usr/bin/python3";

#[test]
fn an_iptux_user_on_the_lan_is_found_chatted_with_both_ways_and_seen_leaving() {
    let Some(mut lab) = Lab::start("an_iptux_user_on_the_lan_is_found_chatted_with") else {
        return;
    };
    let lan = lab.lan_segment();
    let a = lab.segment_host("alice", &lan);
    let w = lab.segment_host("wang", &lan);
    let alice = Person::at("alice", a.addr(PORT));
    let mut command = lab.qqchat(&a, alice.dir.path());
    command.args(["--contacts", &alice.contacts(), "listen", "--json"]);
    let alice_runs = Running::start(command);
    alice_runs.wait_ready("listening on");

    let StandIn {
        _child,
        mut stdin,
        out,
        err,
    } = stand_in(&lab, &w);
    let said = |what: &str, seen: Vec<String>| -> ! {
        let mut errs = Vec::new();
        while let Some(l) = err.next(Duration::from_millis(100)) {
            errs.push(l);
        }
        panic!("{what}; the iptux stand-in printed {seen:#?}, stderr {errs:#?}")
    };

    // Our entry is answered, and wang is listed under his nick, marked unencrypted.
    out.wait_for("answered", WAIT)
        .unwrap_or_else(|seen| said("qqchat never answered the entry", seen));
    let line = alice_runs
        .stderr
        .wait_for("on this network: 王小明", WAIT)
        .unwrap_or_else(|seen| panic!("alice never listed wang; she said {seen:#?}"));
    assert!(line.contains(&w.addr(2425).to_string()), "{line}");
    assert!(
        line.contains("iptux") && line.contains("unencrypted"),
        "{line}"
    );

    // His message (sent twice, as a retransmission would be) is acknowledged and shown once.
    out.wait_for("acked", WAIT)
        .unwrap_or_else(|seen| said("qqchat never acknowledged the message", seen));
    let line = alice_runs
        .stdout
        .wait_for("你好，我是王小明", WAIT)
        .unwrap_or_else(|seen| panic!("alice never showed the message; she printed {seen:#?}"));
    assert!(line.contains("\"via\":\"ipmsg\""), "{line}");
    assert!(
        alice_runs
            .stdout
            .wait_for("你好，我是王小明", Duration::from_secs(2))
            .is_err(),
        "shown twice"
    );

    // Alice answers with no contact written: by his address; iptux's 289 receipt counts.
    lab.delivered(&a, &alice, &w.addr(2425).to_string(), "收到，谢谢");
    out.wait_for("got 收到，谢谢", WAIT)
        .unwrap_or_else(|seen| said("the answer never reached wang", seen));

    // He quits: BR_EXIT.
    writeln!(stdin, "quit").expect("tell the stand-in to quit");
    drop(stdin);
    alice_runs
        .stderr
        .wait_for("gone from this network: 王小明", WAIT)
        .unwrap_or_else(|seen| panic!("alice never saw wang leave; she said {seen:#?}"));
}

#[test]
fn send_reaches_an_ip_messenger_user_by_name_or_address_with_nothing_else_running() {
    let Some(mut lab) = Lab::start("send_reaches_an_ip_messenger_contact_by_name") else {
        return;
    };
    let lan = lab.lan_segment();
    let a = lab.segment_host("alice", &lan);
    let w = lab.segment_host("wang", &lan);
    let alice = Person::at("alice", a.addr(PORT));
    // A contact with an IP alone: port 2425 is every IP Messenger client's.
    wang_is_a_contact(&alice, &w);

    let StandIn {
        _child,
        mut stdin,
        out,
        ..
    } = stand_in(&lab, &w);
    // The entry comes to wang alone before the message, so it is from alice, not from a
    // stranger (iptux would show one, and crash when her name came later); and as the
    // command ends, her exit, so nobody is left listed.
    let from_alice_then_gone = |sent: &str| {
        let line = out
            .wait_for(&format!("got {sent}"), WAIT)
            .unwrap_or_else(|seen| panic!("wang never got it; the stand-in printed {seen:#?}"));
        assert!(line.ends_with("from alice"), "no entry first: {line}");
        out.wait_for("left alice", WAIT)
            .unwrap_or_else(|seen| panic!("no exit; the stand-in printed {seen:#?}"));
    };
    // Its own entry is out before send starts: answered, it would list alice by itself.
    out.wait_for("ready", WAIT)
        .unwrap_or_else(|seen| panic!("the stand-in never started; it printed {seen:#?}"));
    lab.delivered(&a, &alice, "wang", "你好 wang");
    from_alice_then_gone("你好 wang");
    // By his address alone, too: port 2425 is IP Messenger's, never sent a qqchat datagram.
    lab.delivered(&a, &alice, &w.addr(2425).to_string(), "by address");
    from_alice_then_gone("by address");
    writeln!(stdin, "quit").expect("tell the stand-in to quit");
    let line = out
        .wait_for("quit after", WAIT)
        .unwrap_or_else(|seen| panic!("the stand-in never quit; it printed {seen:#?}"));
    assert!(
        line.ends_with("quit after 2 entries, 0 listed"),
        "one entry for each send, each followed by an exit: {line}"
    );
}

#[test]
fn files_and_a_directory_offered_by_iptux_are_fetched_by_listen_accept_files() {
    let Some(mut lab) = Lab::start("files_offered_by_iptux_are_fetched") else {
        return;
    };
    let lan = lab.lan_segment();
    let a = lab.segment_host("alice", &lan);
    let w = lab.segment_host("wang", &lan);
    let alice = Person::at("alice", a.addr(PORT));
    // Files are taken from contacts only: wang is one, by his IP.
    wang_is_a_contact(&alice, &w);
    let inbox = alice.dir.path().join("inbox");
    std::fs::create_dir(&inbox).expect("make the inbox");
    let mut command = lab.qqchat(&a, alice.dir.path());
    command.args(["--contacts", &alice.contacts(), "listen", "--json"]);
    command.arg("--accept-files").arg(&inbox);
    let alice_runs = Running::start(command);
    alice_runs.wait_ready("listening on");

    let StandIn {
        _child,
        mut stdin,
        out,
        ..
    } = stand_in(&lab, &w);
    out.wait_for("answered", WAIT)
        .unwrap_or_else(|seen| panic!("qqchat never answered; the stand-in printed {seen:#?}"));
    writeln!(stdin, "offer").expect("tell the stand-in to offer");
    // The offer's text is a message like any other.
    alice_runs
        .stdout
        .wait_for("files for you", WAIT)
        .unwrap_or_else(|seen| panic!("the offer's text was not shown; alice printed {seen:#?}"));
    // Both arrive, in either order.
    let mut waiting = vec!["report.txt", "photos"];
    let mut seen = Vec::new();
    while !waiting.is_empty() {
        let Some(line) = alice_runs.stdout.next(WAIT) else {
            let mut said = Vec::new();
            while let Some(l) = alice_runs.stderr.next(Duration::from_millis(100)) {
                said.push(l);
            }
            panic!("{waiting:?} never arrived; alice printed {seen:#?} and said {said:#?}");
        };
        waiting
            .retain(|name| !line.contains(&format!("\"file\":\"{}", inbox.join(name).display())));
        seen.push(line);
    }
    // IP Messenger has no hash: no file of it is called verified. A folder's size is its files'.
    let file_lines: Vec<&String> = seen.iter().filter(|l| l.contains("\"file\"")).collect();
    assert!(
        file_lines.iter().all(|l| l.contains("\"verified\":false")),
        "{file_lines:#?}"
    );
    assert!(
        file_lines
            .iter()
            .any(|l| l.contains("photos") && l.contains("\"size\":10243")),
        "{file_lines:#?}"
    );
    let report = std::fs::read(inbox.join("report.txt")).expect("report.txt in the inbox");
    assert_eq!(report, b"quarterly numbers\n".repeat(5000));
    let photo = std::fs::read(inbox.join("photos/a.jpg")).expect("photos/a.jpg");
    let expected: Vec<u8> = (0..40).flat_map(|_| 0..=255u8).collect();
    assert_eq!(photo, expected);
    let bee = std::fs::read(inbox.join("photos/sub/b.txt")).expect("photos/sub/b.txt");
    assert_eq!(bee, b"bee");
    // Nothing half-done is left behind.
    let names: Vec<String> = std::fs::read_dir(&inbox)
        .expect("read the inbox")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".part")), "{names:?}");
    writeln!(stdin, "quit").expect("tell the stand-in to quit");
}

#[test]
fn send_file_to_an_iptux_user_is_fetched_by_it_and_refused_to_anyone_else() {
    let Some(mut lab) = Lab::start("send_file_to_an_iptux_user_is_fetched") else {
        return;
    };
    let lan = lab.lan_segment();
    let a = lab.segment_host("alice", &lan);
    let w = lab.segment_host("wang", &lan);
    let e = lab.segment_host("eve", &lan);
    let alice = Person::at("alice", a.addr(PORT));
    let file = alice.dir.path().join("plan.txt");
    let body: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, &body).expect("write the file to send");

    let StandIn {
        _child,
        mut stdin,
        out,
        ..
    } = stand_in(&lab, &w);
    // Its own entry is out before send-file starts: answered, it would list alice by itself.
    out.wait_for("ready", WAIT)
        .unwrap_or_else(|seen| panic!("the stand-in never started; it printed {seen:#?}"));
    let mut command = lab.qqchat(&a, alice.dir.path());
    command
        .args([
            "--contacts",
            &alice.contacts(),
            "send-file",
            "--timeout",
            "30",
        ])
        .arg(w.addr(2425).to_string())
        .arg(&file);
    let mut sending = ChildGuard::spawn(command.stdout(Stdio::null()).stderr(Stdio::piped()));
    let offer = out
        .wait_for("offer of plan.txt 100000", WAIT)
        .unwrap_or_else(|seen| panic!("wang never got the offer; the stand-in printed {seen:#?}"));
    assert!(offer.contains(" from alice "), "no entry first: {offer}");
    let file_id = offer.rsplit(' ').next().expect("the file ID");

    // Eve, on the same LAN, asks for the same file: closed without a byte.
    let mut eve = lab.command(&e.ns, PYTHON);
    eve.args(["-c", EVE, &a.ip.to_string(), file_id]);
    let eve_out = eve.output().expect("run eve");
    assert_eq!(
        String::from_utf8_lossy(&eve_out.stdout).trim(),
        "got 0 bytes",
        "{}",
        String::from_utf8_lossy(&eve_out.stderr)
    );

    writeln!(stdin, "fetch").expect("tell the stand-in to fetch");
    let line = out
        .wait_for("fetched plan.txt", WAIT)
        .unwrap_or_else(|seen| panic!("wang never fetched it; the stand-in printed {seen:#?}"));
    let digest = sha256_hex(&body);
    assert_eq!(line, format!("fetched plan.txt 100000 {digest}"));
    assert_eq!(
        sending.wait_for(WAIT),
        Some(0),
        "send-file said {}",
        sending.read_stderr()
    );
    out.wait_for("left alice", WAIT)
        .unwrap_or_else(|seen| panic!("send-file never left; the stand-in printed {seen:#?}"));
    writeln!(stdin, "quit").expect("tell the stand-in to quit");
}

/// The SHA-256 of `bytes` in hex, as Python's hashlib writes it.
fn sha256_hex(bytes: &[u8]) -> String {
    let out = std::process::Command::new(PYTHON)
        .args([
            "-c",
            "import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().expect("stdin").write_all(bytes)?;
            child.wait_with_output()
        })
        .expect("run python for a hash");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Someone else on the LAN: connects to port 2425 of the address given and asks for the file
/// ID given, as a fetch would; prints how many bytes came back.
const EVE: &str = r#"
import socket, sys
got = b""
try:
    c = socket.create_connection((sys.argv[1], 2425), timeout=10)
    c.sendall(b"1_iptux 0.8.3:5:eve:eve-pc:%d:1:%x:0:0\0" % (0x60 | 0x200000, int(sys.argv[2])))
    while True:
        more = c.recv(65536)
        if not more:
            break
        got += more
except OSError:
    pass
print("got %d bytes" % len(got))
"#;

#[test]
fn with_require_keys_qqchat_does_not_speak_ip_messenger() {
    let Some(mut lab) = Lab::start("with_require_keys_qqchat_does_not_speak_ip_messenger") else {
        return;
    };
    let lan = lab.lan_segment();
    let a = lab.segment_host("alice", &lan);
    let w = lab.segment_host("wang", &lan);
    let alice = Person::at("alice", a.addr(PORT));
    let file = alice.contacts();
    let text = std::fs::read_to_string(&file).expect("alice's contacts");
    std::fs::write(
        &file,
        text.replacen("[me]\n", "[me]\nrequire_keys = true\n", 1),
    )
    .expect("write alice's contacts");
    let alice_runs = lab.listen(&a, &alice);
    let StandIn {
        _child,
        stdin: _stdin,
        out,
        ..
    } = stand_in(&lab, &w);
    // Neither answered nor listed: IP Messenger has no keys to require.
    assert!(
        out.wait_for("answered", Duration::from_secs(3)).is_err(),
        "qqchat answered an IP Messenger entry with require_keys on"
    );
    assert!(
        alice_runs
            .stderr
            .wait_for("王小明", Duration::from_secs(1))
            .is_err(),
        "listed with require_keys on"
    );
}

/// The iptux stand-in running on `host`: its stdin (a line makes it quit), what it prints,
/// and its complaints.
/// Writes wang into `person`'s contacts as an IP Messenger user, by his IP alone.
fn wang_is_a_contact(person: &Person, wang: &qqchat_testkit::Host) {
    let file = person.contacts();
    let text = std::fs::read_to_string(&file).expect("the contacts file");
    std::fs::write(
        &file,
        format!(
            "{text}\nwang = {{ addr = \"{}\", ipmsg = true }}\n",
            wang.ip
        ),
    )
    .expect("write the contacts file");
}

struct StandIn {
    _child: ChildGuard,
    stdin: std::process::ChildStdin,
    out: Lines,
    err: Lines,
}

fn stand_in(lab: &Lab, host: &qqchat_testkit::Host) -> StandIn {
    let mut command = lab.command(&host.ns, PYTHON);
    command
        .args(["-c", IPTUX])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = ChildGuard::spawn(&mut command);
    StandIn {
        stdin: child.take_stdin(),
        out: Lines::new(child.take_stdout()),
        err: Lines::new(child.take_stderr()),
        _child: child,
    }
}

/// An IP Messenger peer as iptux 0.8 is on the wire: entry with icon and encoding fields,
/// answers to entries, SENDMSG|SENDCHECKOPT, RECVMSG acknowledged with 289, BR_EXIT on quit.
/// Files too: on `offer` it offers `report.txt` and the directory `photos` and serves them
/// on TCP 2425 (GETFILEDATA, GETDIRFILES) as iptux does; an offer it gets is printed, and
/// fetched with GETFILEDATA on `fetch`. Prints on stdout `ready` once its entry is out, then
/// what it saw: each message and offer with who iptux would show as its sender (the nick of
/// an entry, else a stranger), the exits of those listed, and on quitting how many entries
/// it heard and how many senders are still listed; quits on any other line on stdin (or
/// after a minute).
const IPTUX: &str = r#"
import hashlib, select, socket, sys, time

BR_ENTRY, BR_EXIT, ANSENTRY, SENDMSG, RECVMSG = 1, 2, 3, 0x20, 0x21
GETFILEDATA, RELEASEFILES, GETDIRFILES = 0x60, 0x61, 0x62
SENDCHECKOPT, FILEATTACHOPT = 0x100, 0x200000
UTF8 = 0x800000 | 0x1000000
REPORT = b"quarterly numbers\n" * 5000
PHOTO = bytes(range(256)) * 40
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.bind(("0.0.0.0", 2425))
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("0.0.0.0", 2425))
t.listen(4)
no = int(time.time())

def packet(cmd, extra):
    global no
    no += 1
    return b"1_iptux 0.8.3:%d:wang:wang-pc:%d:" % (no, cmd) + extra

def header(name, size, attr):
    body = (":%s:%x:%x:" % (name, size, attr)).encode()
    return b"%04x" % (4 + len(body)) + body

def dir_stream():
    return (header("photos", 0, 2) + header("a.jpg", len(PHOTO), 1) + PHOTO
            + header("sub", 0, 2) + header("b.txt", 3, 1) + b"bee"
            + header(".", 0, 3) + header(".", 0, 3))

def serve(c):
    c.settimeout(10)
    data = b""
    while b"\0" not in data:
        more = c.recv(4096)
        if not more:
            break
        data += more
    fields = data.rstrip(b"\0").split(b":", 5)
    cmd = int(fields[4]) & 0xFF
    args = [int(x, 16) for x in fields[5].split(b":") if x]
    if cmd == GETFILEDATA and args[1] == 1:
        c.sendall(REPORT[args[2]:])
        print("served report.txt from", args[2], flush=True)
    elif cmd == GETDIRFILES and args[1] == 2:
        c.sendall(dir_stream())
        print("served photos", flush=True)
    c.close()

entry = "王小明\0技术部\0icon-tux.png\0utf-8\0".encode()
s.sendto(packet(BR_ENTRY | UTF8, entry), ("255.255.255.255", 2425))
print("ready", flush=True)
msg_no = None
peer = None
offered = None
entries = 0
known = {}


def nick(fields):
    return fields[5].split(b"\0")[0].decode()


end = time.time() + 60
while time.time() < end:
    ready, _, _ = select.select([s, t, sys.stdin], [], [], 0.2)
    if sys.stdin in ready:
        line = sys.stdin.readline().strip()
        if line == "offer":
            files = "1:report.txt:%x:%x:1:\a2:photos:0:%x:2:\a" % (len(REPORT), 1733212345, 1733212345)
            m = packet(SENDMSG | SENDCHECKOPT | FILEATTACHOPT | UTF8, ("files for you\0" + files + "\0").encode())
            s.sendto(m, (peer, 2425))
            print("offered", flush=True)
            continue
        if line == "fetch" and offered:
            (ip, pno, fid, name, size) = offered
            c = socket.create_connection((ip, 2425), timeout=10)
            c.sendall(packet(GETFILEDATA | FILEATTACHOPT | UTF8, b"%x:%x:0:0\0" % (pno, fid)))
            got = b""
            while len(got) < size:
                more = c.recv(65536)
                if not more:
                    break
                got += more
            c.close()
            print("fetched", name, len(got), hashlib.sha256(got).hexdigest(), flush=True)
            continue
        s.sendto(packet(BR_EXIT | UTF8, entry), ("255.255.255.255", 2425))
        print("quit after %d entries, %d listed" % (entries, len(known)), flush=True)
        break
    if t in ready:
        c, _ = t.accept()
        serve(c)
    if s not in ready:
        continue
    data, (ip, port) = s.recvfrom(65535)
    fields = data.split(b":", 5)
    if len(fields) < 6 or fields[0].startswith(b"1_iptux"):
        continue
    cmd = int(fields[4]) & 0xFF
    if cmd == BR_ENTRY:
        entries += 1
        known[ip] = nick(fields)
        print("entry from", known[ip], flush=True)
        s.sendto(packet(ANSENTRY | UTF8, entry), (ip, 2425))
    elif cmd == BR_EXIT and ip in known:
        print("left", known.pop(ip), flush=True)
    elif cmd == ANSENTRY and msg_no is None:
        known[ip] = nick(fields)
        peer = ip
        print("answered", fields[5].split(b"\0")[0].decode(), flush=True)
        m = packet(SENDMSG | SENDCHECKOPT | UTF8, "你好，我是王小明\0".encode())
        msg_no = m.split(b":")[1]
        s.sendto(m, (ip, 2425))
        s.sendto(m, (ip, 2425))
    elif cmd == RECVMSG and fields[5].rstrip(b"\0") == msg_no:
        print("acked", flush=True)
    elif cmd == RELEASEFILES:
        print("released", fields[5].rstrip(b"\0").decode(), flush=True)
    elif cmd == SENDMSG and int(fields[4]) & FILEATTACHOPT:
        s.sendto(packet(RECVMSG | 0x100, fields[1]), (ip, 2425))
        if offered is None:
            listed = fields[5].split(b"\0")[1]
            f = listed.split(b"\a")[0].split(b":")
            offered = (ip, int(fields[1]), int(f[0]), f[1].decode(), int(f[2], 16))
            who = known.get(ip, "a stranger")
            print("offer of", offered[3], offered[4], "from", who, "file", offered[2], flush=True)
    elif cmd == SENDMSG:
        text = fields[5].split(b"\0")[0].decode()
        print("got", text, "from", known.get(ip, "a stranger"), flush=True)
        s.sendto(packet(RECVMSG | 0x100, fields[1]), (ip, 2425))
"#;

#[test]
fn another_ip_messenger_on_port_2425_is_said_and_qqchat_chats_on() {
    let Some(mut lab) = Lab::start("another_ip_messenger_on_port_2425_is_said") else {
        return;
    };
    let lan = lab.lan_segment();
    let (a, b) = (
        lab.segment_host("alice", &lan),
        lab.segment_host("bob", &lan),
    );
    // Another IP Messenger client on alice's machine holds the port.
    let mut command = lab.command(&a.ns, PYTHON);
    command
        .args([
            "-c",
            "import socket,sys,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
             s.bind(('0.0.0.0',2425))\nprint('bound',flush=True)\ntime.sleep(60)",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut holder = ChildGuard::spawn(&mut command);
    Lines::new(holder.take_stdout())
        .wait_for("bound", WAIT)
        .unwrap_or_else(|seen| panic!("the port holder did not start: {seen:#?}"));

    let (alice, bob) = (
        Person::at("alice", a.addr(PORT)),
        Person::at("bob", b.addr(PORT)),
    );
    let alice_runs = lab.listen(&a, &alice);
    let line = alice_runs
        .stderr
        .wait_for("IP Messenger is off", WAIT)
        .unwrap_or_else(|seen| panic!("no word of the port; alice said {seen:#?}"));
    assert!(line.contains("2425") && line.contains("in use"), "{line}");
    // qqchat's own chat is unharmed: bob finds alice and writes to her.
    let bob_runs = lab.listen(&b, &bob);
    bob_runs
        .stderr
        .wait_for("on this network: alice", WAIT)
        .unwrap_or_else(|seen| panic!("bob never saw alice; he said {seen:#?}"));
    let to = a.addr(PORT).to_string();
    lab.delivered(&b, &bob, &to, "still here?");
    alice_runs
        .stdout
        .wait_for("bob: still here?", WAIT)
        .unwrap_or_else(|seen| panic!("alice never got it; she printed {seen:#?}"));
}
