//! Across NATs, in the lab: two home networks behind routers that masquerade, a public segment
//! between them, the real binary on the hosts (see `qqchat_testkit::Lab`). What today's qqchat
//! does there, and that the lab behaves as the hole-punching and relay tests will need. Each
//! test skips loudly where the lab cannot run (not root) and fails instead in CI.

use std::net::{SocketAddr, UdpSocket};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use qqchat_testkit::{ChildGuard, Host, Lab, Nat, Person, Router, TempDir, run_within, text};

/// The port every qqchat in the lab listens on; each host has its own, so tests never clash.
const PORT: u16 = 7000;
/// How long a datagram that should arrive may take; one that should not is waited for as long.
const HOP: Duration = Duration::from_millis(400);

/// Alice behind one router, bob behind another, each with a key for the other and the other's
/// router public address with the same port: what they would tell each other on the phone.
struct Homes {
    ra: Router,
    rb: Router,
    a: Host,
    b: Host,
    alice: Person,
    bob: Person,
}

fn homes(lab: &mut Lab, nat: Nat) -> Homes {
    let ra = lab.router("ra", nat);
    let rb = lab.router("rb", nat);
    let a = lab.host("alice", &ra);
    let b = lab.host("bob", &rb);
    let alice = Person::at("alice", a.addr(PORT));
    let bob = Person::at("bob", b.addr(PORT));
    alice.add(&bob.id_at(rb.addr(PORT)));
    bob.add(&alice.id_at(ra.addr(PORT)));
    Homes {
        ra,
        rb,
        a,
        b,
        alice,
        bob,
    }
}

/// `qqchat send` for `from`, handed to the qqchat running for that person.
fn send(from: &Person, to: &str, message: &str, timeout: &str) -> std::process::Output {
    // Killed well after its own timeout (plus the two seconds it waits for the verdict), so
    // a failure is always the command's own, with its reason on stderr.
    let secs: u64 = timeout.parse().expect("a timeout in whole seconds");
    run_within(
        &from.dir,
        &[
            "--contacts",
            &from.contacts(),
            "send",
            "--timeout",
            timeout,
            to,
            message,
        ],
        None,
        Duration::from_secs(secs + 10),
    )
}

fn receive(socket: &UdpSocket) -> Option<(Vec<u8>, SocketAddr)> {
    socket.set_read_timeout(Some(HOP)).expect("read timeout");
    let mut buf = [0u8; 1500];
    let (n, from) = socket.recv_from(&mut buf).ok()?;
    Some((buf[..n].to_vec(), from))
}

/// The lab namespaces whose names start with `prefix`.
fn namespaces_named(prefix: &str) -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    text(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| name.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_lab_translates_and_filters_like_a_home_router() {
    let Some(mut lab) = Lab::start("the_lab_translates_and_filters_like_a_home_router") else {
        return;
    };
    let router = lab.router("r", Nat::EndpointIndependent);
    let home = lab.host("home", &router);
    let (p1, p2) = (lab.public_host("p1"), lab.public_host("p2"));
    let inside = lab.udp_socket(&home, PORT);
    let (s1, s2) = (lab.udp_socket(&p1, 9000), lab.udp_socket(&p2, 9000));

    // Out through the NAT: the public side sees the router's address, and the same port.
    inside.send_to(b"out", p1.addr(9000)).expect("send");
    let (got, seen) = receive(&s1).expect("the datagram reached the public segment");
    assert_eq!((got.as_slice(), seen), (&b"out"[..], router.addr(PORT)));
    // The answer gets back in; the same LAN port to another destination keeps its mapping.
    s1.send_to(b"answer", seen).expect("send");
    assert_eq!(receive(&inside).map(|r| r.0), Some(b"answer".to_vec()));
    // Unsolicited: p2 was never written to, so the router drops what it sends.
    s2.send_to(b"unsolicited", router.addr(PORT)).expect("send");
    assert_eq!(
        receive(&inside),
        None,
        "the router let an unsolicited datagram in"
    );
    inside.send_to(b"out2", p2.addr(9000)).expect("send");
    assert_eq!(receive(&s2).map(|r| r.1), Some(router.addr(PORT)));

    // A forgotten mapping: the public side's answer is unsolicited again.
    lab.flush_conntrack(&router);
    s1.send_to(b"late", router.addr(PORT)).expect("send");
    assert_eq!(receive(&inside), None, "conntrack was not flushed");

    // Loss on the router's public link.
    lab.set_loss(&router, 100);
    inside.send_to(b"lost", p1.addr(9000)).expect("send");
    assert_eq!(receive(&s1), None, "100% loss let a datagram through");
    lab.set_loss(&router, 0);
    inside.send_to(b"again", p1.addr(9000)).expect("send");
    assert_eq!(receive(&s1).map(|r| r.0), Some(b"again".to_vec()));
}

#[test]
fn a_symmetric_nat_gives_each_destination_its_own_port() {
    let Some(mut lab) = Lab::start("a_symmetric_nat_gives_each_destination_its_own_port") else {
        return;
    };
    let router = lab.router("r", Nat::Symmetric);
    let home = lab.host("home", &router);
    let (p1, p2) = (lab.public_host("p1"), lab.public_host("p2"));
    let inside = lab.udp_socket(&home, PORT);
    let (s1, s2) = (lab.udp_socket(&p1, 9000), lab.udp_socket(&p2, 9000));
    let seen_by = |s: &UdpSocket, to: &Host| {
        inside.send_to(b"which port?", to.addr(9000)).expect("send");
        receive(s)
            .expect("the datagram reached the public segment")
            .1
    };
    let (one, two) = (seen_by(&s1, &p1), seen_by(&s2, &p2));
    assert_eq!(
        (one.ip(), two.ip()),
        (router.public.into(), router.public.into())
    );
    assert_ne!(
        one.port(),
        two.port(),
        "one LAN socket, two destinations: a symmetric NAT must use two public ports"
    );
    // The same socket to the same destination keeps its mapping while it lives.
    assert_eq!(seen_by(&s1, &p1), one);

    // Switched to endpoint-independent, for new flows only: flush what it tracks.
    lab.set_nat(&router, Nat::EndpointIndependent);
    lab.flush_conntrack(&router);
    assert_eq!(seen_by(&s1, &p1), router.addr(PORT));
    assert_eq!(seen_by(&s2, &p2), router.addr(PORT));
}

#[test]
fn friends_behind_two_endpoint_independent_nats_chat_both_ways() {
    let Some(mut lab) = Lab::start("friends_behind_two_endpoint_independent_nats_chat_both_ways")
    else {
        return;
    };
    let h = homes(&mut lab, Nat::EndpointIndependent);
    let alice_listens = lab.listen(&h.a, &h.alice);
    let bob_listens = lab.listen(&h.b, &h.bob);
    let started = Instant::now();

    // Alice's hello to bob's router opened her NAT for his; his hellos then get in, and hers
    // come back through the mapping his made. No hole punching, no STUN: just both talking.
    let out = send(&h.alice, "bob", "through two NATs", "10");
    assert!(
        out.status.success(),
        "alice -> bob failed after {:?}: {}",
        started.elapsed(),
        text(&out.stderr)
    );
    let line = bob_listens
        .stdout
        .wait_for("through two NATs", Duration::from_secs(5))
        .unwrap_or_else(|seen| panic!("bob got nothing; he saw {seen:?}"));
    assert!(line.contains("alice: "), "{line}");
    let there = started.elapsed();

    let out = send(&h.bob, "alice", "and back", "10");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = alice_listens
        .stdout
        .wait_for("and back", Duration::from_secs(5))
        .unwrap_or_else(|seen| panic!("alice got nothing; she saw {seen:?}"));
    assert!(line.contains("bob: "), "{line}");
    eprintln!(
        "through two endpoint-independent NATs: alice -> bob delivered {there:?} after bob \
         started, both ways in {:?}",
        started.elapsed()
    );
    let _ = (&h.ra, &h.rb);
}

#[test]
fn friends_behind_two_symmetric_nats_do_not_reach_each_other_without_a_relay() {
    let Some(mut lab) =
        Lab::start("friends_behind_two_symmetric_nats_do_not_reach_each_other_without_a_relay")
    else {
        return;
    };
    let h = homes(&mut lab, Nat::Symmetric);
    let _alice_listens = lab.listen(&h.a, &h.alice);
    let bob_listens = lab.listen(&h.b, &h.bob);
    // Each side's datagrams leave from a port the other never wrote to: all are dropped.
    let out = send(&h.alice, "bob", "lost between two symmetric NATs", "3");
    assert!(!out.status.success(), "delivered without a relay?");
    assert!(
        bob_listens
            .stdout
            .wait_for("lost between", Duration::from_millis(200))
            .is_err()
    );
}

#[test]
fn dropping_the_lab_removes_every_namespace_even_after_a_panic() {
    let Some(lab) = Lab::start("dropping_the_lab_removes_every_namespace_even_after_a_panic")
    else {
        return;
    };
    let prefix = lab.prefix().to_owned();
    let mut lab = lab;
    let router = lab.router("r", Nat::Symmetric);
    lab.host("h", &router);
    lab.public_host("p");
    assert_eq!(
        namespaces_named(&prefix).len(),
        4,
        "switch, router and two hosts"
    );
    drop(lab);
    assert_eq!(namespaces_named(&prefix), Vec::<String>::new());

    // A test that panics half-way still cleans up, as its lab unwinds.
    let seen = Mutex::new(String::new());
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut lab = Lab::create();
        *seen.lock().expect("lock") = lab.prefix().to_owned();
        lab.router("r", Nat::EndpointIndependent);
        panic!("a test failing inside the lab, on purpose");
    }));
    assert!(outcome.is_err());
    let prefix = seen.into_inner().expect("lock");
    assert!(!prefix.is_empty());
    assert_eq!(namespaces_named(&prefix), Vec::<String>::new());

    // What a killed run left (a process id that cannot exist) goes at the next lab.
    let pid_max: u64 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .expect("pid_max")
        .trim()
        .parse()
        .expect("a number");
    let stale = format!("qq{}-0-", pid_max + 1);
    let made = Command::new("ip")
        .args(["netns", "add", &format!("{stale}left")])
        .status()
        .expect("ip netns add");
    assert!(made.success());
    drop(Lab::create());
    assert_eq!(namespaces_named(&stale), Vec::<String>::new());
}

/// Makes `router` forget idle UDP mappings after `unreplied` seconds (`stream` once traffic
/// went both ways), instead of Linux's 30 and 120, so a test can idle past them in seconds.
fn short_udp_timeouts(lab: &Lab, router: &Router, unreplied: u32, stream: u32) {
    for (key, secs) in [
        ("net.netfilter.nf_conntrack_udp_timeout", unreplied),
        ("net.netfilter.nf_conntrack_udp_timeout_stream", stream),
    ] {
        let status = lab
            .command(&router.ns, "sysctl")
            .args(["-q", "-w", &format!("{key}={secs}")])
            .status()
            .expect("sysctl");
        assert!(status.success(), "sysctl {key} in {}", router.ns);
    }
}

/// Sets `[me] keepalive` in a person's contacts file.
fn keepalive(person: &Person, secs: u32) {
    let path = person.contacts();
    let text = std::fs::read_to_string(&path).expect("contacts file");
    let text = text.replacen("[me]\n", &format!("[me]\nkeepalive = {secs}\n"), 1);
    std::fs::write(&path, text).expect("contacts file");
}

/// `qqchat send`, which returns once the message is acked (within 3 s).
fn acked(from: &Person, to: &str, message: &str) {
    acked_within(from, to, message, "3");
}

fn acked_within(from: &Person, to: &str, message: &str, secs: &str) {
    let out = send(from, to, message, secs);
    assert!(
        out.status.success(),
        "{message:?} not delivered: {}",
        text(&out.stderr)
    );
}

fn delivered_to(listening: &qqchat_testkit::Running, from: &Person, to: &str, message: &str) {
    acked(from, to, message);
    listening
        .stdout
        .wait_for(message, Duration::from_secs(3))
        .unwrap_or_else(|seen| panic!("{message:?} not shown; saw {seen:?}"));
}

#[test]
fn keepalives_hold_two_nat_mappings_open_through_a_long_silence() {
    let Some(mut lab) = Lab::start("keepalives_hold_two_nat_mappings_open_through_a_long_silence")
    else {
        return;
    };
    let started = Instant::now();
    let h = homes(&mut lab, Nat::EndpointIndependent);
    for r in [&h.ra, &h.rb] {
        short_udp_timeouts(&lab, r, 2, 3);
    }
    keepalive(&h.alice, 1);
    keepalive(&h.bob, 1);
    let alice_listens = lab.listen(&h.a, &h.alice);
    let bob_listens = lab.listen(&h.b, &h.bob);
    delivered_to(&bob_listens, &h.alice, "bob", "before the silence");
    // Longer than both timeouts, shorter than presence's own pings (10 s): only the
    // keepalives keep the mappings.
    std::thread::sleep(Duration::from_secs(6));
    // At once: without keepalives it would wait for alice's next presence ping to reopen
    // her router's mapping (some seconds later).
    acked_within(&h.bob, "alice", "after the silence", "1");
    alice_listens
        .stdout
        .wait_for("after the silence", Duration::from_secs(1))
        .unwrap_or_else(|seen| panic!("alice saw {seen:?}"));
    delivered_to(&bob_listens, &h.alice, "bob", "and back again");
    eprintln!("idle past the NAT timeout: {:?}", started.elapsed());
}

#[test]
fn a_router_forgetting_its_mappings_mid_conversation_loses_and_doubles_nothing() {
    let Some(mut lab) =
        Lab::start("a_router_forgetting_its_mappings_mid_conversation_loses_and_doubles_nothing")
    else {
        return;
    };
    let started = Instant::now();
    let h = homes(&mut lab, Nat::EndpointIndependent);
    keepalive(&h.alice, 1);
    keepalive(&h.bob, 1);
    let _alice_listens = lab.listen(&h.a, &h.alice);
    let bob_listens = lab.listen(&h.b, &h.bob);
    for i in 0..=6 {
        if i == 3 {
            lab.flush_conntrack(&h.ra);
            lab.flush_conntrack(&h.rb);
        }
        acked(&h.alice, "bob", &format!("m{i}"));
    }
    // Each exactly once, in order: every line bob's qqchat printed until it falls quiet.
    let mut got = Vec::new();
    for _ in 0..100 {
        let Some(line) = bob_listens.stdout.next(Duration::from_millis(500)) else {
            break;
        };
        if let Some(text) = line.split("alice: ").nth(1) {
            got.push(text.trim().to_owned());
        }
    }
    let want: Vec<String> = (0..=6).map(|i| format!("m{i}")).collect();
    assert_eq!(got, want);
    eprintln!("mappings flushed mid-conversation: {:?}", started.elapsed());
}

/// coturn answering STUN (only) on `host`'s address, port 3478; stopped when dropped.
fn stun_server(lab: &Lab, host: &Host, dir: &TempDir) -> ChildGuard {
    let name = host.ip.to_string();
    let mut command = lab.command(&host.ns, "turnserver");
    command
        .args(["-n", "--listening-ip", &name, "--listening-port", "3478"])
        .args(["--no-tls", "--no-dtls", "--stun-only", "--no-cli"])
        .args(["--log-file", "stdout", "--simple-log"])
        .arg("--pidfile")
        .arg(dir.path().join(format!("{name}.pid")))
        .arg("--userdb")
        .arg(dir.path().join(format!("{name}.db")))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    ChildGuard::spawn(&mut command)
}

/// `qqchat doctor` for `person` on `host`: its exit code and what it printed.
fn doctor(lab: &Lab, host: &Host, person: &Person) -> (Option<i32>, String) {
    let out = lab
        .qqchat(host, person.dir.path())
        .args(["--contacts", &person.contacts(), "doctor"])
        .output()
        .expect("run qqchat doctor");
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    (out.status.code(), said)
}

/// `qqchat ping -n 1 NAME` for `person` on `host`: what it printed.
fn ping(lab: &Lab, host: &Host, person: &Person, name: &str) -> String {
    let out = lab
        .qqchat(host, person.dir.path())
        .args(["--contacts", &person.contacts(), "ping", "-n", "1", name])
        .output()
        .expect("run qqchat ping");
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

/// `qqchat id -q` for `person` on `host`: the contact string, and what it said on stderr.
fn id_quiet(lab: &Lab, host: &Host, person: &Person) -> (String, String) {
    let out = lab
        .qqchat(host, person.dir.path())
        .args(["--contacts", &person.contacts(), "id", "-q"])
        .output()
        .expect("run qqchat id");
    assert!(out.status.success(), "{}", text(&out.stderr));
    (text(&out.stdout).trim().to_owned(), text(&out.stderr))
}

#[test]
fn stun_from_the_chat_socket_finds_the_public_address_and_the_nat_type() {
    let Some(mut lab) =
        Lab::start("stun_from_the_chat_socket_finds_the_public_address_and_the_nat_type")
    else {
        return;
    };
    let started = Instant::now();
    let (s1, s2) = (lab.public_host("stun1"), lab.public_host("stun2"));
    let coturn = TempDir::new("coturn");
    let _servers = (
        stun_server(&lab, &s1, &coturn),
        stun_server(&lab, &s2, &coturn),
    );
    let servers = [s1.addr(3478), s2.addr(3478)];
    let ei = lab.router("ra", Nat::EndpointIndependent);
    let sym = lab.router("rb", Nat::Symmetric);
    let a = lab.host("alice", &ei);
    let b = lab.host("bob", &sym);
    let alice = Person::at("alice", a.addr(PORT));
    let bob = Person::at("bob", b.addr(PORT));
    alice.set_stun(&servers);
    bob.set_stun(&servers);

    // Behind the endpoint-independent router: its public address, the same from both servers.
    let (code, said) = doctor(&lab, &a, &alice);
    assert_eq!(code, Some(0), "{said}");
    for wanted in [
        format!("socket  {}", a.addr(PORT)),
        format!("{}: sees you at {}", servers[0], ei.addr(PORT)),
        format!("{}: sees you at {}", servers[1], ei.addr(PORT)),
        "NAT: endpoint-independent mapping".to_owned(),
        format!("port preserved: {PORT} outside too"),
        "Everything answered.".to_owned(),
    ] {
        assert!(said.contains(&wanted), "no {wanted:?} in:\n{said}");
    }

    // Behind the symmetric one: a port per server, and the advice to use a relay.
    let (code, said) = doctor(&lab, &b, &bob);
    assert_eq!(code, Some(1), "{said}");
    for wanted in [
        format!("sees you at {}:", sym.public),
        "NAT: symmetric".to_owned(),
        "your NAT gives each destination its own port (symmetric)".to_owned(),
        "configure a relay".to_owned(),
    ] {
        assert!(said.contains(&wanted), "no {wanted:?} in:\n{said}");
    }

    // A running qqchat asks from its own socket, and doctor reports what it found.
    let _alice_listens = lab.listen(&a, &alice);
    let (code, said) = doctor(&lab, &a, &alice);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("asked the qqchat running here"), "{said}");
    assert!(
        said.contains(&format!("sees you at {}", ei.addr(PORT))),
        "{said}"
    );
    assert!(said.contains("NAT: endpoint-independent mapping"), "{said}");
    // Its contact string carries the public address after the LAN one.
    let (line, _) = id_quiet(&lab, &a, &alice);
    assert!(
        line.contains(&format!("@{},{}?key=", a.addr(PORT), ei.addr(PORT))),
        "{line}"
    );
    // Bob's symmetric NAT gives friends another port than STUN saw: left out, and said why.
    let _bob_listens = lab.listen(&b, &bob);
    let (line, said) = id_quiet(&lab, &b, &bob);
    assert!(line.contains(&format!("@{}?key=", b.addr(PORT))), "{line}");
    assert!(said.contains("(symmetric)"), "{said}");
    eprintln!("stun lab test took {:?}", started.elapsed());
}

/// coturn as a TURN server on `host`, port 3478, with the long-term user alice:secret
/// (realm qqchat) and relay ports 49160–49199; running once it says so, stopped when dropped.
fn turn_server(lab: &Lab, host: &Host, dir: &TempDir) -> (ChildGuard, qqchat_testkit::Lines) {
    let ip = host.ip.to_string();
    let mut command = lab.command(&host.ns, "turnserver");
    command
        .args(["-n", "--listening-ip", &ip, "--listening-port", "3478"])
        .args([
            "--relay-ip",
            &ip,
            "--min-port",
            "49160",
            "--max-port",
            "49199",
        ])
        .args([
            "--lt-cred-mech",
            "--user",
            "alice:secret",
            "--realm",
            "qqchat",
        ])
        .args([
            "--no-tls",
            "--no-dtls",
            "--no-cli",
            "--no-multicast-peers",
            "-V",
        ])
        .args(["--log-file", "stdout", "--simple-log"])
        .arg("--pidfile")
        .arg(dir.path().join("turn.pid"))
        .arg("--userdb")
        .arg(dir.path().join("turn.db"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut coturn = ChildGuard::spawn(&mut command);
    let log = qqchat_testkit::Lines::new(coturn.take_stdout());
    log.wait_for("Total General servers", Duration::from_secs(5))
        .unwrap_or_else(|seen| panic!("coturn did not start: {seen:#?}"));
    (coturn, log)
}

/// Points `person`'s `[me] relay` at `server` with the lab user, its password in a file
/// beside the contacts file.
fn use_relay(person: &Person, server: SocketAddr) {
    person.dir.write("turn.pw", "secret\n");
    let path = person.dir.path().join("contacts.toml");
    let text = std::fs::read_to_string(&path).expect("read the contacts file");
    let line = format!(
        "stun = []\nrelay = {{ server = \"{server}\", username = \"alice\", \
         password_file = \"turn.pw\" }}"
    );
    person
        .dir
        .write("contacts.toml", &text.replacen("stun = []", &line, 1));
}

/// `qqchat listen` for `person` on `host`, and the relayed address it says it got.
fn listen_relayed(
    lab: &Lab,
    host: &Host,
    person: &Person,
) -> (qqchat_testkit::Running, SocketAddr) {
    let listening = lab.listen(host, person);
    let line = listening
        .stderr
        .wait_for("relay", Duration::from_secs(5))
        .unwrap_or_else(|seen| panic!("{} said nothing of the relay: {seen:#?}", person.name));
    let relayed = line
        .split("relayed address ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("{}: no relayed address in {line:?}", person.name));
    (listening, relayed)
}

/// Two friends behind symmetric NATs, both listening through the lab's coturn, each with
/// the other's relayed address among the candidates: the start of every relay story.
struct RelayedPair {
    h: Homes,
    turn: Host,
    alice_listens: qqchat_testkit::Running,
    bob_listens: qqchat_testkit::Running,
    alice_relayed: SocketAddr,
    /// coturn, its log and its directory: the relay lives as long as this.
    _server: (ChildGuard, qqchat_testkit::Lines, TempDir),
}

fn relayed_pair(lab: &mut Lab) -> RelayedPair {
    let turn = lab.public_host("turn");
    let coturn = TempDir::new("coturn");
    let (server, log) = turn_server(lab, &turn, &coturn);
    let h = homes(lab, Nat::Symmetric);
    use_relay(&h.alice, turn.addr(3478));
    use_relay(&h.bob, turn.addr(3478));
    let (alice_listens, alice_relayed) = listen_relayed(lab, &h.a, &h.alice);
    let (bob_listens, bob_relayed) = listen_relayed(lab, &h.b, &h.bob);
    readdress(&h.alice, h.rb.addr(PORT), &[h.b.addr(PORT), bob_relayed]);
    readdress(&h.bob, h.ra.addr(PORT), &[h.a.addr(PORT), alice_relayed]);
    RelayedPair {
        h,
        turn,
        alice_listens,
        bob_listens,
        alice_relayed,
        _server: (server, log, coturn),
    }
}

/// Replaces the contact holding `old` in `person`'s contacts file with the candidates `new`,
/// in that order; the running listen reloads it.
fn readdress(person: &Person, old: SocketAddr, new: &[SocketAddr]) {
    let path = person.dir.path().join("contacts.toml");
    let text = std::fs::read_to_string(&path).expect("read the contacts file");
    assert!(text.contains(&old.to_string()), "no {old} in {text}");
    let list: Vec<String> = new.iter().map(|a| format!("\"{a}\"")).collect();
    let list = list.join(", ");
    let text: Vec<String> = text
        .lines()
        .map(|line| match line.find("addrs = [") {
            Some(at) if line.contains(&old.to_string()) => {
                let end = line[at..].find(']').map_or(line.len(), |e| at + e + 1);
                format!("{}addrs = [{list}]{}", &line[..at], &line[end..])
            }
            _ => line.to_string(),
        })
        .collect();
    person.dir.write("contacts.toml", &(text.join("\n") + "\n"));
}

#[test]
fn friends_behind_two_symmetric_nats_chat_through_a_turn_relay() {
    let Some(mut lab) = Lab::start("friends_behind_two_symmetric_nats_chat_through_a_turn_relay")
    else {
        return;
    };
    let started = Instant::now();
    let turn = lab.public_host("turn");
    let coturn = TempDir::new("coturn");
    let (_coturn, _log) = turn_server(&lab, &turn, &coturn);
    let h = homes(&mut lab, Nat::Symmetric);
    use_relay(&h.alice, turn.addr(3478));
    use_relay(&h.bob, turn.addr(3478));

    let (alice_listens, alice_relayed) = listen_relayed(&lab, &h.a, &h.alice);
    let (bob_listens, bob_relayed) = listen_relayed(&lab, &h.b, &h.bob);
    for relayed in [alice_relayed, bob_relayed] {
        assert_eq!(
            relayed.ip(),
            turn.ip,
            "relayed on the TURN server's address"
        );
    }
    // Each learns the other's contact string: its LAN address, of no use from another
    // home, then its relayed address.
    readdress(&h.alice, h.rb.addr(PORT), &[h.b.addr(PORT), bob_relayed]);
    readdress(&h.bob, h.ra.addr(PORT), &[h.a.addr(PORT), alice_relayed]);
    // Both listens reload their contacts within a second; the first send may wait for that.
    acked_within(&h.alice, "bob", "hello through the relay", "6");
    bob_listens
        .stdout
        .wait_for("hello through the relay", Duration::from_secs(3))
        .unwrap_or_else(|seen| panic!("bob saw {seen:?}"));
    delivered_to(&alice_listens, &h.bob, "alice", "and back through it");

    // doctor asks alice's running qqchat, which says its allocation works, and that bob
    // answers through the relay.
    let (_, said) = doctor(&lab, &h.a, &h.alice);
    assert!(
        said.contains(&format!("works: relayed address {alice_relayed}")),
        "{said}"
    );
    assert!(
        said.contains(&format!("bob answers on {bob_relayed} (relay, rtt ")),
        "{said}"
    );
    let said = ping(&lab, &h.a, &h.alice, "bob");
    assert!(
        said.contains(&format!(
            "reply from bob via {bob_relayed} (relay): seq=1 time="
        )),
        "{said}"
    );
    // Her history keeps how bob's message came.
    let out = lab
        .qqchat(&h.a, h.alice.dir.path())
        .args([
            "--contacts",
            &h.alice.contacts(),
            "history",
            "--json",
            "bob",
        ])
        .output()
        .expect("run qqchat history");
    let kept = text(&out.stdout);
    let line = kept
        .lines()
        .find(|l| l.contains("and back through it"))
        .unwrap_or_else(|| panic!("not kept: {kept}"));
    assert!(line.contains("\"path\":\"relay\""), "{line}");
    // And id puts the relayed address in her contact string, after the LAN one.
    let (line, _) = id_quiet(&lab, &h.a, &h.alice);
    assert!(
        line.contains(&format!("@{},{alice_relayed}?key=", h.a.addr(PORT))),
        "{line}"
    );
    eprintln!("turn relay lab test took {:?}", started.elapsed());
}

/// The key in a contact string, as the contacts file writes it.
fn key_of(line: &str) -> String {
    line.split("?key=")
        .nth(1)
        .expect("a contact string")
        .to_owned()
}

/// Puts `friend` into `person`'s contacts with `addrs`, in that order.
fn add_with_addrs(person: &Person, friend: &Person, name: &str, addrs: &[SocketAddr]) {
    let path = person.contacts();
    let mut text = std::fs::read_to_string(&path).expect("contacts file");
    let list: Vec<String> = addrs.iter().map(|a| format!("\"{a}\"")).collect();
    text.push_str(&format!(
        "{name} = {{ key = \"{}\", addrs = [{}] }}\n",
        key_of(&friend.id()),
        list.join(", ")
    ));
    std::fs::write(&path, text).expect("contacts file");
}

/// `qqchat listen --json` for `person` on `host`, once it listens.
fn listen_json(lab: &Lab, host: &Host, person: &Person) -> qqchat_testkit::Running {
    let mut command = lab.qqchat(host, person.dir.path());
    command.args(["--contacts", &person.contacts(), "listen", "--json"]);
    let running = qqchat_testkit::Running::start(command);
    running.wait_ready("listening on");
    running
}

/// The `addr` of the JSON line that carried `message`.
fn came_over(listening: &qqchat_testkit::Running, message: &str) -> String {
    let line = listening
        .stdout
        .wait_for(message, Duration::from_secs(3))
        .unwrap_or_else(|seen| panic!("{message:?} not shown; saw {seen:?}"));
    let value: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
    // The routers' public addresses: straight through them.
    assert_eq!(value["path"], "direct", "{line}");
    value["addr"].as_str().expect("an addr").to_owned()
}

#[test]
fn punching_from_the_binary_settles_on_the_public_address_that_answers() {
    let Some(mut lab) =
        Lab::start("punching_from_the_binary_settles_on_the_public_address_that_answers")
    else {
        return;
    };
    let started = Instant::now();
    let ra = lab.router("ra", Nat::EndpointIndependent);
    let rb = lab.router("rb", Nat::EndpointIndependent);
    let (a, b) = (lab.host("alice", &ra), lab.host("bob", &rb));
    let alice = Person::at("alice", a.addr(PORT));
    let bob = Person::at("bob", b.addr(PORT));
    // A stale candidate first (a port nobody listens on), then the right public address.
    add_with_addrs(&alice, &bob, "bob", &[rb.addr(PORT + 1), rb.addr(PORT)]);
    add_with_addrs(&bob, &alice, "alice", &[ra.addr(PORT + 1), ra.addr(PORT)]);
    let alice_listens = listen_json(&lab, &a, &alice);
    let bob_listens = listen_json(&lab, &b, &bob);

    acked_within(&alice, "bob", "over the right address", "5");
    assert_eq!(
        came_over(&bob_listens, "over the right address"),
        ra.addr(PORT).to_string()
    );
    acked_within(&bob, "alice", "and back over it", "5");
    assert_eq!(
        came_over(&alice_listens, "and back over it"),
        rb.addr(PORT).to_string()
    );
    eprintln!("punched past a stale candidate: {:?}", started.elapsed());
}

/// Moves `person`'s `[me] listen` from `old` to `new`, as a restart on another port would.
fn move_listen(person: &Person, old: SocketAddr, new: SocketAddr) {
    let path = person.contacts();
    let text = std::fs::read_to_string(&path).expect("contacts file");
    let from = format!("listen = \"{old}\"");
    assert!(text.contains(&from), "no {from:?} in {text}");
    let text = text.replacen(&from, &format!("listen = \"{new}\""), 1);
    std::fs::write(&path, text).expect("contacts file");
}

#[test]
fn a_friend_back_with_a_new_relayed_address_tells_it_and_is_remembered() {
    let Some(mut lab) =
        Lab::start("a_friend_back_with_a_new_relayed_address_tells_it_and_is_remembered")
    else {
        return;
    };
    let started = Instant::now();
    let RelayedPair {
        h,
        turn: _,
        alice_listens,
        bob_listens,
        alice_relayed,
        _server,
    } = relayed_pair(&mut lab);
    acked_within(&h.alice, "bob", "before the move", "6");

    // Alice's qqchat dies and comes back on another port: a new allocation, a new relayed
    // address that bob's file does not know. Her file still has bob's relayed address.
    drop(alice_listens);
    move_listen(&h.alice, h.a.addr(PORT), h.a.addr(PORT + 1));
    let (alice_listens, alice_moved) = listen_relayed(&lab, &h.a, &h.alice);
    assert_ne!(alice_moved, alice_relayed, "a new allocation");
    acked_within(&h.alice, "bob", "from the new address", "6");
    bob_listens
        .stdout
        .wait_for("from the new address", Duration::from_secs(3))
        .unwrap_or_else(|seen| panic!("bob saw {seen:?}"));

    // She told bob where she is now; his qqchat kept it in his contacts file.
    let told = bob_listens
        .stderr
        .wait_for(&alice_moved.to_string(), Duration::from_secs(5))
        .unwrap_or_else(|seen| panic!("bob's listen said {seen:#?}"));
    assert!(told.contains("alice told its addresses"), "{told}");
    let file = std::fs::read_to_string(h.bob.contacts()).expect("bob's contacts file");
    assert!(file.contains(&alice_moved.to_string()), "{file}");
    assert!(file.contains("# bob's contacts"), "comments kept: {file}");
    // And bob reaches her there.
    delivered_to(&alice_listens, &h.bob, "alice", "welcome back");
    eprintln!("candidates told after a move: {:?}", started.elapsed());
}

#[test]
fn a_fifth_of_every_datagram_lost_at_both_routers_loses_no_message() {
    let Some(mut lab) =
        Lab::start("a_fifth_of_every_datagram_lost_at_both_routers_loses_no_message")
    else {
        return;
    };
    let started = Instant::now();
    let h = homes(&mut lab, Nat::EndpointIndependent);
    lab.set_loss(&h.ra, 20);
    lab.set_loss(&h.rb, 20);
    let _alice_listens = lab.listen(&h.a, &h.alice);
    let bob_listens = lab.listen(&h.b, &h.bob);
    for i in 0..10 {
        // More than half of all round trips fail here, and the retry timer backs off to 4 s:
        // a message can take a while, but none may be lost.
        acked_within(&h.alice, "bob", &format!("lossy {i}"), "60");
    }
    // Each exactly once, in order: every line bob's qqchat printed until it falls quiet.
    let mut got = Vec::new();
    for _ in 0..100 {
        let Some(line) = bob_listens.stdout.next(Duration::from_millis(1500)) else {
            break;
        };
        if let Some(text) = line.split("alice: ").nth(1) {
            got.push(text.trim().to_owned());
        }
    }
    let want: Vec<String> = (0..10).map(|i| format!("lossy {i}")).collect();
    assert_eq!(got, want);
    eprintln!(
        "10 messages through 20 % loss at each router: {:?}",
        started.elapsed()
    );
}

#[test]
fn one_symmetric_nat_is_enough_to_need_the_relay_and_the_relay_carries_it() {
    let Some(mut lab) =
        Lab::start("one_symmetric_nat_is_enough_to_need_the_relay_and_the_relay_carries_it")
    else {
        return;
    };
    let started = Instant::now();
    let turn = lab.public_host("turn");
    let coturn = TempDir::new("coturn");
    let (_coturn, _log) = turn_server(&lab, &turn, &coturn);
    // Alice's router keeps one port per socket; bob's gives every destination a new one.
    let h = homes(&mut lab, Nat::EndpointIndependent);
    lab.set_nat(&h.rb, Nat::Symmetric);
    use_relay(&h.alice, turn.addr(3478));
    use_relay(&h.bob, turn.addr(3478));
    let (alice_listens, alice_relayed) = listen_relayed(&lab, &h.a, &h.alice);
    let (bob_listens, bob_relayed) = listen_relayed(&lab, &h.b, &h.bob);
    readdress(&h.alice, h.rb.addr(PORT), &[h.rb.addr(PORT), bob_relayed]);
    readdress(&h.bob, h.ra.addr(PORT), &[h.ra.addr(PORT), alice_relayed]);
    acked_within(&h.alice, "bob", "one NAT is symmetric", "8");
    bob_listens
        .stdout
        .wait_for("one NAT is symmetric", Duration::from_secs(3))
        .unwrap_or_else(|seen| panic!("bob saw {seen:?}"));
    delivered_to(
        &alice_listens,
        &h.bob,
        "alice",
        "and the relay carries it back",
    );
    eprintln!(
        "one symmetric NAT, through the relay: {:?}",
        started.elapsed()
    );
}

#[test]
fn killed_and_restarted_on_the_same_port_a_qqchat_gets_a_relayed_address_at_once() {
    let Some(mut lab) =
        Lab::start("killed_and_restarted_on_the_same_port_a_qqchat_gets_a_relayed_address_at_once")
    else {
        return;
    };
    let started = Instant::now();
    let RelayedPair {
        h,
        turn,
        alice_listens,
        bob_listens,
        alice_relayed,
        _server,
    } = relayed_pair(&mut lab);
    acked_within(&h.alice, "bob", "before the crash", "6");

    // Killed (SIGKILL): the allocation is not given back, coturn keeps it for minutes. The
    // same chat port at once: the relay must still allocate, not be refused with 437.
    drop(alice_listens);
    let (alice_listens, alice_again) = listen_relayed(&lab, &h.a, &h.alice);
    assert_ne!(alice_again, alice_relayed, "a new allocation");
    assert_eq!(alice_again.ip(), turn.ip);
    // Through the relay both ways from the restarted qqchat.
    acked_within(&h.alice, "bob", "after the restart", "8");
    bob_listens
        .stdout
        .wait_for("after the restart", Duration::from_secs(3))
        .unwrap_or_else(|seen| panic!("bob saw {seen:?}"));
    delivered_to(&alice_listens, &h.bob, "alice", "welcome back");
    eprintln!("relay after a kill -9: {:?}", started.elapsed());
}
