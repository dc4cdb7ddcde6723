//! Keys with the real binary on loopback: `id` and `add` round-trip, two keyed peers chat
//! (also through a lossy relay), and an impostor on a keyed contact's address gets nothing
//! shown as from that contact.

use std::time::Duration;

use qqchat_testkit::{
    Impairment, Person, Relay, TempDir, WAIT, chat, free_port, friends, loopback, run, text,
};

#[test]
fn id_and_add_round_trip_and_keep_the_file_as_it_was() {
    let (alice, bob) = friends("alice", "bob");
    let file = std::fs::read_to_string(bob.contacts()).expect("bob's contacts");
    assert!(
        file.starts_with("# bob's contacts\n"),
        "comments kept: {file}"
    );
    let alice_line = alice.id();
    let key = alice_line.split("?key=").nth(1).expect("a key");
    assert!(
        file.contains(&format!(
            "alice = {{ addr = \"{}\", key = \"{key}\" }}",
            loopback(alice.port)
        )),
        "{file}"
    );
    // The key file is private, and the same key comes back next time.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key_file = alice.dir.path().join("qqchat/identity.toml");
        let mode = std::fs::metadata(&key_file)
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let out = run(&alice.dir, &["id"], None);
        assert!(!out.status.success());
        assert!(
            text(&out.stderr).contains("chmod 600"),
            "{}",
            text(&out.stderr)
        );
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    assert_eq!(alice.id(), alice_line);
    // Adding the same key twice is refused.
    let out = run(
        &bob.dir,
        &["--contacts", &bob.contacts(), "add", &alice_line],
        None,
    );
    assert!(!out.status.success());
}

#[test]
fn two_keyed_peers_chat() {
    let (alice, bob) = friends("alice", "bob");
    let listener = alice.listen();
    let out = run(
        &bob.dir,
        &[
            "--contacts",
            &bob.contacts(),
            "send",
            "alice",
            "over noise 你好",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = listener.stdout.next(WAIT).expect("a line");
    assert!(line.ends_with("] bob: over noise 你好"), "{line}");
    // And back.
    drop(listener);
    let listener = bob.listen();
    let out = run(
        &alice.dir,
        &["--contacts", &alice.contacts(), "send", "bob", "and back"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = listener.stdout.next(WAIT).expect("a line");
    assert!(line.ends_with("] alice: and back"), "{line}");
    let _ = alice.name;
}

#[test]
fn keyed_peers_get_through_a_lossy_relay_in_order() {
    let (alice, bob) = friends("alice", "bob");
    // Alice knows bob only by key, at an address where nothing runs: everything between
    // them has to go through the relay (a known key is recognised from any address).
    let bob_key = bob.id().split("?key=").nth(1).expect("key").to_owned();
    alice.dir.write(
        "contacts.toml",
        &format!(
            "[me]\nname = \"alice\"\nlisten = \"{}\"\nstun = []\n\n[contacts]\nbob = {{ addr = \"{}\", key = \"{bob_key}\" }}\n",
            loopback(alice.port),
            loopback(free_port())
        ),
    );
    let listener = alice.listen();
    let relay = Relay::start(loopback(alice.port), Impairment::HOSTILE, 0xBEE);
    // Bob reaches alice through the relay: her key, the relay's address.
    let key = alice.id().split("?key=").nth(1).expect("key").to_owned();
    let via = TempDir::new("via");
    let book = via.write(
        "bob-via.toml",
        &format!(
            "[me]\nname = \"bob\"\nlisten = \"{}\"\nstun = []\n\n[contacts]\nalice = {{ addr = \"{}\", key = \"{key}\" }}\n",
            loopback(bob.port),
            relay.addr()
        ),
    );
    // Long enough that the forty, sent in one go and packed together, still fill dozens of
    // datagrams for the relay to drop, duplicate and reorder.
    let pad = "x".repeat(600);
    let lines: Vec<String> = (0..40).map(|i| format!("secret line {i} {pad}")).collect();
    let out = run(
        &bob.dir,
        &["--contacts", book.to_str().expect("path"), "send", "alice"],
        Some(&(lines.join("\n") + "\n")),
    );
    assert!(
        out.status.success(),
        "{}; {}",
        text(&out.stderr),
        relay.summary()
    );
    for want in &lines {
        let line = listener.stdout.next(WAIT).expect("a line");
        assert!(line.ends_with(&format!("] bob: {want}")), "{line}");
    }
    assert!(listener.stdout.next(Duration::from_millis(500)).is_none());
    relay.assert_was_hostile();
}

#[test]
fn an_impostor_on_a_keyed_contacts_address_gets_nothing_shown_as_from_it() {
    let (alice, bob) = friends("alice", "bob");
    let listener = alice.listen();
    let bob_addr = loopback(bob.port).to_string();
    let alice_addr = loopback(alice.port).to_string();
    // Bob is down; mallory binds his address. Unkeyed, she gets no receipt and no line.
    let mallory = TempDir::new("mallory");
    let out = run(
        &mallory,
        &[
            "send",
            "--bind",
            &bob_addr,
            "--timeout",
            "2",
            &alice_addr,
            "it is bob, trust me",
        ],
        None,
    );
    assert!(!out.status.success(), "no receipt for the impostor");
    let raw = std::net::UdpSocket::bind(&bob_addr).expect("bind bob's port");
    raw.send_to(b"plain text from bob's port", &alice_addr)
        .expect("send");
    drop(raw);
    // With her own key and alice's public key, the handshake is read and refused loudly.
    let key = alice.id().split("?key=").nth(1).expect("key").to_owned();
    let book = mallory.write(
        "m.toml",
        &format!("[contacts]\nalice = {{ addr = \"{alice_addr}\", key = \"{key}\" }}\n"),
    );
    let out = run(
        &mallory,
        &[
            "--contacts",
            book.to_str().expect("path"),
            "send",
            "--bind",
            &bob_addr,
            "--timeout",
            "2",
            "alice",
            "still bob",
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(
        listener.stdout.next(Duration::from_millis(500)).is_none(),
        "nothing shown"
    );
    let warning = listener.stderr.wait_for("REFUSED", WAIT);
    assert!(
        warning
            .as_ref()
            .is_ok_and(|l| l.contains("claimed to be bob")),
        "{warning:?}"
    );
}

#[test]
fn add_gives_an_unkeyed_contact_its_key_and_says_so() {
    let (alice, bob) = (Person::new("alice"), Person::new("bob"));
    std::fs::write(
        alice.contacts(),
        format!(
            "[me]\nname = \"alice\"\nlisten = \"{}\"\nstun = []\n\n[contacts]\nbob = \"{}\"\n",
            loopback(alice.port),
            loopback(bob.port)
        ),
    )
    .expect("write alice's contacts");
    let out = run(
        &alice.dir,
        &["--contacts", &alice.contacts(), "add", &bob.id()],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("gave bob the key"), "{said}");
    let file = std::fs::read_to_string(alice.contacts()).expect("alice's contacts");
    assert!(file.contains("bob = { addr = "), "{file}");
    assert!(file.contains("key = "), "{file}");
}

#[test]
fn id_never_prints_an_address_a_friend_cannot_use() {
    let dir = TempDir::new("id-unusable");
    let out = run(&dir, &["--bind", "127.0.0.1:0", "id", "-q"], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("port 0"),
        "{}",
        text(&out.stderr)
    );

    let out = run(&dir, &["--bind", "0.0.0.0:9001", "id", "-q"], None);
    assert!(
        !text(&out.stdout).contains("0.0.0.0"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn add_refuses_a_contact_string_with_an_unusable_address() {
    let dir = TempDir::new("add-unusable");
    let key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    for addr in ["0.0.0.0:9001", "127.0.0.1:0", "[::]:9001"] {
        let line = format!("qqchat:bob@{addr}?key={key}");
        let out = run(&dir, &["add", &line], None);
        assert_eq!(out.status.code(), Some(1), "{addr}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("no use"),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn a_file_made_by_add_listens_where_bind_says() {
    let dir = TempDir::new("add-bind");
    let file = dir.path().join("contacts.toml");
    let key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let out = run(
        &dir,
        &[
            "--contacts",
            &file.display().to_string(),
            "--bind",
            "0.0.0.0:9123",
            "add",
            &format!("qqchat:bob@127.0.0.1:9002?key={key}"),
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let made = std::fs::read_to_string(&file).expect("the new file");
    assert!(made.contains("listen = \"0.0.0.0:9123\""), "{made}");
}

/// The modules of a QR code printed two to a character (`▀`, `▄`, `█`, space), as a grey
/// image: the blocks are the light modules.
fn qr_image(text: &str) -> (usize, usize, Vec<u8>) {
    let rows: Vec<Vec<char>> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.chars().collect())
        .collect();
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    let height = rows.len() * 2;
    let mut pixels = vec![0u8; width * height];
    for (y, row) in rows.iter().enumerate() {
        for (x, c) in row.iter().enumerate() {
            let (top, bottom) = match c {
                '█' => (true, true),
                '▀' => (true, false),
                '▄' => (false, true),
                _ => (false, false),
            };
            pixels[2 * y * width + x] = if top { 255 } else { 0 };
            pixels[(2 * y + 1) * width + x] = if bottom { 255 } else { 0 };
        }
    }
    (width, height, pixels)
}

#[test]
fn id_qr_prints_a_code_that_reads_back_as_the_contact_string() {
    let dir = TempDir::new("id-qr");
    let out = run(
        &dir,
        &["--bind", "127.0.0.1:9001", "id", "-q", "--qr"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    let (line, code) = said.split_once('\n').expect("the line, then the code");
    assert!(line.starts_with("qqchat:"), "{line}");
    let (w, h, pixels) = qr_image(code);
    // Scaled up, as a camera would see it on a screen.
    let scale = 4;
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w * scale, h * scale, |x, y| {
        pixels[(y / scale) * w + x / scale]
    });
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one code found:\n{code}");
    let (_, content) = grids[0].decode().expect("the code reads");
    assert_eq!(content, line);
}

/// The safety number `qqchat verify CONTACT` prints: its twelve groups of five digits.
fn safety_number(person: &Person, contact: &str) -> String {
    let out = run(
        &person.dir,
        &["--contacts", &person.contacts(), "verify", contact],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let groups: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("Safety number"))
        .skip(1)
        .take(3)
        .flat_map(str::split_whitespace)
        .collect();
    assert_eq!(groups.len(), 12, "{stdout}");
    assert!(
        groups
            .iter()
            .all(|g| g.len() == 5 && g.bytes().all(|b| b.is_ascii_digit())),
        "{stdout}"
    );
    groups.join(" ")
}

fn verify(person: &Person, args: &[&str]) -> (String, String) {
    let contacts = person.contacts();
    let mut all = vec!["--contacts", &contacts, "verify"];
    all.extend(args);
    let out = run(&person.dir, &all, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    (text(&out.stdout), text(&out.stderr))
}

#[test]
fn both_sides_see_the_same_safety_number_and_a_contact_can_be_marked_verified() {
    let (alice, bob) = friends("alice", "bob");
    let number = safety_number(&bob, "alice");
    assert_eq!(
        number,
        safety_number(&alice, "bob"),
        "one number, both sides"
    );
    let (out, _) = verify(&bob, &["alice"]);
    assert!(out.contains("not verified"), "{out}");
    let (out, _) = verify(&bob, &["alice", "--mark"]);
    assert!(out.contains("alice is marked verified"), "{out}");
    let (out, _) = verify(&bob, &["alice"]);
    assert!(out.contains("status:        verified"), "{out}");
    let (out, _) = verify(&bob, &["alice", "--unmark"]);
    assert!(out.contains("no longer marked verified"), "{out}");
}

/// Trust on first use: alice's key edited in bob's file is set aside. bob's messages still
/// go to alice's real key (and reach her), with a warning, until bob accepts the new key.
#[test]
fn a_key_edited_in_the_contacts_file_is_not_used_until_accepted() {
    let (alice, bob) = friends("alice", "bob");
    let mallory = Person::new("mallory");
    let alice_key = alice.id().split("?key=").nth(1).expect("a key").to_owned();
    let mallory_key = mallory
        .id()
        .split("?key=")
        .nth(1)
        .expect("a key")
        .to_owned();
    // bob's qqchat has talked to alice with her key: it is trusted.
    let before = safety_number(&bob, "alice");
    let file = std::fs::read_to_string(bob.contacts()).expect("bob's contacts");
    bob.dir
        .write("contacts.toml", &file.replace(&alice_key, &mallory_key));

    let listener = alice.listen();
    let out = run(
        &bob.dir,
        &[
            "--contacts",
            &bob.contacts(),
            "send",
            "--timeout",
            "10",
            "alice",
            "is that still you?",
        ],
        None,
    );
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("WARNING: the key of alice in the contacts file changed")
            && err.contains("qqchat verify alice --accept-new-key"),
        "{err}"
    );
    let line = listener.stdout.next(WAIT).expect("a line");
    assert!(line.ends_with("] bob: is that still you?"), "{line}");
    drop(listener);

    let (out, err) = verify(&bob, &["alice"]);
    assert!(err.contains("WARNING"), "{err}");
    assert!(
        out.contains(&format!("alice's key:   {alice_key}"))
            && out.contains(&format!("NEW key for alice: {mallory_key}")),
        "{out}"
    );
    assert_eq!(safety_number(&bob, "alice"), before, "still the old key's");
    // Marking verified while the key is in question is refused: it would mark the old one.
    let out = run(
        &bob.dir,
        &["--contacts", &bob.contacts(), "verify", "alice", "--mark"],
        None,
    );
    assert!(!out.status.success());
    let (out, _) = verify(&bob, &["alice", "--accept-new-key"]);
    assert!(out.contains("alice's new key"), "{out}");
    let (out, err) = verify(&bob, &["alice"]);
    assert!(!err.contains("WARNING"), "{err}");
    assert!(
        out.contains(&format!("alice's key:   {mallory_key}")),
        "{out}"
    );
}

/// `add` with a line naming a known contact (by name, or at its address) with another key
/// writes the key down but keeps the old one in use, and says how to accept it.
#[test]
fn add_with_a_known_name_or_address_holds_the_new_key_until_accepted() {
    let (alice, bob) = friends("alice", "bob");
    let alice_key = alice.id().split("?key=").nth(1).expect("a key").to_owned();
    let before = safety_number(&bob, "alice");
    // The second at the address the first one's line wrote into alice's entry.
    let by_name = Person::new("alice");
    let by_addr = Person::at("mallory", loopback(by_name.port));
    for claimant in [by_name, by_addr] {
        let line = claimant.id();
        let new_key = line.split("?key=").nth(1).expect("a key").to_owned();
        let out = run(
            &bob.dir,
            &["--contacts", &bob.contacts(), "add", &line],
            None,
        );
        let err = text(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(
            err.contains("WARNING: alice is already a contact, with another key")
                && err.contains("qqchat verify alice --accept-new-key"),
            "{err}"
        );
        let file = std::fs::read_to_string(bob.contacts()).expect("bob's contacts");
        assert!(
            file.contains(&new_key) && !file.contains("mallory"),
            "{file}"
        );
        let (out, _) = verify(&bob, &["alice"]);
        assert!(
            out.contains(&format!("alice's key:   {alice_key}"))
                && out.contains(&format!("NEW key for alice: {new_key}")),
            "{out}"
        );
        assert_eq!(safety_number(&bob, "alice"), before);
    }
}

/// The same in the real chat: a key changed in the file is marked, the old one kept, until
/// `a` on the safety number screen accepts it, which the record on disk then says.
#[test]
fn the_chat_warns_of_a_changed_key_until_it_is_accepted() {
    let (alice, bob) = friends("alice", "bob");
    let alice_key = alice.id().split("?key=").nth(1).expect("a key").to_owned();
    let new_key = Person::new("mallory")
        .id()
        .split("?key=")
        .nth(1)
        .expect("a key")
        .to_owned();
    let Some(screen) = chat(&bob, "tofu-bob") else {
        return;
    };
    screen
        .wait_for("Message to alice")
        .unwrap_or_else(|s| panic!("no chat:\n{s}"));
    // Edited while the chat runs: it reloads the file by itself.
    let file = std::fs::read_to_string(bob.contacts()).expect("bob's contacts");
    bob.dir
        .write("contacts.toml", &file.replace(&alice_key, &new_key));
    let shown = screen
        .wait_for("key changed!")
        .unwrap_or_else(|s| panic!("no warning in the list:\n{s}"));
    assert!(shown.contains("the old key is still used"), "{shown}");
    // The conversation is open, with the keys in the input: back to the list, then v.
    screen.keys(&["Escape"]);
    screen.keys(&["v"]);
    screen
        .wait_for("NEW key for alice")
        .unwrap_or_else(|s| panic!("no safety number screen:\n{s}"));
    screen.keys(&["a"]);
    screen
        .wait_for("alice's new key is trusted now")
        .unwrap_or_else(|s| panic!("not accepted:\n{s}"));
    let (out, err) = verify(&bob, &["alice"]);
    assert!(!err.contains("WARNING"), "{err}");
    assert!(out.contains(&format!("alice's key:   {new_key}")), "{out}");
}
