//! `contacts.toml` for the LAN: the `[lan]` table, IP Messenger contacts and plain peers
//! with another text encoding, and what each mistake says.

use std::path::Path;

use qqchat::contacts::{ContactBook, ContactsError, Lan};

fn parse(text: &str) -> Result<ContactBook, ContactsError> {
    ContactBook::parse(text, Path::new("contacts.toml"))
}

fn book(text: &str) -> ContactBook {
    parse(text).unwrap_or_else(|e| panic!("should parse, got: {e}"))
}

fn error(text: &str) -> String {
    match parse(text) {
        Ok(book) => panic!("should be refused, got {book:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn without_a_lan_table_discovery_and_ip_messenger_are_on() {
    let book = book("[contacts]\nbob = \"127.0.0.1:9002\"\n");
    assert_eq!(book.lan, Lan::default());
    assert!(book.lan.discover && book.lan.ipmsg);
    assert!(book.lan.interfaces.is_empty());
}

#[test]
fn the_lan_table_sets_each_part() {
    let book = book(
        "[lan]\ndiscover = false\nipmsg = false\ngroup = \"技术部\"\ninterfaces = [\"eth0\", \"wlan0\"]\n",
    );
    assert_eq!(
        book.lan,
        Lan {
            discover: false,
            ipmsg: false,
            group: "技术部".into(),
            interfaces: vec!["eth0".into(), "wlan0".into()],
        }
    );
    let mut lan = Lan::default();
    lan.off();
    assert!(!lan.discover && !lan.ipmsg, "--no-lan turns both off");
}

#[test]
fn mistakes_in_the_lan_table_name_the_line_and_what_to_write() {
    let err = error("[lan]\n\ndiscover = \"no\"\n");
    assert!(err.contains("contacts.toml:3"), "{err}");
    assert!(err.contains("discover = false"), "{err}");
    let err = error("[lan]\ndiscovery = true\n");
    assert!(err.contains("did you mean \"discover\""), "{err}");
    let err = error("[lan]\ninterfaces = []\n");
    assert!(err.contains("leave the line out"), "{err}");
    let err = error("[lan]\ninterfaces = \"eth0\"\n");
    assert!(err.contains("interfaces = [\"eth0\""), "{err}");
}

#[test]
fn an_ip_messenger_contact_needs_only_an_ip_and_gets_port_2425() {
    let first = book("[contacts]\nwang = { addr = \"192.168.1.30\", ipmsg = true }\n");
    let wang = first.by_name("wang").expect("wang");
    assert!(wang.ipmsg);
    assert_eq!(
        wang.addr(),
        "192.168.1.30:2425".parse().expect("an address")
    );
    // Written in either order.
    let second = book("[contacts]\nwang = { ipmsg = true, addr = \"192.168.1.30:2426\" }\n");
    assert_eq!(
        second.by_name("wang").expect("wang").addr().port(),
        2426,
        "a port written is kept"
    );
    // Without ipmsg a bare IP is still a missing port.
    let err = error("[contacts]\nbob = { addr = \"192.168.1.30\" }\n");
    assert!(err.contains("has no port"), "{err}");
}

#[test]
fn an_ip_messenger_contact_cannot_have_a_key_or_be_plain() {
    let key = "sd/1lfzxMpdqCdXuWHG0Tn/zjWTXuXkudTOWMLOTmHw=";
    let err = error(&format!(
        "[contacts]\nwang = {{ addr = \"10.0.0.5\", ipmsg = true, key = \"{key}\" }}\n"
    ));
    assert!(err.contains("contacts.toml:2"), "{err}");
    assert!(err.contains("unencrypted"), "{err}");
    let err = error("[contacts]\nwang = { addr = \"10.0.0.5\", ipmsg = true, plain = true }\n");
    assert!(err.contains("both plain and ipmsg"), "{err}");
    let err = error("[contacts]\nwang = { addr = \"10.0.0.5\", ipmsg = \"yes\" }\n");
    assert!(err.contains("ipmsg = true"), "{err}");
}

#[test]
fn a_plain_peer_may_speak_gb18030_and_a_qqchat_contact_may_not() {
    let book =
        book("[contacts]\nold = { addr = \"127.0.0.1:9100\", plain = true, encoding = \"GBK\" }\n");
    let old = book.by_name("old").expect("old");
    assert_eq!(old.encoding, Some(encoding_rs::GBK));
    let err = error("[contacts]\n\nbob = { addr = \"127.0.0.1:9100\", encoding = \"gb18030\" }\n");
    assert!(err.contains("contacts.toml:3"), "{err}");
    assert!(err.contains("always uses UTF-8"), "{err}");
    let err = error(
        "[contacts]\nold = { addr = \"127.0.0.1:9100\", plain = true, encoding = \"klingon\" }\n",
    );
    assert!(err.contains("encoding = \"gb18030\""), "{err}");
}
