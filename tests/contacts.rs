//! `contacts.toml`: what parses, and what every mistake says, line numbers included.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::path::{Path, PathBuf};

use qqchat::contacts::{
    self, Contact, ContactBook, ContactsError, DEFAULT_LISTEN, EXAMPLE_FILE, Me, Problem,
};
use qqchat_testkit::{TempDir, addr};

fn parse(text: &str) -> Result<ContactBook, ContactsError> {
    ContactBook::parse(text, Path::new("contacts.toml"))
}

fn book(text: &str) -> ContactBook {
    parse(text).unwrap_or_else(|e| panic!("should parse, got: {e}"))
}

/// The message for `text`, which must be refused.
fn error(text: &str) -> String {
    match parse(text) {
        Ok(book) => panic!("should be refused, got {book:?}"),
        Err(e) => e.to_string(),
    }
}

fn names(book: &ContactBook) -> Vec<&str> {
    book.contacts.iter().map(|c| c.name.as_str()).collect()
}

const FULL: &str = r#"[me]
name = "alice"               # shown to others
listen = "0.0.0.0:9001"       # where this qqchat receives
bell = false

[contacts]
taibai = "192.168.1.20:8081"
bob = "127.0.0.1:9002"
v6friend = "[::1]:9003"
script = { addr = "127.0.0.1:9100", plain = true }
"#;

#[test]
fn full_file_parses_in_file_order() {
    let book = book(FULL);
    assert_eq!(
        book.me,
        Me {
            name: "alice".into(),
            listen: addr("0.0.0.0:9001"),
            bell: false,
            require_keys: false,
            keepalive: 25,
            stun: qqchat::contacts::DEFAULT_STUN
                .iter()
                .map(|s| s.to_string())
                .collect(),
            relay: None,
            downloads: None,
            max_file_size: None,
            notify: qqchat::contacts::Notify::All,
            notify_preview: true,
            mouse: true,
            notify_command: None,
            on_message: None,
            strangers: qqchat::contacts::Strangers::Requests,
            dht: false,
            dht_bootstrap: None,
        }
    );
    assert_eq!(names(&book), ["taibai", "bob", "v6friend", "script"]);
    assert_eq!(
        book.contacts[3],
        Contact {
            name: "script".into(),
            addrs: vec![addr("127.0.0.1:9100")],
            plain: true,
            key: None,
            ipmsg: false,
            encoding: None,
            accept_files: false,
            mute: false,
        }
    );
    assert_eq!(book.contacts[2].addr(), addr("[::1]:9003"));
    assert!(!book.contacts[0].plain);
}

#[test]
fn everything_is_optional() {
    let book = book("");
    assert_eq!(book.me.listen, DEFAULT_LISTEN);
    assert!(book.me.bell);
    assert!(!book.me.name.is_empty());
    assert_eq!(book.me, Me::default());
    assert!(book.contacts.is_empty());

    let book = self::book("[contacts]\nbob = \"127.0.0.1:9002\"\n");
    assert_eq!(book.me, Me::default());
    assert_eq!(names(&book), ["bob"]);

    let book = self::book("[me]\nname = \"zed\"\n[contacts]\n");
    assert_eq!(book.me.name, "zed");
    assert_eq!(book.me.listen, DEFAULT_LISTEN);
    assert!(book.contacts.is_empty());
}

#[test]
fn contacts_may_be_written_as_sub_tables_and_dotted_keys() {
    let book = book(
        "[contacts]\nzed = \"127.0.0.1:9002\"\n\n[contacts.amy]\naddr = \"127.0.0.1:9003\"\nplain = true\n",
    );
    assert_eq!(names(&book), ["zed", "amy"]);
    assert!(book.contacts[1].plain);

    let book = self::book("contacts.bob = \"127.0.0.1:9002\"\n");
    assert_eq!(names(&book), ["bob"]);
}

#[test]
fn host_names_are_resolved_at_load_time() {
    let book = book("[me]\nlisten = \"localhost:9001\"\n[contacts]\nbob = \"localhost:9002\"\n");
    assert!(book.contacts[0].addr().ip().is_loopback());
    assert_eq!(book.contacts[0].addr().port(), 9002);
    assert!(book.me.listen.ip().is_loopback());
}

#[test]
fn listening_on_port_zero_is_allowed() {
    let book = book("[me]\nlisten = \"127.0.0.1:0\"\n");
    assert_eq!(book.me.listen, addr("127.0.0.1:0"));
}

#[test]
fn lookup_by_name_and_address() {
    let book = book(FULL);
    assert_eq!(
        book.by_name("bob").map(|c| c.addr()),
        Some(addr("127.0.0.1:9002"))
    );
    assert!(book.by_name("Bob").is_none());
    assert_eq!(
        book.by_addr(addr("127.0.0.1:9002"))
            .map(|c| c.name.as_str()),
        Some("bob")
    );
    // A dual-stack socket reports IPv4 peers as IPv4-mapped IPv6 addresses.
    assert_eq!(
        book.by_addr(addr("[::ffff:127.0.0.1]:9002"))
            .map(|c| c.name.as_str()),
        Some("bob")
    );
    assert_eq!(
        book.by_addr(addr("[::1]:9003")).map(|c| c.name.as_str()),
        Some("v6friend")
    );
    assert!(book.by_addr(addr("127.0.0.1:9003")).is_none());
    assert!(book.by_addr(addr("[::ffff:127.0.0.1]:9999")).is_none());
}

#[test]
fn contacts_written_as_mapped_addresses_match_plain_ipv4() {
    let book = book("[contacts]\nbob = \"[::ffff:127.0.0.1]:9002\"\n");
    assert_eq!(
        book.by_addr(addr("127.0.0.1:9002"))
            .map(|c| c.name.as_str()),
        Some("bob")
    );
}

#[test]
fn empty_book_has_only_me() {
    let me = Me {
        name: "demo".into(),
        listen: addr("127.0.0.1:0"),
        bell: true,
        require_keys: false,
        keepalive: 25,
        stun: Vec::new(),
        relay: None,
        downloads: None,
        max_file_size: None,
        notify: qqchat::contacts::Notify::All,
        notify_preview: true,
        mouse: true,
        notify_command: None,
        on_message: None,
        strangers: qqchat::contacts::Strangers::Requests,
        dht: false,
        dht_bootstrap: None,
    };
    let book = ContactBook::empty(me.clone());
    assert_eq!(book.me, me);
    assert!(book.contacts.is_empty());
    assert!(book.by_name("bob").is_none());
}

#[test]
fn shipped_example_file_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("contacts.toml");
    let book = ContactBook::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(names(&book), ["bob", "carol", "dave", "Erin S.", "script"]);
    assert_eq!(book.me.name, "alice");
    assert!(book.by_name("script").is_some_and(|c| c.plain));
}

#[test]
fn example_shown_in_errors_parses() {
    let book = book(EXAMPLE_FILE);
    assert_eq!(names(&book), ["bob"]);
}

// ---- 1. bad TOML syntax ----

#[test]
fn syntax_error_names_file_line_and_gives_a_hint() {
    let msg = error("[me]\nname = alice\n");
    assert!(
        msg.starts_with("contacts.toml:2: this is not valid TOML\nTOML parse error at line 2"),
        "{msg}"
    );
    assert!(msg.contains("2 | name = alice"), "{msg}");
    assert!(
        msg.ends_with(
            "hint: each line is a [table] header, a key = value pair, or a # comment; \
             text goes in double quotes, e.g. bob = \"127.0.0.1:9002\""
        ),
        "{msg}"
    );
}

#[test]
fn duplicate_name_is_a_syntax_error_with_its_own_hint() {
    let msg = error("[contacts]\nbob = \"127.0.0.1:9002\"\n\nbob = \"127.0.0.1:9003\"\n");
    assert!(
        msg.starts_with("contacts.toml:4: this is not valid TOML\n"),
        "{msg}"
    );
    assert!(msg.contains("duplicate key"), "{msg}");
    assert!(
        msg.contains("hint: each name may appear only once"),
        "{msg}"
    );
}

#[test]
fn syntax_error_is_typed_and_located() {
    let err = parse("\n\n[contacts\n").unwrap_err();
    assert_eq!(err.line(), Some(3));
    assert_eq!(err.path(), Some(Path::new("contacts.toml")));
    assert!(matches!(err.problem(), Some(Problem::Syntax { .. })));
}

// ---- 2. missing port ----

#[test]
fn missing_port() {
    assert_eq!(
        error(
            "[me]\nname = \"alice\"\nlisten = \"0.0.0.0:9001\"\n\n[contacts]\nbob = \"127.0.0.1\"\n"
        ),
        r#"contacts.toml:6: contact "bob": address "127.0.0.1" has no port; write it as bob = "127.0.0.1:9001""#
    );
}

#[test]
fn missing_port_in_every_address_form() {
    assert_eq!(
        error("[contacts]\nv6 = \"[::1]\"\n"),
        r#"contacts.toml:2: contact "v6": address "[::1]" has no port; write it as v6 = "[::1]:9001""#
    );
    assert_eq!(
        error("[contacts]\nv6 = \"::1\"\n"),
        r#"contacts.toml:2: contact "v6": address "::1" has no port; write it as v6 = "[::1]:9001""#
    );
    assert_eq!(
        error("[contacts]\n\"Erin S.\" = \"localhost\"\n"),
        r#"contacts.toml:2: contact "Erin S.": address "localhost" has no port; write it as "Erin S." = "localhost:9001""#
    );
    assert_eq!(
        error("[contacts]\nscript = { addr = \"127.0.0.1\", plain = true }\n"),
        r#"contacts.toml:2: contact "script": address "127.0.0.1" has no port; write it as addr = "127.0.0.1:9001""#
    );
    assert_eq!(
        error("# me\n[me]\nlisten = \"0.0.0.0\"\n"),
        r#"contacts.toml:3: [me] listen: address "0.0.0.0" has no port; write it as listen = "0.0.0.0:9001""#
    );
}

#[test]
fn error_in_a_multi_line_table_points_at_the_value() {
    let err =
        parse("[contacts]\nscript = {\n  plain = true,\n  addr = \"127.0.0.1\",\n}\n").unwrap_err();
    assert_eq!(err.line(), Some(4), "{err}");
    assert!(matches!(err.problem(), Some(Problem::MissingPort { .. })));
}

// ---- 3. bad ports ----

#[test]
fn port_out_of_range() {
    assert_eq!(
        error("[contacts]\nbob = \"127.0.0.1:9002\"\ncarol = \"127.0.0.1:70000\"\n"),
        r#"contacts.toml:3: contact "carol": address "127.0.0.1:70000" has port "70000", but a port is a number from 1 to 65535; write it as carol = "127.0.0.1:9001""#
    );
    assert_eq!(
        error("[contacts]\nbob = \"[::1]:port\"\n"),
        r#"contacts.toml:2: contact "bob": address "[::1]:port" has port "port", but a port is a number from 1 to 65535; write it as bob = "[::1]:9001""#
    );
    assert_eq!(
        error("[me]\nlisten = \"0.0.0.0:99999\"\n"),
        r#"contacts.toml:2: [me] listen: address "0.0.0.0:99999" has port "99999", but a port is a number from 1 to 65535; write it as listen = "0.0.0.0:9001""#
    );
}

#[test]
fn port_zero_for_a_contact() {
    assert_eq!(
        error("[contacts]\n\nbob = \"127.0.0.1:0\"\n"),
        r#"contacts.toml:3: contact "bob": address "127.0.0.1:0" has port 0, which cannot be sent to; use the port that qqchat listens on, e.g. bob = "127.0.0.1:9001""#
    );
    let err = parse("[contacts]\nbob = \"localhost:0\"\n").unwrap_err();
    assert!(
        matches!(err.problem(), Some(Problem::PortZero { .. })),
        "{err}"
    );
}

#[test]
fn malformed_address() {
    assert_eq!(
        error("[contacts]\nbob = \"127.0.0.1 9002\"\n"),
        r#"contacts.toml:2: contact "bob": "127.0.0.1 9002" is not an address of the form host:port (a host name has only letters, digits, - and .); write it as bob = "127.0.0.1:9001""#
    );
    assert_eq!(
        error("[contacts]\nbob = \"\"\n"),
        r#"contacts.toml:2: contact "bob": "" is not an address of the form host:port (it is empty); write it as bob = "127.0.0.1:9001""#
    );
    assert_eq!(
        error("[contacts]\nbob = \"fe80::1::9002\"\n"),
        r#"contacts.toml:2: contact "bob": "fe80::1::9002" is not an address of the form host:port (an IPv6 address goes in brackets, as in [::1]:9002); write it as bob = "127.0.0.1:9001""#
    );
}

/// The line after "write it as" in an error.
fn suggestion(message: &str) -> &str {
    message.rsplit("write it as ").next().expect("a suggestion")
}

#[test]
fn suggestions_are_the_address_meant_and_parse() {
    let cases = [
        ("[contacts]\nbob = \"::1:9003\"\n", r#"bob = "[::1]:9003""#),
        (
            "[contacts]\nbob = \"2001:db8::7:9003\"\n",
            r#"bob = "[2001:db8::7]:9003""#,
        ),
        ("[me]\nlisten = \"9001\"\n", r#"listen = "0.0.0.0:9001""#),
        ("[contacts]\nbob = \"9002\"\n", r#"bob = "127.0.0.1:9002""#),
        (
            "[contacts]\nbob = \"http://127.0.0.1:9002\"\n",
            r#"bob = "127.0.0.1:9002""#,
        ),
        (
            "[contacts]\nbob = \"udp://[::1]:9002/\"\n",
            r#"bob = "[::1]:9002""#,
        ),
    ];
    for (file, meant) in cases {
        let message = error(file);
        assert_eq!(suggestion(&message), meant, "{message}");
        let table = if meant.starts_with("listen") {
            "[me]"
        } else {
            "[contacts]"
        };
        book(&format!("{table}\n{meant}\n"));
    }
}

// ---- 4. unknown keys ----

#[test]
fn unknown_key_in_me() {
    assert_eq!(
        error("[me]\nname = \"alice\"\nnmae = \"al\"\n"),
        r#"contacts.toml:3: unknown key "nmae" in [me]; the keys allowed there are name, listen, bell, require_keys, keepalive, stun, relay, downloads, max_file_size, notify, notify_preview, notify_command, on_message, strangers, mouse, dht, dht_bootstrap; did you mean "name"?"#
    );
    assert_eq!(
        error("[me]\ncolour = 3\n"),
        r#"contacts.toml:2: unknown key "colour" in [me]; the keys allowed there are name, listen, bell, require_keys, keepalive, stun, relay, downloads, max_file_size, notify, notify_preview, notify_command, on_message, strangers, mouse, dht, dht_bootstrap; e.g. name = "alice""#
    );
}

#[test]
fn keepalive_is_seconds_and_zero_turns_it_off() {
    assert_eq!(book("[me]\nkeepalive = 0\n").me.keepalive, 0);
    assert_eq!(book("[me]\nkeepalive = 15\n").me.keepalive, 15);
    assert_eq!(book("[me]\nname = \"a\"\n").me.keepalive, 25);
    assert_eq!(
        error("[me]\nkeepalive = \"25s\"\n"),
        r#"contacts.toml:2: [me] keepalive: expected a number of seconds from 0 (off) to 3600, no quotes, found "25s" (a string); write it as keepalive = 25"#
    );
}

#[test]
fn contact_written_under_me_is_explained() {
    assert_eq!(
        error("[me]\nname = \"alice\"\nbob = \"127.0.0.1:9002\"\n"),
        r#"contacts.toml:3: unknown key "bob" in [me]; the keys allowed there are name, listen, bell, require_keys, keepalive, stun, relay, downloads, max_file_size, notify, notify_preview, notify_command, on_message, strangers, mouse, dht, dht_bootstrap; if "bob" is a contact, move this line below the [contacts] line; [me] holds e.g. name = "alice""#
    );
}

#[test]
fn unknown_key_in_a_contact_table() {
    assert_eq!(
        error("[contacts]\nscript = { adr = \"127.0.0.1:9100\", plain = true }\n"),
        r#"contacts.toml:2: unknown key "adr" in contact "script"; the keys allowed there are addr, addrs, key, plain, ipmsg, encoding, accept_files, mute; did you mean "addr"?"#
    );
    assert_eq!(
        error("[contacts.script]\naddr = \"127.0.0.1:9100\"\n\nreceipts = false\n"),
        r#"contacts.toml:4: unknown key "receipts" in contact "script"; the keys allowed there are addr, addrs, key, plain, ipmsg, encoding, accept_files, mute; e.g. script = { addr = "127.0.0.1:9100", plain = true }"#
    );
}

#[test]
fn unknown_top_level_table() {
    assert_eq!(
        error("[me]\nname = \"alice\"\n\n[colors]\nbg = \"black\"\n"),
        r#"contacts.toml:4: unknown key "colors" at the top level; the keys allowed there are me, contacts, lan; the file has only a [me], a [contacts] and a [lan] table, e.g. [contacts] then bob = "127.0.0.1:9002""#
    );
    assert_eq!(
        error("[contact]\nbob = \"127.0.0.1:9002\"\n"),
        r#"contacts.toml:1: unknown key "contact" at the top level; the keys allowed there are me, contacts, lan; did you mean [contacts]?"#
    );
}

#[test]
fn contact_above_every_table_is_explained() {
    assert_eq!(
        error("# friends\nbob = \"127.0.0.1:9002\"\n[me]\nname = \"alice\"\n"),
        r#"contacts.toml:2: unknown key "bob" at the top level; the keys allowed there are me, contacts, lan; if "bob" is a contact, move this line below the [contacts] line, e.g. [contacts] then bob = "127.0.0.1:9002""#
    );
}

#[test]
fn unknown_key_is_typed() {
    let err = parse("[me]\nnmae = \"x\"\n").unwrap_err();
    match err.problem() {
        Some(Problem::UnknownKey { key, allowed, .. }) => {
            assert_eq!(key, "nmae");
            assert_eq!(
                allowed,
                &[
                    "name",
                    "listen",
                    "bell",
                    "require_keys",
                    "keepalive",
                    "stun",
                    "relay",
                    "downloads",
                    "max_file_size",
                    "notify",
                    "notify_preview",
                    "notify_command",
                    "on_message",
                    "strangers",
                    "mouse",
                    "dht",
                    "dht_bootstrap"
                ]
            );
        }
        other => panic!("wrong problem: {other:?}"),
    }
}

// ---- 5. empty names ----

#[test]
fn empty_contact_name() {
    assert_eq!(
        error("[contacts]\nbob = \"127.0.0.1:9002\"\n\"\" = \"127.0.0.1:9003\"\n"),
        r#"contacts.toml:3: a contact has an empty name; give it one, e.g. bob = "127.0.0.1:9002""#
    );
    let err = parse("[contacts]\n\"  \" = \"127.0.0.1:9003\"\n").unwrap_err();
    assert!(
        matches!(err.problem(), Some(Problem::EmptyName { .. })),
        "{err}"
    );
}

#[test]
fn empty_me_name() {
    assert_eq!(
        error("[me]\nlisten = \"0.0.0.0:9001\"\nname = \"\"\n"),
        r#"contacts.toml:3: [me] name is empty, but others see it; write e.g. name = "alice""#
    );
}

#[test]
fn control_characters_in_names() {
    assert_eq!(
        error("[contacts]\n\"bo\\nb\" = \"127.0.0.1:9002\"\n"),
        r#"contacts.toml:2: contact name "bo\nb" contains a control character (tab, newline, ...); write a plain name, e.g. bob = "127.0.0.1:9002""#
    );
    let err = parse("[me]\nname = \"al\\tice\"\n").unwrap_err();
    assert!(
        matches!(err.problem(), Some(Problem::ControlInName { .. })),
        "{err}"
    );
}

// ---- 6. two contacts with one address ----

#[test]
fn duplicate_address_names_both_contacts_and_lines() {
    assert_eq!(
        error(
            "[contacts]\nbob = \"127.0.0.1:9002\"\ncarol = \"127.0.0.1:9003\"\n# same as bob\nbobby = \"127.0.0.1:9002\"\n"
        ),
        r#"contacts.toml:5: contacts "bob" (line 2) and "bobby" (line 5) both have the address 127.0.0.1:9002; each contact needs its own address, e.g. bobby = "127.0.0.1:9003""#
    );
}

#[test]
fn duplicate_address_across_forms() {
    let err = parse(
        "[contacts]\nbob = \"127.0.0.1:9002\"\nscript = { addr = \"[::ffff:127.0.0.1]:9002\", plain = true }\n",
    )
    .unwrap_err();
    match err.problem() {
        Some(Problem::DuplicateAddress {
            first,
            first_line,
            second,
            second_line,
            ..
        }) => {
            assert_eq!((first.as_str(), *first_line), ("bob", 2));
            assert_eq!((second.as_str(), *second_line), ("script", 3));
        }
        other => panic!("wrong problem: {other:?} in {err}"),
    }
    assert_eq!(err.line(), Some(3));
}

// ---- 7. unresolvable host ----

#[test]
fn host_that_does_not_resolve() {
    let msg = error("[contacts]\nbob = \"127.0.0.1:9002\"\nghost = \"nohost.invalid:9000\"\n");
    assert!(
        msg.starts_with(
            r#"contacts.toml:3: contact "ghost": cannot resolve host "nohost.invalid" ("#
        ),
        "{msg}"
    );
    assert!(
        msg.ends_with(
            r#"); check the spelling, or write the IP address instead, e.g. ghost = "192.168.1.20:9000""#
        ),
        "{msg}"
    );
}

// ---- 8. wrong types ----

#[test]
fn contact_given_a_number() {
    assert_eq!(
        error("[contacts]\nbob = 9002\n"),
        r#"contacts.toml:2: contact "bob": expected an address in double quotes, or a table { addr = ..., plain = ... }, found 9002 (an integer); write it as bob = "127.0.0.1:9002""#
    );
    assert_eq!(
        error("[contacts]\nbob = [\"127.0.0.1:9002\"]\n"),
        r#"contacts.toml:2: contact "bob": expected an address in double quotes, or a table { addr = ..., plain = ... }, found ["127.0.0.1:9002"] (a list); write it as bob = "127.0.0.1:9001""#
    );
}

#[test]
fn wrong_types_in_me_and_contact_tables() {
    assert_eq!(
        error("[me]\nbell = \"yes\"\n"),
        r#"contacts.toml:2: [me] bell: expected true or false (no quotes), found "yes" (a string); write it as bell = true"#
    );
    assert_eq!(
        error("[me]\nname = 7\n"),
        r#"contacts.toml:2: [me] name: expected a name in double quotes, found 7 (an integer); write it as name = "alice""#
    );
    assert_eq!(
        error("[me]\nlisten = 9001\n"),
        r#"contacts.toml:2: [me] listen: expected an address in double quotes, found 9001 (an integer); write it as listen = "0.0.0.0:9001""#
    );
    assert_eq!(
        error("[contacts]\nscript = { addr = \"127.0.0.1:9100\", plain = \"yes\" }\n"),
        r#"contacts.toml:2: contact "script": plain: expected true or false (no quotes), found "yes" (a string); write it as plain = true"#
    );
    assert_eq!(
        error("[contacts]\nscript = { addr = 9100 }\n"),
        r#"contacts.toml:2: contact "script": addr: expected an address in double quotes, found 9100 (an integer); write it as addr = "127.0.0.1:9002""#
    );
}

#[test]
fn top_level_tables_of_the_wrong_type() {
    assert_eq!(
        error("me = \"alice\"\n"),
        r#"contacts.toml:1: `me`: expected a table, found "alice" (a string); write it as a [me] line, then name = "alice""#
    );
    let err = parse("[[contacts]]\nbob = \"127.0.0.1:9002\"\n").unwrap_err();
    assert!(
        matches!(err.problem(), Some(Problem::WrongType { .. })),
        "{err}"
    );
    assert_eq!(err.line(), Some(1));
}

#[test]
fn contact_table_without_addr() {
    assert_eq!(
        error("[contacts]\nscript = { plain = true }\n"),
        r#"contacts.toml:2: contact "script" has no addr; write it as script = { addr = "127.0.0.1:9100", plain = true }"#
    );
}

// ---- files and where to find them ----

#[test]
fn load_reads_and_names_the_file() {
    let dir = TempDir::new("contacts-load");
    let good = dir.write("good.toml", FULL);
    assert_eq!(ContactBook::load(&good).unwrap(), book(FULL));

    let bad = dir.write("bad.toml", "[contacts]\nbob = 9002\n");
    let err = ContactBook::load(&bad).unwrap_err();
    assert_eq!(err.path(), Some(bad.as_path()));
    assert!(
        err.to_string()
            .starts_with(&format!("{}:2: contact \"bob\"", bad.display())),
        "{err}"
    );
}

#[test]
fn load_of_a_missing_file_is_a_read_error() {
    let path = std::env::temp_dir().join("qqchat-no-such-dir/contacts.toml");
    let err = ContactBook::load(&path).unwrap_err();
    assert!(matches!(err, ContactsError::Read { .. }));
    assert!(
        err.to_string().starts_with(&format!(
            "{}: cannot read the contacts file: ",
            path.display()
        )),
        "{err}"
    );
}

#[test]
fn explicit_path_is_the_only_candidate() {
    let dir = TempDir::new("contacts-explicit");
    let path = dir.write("explicit.toml", FULL);
    assert_eq!(contacts::search_paths(Some(&path)), vec![path.clone()]);
    assert_eq!(contacts::locate(Some(&path)).unwrap(), path);

    let missing = path.with_file_name("missing.toml");
    let err = contacts::locate(Some(&missing)).unwrap_err();
    assert!(matches!(err, ContactsError::Missing { .. }));
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "{}: no such contacts file (named with --contacts)",
            missing.display()
        )),
        "{msg}"
    );
    assert!(msg.contains(EXAMPLE_FILE), "{msg}");
}

#[test]
fn default_candidates_are_current_dir_then_config_dir() {
    let paths = contacts::search_paths(None);
    assert_eq!(paths[0], PathBuf::from("./contacts.toml"));
    assert!(paths.len() <= 2);
    if let Some(config) = paths.get(1) {
        assert!(config.ends_with("contacts.toml"));
        assert!(config.to_string_lossy().contains("qqchat"));
    }
    // Tests run in the crate root, which holds the example file.
    assert_eq!(
        contacts::locate(None).unwrap(),
        PathBuf::from("./contacts.toml")
    );
}

#[test]
fn notifications_are_set_in_me_and_a_wrong_value_says_what_to_write() {
    let b = book("[me]\nnotify = \"contacts\"\nnotify_preview = false\n");
    assert_eq!(b.me.notify, qqchat::contacts::Notify::Contacts);
    assert!(!b.me.notify_preview);
    let defaults = book("");
    assert_eq!(defaults.me.notify, qqchat::contacts::Notify::All);
    assert!(defaults.me.notify_preview);
    let err = error("[me]\nname = \"me\"\nnotify = \"loud\"\n");
    assert!(err.contains("contacts.toml:3"), "{err}");
    assert!(err.contains("notify = \"contacts\""), "{err}");
}

#[test]
fn a_contact_can_be_muted() {
    let b = book(
        "[contacts]\nbob = { addr = \"127.0.0.1:9002\", mute = true }\ncarol = \"127.0.0.1:9003\"\n",
    );
    assert!(b.contacts[0].mute);
    assert!(!b.contacts[1].mute);
    let err = error("[contacts]\nbob = { addr = \"127.0.0.1:9002\", mute = \"yes\" }\n");
    assert!(err.contains("mute = true"), "{err}");
}

#[test]
fn programs_for_notifications_and_messages_are_a_string_or_a_list() {
    let b = book(
        "[me]\nnotify_command = [\"notify-send\", \"qqchat\"]\non_message = \"/usr/local/bin/log-it --json\"\n",
    );
    assert_eq!(
        b.me.notify_command,
        Some(vec!["notify-send".to_owned(), "qqchat".to_owned()])
    );
    assert_eq!(
        b.me.on_message,
        Some(vec![
            "/usr/local/bin/log-it".to_owned(),
            "--json".to_owned()
        ])
    );
    let err = error("[me]\non_message = []\n");
    assert!(
        err.contains("contacts.toml:2") && err.contains("on_message ="),
        "{err}"
    );
}

#[test]
fn the_mouse_is_taken_unless_me_says_mouse_false() {
    assert!(book("").me.mouse, "on by default");
    assert!(!book("[me]\nmouse = false\n").me.mouse);
    let err = error("[me]\nname = \"me\"\nmouse = \"no\"\n");
    assert!(err.contains("contacts.toml:3"), "{err}");
    assert!(err.contains("mouse = false"), "{err}");
}
