//! Contacts with several candidate addresses (`addrs = [...]`, with a key): what parses,
//! what each mistake says, and how edits write them.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::path::Path;

use qqchat::contacts::{ContactBook, ContactsError, KeyedAdd, Problem, add_keyed_contact};
use qqchat::contacts::{remove_contact, rename_contact};
use qqchat::proto::PublicKey;
use qqchat_testkit::{TempDir, addr};

const KEY: PublicKey = PublicKey::from_bytes([7; 32]);

fn key_text() -> String {
    qqchat::identity::encode_key(&KEY)
}

fn parse(text: &str) -> Result<ContactBook, ContactsError> {
    ContactBook::parse(text, Path::new("contacts.toml"))
}

fn error(text: &str) -> String {
    match parse(text) {
        Ok(book) => panic!("should be refused, got {book:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_keyed_contact_may_have_several_addresses_in_order() {
    let text = format!(
        "[contacts]\nbob = {{ key = \"{}\", addrs = [\"203.0.113.21:40000\", \"192.168.1.20:9001\"] }}\ncarol = \"127.0.0.1:9003\"\n",
        key_text()
    );
    let book = parse(&text).unwrap();
    let bob = book.by_name("bob").unwrap();
    assert_eq!(
        bob.addrs,
        [addr("203.0.113.21:40000"), addr("192.168.1.20:9001")]
    );
    assert_eq!(
        bob.addr(),
        addr("203.0.113.21:40000"),
        "the first is primary"
    );
    assert_eq!(bob.key, Some(KEY));
    assert_eq!(
        book.by_addr(addr("192.168.1.20:9001"))
            .map(|c| c.name.as_str()),
        Some("bob"),
        "every candidate finds the contact"
    );
    assert_eq!(
        book.by_name("carol").unwrap().addrs,
        [addr("127.0.0.1:9003")]
    );
    // One address in a list is the same as addr, key or no key.
    let one = parse("[contacts]\ncarol = { addrs = [\"127.0.0.1:9003\"] }\n").unwrap();
    assert_eq!(one.contacts[0].addrs, [addr("127.0.0.1:9003")]);
}

#[test]
fn addr_and_addrs_together_are_refused_with_the_fix() {
    assert_eq!(
        error(&format!(
            "[contacts]\nbob = {{ key = \"{}\",\n  addr = \"127.0.0.1:9002\",\n  addrs = [\"127.0.0.1:9003\"] }}\n",
            key_text()
        )),
        r#"contacts.toml:4: contact "bob" has both addr and addrs; keep one: addrs = [...] with every address, or addr = "..." with one"#
    );
}

#[test]
fn several_addresses_without_a_key_say_why_and_what_to_write() {
    let err =
        parse("[contacts]\n\nbob = { addrs = [\"127.0.0.1:9002\", \"192.168.1.20:9001\"] }\n")
            .unwrap_err();
    assert_eq!(err.line(), Some(3));
    assert!(
        matches!(err.problem(), Some(Problem::AddrsWithoutKey { name, .. }) if name == "bob"),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        r#"contacts.toml:3: contact "bob" has several addresses but no key, and without a key nothing proves who answers at each of them; add the key from their `qqchat id` (key = "..."), or keep one address: addr = "127.0.0.1:9002""#
    );
}

#[test]
fn mistakes_inside_addrs_point_at_the_address() {
    let k = key_text();
    assert_eq!(
        error(&format!(
            "[contacts]\nbob = {{ key = \"{k}\", addrs = [\n  \"127.0.0.1:9002\",\n  \"127.0.0.1\",\n] }}\n"
        )),
        r#"contacts.toml:4: contact "bob": address "127.0.0.1" has no port; write it as addrs = ["127.0.0.1:9001", ...]"#
    );
    assert_eq!(
        error(&format!(
            "[contacts]\nbob = {{ key = \"{k}\", addrs = [] }}\n"
        )),
        r#"contacts.toml:2: contact "bob": addrs: expected a list of one or more addresses in double quotes, found [] (a list); write it as addrs = ["203.0.113.21:40000", "192.168.1.20:9001"]"#
    );
    assert_eq!(
        error(&format!(
            "[contacts]\nbob = {{ key = \"{k}\", addrs = \"127.0.0.1:9002\" }}\n"
        )),
        r#"contacts.toml:2: contact "bob": addrs: expected a list of one or more addresses in double quotes, found "127.0.0.1:9002" (a string); write it as addrs = ["203.0.113.21:40000", "192.168.1.20:9001"]"#
    );
    assert_eq!(
        error(&format!(
            "[contacts]\nbob = {{ key = \"{k}\", addrs = [\"127.0.0.1:9002\", \"127.0.0.1:9002\"] }}\n"
        )),
        r#"contacts.toml:2: contact "bob" lists the address 127.0.0.1:9002 twice in addrs; remove one of them"#
    );
}

#[test]
fn duplicate_checks_cover_every_candidate() {
    let k = key_text();
    let err = parse(&format!(
        "[contacts]\ncarol = \"192.168.1.20:9001\"\nbob = {{ key = \"{k}\", addrs = [\"203.0.113.21:40000\", \"192.168.1.20:9001\"] }}\n"
    ))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"contacts.toml:3: contacts "carol" (line 2) and "bob" (line 3) both have the address 192.168.1.20:9001; each contact needs its own address, e.g. addrs = ["203.0.113.21:40000", "192.168.1.20:9002"]"#
    );
    // A later candidate of the first contact counts too.
    let err = parse(&format!(
        "[contacts]\nbob = {{ key = \"{k}\", addrs = [\"203.0.113.21:40000\", \"192.168.1.20:9001\"] }}\ncarol = \"192.168.1.20:9001\"\n"
    ))
    .unwrap_err();
    assert!(
        matches!(err.problem(), Some(Problem::DuplicateAddress { first, second, .. }) if first == "bob" && second == "carol"),
        "{err}"
    );
}

fn file_with(dir: &TempDir, text: &str) -> std::path::PathBuf {
    dir.write("contacts.toml", text)
}

fn load(path: &Path) -> ContactBook {
    ContactBook::load(path).unwrap()
}

#[test]
fn adding_several_addresses_writes_addrs_and_edits_keep_them() {
    let dir = TempDir::new("contacts-addrs");
    let path = file_with(&dir, "[contacts]\n# friends\ncarol = \"127.0.0.1:9003\"\n");
    let addrs = [
        "203.0.113.21:40000".to_owned(),
        "192.168.1.20:9001".to_owned(),
    ];
    assert_eq!(
        add_keyed_contact(&path, "bob", &addrs, &KEY).unwrap(),
        KeyedAdd::New
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("bob = { addrs = [\"203.0.113.21:40000\", \"192.168.1.20:9001\"], key = "),
        "{text}"
    );
    assert_eq!(
        load(&path).by_name("bob").unwrap().addrs,
        [addr("203.0.113.21:40000"), addr("192.168.1.20:9001")]
    );
    rename_contact(&path, "bob", "robert").unwrap();
    assert_eq!(load(&path).by_name("robert").unwrap().addrs.len(), 2);
    remove_contact(&path, "robert").unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, "[contacts]\n# friends\ncarol = \"127.0.0.1:9003\"\n");
}

#[test]
fn the_upgrade_of_an_unkeyed_contact_writes_every_address() {
    let dir = TempDir::new("contacts-addrs-upgrade");
    // Found by its address, the second in the contact string; the name stays.
    let path = file_with(
        &dir,
        "[contacts]\nrobert = \"192.168.1.20:9001\" # from school\n",
    );
    let addrs = [
        "203.0.113.21:40000".to_owned(),
        "192.168.1.20:9001".to_owned(),
    ];
    let done = add_keyed_contact(&path, "bob", &addrs, &KEY).unwrap();
    assert_eq!(
        done,
        KeyedAdd::KeyGiven {
            name: "robert".into(),
            addr_changed: true
        }
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("# from school"), "{text}");
    assert!(!text.contains("addr ="), "{text}");
    let robert = load(&path).by_name("robert").unwrap().clone();
    assert_eq!(
        robert.addrs,
        [addr("203.0.113.21:40000"), addr("192.168.1.20:9001")]
    );
    assert_eq!(robert.key, Some(KEY));

    // A table with addr becomes one with addrs, not both.
    let path = file_with(&dir, "[contacts.bob]\naddr = \"127.0.0.1:9002\"\n");
    let addrs = ["127.0.0.1:9002".to_owned(), "127.0.0.1:9005".to_owned()];
    add_keyed_contact(&path, "bob", &addrs, &KEY).unwrap();
    let bob = load(&path).by_name("bob").unwrap().clone();
    assert_eq!(bob.addrs, [addr("127.0.0.1:9002"), addr("127.0.0.1:9005")]);
}
