//! Editing `contacts.toml` from the chat: the file keeps everything it is not asked to
//! change, byte for byte, and always loads afterwards.
// Test data is written here by hand; a bad value should fail the test loudly.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};

use qqchat::contacts::ContactBook;
use qqchat::contacts::{
    EditError, KeyedAdd, add_contact, add_ipmsg_contact, add_keyed_contact, learn_addrs,
    remove_contact, rename_contact,
};
use qqchat::proto::PublicKey;
use qqchat_testkit::{TempDir, addr};

/// The example file shipped with qqchat: comments above entries, comments after values,
/// quoted names, an inline table.
const EXAMPLE: &str = include_str!("../contacts.toml");

/// A contacts file in a temporary directory, removed with it.
struct Scratch {
    path: PathBuf,
    _dir: TempDir,
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

fn file_with(text: &str) -> Scratch {
    let dir = TempDir::new("contacts-edit");
    Scratch {
        path: dir.write("contacts.toml", text),
        _dir: dir,
    }
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap()
}

fn book(path: &Path) -> ContactBook {
    ContactBook::parse(&read(path), path).unwrap()
}

fn names(path: &Path) -> Vec<String> {
    book(path).contacts.into_iter().map(|c| c.name).collect()
}

/// Nothing but the file itself is left in its directory (no temporary files).
fn alone(path: &Path) {
    let entries: Vec<_> = fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, ["contacts.toml"]);
}

// ---------------------------------------------------------------- add

#[test]
fn add_appends_one_line_and_keeps_every_other_byte() {
    let path = file_with(EXAMPLE);
    add_contact(&path, "frank", addr("127.0.0.1:9006"), false).unwrap();
    assert_eq!(
        read(&path),
        format!("{EXAMPLE}frank = \"127.0.0.1:9006\"\n")
    );
    let book = book(&path);
    let frank = book.by_name("frank").unwrap();
    assert_eq!((frank.addr(), frank.plain), (addr("127.0.0.1:9006"), false));
    assert_eq!(names(&path).last().unwrap(), "frank", "added last");
    alone(&path);
}

#[test]
fn add_writes_plain_peers_as_an_inline_table() {
    let path = file_with(EXAMPLE);
    add_contact(&path, "nc", addr("127.0.0.1:9200"), true).unwrap();
    assert!(read(&path).ends_with("\nnc = { addr = \"127.0.0.1:9200\", plain = true }\n"));
    assert!(book(&path).by_name("nc").unwrap().plain);
}

#[test]
fn add_quotes_names_that_need_it_and_takes_cjk() {
    let path = file_with(EXAMPLE);
    add_contact(&path, "Frank M.", addr("127.0.0.1:9006"), false).unwrap();
    add_contact(&path, "小明", addr("127.0.0.1:9007"), false).unwrap();
    let text = read(&path);
    assert!(
        text.contains("\n\"Frank M.\" = \"127.0.0.1:9006\"\n"),
        "{text}"
    );
    assert!(book(&path).by_name("小明").is_some());
}

#[test]
fn add_writes_a_mapped_address_in_its_ipv4_form() {
    let path = file_with(EXAMPLE);
    add_contact(&path, "v4", addr("[::ffff:127.0.0.1]:9300"), false).unwrap();
    assert!(read(&path).ends_with("v4 = \"127.0.0.1:9300\"\n"));
}

#[test]
fn add_creates_the_contacts_table_when_missing() {
    let text = "# just me so far\n[me]\nname = \"alice\"   # me\n";
    let path = file_with(text);
    add_contact(&path, "bob", addr("127.0.0.1:9002"), false).unwrap();
    let new = read(&path);
    assert!(new.starts_with(text), "{new}");
    assert_eq!(names(&path), ["bob"]);
    assert_eq!(book(&path).me.name, "alice");
}

#[test]
fn add_refuses_an_empty_or_used_name_and_leaves_the_file_alone() {
    let path = file_with(EXAMPLE);
    let err = add_contact(&path, "bob", addr("127.0.0.1:9999"), false).unwrap_err();
    assert!(matches!(&err, EditError::NameTaken { name } if name == "bob"));
    assert_eq!(err.to_string(), "there is already a contact called \"bob\"");
    assert!(matches!(
        add_contact(&path, "", addr("127.0.0.1:9999"), false),
        Err(EditError::EmptyName)
    ));
    assert!(matches!(
        add_contact(&path, "  ", addr("127.0.0.1:9999"), false),
        Err(EditError::EmptyName)
    ));
    assert!(matches!(
        add_contact(&path, "a\tb", addr("127.0.0.1:9999"), false),
        Err(EditError::ControlInName { .. })
    ));
    assert_eq!(read(&path), EXAMPLE);
    alone(&path);
}

#[test]
fn an_edit_that_would_not_load_is_not_written() {
    let path = file_with(EXAMPLE);
    // bob's address already: two contacts at one address cannot be told apart.
    let err = add_contact(&path, "bob2", addr("127.0.0.1:9002"), false).unwrap_err();
    assert!(matches!(err, EditError::Invalid(_)), "{err}");
    assert!(err.to_string().contains("both have the address"), "{err}");
    assert_eq!(read(&path), EXAMPLE);
    alone(&path);
}

#[test]
fn a_file_that_is_not_toml_is_left_alone() {
    let text = "[contacts]\nbob = \"127.0.0.1:9002\n";
    let path = file_with(text);
    let err = add_contact(&path, "carol", addr("127.0.0.1:9003"), false).unwrap_err();
    assert!(matches!(err, EditError::Syntax { .. }), "{err}");
    assert_eq!(read(&path), text);
}

#[test]
fn a_missing_file_is_a_read_error() {
    let path = file_with("");
    fs::remove_file(&path).unwrap();
    let err = add_contact(&path, "bob", addr("127.0.0.1:9002"), false).unwrap_err();
    assert!(matches!(err, EditError::Read { .. }), "{err}");
}

// ---------------------------------------------------------------- rename

#[test]
fn rename_changes_only_the_name_where_it_stands() {
    let path = file_with(EXAMPLE);
    rename_contact(&path, "carol", "Carol K.").unwrap();
    let expected = EXAMPLE.replace(
        "\ncarol = \"[::1]:9003\"           # IPv6",
        "\n\"Carol K.\" = \"[::1]:9003\"           # IPv6",
    );
    assert_ne!(expected, EXAMPLE);
    assert_eq!(read(&path), expected);
    assert_eq!(
        names(&path),
        ["bob", "Carol K.", "dave", "Erin S.", "script"],
        "same place"
    );
    alone(&path);
}

#[test]
fn rename_keeps_the_comments_above_the_first_entry() {
    let path = file_with(EXAMPLE);
    rename_contact(&path, "bob", "robert").unwrap();
    let expected = EXAMPLE.replace(
        "\nbob = \"127.0.0.1:9002\"",
        "\nrobert = \"127.0.0.1:9002\"",
    );
    assert_eq!(read(&path), expected);
    assert_eq!(names(&path)[0], "robert");
}

#[test]
fn rename_keeps_an_inline_table_and_quoted_names() {
    let path = file_with(EXAMPLE);
    rename_contact(&path, "script", "脚本").unwrap();
    rename_contact(&path, "Erin S.", "erin").unwrap();
    let expected = EXAMPLE
        .replace("\nscript = {", "\n\"脚本\" = {")
        .replace("\n\"Erin S.\" = ", "\nerin = ");
    assert_eq!(read(&path), expected);
    let book = book(&path);
    assert!(book.by_name("脚本").unwrap().plain);
    assert_eq!(
        names(&path),
        ["bob", "carol", "dave", "erin", "脚本"],
        "same places"
    );
}

#[test]
fn rename_refuses_unknown_used_and_empty_names() {
    let path = file_with(EXAMPLE);
    assert!(matches!(
        rename_contact(&path, "zed", "z"),
        Err(EditError::NoSuchContact { .. })
    ));
    assert!(matches!(
        rename_contact(&path, "bob", "carol"),
        Err(EditError::NameTaken { .. })
    ));
    assert!(matches!(
        rename_contact(&path, "bob", ""),
        Err(EditError::EmptyName)
    ));
    rename_contact(&path, "bob", "bob").unwrap();
    assert_eq!(read(&path), EXAMPLE);
    alone(&path);
}

#[test]
fn rename_of_a_contact_written_as_its_own_table() {
    let text = "[me]\nname = \"alice\"\n\n# bob's own table\n[contacts.bob]\naddr = \"127.0.0.1:9002\" # home\n\n[contacts.carol]\naddr = \"127.0.0.1:9003\"\n";
    let path = file_with(text);
    rename_contact(&path, "bob", "robert").unwrap();
    assert_eq!(
        read(&path),
        text.replace("[contacts.bob]", "[contacts.robert]")
    );
    assert_eq!(names(&path), ["robert", "carol"]);
}

// ---------------------------------------------------------------- remove

/// `text` without the one line that contains `needle`.
fn without_line(text: &str, needle: &str) -> String {
    let mut found = 0;
    let kept: String = text
        .split_inclusive('\n')
        .filter(|line| {
            let hit = line.contains(needle);
            found += usize::from(hit);
            !hit
        })
        .collect();
    assert_eq!(found, 1, "{needle:?} is on exactly one line");
    kept
}

#[test]
fn remove_deletes_only_that_entry() {
    let path = file_with(EXAMPLE);
    remove_contact(&path, "dave").unwrap();
    assert_eq!(read(&path), without_line(EXAMPLE, "dave = "));
    assert_eq!(names(&path), ["bob", "carol", "Erin S.", "script"]);
    alone(&path);
}

#[test]
fn remove_keeps_the_comments_above_the_entry() {
    let path = file_with(EXAMPLE);
    remove_contact(&path, "bob").unwrap();
    assert_eq!(read(&path), without_line(EXAMPLE, "bob = "));
    // The last entry: its comment stays at the end of the file.
    remove_contact(&path, "script").unwrap();
    let expected = without_line(&without_line(EXAMPLE, "bob = "), "script = ");
    assert_eq!(read(&path), expected);
    assert!(read(&path).contains("# A plain UDP peer"));
    assert_eq!(names(&path), ["carol", "dave", "Erin S."]);
}

#[test]
fn remove_before_another_section_keeps_the_comments_in_front_of_it() {
    let text = "[contacts]\nbob = \"127.0.0.1:9002\"\n# about carol\ncarol = \"127.0.0.1:9003\"\n\n# me at the end\n[me]\nname = \"alice\"\n";
    let path = file_with(text);
    remove_contact(&path, "carol").unwrap();
    assert_eq!(read(&path), without_line(text, "carol = "));
    assert_eq!(book(&path).me.name, "alice");
}

#[test]
fn remove_of_a_contact_written_as_its_own_table() {
    let text = "[me]\nname = \"alice\"\n\n# bob's own table\n[contacts.bob]\naddr = \"127.0.0.1:9002\"\n\n[contacts.carol]\naddr = \"127.0.0.1:9003\"\n";
    let path = file_with(text);
    remove_contact(&path, "bob").unwrap();
    assert_eq!(
        read(&path),
        "[me]\nname = \"alice\"\n\n# bob's own table\n\n[contacts.carol]\naddr = \"127.0.0.1:9003\"\n"
    );
    assert_eq!(names(&path), ["carol"]);
}

#[test]
fn remove_of_an_unknown_contact_is_an_error() {
    let path = file_with(EXAMPLE);
    let err = remove_contact(&path, "zed").unwrap_err();
    assert!(matches!(&err, EditError::NoSuchContact { name } if name == "zed"));
    assert_eq!(read(&path), EXAMPLE);
    let path = file_with("[me]\nname = \"alice\"\n");
    assert!(matches!(
        remove_contact(&path, "bob"),
        Err(EditError::NoSuchContact { .. })
    ));
}

#[test]
fn contacts_written_as_an_inline_table_can_be_edited_too() {
    let path = file_with("contacts = { bob = \"127.0.0.1:9002\", carol = \"127.0.0.1:9003\" }\n");
    add_contact(&path, "dave", addr("127.0.0.1:9004"), false).unwrap();
    rename_contact(&path, "bob", "robert").unwrap();
    remove_contact(&path, "carol").unwrap();
    assert_eq!(names(&path), ["robert", "dave"]);
}

#[cfg(unix)]
#[test]
fn the_file_keeps_its_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let path = file_with(EXAMPLE);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    add_contact(&path, "frank", addr("127.0.0.1:9006"), false).unwrap();
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

// ---- giving a contact its key ----

const KEY: PublicKey = PublicKey::from_bytes([7; 32]);

#[test]
fn adding_a_key_for_an_unkeyed_contact_of_that_name_gives_it_the_key_in_place() {
    let path = file_with(
        "[contacts]\n# my friend\nbob = \"127.0.0.1:9002\" # since 2019\ncarol = \"127.0.0.1:9003\"\n",
    );
    let done = add_keyed_contact(&path, "bob", &["127.0.0.1:9002".to_owned()], &KEY).unwrap();
    assert_eq!(
        done,
        KeyedAdd::KeyGiven {
            name: "bob".into(),
            addr_changed: false
        }
    );
    let text = read(&path);
    assert!(
        text.contains("# my friend\nbob = { addr = \"127.0.0.1:9002\", key = "),
        "{text}"
    );
    assert!(text.contains("# since 2019"), "{text}");
    assert_eq!(names(&path), ["bob", "carol"]);
    assert_eq!(book(&path).by_name("bob").unwrap().key, Some(KEY));
}

#[test]
fn adding_a_key_for_an_unkeyed_contact_at_that_address_keeps_its_name() {
    let path = file_with("[contacts]\nrobert = { addr = \"127.0.0.1:9002\" }\n");
    let done = add_keyed_contact(&path, "bob", &["127.0.0.1:9002".to_owned()], &KEY).unwrap();
    assert_eq!(
        done,
        KeyedAdd::KeyGiven {
            name: "robert".into(),
            addr_changed: false
        }
    );
    assert_eq!(names(&path), ["robert"]);
    assert_eq!(book(&path).by_name("robert").unwrap().key, Some(KEY));
}

#[test]
fn a_contact_under_its_own_header_gets_the_key_and_the_new_address() {
    let path = file_with("[contacts.bob]\naddr = \"127.0.0.1:9002\"\n");
    let done = add_keyed_contact(&path, "bob", &["127.0.0.1:9005".to_owned()], &KEY).unwrap();
    assert_eq!(
        done,
        KeyedAdd::KeyGiven {
            name: "bob".into(),
            addr_changed: true
        }
    );
    let bob = book(&path).by_name("bob").unwrap().clone();
    assert_eq!((bob.addr(), bob.key), (addr("127.0.0.1:9005"), Some(KEY)));
}

#[test]
fn a_contact_with_another_key_is_not_changed() {
    let other = qqchat::identity::encode_key(&PublicKey::from_bytes([9; 32]));
    let text = format!("[contacts]\nbob = {{ addr = \"127.0.0.1:9002\", key = \"{other}\" }}\n");
    let path = file_with(&text);
    let err = add_keyed_contact(&path, "bob", &["127.0.0.1:9002".to_owned()], &KEY).unwrap_err();
    assert!(matches!(err, EditError::NameTaken { .. }), "{err}");
    assert_eq!(read(&path), text);
}

// ---------------------------------------------------------------- IP Messenger

#[test]
fn an_ip_messenger_user_is_added_by_ip_alone_and_every_other_byte_stays() {
    let path = file_with(EXAMPLE);
    add_ipmsg_contact(&path, "王小明", addr("192.168.1.30:2425")).unwrap();
    assert_eq!(
        read(&path),
        format!("{EXAMPLE}\"王小明\" = {{ addr = \"192.168.1.30\", ipmsg = true }}\n")
    );
    let book = book(&path);
    let wang = book.by_name("王小明").unwrap();
    assert!(wang.ipmsg && wang.key.is_none() && !wang.plain);
    assert_eq!(wang.addrs, [addr("192.168.1.30:2425")]);
    alone(&path);
}

#[test]
fn an_ip_messenger_user_on_another_port_keeps_the_port() {
    let path = file_with("[contacts]\n# the office\nbob = \"127.0.0.1:9002\"\n");
    add_ipmsg_contact(&path, "feiq", addr("[::ffff:10.0.0.7]:2426")).unwrap();
    assert_eq!(
        read(&path),
        "[contacts]\n# the office\nbob = \"127.0.0.1:9002\"\nfeiq = { addr = \"10.0.0.7:2426\", ipmsg = true }\n"
    );
    assert_eq!(
        book(&path).by_name("feiq").unwrap().addr(),
        addr("10.0.0.7:2426")
    );
}

#[test]
fn an_ip_messenger_user_at_a_contacts_address_or_name_is_refused() {
    let text =
        "[contacts]\n# wang, from the office\nwang = { addr = \"192.168.1.30\", ipmsg = true }\n";
    let path = file_with(text);
    let err = add_ipmsg_contact(&path, "王小明", addr("192.168.1.30:2425")).unwrap_err();
    assert!(
        matches!(&err, EditError::AddrTaken { name, .. } if name == "wang"),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "192.168.1.30:2425 is already in contacts as \"wang\""
    );
    let err = add_ipmsg_contact(&path, "wang", addr("192.168.1.31:2425")).unwrap_err();
    assert!(matches!(err, EditError::NameTaken { .. }), "{err}");
    let err = add_ipmsg_contact(&path, "bad\nname", addr("192.168.1.31:2425")).unwrap_err();
    assert!(matches!(err, EditError::ControlInName { .. }), "{err}");
    assert_eq!(read(&path), text, "nothing written");
    alone(&path);
}

// ---------------------------------------------------------------- learned addresses

const BOB_KEY: &str = "sd/1lfzxMpdqCdXuWHG0Tn/zjWTXuXkudTOWMLOTmHw=";

fn bob_key() -> PublicKey {
    qqchat::identity::decode_key(BOB_KEY).unwrap()
}

#[test]
fn learned_addresses_replace_the_ips_written_and_keep_the_comments() {
    let text = format!(
        "[contacts]\n# bob moves a lot\nbob = {{ addrs = [\"192.0.2.1:9001\"], key = \"{BOB_KEY}\" }} # home\n"
    );
    let path = file_with(&text);
    learn_addrs(
        &path,
        "bob",
        &bob_key(),
        &[addr("203.0.113.5:9001"), addr("10.0.0.7:9001")],
    )
    .unwrap();
    let after = read(&path);
    assert!(
        after.contains("# bob moves a lot") && after.contains("# home"),
        "{after}"
    );
    assert!(!after.contains("192.0.2.1"), "{after}");
    let bob = book(&path).by_name("bob").unwrap().clone();
    assert_eq!(bob.addrs, [addr("203.0.113.5:9001"), addr("10.0.0.7:9001")]);
}

#[test]
fn learned_addresses_keep_a_host_name_written_for_the_contact() {
    let text = format!(
        "[contacts]\nbob = {{ addrs = [\"localhost:9004\", \"192.0.2.1:9001\"], key = \"{BOB_KEY}\" }}\n"
    );
    let path = file_with(&text);
    // What the name stands for now is among what bob tells: written once, as the name.
    let named = book(&path).by_name("bob").unwrap().addrs[0];
    learn_addrs(&path, "bob", &bob_key(), &[addr("203.0.113.5:9001"), named]).unwrap();
    let after = read(&path);
    assert!(after.contains("localhost:9004"), "the name stays: {after}");
    assert!(after.contains("203.0.113.5:9001"), "{after}");
    assert!(!after.contains("192.0.2.1"), "{after}");
    let bob = book(&path).by_name("bob").unwrap().clone();
    assert_eq!(bob.addrs.len(), 2, "{after}");
}
