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
    let file = alice.contacts();
    let text = std::fs::read_to_string(&file).expect("alice's contacts");
    std::fs::write(
        &file,
        format!("{text}\nwang = {{ addr = \"{}\", ipmsg = true }}\n", w.ip),
    )
    .expect("write alice's contacts");

    let StandIn {
        _child,
        mut stdin,
        out,
        ..
    } = stand_in(&lab, &w);
    lab.delivered(&a, &alice, "wang", "你好 wang");
    out.wait_for("got 你好 wang", WAIT)
        .unwrap_or_else(|seen| panic!("wang never got it; the stand-in printed {seen:#?}"));
    // By his address alone, too: port 2425 is IP Messenger's, never sent a qqchat datagram.
    lab.delivered(&a, &alice, &w.addr(2425).to_string(), "by address");
    out.wait_for("got by address", WAIT)
        .unwrap_or_else(|seen| panic!("wang never got it; the stand-in printed {seen:#?}"));
    // A one-off send delivers; it does not enter the LAN (nobody is left listed).
    writeln!(stdin, "quit").expect("tell the stand-in to quit");
    out.wait_for("quit after 0 entries", WAIT)
        .unwrap_or_else(|seen| panic!("send announced itself; the stand-in printed {seen:#?}"));
}

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
/// Prints what it saw on stdout, and on quitting how many entries it heard; quits on a line
/// on stdin (or after a minute).
const IPTUX: &str = r#"
import select, socket, sys, time

BR_ENTRY, BR_EXIT, ANSENTRY, SENDMSG, RECVMSG = 1, 2, 3, 0x20, 0x21
SENDCHECKOPT = 0x100
UTF8 = 0x800000 | 0x1000000
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.bind(("0.0.0.0", 2425))
no = int(time.time())

def packet(cmd, extra):
    global no
    no += 1
    return b"1_iptux 0.8.3:%d:wang:wang-pc:%d:" % (no, cmd) + extra

entry = "王小明\0技术部\0icon-tux.png\0utf-8\0".encode()
s.sendto(packet(BR_ENTRY | UTF8, entry), ("255.255.255.255", 2425))
msg_no = None
entries = 0
end = time.time() + 60
while time.time() < end:
    ready, _, _ = select.select([s, sys.stdin], [], [], 0.2)
    if sys.stdin in ready:
        s.sendto(packet(BR_EXIT | UTF8, entry), ("255.255.255.255", 2425))
        print("quit after %d entries" % entries, flush=True)
        break
    if s not in ready:
        continue
    data, (ip, port) = s.recvfrom(65535)
    fields = data.split(b":", 5)
    if len(fields) < 6 or fields[0].startswith(b"1_iptux"):
        continue
    cmd = int(fields[4]) & 0xFF
    if cmd == BR_ENTRY:
        entries += 1
        s.sendto(packet(ANSENTRY | UTF8, entry), (ip, 2425))
    elif cmd == ANSENTRY and msg_no is None:
        print("answered", fields[5].split(b"\0")[0].decode(), flush=True)
        m = packet(SENDMSG | SENDCHECKOPT | UTF8, "你好，我是王小明\0".encode())
        msg_no = m.split(b":")[1]
        s.sendto(m, (ip, 2425))
        s.sendto(m, (ip, 2425))
    elif cmd == RECVMSG and fields[5].rstrip(b"\0") == msg_no:
        print("acked", flush=True)
    elif cmd == SENDMSG:
        text = fields[5].split(b"\0")[0].decode()
        print("got", text, flush=True)
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
