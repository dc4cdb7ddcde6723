//! One append-only JSON-lines file per conversation.
//!
//! Every record is written and synced before the message is acked or sent, so `kill -9` at
//! any moment loses nothing that anyone was told had arrived. A record is one line; state
//! changes (delivered, queued, …) are appended as their own lines rather than rewriting
//! anything, so a crash can at worst leave a torn last line, which loading skips. Appends from
//! several processes are serialised with an exclusive lock on the file.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::ConversationKey;
use crate::proto::PathKind;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot use the data directory {path}: {source}")]
    Dir { path: PathBuf, source: io::Error },
    #[error("cannot write the history file {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot read the history file {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    In,
    Out,
}

/// Where an outgoing message stands; received messages are always `Received`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageState {
    Received,
    /// Handed to the protocol, no receipt yet.
    Pending,
    Delivered,
    /// Sent as plain text: no receipt will come.
    Sent,
    /// Not delivered yet; sent again when the contact is next heard from.
    Queued,
    /// Given up on, not queued.
    Failed,
    /// The user cancelled it while queued.
    Cancelled,
}

impl MessageState {
    /// Still owed to the contact: goes in the outbox on start.
    pub fn is_undelivered(self) -> bool {
        matches!(self, MessageState::Pending | MessageState::Queued)
    }
}

/// One line of a history file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "lowercase")]
pub enum Record {
    /// A message, sent or received.
    Msg {
        id: u64,
        dir: Direction,
        /// The peer's address at the time.
        peer: String,
        /// The kind of path a received message came over; absent in older files.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<PathKind>,
        /// When it was written here: sent by us, or received.
        at: Timestamp,
        /// The sender's clock, for received qqchat messages.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sent_at: Option<Timestamp>,
        text: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        plain: bool,
        state: MessageState,
    },
    /// A later change of an outgoing message's state.
    State { id: u64, state: MessageState },
}

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

/// A message with its latest state folded in.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    pub id: u64,
    pub dir: Direction,
    /// The peer's address at the time; shared between the messages of one conversation.
    pub peer: Arc<str>,
    /// The kind of path it came over, for received messages stored since that was kept.
    pub path: Option<PathKind>,
    pub at: Timestamp,
    pub sent_at: Option<Timestamp>,
    pub text: String,
    pub plain: bool,
    pub state: MessageState,
}

/// The history directory and the records waiting to be committed.
pub struct History {
    dir: PathBuf,
    pending: BTreeMap<ConversationKey, Vec<u8>>,
    /// Groups' files, in a directory beside the conversations'.
    groups: PathBuf,
    group_pending: BTreeMap<crate::proto::group::GroupId, Vec<u8>>,
}

impl History {
    /// Opens (creating) `<data dir>/history`.
    pub fn open(data_dir: &Path) -> Result<History, StoreError> {
        let dir = data_dir.join("history");
        fs::create_dir_all(&dir).map_err(|source| StoreError::Dir {
            path: dir.clone(),
            source,
        })?;
        let groups = super::groups::groups_dir(&dir);
        fs::create_dir_all(&groups).map_err(|source| StoreError::Dir {
            path: groups.clone(),
            source,
        })?;
        Ok(History {
            dir,
            pending: BTreeMap::new(),
            groups,
            group_pending: BTreeMap::new(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of a conversation. Anything in its key outside a safe set of characters is
    /// hex-escaped so any name makes a valid file name.
    pub fn path(&self, key: &ConversationKey) -> PathBuf {
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
        self.dir.join(name)
    }

    /// Queues a record; it reaches the disk at the next [`History::commit`].
    pub fn append(&mut self, key: &ConversationKey, record: &Record) {
        let buf = self.pending.entry(key.clone()).or_default();
        // Serializing these plain types cannot fail.
        if serde_json::to_writer(&mut *buf, record).is_ok() {
            buf.push(b'\n');
        }
    }

    /// Queues a record of a group; it reaches the disk at the next [`History::commit`].
    pub fn append_group(
        &mut self,
        id: crate::proto::group::GroupId,
        record: &super::groups::GroupRecord,
    ) {
        let buf = self.group_pending.entry(id).or_default();
        if serde_json::to_writer(&mut *buf, record).is_ok() {
            buf.push(b'\n');
        }
    }

    /// The directory of the groups' files.
    pub fn groups_dir(&self) -> &Path {
        &self.groups
    }

    /// Every group on disk.
    pub fn groups(&self) -> Result<Vec<super::groups::StoredGroup>, StoreError> {
        super::groups::load_groups(&self.groups)
    }

    /// True when records are waiting for [`History::commit`].
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty() || !self.group_pending.is_empty()
    }

    /// Writes and syncs every queued record: one write and one fsync per file touched.
    pub fn commit(&mut self) -> Result<(), StoreError> {
        for (id, buf) in std::mem::take(&mut self.group_pending) {
            let path = super::groups::group_path(&self.groups, &id);
            write_locked(&path, &buf).map_err(|source| StoreError::Write {
                path: path.clone(),
                source,
            })?;
        }
        for (key, buf) in std::mem::take(&mut self.pending) {
            let path = self.path(&key);
            write_locked(&path, &buf).map_err(|source| StoreError::Write {
                path: path.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Reads a conversation, folding state changes into their messages. Lines that do not
    /// parse (a torn last line after a crash) are skipped.
    pub fn load(&self, key: &ConversationKey) -> Result<Vec<StoredMessage>, StoreError> {
        self.load_last(key, u64::MAX)
    }

    /// Reads only about the last `bytes` of a conversation: enough to draw the first screen
    /// at once, however long the history (the rest is read after).
    pub fn load_last(
        &self,
        key: &ConversationKey,
        bytes: u64,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let path = self.path(key);
        let read_err = |source| StoreError::Read {
            path: path.clone(),
            source,
        };
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(read_err(source)),
        };
        let len = file.metadata().map_err(read_err)?.len();
        let start = len.saturating_sub(bytes);
        if start > 0 {
            file.seek(SeekFrom::Start(start)).map_err(read_err)?;
        }
        // About one message per 200 bytes: room enough without doubling at the end.
        let expect = usize::try_from((len - start) / 200).unwrap_or(0);
        let mut fold = Fold {
            messages: Vec::with_capacity(expect),
            index: HashMap::with_capacity(expect),
            peer: Arc::from(""),
        };
        // Read in chunks rather than whole: memory stays near the size of the result.
        let mut chunk = vec![0u8; 1 << 20];
        let mut carry: Vec<u8> = Vec::new();
        let mut skip_first = start > 0;
        loop {
            let n = file.read(&mut chunk).map_err(read_err)?;
            if n == 0 {
                break;
            }
            carry.extend_from_slice(&chunk[..n]);
            let Some(last_nl) = carry.iter().rposition(|&b| b == b'\n') else {
                continue;
            };
            let mut lines = carry[..last_nl].split(|&b| b == b'\n');
            if skip_first {
                // Reading began mid-file: the first line is the end of one cut in two.
                lines.next();
                skip_first = false;
            }
            lines.for_each(|line| fold.line(line));
            carry.drain(..=last_nl);
        }
        if !skip_first {
            fold.line(&carry);
        }
        let messages = fold.messages;
        Ok(messages)
    }

    /// Every conversation on disk, each read to about its last `bytes` (`u64::MAX`: whole).
    pub fn conversations(&self, bytes: u64) -> Result<Vec<super::Conversation>, StoreError> {
        self.keys()?
            .into_iter()
            .map(|key| {
                let messages = self.load_last(&key, bytes)?;
                Ok(super::Conversation { key, messages })
            })
            .collect()
    }

    /// Every conversation on disk, by key.
    pub fn keys(&self) -> Result<Vec<ConversationKey>, StoreError> {
        let entries = fs::read_dir(&self.dir).map_err(|source| StoreError::Read {
            path: self.dir.clone(),
            source,
        })?;
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

    /// Renames a conversation (the contact was renamed). When the new name already has a
    /// history, the old one is appended to it rather than replacing it.
    pub fn rename(
        &mut self,
        from: &ConversationKey,
        to: &ConversationKey,
    ) -> Result<(), StoreError> {
        self.commit()?;
        let (src, dst) = (self.path(from), self.path(to));
        if src == dst || !src.exists() {
            return Ok(());
        }
        let write_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Write { path, source }
        };
        if !dst.exists() {
            return fs::rename(&src, &dst).map_err(write_err(&dst));
        }
        let mut old = fs::read(&src).map_err(|source| StoreError::Read {
            path: src.clone(),
            source,
        })?;
        if !old.ends_with(b"\n") {
            old.push(b'\n');
        }
        write_locked(&dst, &old).map_err(write_err(&dst))?;
        fs::remove_file(&src).map_err(write_err(&src))
    }
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

/// Appends under an exclusive lock and syncs. A torn last line (no newline at the end) is
/// closed first, so the new record does not glue onto it.
fn write_locked(path: &Path, buf: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)?;
    file.lock()?;
    let result = (|| {
        // Checked on every write, not once: another process on the same data directory may
        // have died half way through a record since this one last wrote.
        let len = file.metadata()?.len();
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(len - 1))?;
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                file.write_all(b"\n")?;
            }
        }
        file.write_all(buf)?;
        file.sync_data()
    })();
    let _ = file.unlock();
    result
}
