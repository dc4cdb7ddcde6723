//! The JSON-lines files of earlier versions: one per conversation under `<data dir>/history`,
//! one per group under `<data dir>/groups`. They are read once, into the database, and left
//! as they were; nothing writes them any more.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::Timestamp;
use serde::Deserialize;

use super::message::{Direction, MessageState, Record, StoredMessage};
use super::{ConversationKey, StoreError};
use crate::proto::PathKind;

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Msg,
    State,
}

/// Any [`Record`], as one flat struct: what loading reads.
#[derive(Deserialize)]
struct RawRecord {
    t: Kind,
    id: u64,
    #[serde(default)]
    dir: Option<Direction>,
    #[serde(default)]
    peer: Option<String>,
    /// A name, not the enum: a kind a later version adds must not lose the line.
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    at: Option<Timestamp>,
    #[serde(default)]
    sent_at: Option<Timestamp>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    plain: bool,
    state: MessageState,
}

/// Records folded into messages, one line at a time.
#[derive(Default)]
struct Fold {
    messages: Vec<StoredMessage>,
    index: HashMap<u64, usize>,
    /// The last peer address seen: the next message most likely has the same.
    peer: Arc<str>,
}

impl Fold {
    fn line(&mut self, line: &[u8]) {
        // A flat struct parses several times faster than the tagged enum it mirrors.
        let Ok(raw) = serde_json::from_slice::<RawRecord>(line) else {
            return;
        };
        match raw.t {
            Kind::Msg => {
                let (Some(dir), Some(at), Some(text)) = (raw.dir, raw.at, raw.text) else {
                    return;
                };
                // The same message twice (sent again after a restart) is shown once.
                if self.index.contains_key(&raw.id) {
                    return;
                }
                self.index.insert(raw.id, self.messages.len());
                let peer = raw.peer.unwrap_or_default();
                if *self.peer != *peer {
                    self.peer = Arc::from(peer);
                }
                self.messages.push(StoredMessage {
                    id: raw.id,
                    dir,
                    peer: Arc::clone(&self.peer),
                    path: raw.path.as_deref().and_then(PathKind::from_name),
                    at,
                    sent_at: raw.sent_at,
                    text,
                    plain: raw.plain,
                    state: raw.state,
                });
            }
            Kind::State => {
                if let Some(&i) = self.index.get(&raw.id) {
                    self.messages[i].state = raw.state;
                }
            }
        }
    }
}

/// Folds records into messages exactly as loading a file does, without the file: what a
/// restart would read back, for tests of the engine core that keep the history in memory.
pub fn fold_records<'a>(records: impl IntoIterator<Item = &'a Record>) -> Vec<StoredMessage> {
    let mut fold = Fold::default();
    for record in records {
        if let Ok(line) = serde_json::to_vec(record) {
            fold.line(&line);
        }
    }
    fold.messages
}

/// The file an earlier version kept a conversation in. Anything in its key outside a safe set
/// of characters was hex-escaped so any name made a valid file name.
pub fn conversation_path(dir: &Path, key: &ConversationKey) -> PathBuf {
    let key = key.as_str();
    let mut name = String::with_capacity(key.len() + 6);
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.".contains(&b) && !(name.is_empty() && b == b'.') {
            name.push(char::from(b));
        } else {
            name.push_str(&format!("%{b:02X}"));
        }
    }
    name.push_str(".jsonl");
    dir.join(name)
}

/// Every conversation file in `dir`, by key; none when there is no such directory.
pub fn conversation_keys(dir: &Path) -> Result<Vec<ConversationKey>, StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(StoreError::Read {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let mut keys: Vec<ConversationKey> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            unescape(name.strip_suffix(".jsonl")?).map(ConversationKey::new)
        })
        .collect();
    keys.sort();
    Ok(keys)
}

/// Reads a conversation file, folding state changes into their messages. Lines that do not
/// parse (a torn last line after a crash) are skipped.
pub fn load_conversation(path: &Path) -> Result<Vec<StoredMessage>, StoreError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(StoreError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let mut fold = Fold::default();
    bytes
        .split(|&b| b == b'\n')
        .for_each(|line| fold.line(line));
    Ok(fold.messages)
}

fn unescape(name: &str) -> Option<String> {
    let mut out = Vec::with_capacity(name.len());
    let mut bytes = name.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next()?, bytes.next()?];
            out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}
