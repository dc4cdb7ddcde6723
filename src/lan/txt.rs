//! The TXT record of a qqchat announcement: built from this user's name, port and key, and
//! read back, within bounds, from whatever a machine on the LAN sent. Pure: no sockets.

use thiserror::Error;

use crate::identity;
use crate::proto::PublicKey;

/// The longest name taken from the network, in characters; longer ones are cut, so one
/// announcement cannot fill a screen.
pub const MAX_NAME_CHARS: usize = 64;
/// The longest version text kept, in characters.
pub const MAX_VERSION_CHARS: usize = 32;
/// The most TXT bytes accepted from one announcement (each string with its length byte).
/// Ours is about 100; more is not a qqchat talking.
pub const MAX_TXT_BYTES: usize = 1024;
/// The most TXT strings accepted from one announcement.
pub const MAX_TXT_ENTRIES: usize = 16;
/// The longest DNS label: the instance name is one.
pub const MAX_LABEL_BYTES: usize = 63;

/// Why a TXT record from the network was not taken.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TxtError {
    #[error("its TXT record has {0} bytes, more than {MAX_TXT_BYTES}")]
    TooLarge(usize),
    #[error("its TXT record has {0} strings, more than {MAX_TXT_ENTRIES}")]
    TooMany(usize),
    #[error("its key is not a base64 public key of 32 bytes")]
    BadKey,
    #[error("its port {0:?} is not a port number")]
    BadPort(String),
}

/// What a TXT record says, each part checked and bounded. Every part is optional: a
/// DNS-SD browser that is not qqchat may announce `_qqchat._udp` with less.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Txt {
    /// Safe to print: sanitized, on one line, at most [`MAX_NAME_CHARS`] characters.
    pub name: Option<String>,
    pub port: Option<u16>,
    pub key: Option<PublicKey>,
    /// Safe to print, like `name`.
    pub version: Option<String>,
}

/// The TXT strings of this user's announcement: `name`, `port`, `key` (base64, as in the
/// contacts file) and `version`. The name is cut to fit one TXT string.
pub fn build(
    name: &str,
    port: u16,
    key: Option<&PublicKey>,
    version: &str,
) -> Vec<(String, String)> {
    let mut txt = vec![
        (
            "name".to_owned(),
            cut_bytes(name, 255 - "name=".len()).to_owned(),
        ),
        ("port".to_owned(), port.to_string()),
    ];
    if let Some(key) = key {
        txt.push(("key".to_owned(), identity::encode_key(key)));
    }
    txt.push(("version".to_owned(), cut_bytes(version, 64).to_owned()));
    txt
}

/// Reads TXT strings as `(key, value)`, a value `None` for a key without `=`. Unknown keys
/// are skipped; a record too big, a key that does not decode or a port that is not one
/// refuse the whole announcement, since it cannot be trusted for the rest.
pub fn parse<'a>(
    entries: impl IntoIterator<Item = (&'a str, Option<&'a [u8]>)>,
) -> Result<Txt, TxtError> {
    let mut txt = Txt::default();
    let (mut count, mut bytes) = (0, 0);
    for (key, value) in entries {
        count += 1;
        bytes += 1 + key.len() + value.map_or(0, |v| v.len() + 1);
        if count > MAX_TXT_ENTRIES {
            return Err(TxtError::TooMany(count));
        }
        if bytes > MAX_TXT_BYTES {
            return Err(TxtError::TooLarge(bytes));
        }
        let Some(value) = value else {
            continue;
        };
        let text = String::from_utf8_lossy(value);
        // RFC 6763 §6.4: keys are case-insensitive.
        match key.to_ascii_lowercase().as_str() {
            "name" => txt.name = bounded(&text, MAX_NAME_CHARS),
            "version" => txt.version = bounded(&text, MAX_VERSION_CHARS),
            "key" => {
                txt.key = Some(identity::decode_key(&text).ok_or(TxtError::BadKey)?);
            }
            "port" => {
                let port = text
                    .trim()
                    .parse::<u16>()
                    .ok()
                    .filter(|&p| p != 0)
                    .ok_or_else(|| TxtError::BadPort(bounded(&text, 8).unwrap_or_default()))?;
                txt.port = Some(port);
            }
            _ => {}
        }
    }
    Ok(txt)
}

/// Network text made safe to print and short: cut to `max` characters (with `…`), on one
/// line, control characters made visible. `None` when nothing is left.
pub fn bounded(text: &str, max: usize) -> Option<String> {
    let line = crate::text::preview(text.trim(), max);
    (!line.is_empty()).then_some(line)
}

/// The instance name: this user's name as one DNS label (at most 63 bytes).
pub fn instance_label(name: &str) -> String {
    let name = name.trim();
    let label = cut_bytes(
        if name.is_empty() { "qqchat" } else { name },
        MAX_LABEL_BYTES,
    );
    label.to_owned()
}

/// The longest start of `text` of at most `max` bytes that ends on a character boundary.
fn cut_bytes(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PublicKey {
        PublicKey::from_bytes([7; 32])
    }

    fn as_entries(txt: &[(String, String)]) -> Vec<(&str, Option<&[u8]>)> {
        txt.iter()
            .map(|(k, v)| (k.as_str(), Some(v.as_bytes())))
            .collect()
    }

    #[test]
    fn what_is_built_reads_back() {
        let built = build("alice", 9001, Some(&key()), "0.1.0");
        let keys: Vec<&str> = built.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["name", "port", "key", "version"]);
        let read = parse(as_entries(&built)).expect("our own TXT reads back");
        assert_eq!(
            read,
            Txt {
                name: Some("alice".into()),
                port: Some(9001),
                key: Some(key()),
                version: Some("0.1.0".into()),
            }
        );
        // The key is written as the contacts file writes keys.
        assert_eq!(built[2].1, identity::encode_key(&key()));
    }

    #[test]
    fn a_long_name_is_cut_to_one_txt_string_on_a_character_boundary() {
        let name = "名".repeat(200);
        let built = build(&name, 1, None, "0.1.0");
        let (_, value) = &built[0];
        assert!("name=".len() + value.len() <= 255, "{}", value.len());
        assert!(value.chars().all(|c| c == '名'));
        assert_eq!(instance_label(&name).len(), 63);
        assert!(instance_label(&name).chars().all(|c| c == '名'));
        assert_eq!(instance_label("  "), "qqchat");
    }

    #[test]
    fn names_from_the_network_are_bounded_and_made_safe() {
        let long = "x".repeat(250);
        let read = parse([("name", Some(long.as_bytes()))]).expect("parses");
        let name = read.name.expect("a name");
        assert_eq!(name.chars().count(), MAX_NAME_CHARS);
        assert!(name.ends_with('…'));

        let nasty = "bob\x1b]0;owned\x07\nline";
        let read = parse([("name", Some(nasty.as_bytes()))]).expect("parses");
        let name = read.name.expect("a name");
        assert!(!name.chars().any(char::is_control), "{name:?}");
        assert!(name.starts_with("bob^["), "{name:?}");

        let read = parse([("name", Some(&b"\xff\xfeeve"[..]))]).expect("invalid UTF-8 is lossy");
        assert_eq!(read.name.as_deref(), Some("\u{fffd}\u{fffd}eve"));
        let read = parse([("name", Some(&b"   "[..]))]).expect("parses");
        assert_eq!(read.name, None, "a blank name is no name");
    }

    #[test]
    fn a_record_too_big_or_too_long_is_refused() {
        let big = vec![b'a'; 250];
        let entries: Vec<(&str, Option<&[u8]>)> = (0..5).map(|_| ("pad", Some(&big[..]))).collect();
        assert!(matches!(parse(entries), Err(TxtError::TooLarge(_))));
        let many: Vec<(&str, Option<&[u8]>)> = (0..17).map(|_| ("x", None)).collect();
        assert_eq!(parse(many), Err(TxtError::TooMany(17)));
        let sixteen: Vec<(&str, Option<&[u8]>)> = (0..16).map(|_| ("x", None)).collect();
        assert_eq!(parse(sixteen), Ok(Txt::default()));
    }

    #[test]
    fn a_bad_key_or_port_refuses_the_announcement() {
        assert_eq!(
            parse([("key", Some(&b"not-a-key"[..]))]),
            Err(TxtError::BadKey)
        );
        let short = identity::base64(&[1; 31]);
        assert_eq!(
            parse([("key", Some(short.as_bytes()))]),
            Err(TxtError::BadKey)
        );
        for port in ["0", "70000", "-1", "x"] {
            assert!(
                matches!(
                    parse([("port", Some(port.as_bytes()))]),
                    Err(TxtError::BadPort(_))
                ),
                "{port}"
            );
        }
    }

    #[test]
    fn unknown_and_valueless_keys_are_skipped_and_keys_ignore_case() {
        let k = identity::encode_key(&key());
        let read = parse([
            ("txtvers", Some(&b"1"[..])),
            ("flag", None),
            ("KEY", Some(k.as_bytes())),
            ("Name", Some(&b"carol"[..])),
        ])
        .expect("parses");
        assert_eq!(read.key, Some(key()));
        assert_eq!(read.name.as_deref(), Some("carol"));
        assert_eq!(read.port, None);
    }
}
