//! On one LAN, in the lab: machines on one switch (a bridge between network namespaces, see
//! `qqchat_testkit::Lab::lan_segment`), the real binary on each. qqchats announce themselves
//! with DNS-SD over multicast DNS and find each other with no contacts at all; one that
//! stops withdraws its announcement; a browser qqchat did not write sees it too. Each test
//! skips loudly where the lab cannot run (not root) and fails instead in CI.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use qqchat_testkit::{ChildGuard, Host, Lab, Lines, Person, Running, lab_required};

/// The chat port of every qqchat in the lab; each host has its own address.
const PORT: u16 = 7000;
/// How long an announcement may take to be seen: mDNS probes for most of a second before it
/// announces, and repeats after a second.
const SEEN: Duration = Duration::from_secs(20);
/// How long a withdrawal may take to be seen. Without the goodbye, the records would last
/// their TTL (two minutes and more), so this tells the two apart.
const GONE: Duration = Duration::from_secs(10);
/// A window in which something that should not happen is waited for.
const QUIET: Duration = Duration::from_secs(3);
/// The Python with Debian's `python3-zeroconf` (another Python first on the PATH may lack it).
const PYTHON: &str = "/usr/bin/python3";

/// This person's public key, as their contact string carries it.
fn key_of(person: &Person) -> String {
    let id = person.id();
    id.split_once("?key=")
        .map(|(_, key)| key.to_owned())
        .unwrap_or_else(|| panic!("no key in {id:?}"))
}

/// `qqchat listen` for `person` on `host` with `extra` flags, once it says it listens.
fn listen_with(lab: &Lab, host: &Host, person: &Person, extra: &[&str]) -> Running {
    let mut command = lab.qqchat(host, person.dir.path());
    command.args(["--contacts", &person.contacts()]);
    command.args(extra);
    command.arg("listen");
    let running = Running::start(command);
    running.wait_ready("listening on");
    running
}

/// Alice and bob on hosts of one LAN segment, with empty contacts files.
fn alice_and_bob(lab: &mut Lab) -> (Host, Host, Person, Person) {
    let lan = lab.lan_segment();
    let (a, b) = (
        lab.segment_host("alice", &lan),
        lab.segment_host("bob", &lan),
    );
    let alice = Person::at("alice", a.addr(PORT));
    let bob = Person::at("bob", b.addr(PORT));
    (a, b, alice, bob)
}

/// Stops `running` with SIGTERM, which must end it as a signalled process, and waits for
/// `watcher` to say `name` left the network.
fn leaves_on_sigterm(running: &mut Running, watcher: &Running, name: &str) {
    running.child.terminate();
    assert_eq!(
        running.child.wait_for(GONE),
        Some(128 + 15),
        "{name} did not stop on SIGTERM as a signalled process"
    );
    watcher
        .stderr
        .wait_for(&format!("gone from this network: {name}"), GONE)
        .unwrap_or_else(|seen| panic!("nobody saw {name} leave; the watcher said {seen:#?}"));
}

#[test]
fn two_qqchats_on_one_lan_find_each_other_chat_and_see_one_leave() {
    let Some(mut lab) = Lab::start("two_qqchats_on_one_lan_find_each_other_chat_and_see_one_leave")
    else {
        return;
    };
    let lan = lab.lan_segment();
    let (a, b) = (
        lab.segment_host("alice", &lan),
        lab.segment_host("bob", &lan),
    );
    // No contacts on either side: all they know of each other comes from the LAN.
    let alice = Person::at("alice", a.addr(PORT));
    let bob = Person::at("bob", b.addr(PORT));
    let (alice_key, bob_key) = (key_of(&alice), key_of(&bob));
    let alice_runs = lab.listen(&a, &alice);
    let mut bob_runs = lab.listen(&b, &bob);

    let line = alice_runs
        .stderr
        .wait_for("on this network: bob", SEEN)
        .unwrap_or_else(|seen| panic!("alice never saw bob; she said {seen:#?}"));
    assert!(line.contains(&b.addr(PORT).to_string()), "{line}");
    assert!(line.contains(&bob_key), "bob's key is not in {line:?}");
    let line = bob_runs
        .stderr
        .wait_for("on this network: alice", SEEN)
        .unwrap_or_else(|seen| panic!("bob never saw alice; he said {seen:#?}"));
    assert!(line.contains(&a.addr(PORT).to_string()), "{line}");
    assert!(line.contains(&alice_key), "alice's key is not in {line:?}");
    // Neither reports itself.
    assert!(
        alice_runs
            .stderr
            .wait_for("on this network: alice", QUIET)
            .is_err(),
        "alice reported her own announcement"
    );

    // They chat at once, still with no contacts: a message to the address of a qqchat found
    // on the LAN goes to its key, over Noise, and is shown under the name it announced.
    lab.delivered(&a, &alice, &b.addr(PORT).to_string(), "hi bob, found you");
    let line = bob_runs
        .stdout
        .wait_for("hi bob, found you", SEEN)
        .unwrap_or_else(|seen| panic!("bob never got alice's message; he printed {seen:#?}"));
    assert!(line.contains("alice: hi bob"), "{line}");
    lab.delivered(&b, &bob, &a.addr(PORT).to_string(), "hi alice");
    alice_runs
        .stdout
        .wait_for("bob: hi alice", SEEN)
        .unwrap_or_else(|seen| panic!("alice never got bob's answer; she printed {seen:#?}"));

    // Asked to stop, bob withdraws his announcement on the way out, and alice hears it long
    // before his records would have expired.
    leaves_on_sigterm(&mut bob_runs, &alice_runs, "bob");
}

#[test]
fn with_no_lan_a_qqchat_neither_announces_nor_looks() {
    let Some(mut lab) = Lab::start("with_no_lan_a_qqchat_neither_announces_nor_looks") else {
        return;
    };
    let lan = lab.lan_segment();
    let (a, b) = (
        lab.segment_host("alice", &lan),
        lab.segment_host("bob", &lan),
    );
    let alice = Person::at("alice", a.addr(PORT));
    let bob = Person::at("bob", b.addr(PORT));
    let alice_runs = listen_with(&lab, &a, &alice, &["--no-lan"]);
    let bob_runs = lab.listen(&b, &bob);
    // Carol listens on every interface and picks eth0 by name: she announces the address
    // of eth0. Had alice looked, she would have seen bob and carol within this time.
    let carol = lab.segment_host("carol", &lan);
    let carol_runs = listen_with(
        &lab,
        &carol,
        &Person::at("carol", carol.addr(PORT)),
        &["--bind", "0.0.0.0:7000", "--lan-interface", "eth0"],
    );
    let line = bob_runs
        .stderr
        .wait_for("on this network: carol", SEEN)
        .unwrap_or_else(|seen| panic!("bob never saw carol; he said {seen:#?}"));
    assert!(
        line.contains(&format!("carol at {} (", carol.addr(PORT))),
        "{line}"
    );
    assert!(
        alice_runs
            .stderr
            .wait_for("on this network", QUIET)
            .is_err(),
        "alice looked with --no-lan"
    );
    assert!(
        carol_runs
            .stderr
            .wait_for("on this network: alice", QUIET)
            .is_err(),
        "alice announced herself with --no-lan"
    );
}

#[test]
fn an_mdns_browser_qqchat_did_not_write_sees_the_announcement() {
    let Some(mut lab) = Lab::start("an_mdns_browser_qqchat_did_not_write_sees_the_announcement")
    else {
        return;
    };
    if !zeroconf_or_skip("an_mdns_browser_qqchat_did_not_write_sees_the_announcement") {
        return;
    }
    let lan = lab.lan_segment();
    let a = lab.segment_host("alice", &lan);
    let other = lab.segment_host("browser", &lan);
    let alice = Person::at("alice", a.addr(PORT));
    let alice_key = key_of(&alice);
    let _alice_runs = lab.listen(&a, &alice);

    let mut command = lab.command(&other.ns, PYTHON);
    command
        .args(["-c", BROWSER])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut browser = ChildGuard::spawn(&mut command);
    let out = Lines::new(browser.take_stdout());
    let err = Lines::new(browser.take_stderr());
    let line = out
        .wait_for("instance=", SEEN + SEEN)
        .unwrap_or_else(|seen| {
            let mut said = Vec::new();
            while let Some(l) = err.next(Duration::from_millis(100)) {
                said.push(l);
            }
            panic!("the browser found nothing; stdout {seen:#?}, stderr {said:#?}")
        });
    let fields: Vec<&str> = line.split_whitespace().collect();
    for want in [
        "instance=alice._qqchat._udp.local.".to_owned(),
        format!("port={PORT}"),
        format!("addrs={}", a.ip),
        "name=alice".to_owned(),
        format!("key={alice_key}"),
        format!("version={}", env!("CARGO_PKG_VERSION")),
    ] {
        assert!(fields.contains(&want.as_str()), "{want} not in {line:?}");
    }
}

#[test]
fn an_interface_that_is_not_there_is_said_and_listening_goes_on() {
    let Some(mut lab) = Lab::start("an_interface_that_is_not_there_is_said_and_listening_goes_on")
    else {
        return;
    };
    let lan = lab.lan_segment();
    let a = lab.segment_host("alice", &lan);
    let alice = Person::at("alice", a.addr(PORT));
    let mut alice_runs = listen_with(&lab, &a, &alice, &["--lan-interface", "wlan9"]);
    alice_runs
        .stderr
        .wait_for("no up IPv4 interface is named wlan9", SEEN)
        .unwrap_or_else(|seen| panic!("alice did not say why; she said {seen:#?}"));
    assert!(
        alice_runs.child.is_running(),
        "listen stopped over discovery"
    );
}

#[test]
fn what_another_announcer_says_is_printed_safely_and_a_bad_key_refused() {
    let Some(mut lab) =
        Lab::start("what_another_announcer_says_is_printed_safely_and_a_bad_key_refused")
    else {
        return;
    };
    if !zeroconf_or_skip("what_another_announcer_says_is_printed_safely_and_a_bad_key_refused") {
        return;
    }
    let lan = lab.lan_segment();
    let a = lab.segment_host("alice", &lan);
    let other = lab.segment_host("eve", &lan);
    let alice = Person::at("alice", a.addr(PORT));
    let alice_runs = lab.listen(&a, &alice);

    let mut command = lab.command(&other.ns, PYTHON);
    command
        .args(["-c", ANNOUNCER, &other.ip.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut announcer = ChildGuard::spawn(&mut command);
    let out = Lines::new(announcer.take_stdout());
    let _err = Lines::new(announcer.take_stderr());
    out.wait_for("registered", SEEN)
        .unwrap_or_else(|seen| panic!("the announcer did not start: {seen:#?}"));

    let mut said = Vec::new();
    let mut eve = None;
    let mut mallory = None;
    let deadline = std::time::Instant::now() + SEEN;
    while (eve.is_none() || mallory.is_none()) && std::time::Instant::now() < deadline {
        let Some(line) = alice_runs.stderr.next_bytes(Duration::from_millis(200)) else {
            continue;
        };
        let text = String::from_utf8_lossy(&line).into_owned();
        if text.contains("on this network: eve") {
            eve = Some(text.clone());
        } else if text.contains("mallory") {
            mallory = Some(text.clone());
        }
        said.push(line);
    }
    let eve = eve.unwrap_or_else(|| panic!("alice never saw eve; she said {said:#?}"));
    assert!(
        eve.contains(&format!(
            "eve^[[31mred^G at {} (no key, qqchat 9^[]0;x)",
            other.addr(7001)
        )),
        "{eve:?}"
    );
    let mallory = mallory.unwrap_or_else(|| panic!("nothing about mallory; alice said {said:#?}"));
    assert!(
        mallory.contains("ignored") && mallory.contains("key"),
        "{mallory:?}"
    );
    assert!(
        !mallory.contains("on this network: mallory"),
        "a bad key was taken: {mallory:?}"
    );
    for line in &said {
        assert!(
            !line.iter().any(|&b| b == 0x1b || b == 0x07),
            "a control character reached the terminal: {:?}",
            String::from_utf8_lossy(line)
        );
    }
}

/// True when Python's zeroconf is there; otherwise fails where the lab is required, else
/// says loudly that `test` is skipped.
fn zeroconf_or_skip(test: &str) -> bool {
    let Err(why) = zeroconf_available() else {
        return true;
    };
    assert!(
        !lab_required(),
        "{test}: Python zeroconf is required here (apt-get install python3-zeroconf): {why}"
    );
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: {test}: {why}; apt-get install python3-zeroconf"
    );
    false
}

/// Whether Python's zeroconf can be imported.
fn zeroconf_available() -> Result<(), String> {
    let out = Command::new(PYTHON)
        .args(["-c", "import zeroconf"])
        .output()
        .map_err(|e| format!("{PYTHON} cannot run: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{PYTHON} cannot import zeroconf: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Browses `_qqchat._udp.local.` with Python's zeroconf and prints the first instance it
/// resolves, TXT included, on one line; exits 1 if it finds none in time.
const BROWSER: &str = r#"
import sys, time
from zeroconf import ServiceBrowser, ServiceStateChange, Zeroconf

TYPE = "_qqchat._udp.local."
zc = Zeroconf()
found = []

def on_change(zeroconf, service_type, name, state_change):
    if state_change is ServiceStateChange.Added:
        found.append(name)

browser = ServiceBrowser(zc, TYPE, handlers=[on_change])
deadline = time.time() + 30
done = False
while time.time() < deadline and not done:
    for name in list(found):
        info = zc.get_service_info(TYPE, name, timeout=3000)
        if info is None:
            continue
        props = {k.decode(): (v or b"").decode() for k, v in info.properties.items()}
        print("instance=%s port=%d addrs=%s name=%s key=%s version=%s" % (
            name, info.port, ",".join(info.parsed_addresses()),
            props.get("name"), props.get("key"), props.get("version")), flush=True)
        done = True
        break
    time.sleep(0.2)
zc.close()
sys.exit(0 if done else 1)
"#;

/// Announces two `_qqchat._udp` services from the address in `argv[1]` with Python's
/// zeroconf, as someone on the LAN could: "eve", whose name and version carry terminal escape
/// sequences, and "mallory", whose key is no key. Runs until killed.
const ANNOUNCER: &str = r#"
import socket, sys, time
from zeroconf import ServiceInfo, Zeroconf

ip = sys.argv[1]
TYPE = "_qqchat._udp.local."
zc = Zeroconf(interfaces=[ip])
eve = ServiceInfo(TYPE, "eve." + TYPE, addresses=[socket.inet_aton(ip)], port=7001,
    properties={"name": "eve\x1b[31mred\x07", "port": "7001", "version": "9\x1b]0;x"},
    server="eve-host.local.")
mallory = ServiceInfo(TYPE, "mallory." + TYPE, addresses=[socket.inet_aton(ip)], port=7002,
    properties={"name": "mallory", "key": "not-a-key"}, server="mallory-host.local.")
zc.register_service(eve)
zc.register_service(mallory)
print("registered", flush=True)
time.sleep(120)
"#;

#[test]
fn a_bot_on_the_lan_answers_a_stranger_and_withdraws_on_sigterm() {
    let Some(mut lab) = Lab::start("a_bot_on_the_lan_answers_a_stranger") else {
        return;
    };
    let (a, b, alice, bob) = alice_and_bob(&mut lab);
    let alice_runs = lab.listen(&a, &alice);
    let mut command = lab.qqchat(&b, bob.dir.path());
    command.args(["--contacts", &bob.contacts(), "bot"]);
    let mut bot = Running::start(command);
    bot.wait_ready("answering on");
    alice_runs
        .stderr
        .wait_for("on this network: bob", SEEN)
        .unwrap_or_else(|seen| panic!("alice never saw the bot; she said {seen:#?}"));
    lab.delivered(&a, &alice, &b.addr(PORT).to_string(), "hello bot");
    alice_runs
        .stdout
        .wait_for("bob: HELLO BOT", SEEN)
        .unwrap_or_else(|seen| panic!("no answer; alice printed {seen:#?}"));
    leaves_on_sigterm(&mut bot, &alice_runs, "bob");
}

#[test]
fn a_contact_found_on_the_lan_at_a_new_address_is_reached_there() {
    let Some(mut lab) = Lab::start("a_contact_found_on_the_lan_at_a_new_address") else {
        return;
    };
    let (a, b, alice, bob) = alice_and_bob(&mut lab);
    // Alice knows bob's key, but only an address he no longer has.
    alice.add(&format!(
        "qqchat:bob@192.0.2.99:{PORT}?key={}",
        key_of(&bob)
    ));
    let alice_runs = lab.listen(&a, &alice);
    let bob_runs = lab.listen(&b, &bob);
    alice_runs
        .stderr
        .wait_for("on this network: bob", SEEN)
        .unwrap_or_else(|seen| panic!("alice never saw bob; she said {seen:#?}"));
    // The announcement carries his key: it is her contact bob, reached where he is now.
    lab.delivered(&a, &alice, "bob", "there you are");
    bob_runs
        .stdout
        .wait_for("alice: there you are", SEEN)
        .unwrap_or_else(|seen| panic!("bob never got it; he printed {seen:#?}"));
    // And her contacts file learns where he is now, as when a friend moves.
    alice_runs
        .stderr
        .wait_for("bob told its addresses", SEEN)
        .unwrap_or_else(|seen| panic!("bob's address was not kept; alice said {seen:#?}"));
    let file = std::fs::read_to_string(alice.contacts()).expect("alice's contacts");
    assert!(file.contains(&b.addr(PORT).to_string()), "{file}");
    assert_eq!(file.matches("bob = ").count(), 1, "still one bob: {file}");
}
