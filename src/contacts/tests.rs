#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::path::Path;

use super::address::*;
use super::parse::*;
use super::*;

#[test]
fn lines_are_one_based() {
    let doc = Doc {
        text: "a\nb\n\nc",
        path: Path::new("x"),
    };
    assert_eq!(doc.line(0), 1);
    assert_eq!(doc.line(2), 2);
    assert_eq!(doc.line(5), 4);
    assert_eq!(doc.line(999), 4);
}

#[test]
fn near_miss_suggests_close_keys_only() {
    assert_eq!(near_miss("nmae", ME_KEYS), Some("name"));
    assert_eq!(near_miss("Listen", ME_KEYS), Some("listen"));
    assert_eq!(near_miss("adr", CONTACT_KEYS), Some("addr"));
    assert_eq!(near_miss("contact", TOP_KEYS), Some("contacts"));
    assert_eq!(near_miss("colour", ME_KEYS), None);
    assert_eq!(edit_distance("kitten", "sitting"), 3);
}

#[test]
fn addresses_in_every_form() {
    let ok = |s: &str| parse_address(s, false).unwrap();
    assert_eq!(ok("127.0.0.1:9002"), "127.0.0.1:9002".parse().unwrap());
    assert_eq!(ok("[::1]:9003"), "[::1]:9003".parse().unwrap());
    assert!(ok("localhost:9004").ip().is_loopback());
    assert!(matches!(
        parse_address("[::1]", false),
        Err(AddrFault::MissingPort { host }) if host == "[::1]"
    ));
    assert!(matches!(
        parse_address("::1", false),
        Err(AddrFault::MissingPort { host }) if host == "[::1]"
    ));
    assert!(matches!(
        parse_address("[::1]:x", false),
        Err(AddrFault::BadPort { port, .. }) if port == "x"
    ));
    assert!(matches!(
        parse_address("host:", false),
        Err(AddrFault::BadPort { .. })
    ));
    assert!(matches!(
        parse_address(":9002", false),
        Err(AddrFault::Malformed { .. })
    ));
    assert!(matches!(
        parse_address("a b:9002", false),
        Err(AddrFault::Malformed { .. })
    ));
    assert!(matches!(
        parse_address("[::1:9002", false),
        Err(AddrFault::Malformed { .. })
    ));
    assert_eq!(parse_address("0.0.0.0:0", true).unwrap().port(), 0);
    assert!(matches!(
        parse_address("127.0.0.1:0", false),
        Err(AddrFault::PortZero { .. })
    ));
}

#[test]
fn not_found_names_every_path_and_shows_an_example() {
    let missing = std::env::temp_dir().join("qqchat-no-such-dir/contacts.toml");
    let err = locate_among(vec![missing.clone()], false).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("no contacts file found; looked for:\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("  {}\n", missing.display())),
        "{text}"
    );
    assert!(text.contains(EXAMPLE_FILE), "{text}");

    let err = locate_among(vec![missing.clone()], true).unwrap_err();
    assert!(matches!(&err, ContactsError::Missing { path } if *path == missing));
    assert!(err.to_string().contains("--contacts"));
}

#[test]
fn sizes_are_read_as_people_write_them() {
    use super::parse_size;
    assert_eq!(parse_size("1048576"), Some(1_048_576));
    assert_eq!(parse_size("500 MB"), Some(500_000_000));
    assert_eq!(parse_size("4 GiB"), Some(4 << 30));
    assert_eq!(parse_size("1.5G"), Some(1_500_000_000));
    assert_eq!(parse_size("2kib"), Some(2048));
    assert_eq!(parse_size("lots"), None);
    assert_eq!(parse_size("5 parsecs"), None);
    assert_eq!(parse_size(""), None);
}

#[test]
fn file_settings_are_read_from_me_and_contacts() {
    let book = super::ContactBook::parse(
        "[me]\ndownloads = \"/srv/in\"\nmax_file_size = \"1 GiB\"\n[contacts]\nbob = { addr = \"127.0.0.1:9002\", accept_files = true }\ncarol = \"127.0.0.1:9003\"\n", std::path::Path::new("contacts.toml")
    )
    .expect("valid");
    assert_eq!(
        book.me.downloads.as_deref(),
        Some(std::path::Path::new("/srv/in"))
    );
    assert_eq!(book.me.max_file_size, Some(1 << 30));
    assert!(book.contacts[0].accept_files);
    assert!(!book.contacts[1].accept_files);
}

#[test]
fn a_wrong_file_setting_names_the_line_and_what_to_write() {
    let err = super::ContactBook::parse(
        "[me]\nmax_file_size = \"huge\"\n",
        std::path::Path::new("contacts.toml"),
    )
    .expect_err("not a size")
    .to_string();
    assert!(err.contains("contacts.toml:2:"), "{err}");
    assert!(err.contains("max_file_size = \"4 GiB\""), "{err}");
    let err = super::ContactBook::parse(
        "[contacts]\nbob = { addr = \"127.0.0.1:9002\", accept_files = \"yes\" }\n",
        std::path::Path::new("contacts.toml"),
    )
    .expect_err("not a bool")
    .to_string();
    assert!(err.contains("accept_files = true"), "{err}");
}
