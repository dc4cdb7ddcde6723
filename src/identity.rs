//! This user's static key pair, kept in the config directory, and the text forms of keys:
//! base64 in `contacts.toml`, and the one-line contact string `qqchat id` prints.

use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::proto::PublicKey;
use crate::proto::secure::Keypair;

#[derive(Debug, Error)]
pub enum IdentityError {
    #[error(
        "the key file {path} can be read by others (mode {mode:o}); \
         make it private with: chmod 600 {path}"
    )]
    Exposed { path: PathBuf, mode: u32 },
    #[error("cannot read the key file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the key file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the key file {path} is damaged ({why}); move it away to make a new identity \
         (your contacts will then need your new key)"
    )]
    Damaged { path: PathBuf, why: String },
    #[error("no config directory could be found for the key file: set QQCHAT_IDENTITY")]
    NoDir,
    #[error("cannot make a key pair: {0}")]
    Generate(String),
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    private: String,
    public: String,
}

/// Where the key pair lives: `$QQCHAT_IDENTITY`, else `identity.toml` in the config directory.
pub fn identity_path() -> Result<PathBuf, IdentityError> {
    if let Some(p) = std::env::var_os("QQCHAT_IDENTITY") {
        return Ok(PathBuf::from(p));
    }
    directories::ProjectDirs::from("", "", "qqchat")
        .map(|d| d.config_dir().join("identity.toml"))
        .ok_or(IdentityError::NoDir)
}

/// Loads the key pair, making one on first use. A file others can read is refused.
pub fn load_or_create(path: &Path) -> Result<Keypair, IdentityError> {
    match fs::read_to_string(path) {
        Ok(text) => {
            check_private(path)?;
            parse(path, &text)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(path),
        Err(source) => Err(IdentityError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn parse(path: &Path, text: &str) -> Result<Keypair, IdentityError> {
    let damaged = |why: String| IdentityError::Damaged {
        path: path.to_path_buf(),
        why,
    };
    let file: KeyFile = toml::from_str(text).map_err(|e| damaged(e.message().to_owned()))?;
    let private = decode_bytes(&file.private).ok_or_else(|| damaged("bad private key".into()))?;
    let public = decode_key(&file.public).ok_or_else(|| damaged("bad public key".into()))?;
    Ok(Keypair { private, public })
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), IdentityError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::metadata(path).map_err(|source| IdentityError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(IdentityError::Exposed {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), IdentityError> {
    Ok(())
}

fn create(path: &Path) -> Result<Keypair, IdentityError> {
    let write_err = |source| IdentityError::Write {
        path: path.to_path_buf(),
        source,
    };
    let keys = Keypair::generate().map_err(|e| IdentityError::Generate(e.to_string()))?;
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(write_err)?;
    }
    let text = format!(
        "# qqchat identity. The private key proves you are you: keep this file to yourself.\n\
         # Give friends the public key, or the line `qqchat id` prints.\n\
         private = \"{}\"\npublic = \"{}\"\n",
        base64(&keys.private),
        encode_key(&keys.public)
    );
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(write_err)?;
    file.write_all(text.as_bytes()).map_err(write_err)?;
    file.sync_all().map_err(write_err)?;
    Ok(keys)
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// A key in standard base64 (44 characters), as WireGuard writes keys.
pub fn encode_key(key: &PublicKey) -> String {
    base64(key.as_bytes())
}

/// Reads a base64 key; `None` unless it is exactly 32 bytes.
pub fn decode_key(text: &str) -> Option<PublicKey> {
    decode_bytes(text).map(PublicKey::from_bytes)
}

/// Any bytes in standard base64 with padding (keys here, the clipboard's OSC 52 in the chat).
pub fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Reads 32 bytes of standard base64; `None` for anything else.
fn decode_bytes(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 44 || !text.ends_with('=') || text.ends_with("==") {
        return None;
    }
    let mut bits: u32 = 0;
    let mut n_bits = 0;
    let mut out = Vec::with_capacity(33);
    for c in text.trim_end_matches('=').bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        bits = (bits << 6) | v;
        n_bits += 6;
        if n_bits >= 8 {
            n_bits -= 8;
            out.push((bits >> n_bits) as u8);
        }
    }
    out.try_into().ok()
}

/// How many times each key is hashed for its half of a safety number: makes finding another
/// key with the same digits costly, as Signal does.
const SAFETY_ITERATIONS: usize = 5200;

/// One side's 30 digits: the key hashed with SHA-512 over and over, then six groups of five
/// bytes each read as a number below 100000.
fn safety_half(key: &PublicKey) -> String {
    use sha2::{Digest, Sha512};
    // A version, so that a different way of computing them never gives the same digits.
    let mut hash = Sha512::new()
        .chain_update([0u8, 0u8])
        .chain_update(key.as_bytes())
        .finalize();
    for _ in 0..SAFETY_ITERATIONS {
        hash = Sha512::new()
            .chain_update(hash)
            .chain_update(key.as_bytes())
            .finalize();
    }
    hash[..30]
        .chunks(5)
        .map(|chunk| {
            let n = chunk.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b));
            format!("{:05}", n % 100_000)
        })
        .collect()
}

/// The number two people compare to know that each holds the other's real key: 60 digits
/// from both keys, the smaller half first, so both sides see the same number. Shown as 12
/// groups of 5 ([`format_safety_number`]).
pub fn safety_number(mine: &PublicKey, theirs: &PublicKey) -> String {
    let (a, b) = (safety_half(mine), safety_half(theirs));
    if a <= b { a + &b } else { b + &a }
}

/// A safety number in groups of five digits, `per_line` groups to a line.
pub fn format_safety_number(number: &str, per_line: usize) -> Vec<String> {
    let groups: Vec<&str> = number
        .as_bytes()
        .chunks(5)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    groups
        .chunks(per_line.max(1))
        .map(|line| line.join(" "))
        .collect()
}

/// The line a friend pastes into `qqchat add`: `qqchat:NAME@ADDR1,ADDR2?key=KEY`, every
/// address a candidate the friend tries.
pub fn contact_string(name: &str, addrs: &[SocketAddr], key: &PublicKey) -> String {
    let addrs: Vec<String> = addrs.iter().map(SocketAddr::to_string).collect();
    format!("qqchat:{name}@{}?key={}", addrs.join(","), encode_key(key))
}

/// Why a friend could not send to `addr`, if they could not: "every interface" and "any
/// port" are fine to listen on and useless to be reached at.
pub fn unusable(addr: SocketAddr) -> Option<&'static str> {
    if addr.ip().is_unspecified() {
        Some("0.0.0.0 or :: means every interface of the machine, not one you can send to")
    } else if addr.port() == 0 {
        Some("port 0 means any free port, and nobody knows which one was taken")
    } else {
        None
    }
}

/// The addresses for this user's contact string: `local` (where friends on this network
/// reach it), then `extra` (public ones), without duplicates, and without any a friend
/// cannot send to.
pub fn own_candidates(local: SocketAddr, extra: &[SocketAddr]) -> Vec<SocketAddr> {
    let mut out: Vec<SocketAddr> = Vec::with_capacity(extra.len() + 1);
    for &addr in std::iter::once(&local).chain(extra) {
        if unusable(addr).is_none() && !out.contains(&addr) {
            out.push(addr);
        }
    }
    out
}

/// A contact string taken apart: name, address texts (at least one), key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactString {
    pub name: String,
    pub addrs: Vec<String>,
    pub key: PublicKey,
}

/// Reads a contact string, saying what is wrong with one that is not. Addresses are
/// separated by commas; the one-address form is the same with none.
pub fn parse_contact_string(text: &str) -> Result<ContactString, String> {
    const SHAPE: &str =
        "a contact string looks like qqchat:alice@203.0.113.7:9001,192.168.1.20:9001?key=…";
    let rest = text
        .trim()
        .strip_prefix("qqchat:")
        .ok_or_else(|| format!("it does not start with \"qqchat:\"; {SHAPE}"))?;
    let (who, key) = rest
        .split_once("?key=")
        .ok_or_else(|| format!("it has no \"?key=\"; {SHAPE}"))?;
    let key = decode_key(key).ok_or_else(|| "its key is not 44 characters of base64".to_owned())?;
    let (name, addrs) = who
        .rsplit_once('@')
        .ok_or_else(|| format!("it has no name@address; {SHAPE}"))?;
    let addrs: Vec<String> = addrs.split(',').map(|a| a.trim().to_owned()).collect();
    if name.trim().is_empty() || addrs.iter().any(String::is_empty) {
        return Err(format!("its name or an address is empty; {SHAPE}"));
    }
    for addr in &addrs {
        if let Some(why) = addr.parse::<SocketAddr>().ok().and_then(unusable) {
            return Err(format!(
                "its address {addr} is no use to anyone else: {why}; ask for a new line made \
                 with qqchat id --addr <the address you reach them at>"
            ));
        }
    }
    let mut unique: Vec<String> = Vec::with_capacity(addrs.len());
    for addr in addrs {
        if !unique.contains(&addr) {
            unique.push(addr);
        }
    }
    Ok(ContactString {
        name: name.to_owned(),
        addrs: unique,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_base64() {
        for seed in 0..=255u8 {
            let key = PublicKey::from_bytes(std::array::from_fn(|i| {
                seed.wrapping_mul(31).wrapping_add(i as u8)
            }));
            let text = encode_key(&key);
            assert_eq!(text.len(), 44);
            assert_eq!(decode_key(&text), Some(key));
        }
        assert_eq!(
            encode_key(&PublicKey::from_bytes([0; 32])),
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
        );
        assert_eq!(decode_key("short="), None);
        assert_eq!(
            decode_key("!AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            None
        );
    }

    #[test]
    fn contact_strings_round_trip() {
        let key = PublicKey::from_bytes([7u8; 32]);
        let addr: SocketAddr = "[::1]:9001".parse().expect("addr");
        let s = contact_string("a@b c", &[addr], &key);
        let parsed = parse_contact_string(&s).expect("parses");
        assert_eq!(parsed.name, "a@b c");
        assert_eq!(parsed.addrs, ["[::1]:9001"]);
        assert_eq!(parsed.key, key);
        assert!(parse_contact_string("alice@1.2.3.4:5").is_err());
        assert!(parse_contact_string("qqchat:alice@1.2.3.4:5?key=nope").is_err());
    }

    #[test]
    fn contact_strings_carry_every_candidate() {
        let key = PublicKey::from_bytes([9u8; 32]);
        let addrs: Vec<SocketAddr> = ["203.0.113.7:40000", "192.168.1.20:9001", "[::1]:9001"]
            .iter()
            .map(|a| a.parse().expect("addr"))
            .collect();
        let s = contact_string("bob", &addrs, &key);
        assert!(s.starts_with("qqchat:bob@203.0.113.7:40000,192.168.1.20:9001,[::1]:9001?key="));
        let parsed = parse_contact_string(&s).expect("parses");
        assert_eq!(
            parsed.addrs,
            ["203.0.113.7:40000", "192.168.1.20:9001", "[::1]:9001"]
        );
        let encoded = encode_key(&key);
        let bad = parse_contact_string(&format!(
            "qqchat:bob@203.0.113.7:40000,0.0.0.0:9001?key={encoded}"
        ))
        .expect_err("0.0.0.0 refused");
        assert!(
            bad.contains("0.0.0.0:9001") && bad.contains("every interface"),
            "{bad}"
        );
        let bad = parse_contact_string(&format!("qqchat:bob@1.2.3.4:5,1.2.3.4:0?key={encoded}"))
            .expect_err("port 0 refused");
        assert!(bad.contains("port 0"), "{bad}");
        assert!(parse_contact_string(&format!("qqchat:bob@1.2.3.4:5,?key={encoded}")).is_err());
    }
    #[test]
    fn both_sides_see_the_same_safety_number() {
        let alice = PublicKey::from_bytes([1u8; 32]);
        let bob = PublicKey::from_bytes([2u8; 32]);
        let mallory = PublicKey::from_bytes([3u8; 32]);
        let number = safety_number(&alice, &bob);
        assert_eq!(number, safety_number(&bob, &alice), "symmetric");
        assert_eq!(number.len(), 60);
        assert!(number.bytes().all(|b| b.is_ascii_digit()), "{number}");
        assert_ne!(
            number,
            safety_number(&alice, &mallory),
            "another key, another number"
        );
        assert_ne!(
            safety_number(&alice, &mallory),
            safety_number(&bob, &mallory)
        );
        let lines = format_safety_number(&number, 4);
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|l| l.len() == 4 * 5 + 3), "{lines:?}");
        assert_eq!(lines.concat().replace(' ', ""), number);
    }
}
