//! The key each contact was first trusted with, and whether its safety number was checked,
//! kept in `trust.json` in the data directory.
//!
//! `contacts.toml` is a file anyone with the user's account, or a careless paste, can
//! change; this record is what lets qqchat notice that a contact's key is no longer the one
//! it first talked to, and keep using the old one until the user says otherwise. Small and
//! rewritten whole, atomically (temporary file, sync, rename), like the drafts.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::identity::{decode_key, encode_key};
use crate::proto::PublicKey;

#[derive(Debug, Error)]
pub enum TrustError {
    #[error("cannot read the trusted keys in {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error(
        "the trusted keys in {path} are damaged ({why}); move the file away and qqchat will \
         trust the keys contacts.toml names now (then check each with qqchat verify NAME)"
    )]
    Damaged { path: PathBuf, why: String },
    #[error("cannot write the trusted keys to {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

/// What is known of one contact's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trusted {
    /// The key messages go to and are accepted from, whatever the contacts file says.
    pub key: PublicKey,
    /// The user compared the safety number with this key and marked it verified.
    pub verified: bool,
}

/// Every contact's trusted key, by the contact's name in the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustBook {
    contacts: BTreeMap<String, Trusted>,
}

/// The file's form: keys in base64, as in `contacts.toml`.
#[derive(Serialize, Deserialize)]
struct FileForm {
    contacts: BTreeMap<String, FileEntry>,
}

#[derive(Serialize, Deserialize)]
struct FileEntry {
    key: String,
    #[serde(default)]
    verified: bool,
}

impl TrustBook {
    /// The record for the contact called `name`, if there is one.
    pub fn get(&self, name: &str) -> Option<&Trusted> {
        self.contacts.get(name)
    }

    /// Trusts `key` for `name` from now on. A key other than the one held before is not
    /// verified, whatever the old one was. Returns whether anything changed.
    pub fn trust(&mut self, name: &str, key: PublicKey) -> bool {
        match self.contacts.get_mut(name) {
            Some(held) if held.key == key => false,
            Some(held) => {
                *held = Trusted {
                    key,
                    verified: false,
                };
                true
            }
            None => {
                self.contacts.insert(
                    name.to_owned(),
                    Trusted {
                        key,
                        verified: false,
                    },
                );
                true
            }
        }
    }

    /// Marks the key held for `name` as checked (or not). Returns whether anything changed;
    /// nothing does for a name with no key held.
    pub fn set_verified(&mut self, name: &str, verified: bool) -> bool {
        match self.contacts.get_mut(name) {
            Some(held) if held.verified != verified => {
                held.verified = verified;
                true
            }
            _ => false,
        }
    }

    /// Forgets `name`: its next key is trusted on first use again.
    pub fn forget(&mut self, name: &str) -> bool {
        self.contacts.remove(name).is_some()
    }

    /// The contact called `old` is called `new` now (renamed in the chat): its record
    /// follows, verified mark and all. Returns whether anything changed.
    pub fn rename(&mut self, old: &str, new: &str) -> bool {
        match self.contacts.remove(old) {
            Some(held) if old != new => {
                self.contacts.insert(new.to_owned(), held);
                true
            }
            Some(held) => {
                self.contacts.insert(old.to_owned(), held);
                false
            }
            None => false,
        }
    }

    /// Every record, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Trusted)> {
        self.contacts
            .iter()
            .map(|(name, held)| (name.as_str(), held))
    }
}

/// Where the trusted keys are kept in `data_dir`.
pub fn trust_path(data_dir: &Path) -> PathBuf {
    data_dir.join("trust.json")
}

/// The trusted keys kept in `data_dir`; none when there is no file yet. A damaged file is
/// an error rather than an empty book, since an empty one would trust any key again.
pub fn load_trust(data_dir: &Path) -> Result<TrustBook, TrustError> {
    let path = trust_path(data_dir);
    let text = match super::small_file::read(&path) {
        Ok(Some(text)) => text,
        Ok(None) => return Ok(TrustBook::default()),
        Err(source) => return Err(TrustError::Read { path, source }),
    };
    let form: FileForm = serde_json::from_str(&text).map_err(|err| TrustError::Damaged {
        path: path.clone(),
        why: err.to_string(),
    })?;
    let mut book = TrustBook::default();
    for (name, entry) in form.contacts {
        let key = decode_key(&entry.key).ok_or_else(|| TrustError::Damaged {
            path: path.clone(),
            why: format!("the key of {name:?} is not 44 characters of base64"),
        })?;
        book.contacts.insert(
            name,
            Trusted {
                key,
                verified: entry.verified,
            },
        );
    }
    Ok(book)
}

/// Replaces the trusted keys kept in `data_dir` with `book`, atomically.
pub fn save_trust(data_dir: &Path, book: &TrustBook) -> Result<(), TrustError> {
    let path = trust_path(data_dir);
    let write_err = |source| TrustError::Write {
        path: path.clone(),
        source,
    };
    let form = FileForm {
        contacts: book
            .contacts
            .iter()
            .map(|(name, held)| {
                (
                    name.clone(),
                    FileEntry {
                        key: encode_key(&held.key),
                        verified: held.verified,
                    },
                )
            })
            .collect(),
    };
    let text = serde_json::to_string_pretty(&form)
        .map_err(|err| write_err(io::Error::new(io::ErrorKind::InvalidData, err)))?;
    fs::create_dir_all(data_dir).map_err(write_err)?;
    super::small_file::replace(data_dir, &path, &text).map_err(write_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_keys_round_trip_and_a_new_key_is_not_verified() {
        let dir = std::env::temp_dir().join(format!("qqchat-trust-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(load_trust(&dir).ok(), Some(TrustBook::default()));
        let old = PublicKey::from_bytes([4u8; 32]);
        let new = PublicKey::from_bytes([5u8; 32]);
        let mut book = TrustBook::default();
        assert!(book.trust("bob", old));
        assert!(!book.trust("bob", old), "the same key changes nothing");
        assert!(book.set_verified("bob", true));
        assert!(!book.set_verified("carol", true), "nobody to mark");
        save_trust(&dir, &book).expect("saved");
        let loaded = load_trust(&dir).expect("loaded");
        assert_eq!(loaded, book);
        assert_eq!(
            loaded.get("bob"),
            Some(&Trusted {
                key: old,
                verified: true
            })
        );
        let mut book = loaded;
        assert!(book.rename("bob", "robert"));
        assert_eq!(book.get("robert").map(|t| t.verified), Some(true));
        assert!(book.get("bob").is_none());
        assert!(book.rename("robert", "bob"));
        assert!(book.trust("bob", new));
        assert_eq!(book.get("bob").map(|t| t.verified), Some(false));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_damaged_file_says_what_to_do() {
        let dir = std::env::temp_dir().join(format!("qqchat-trust-bad-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("dir");
        fs::write(trust_path(&dir), "{ not json").expect("written");
        let err = load_trust(&dir).expect_err("damaged").to_string();
        assert!(
            err.contains("trust.json") && err.contains("move the file away"),
            "{err}"
        );
        fs::write(
            trust_path(&dir),
            r#"{"contacts": {"bob": {"key": "short"}}}"#,
        )
        .expect("written");
        let err = load_trust(&dir).expect_err("bad key").to_string();
        assert!(err.contains("\"bob\""), "{err}");
        let _ = fs::remove_dir_all(&dir);
    }
}
