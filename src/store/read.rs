//! How far each conversation was read, kept in `read.json` in the data directory, so that
//! unread counts and the "new" line survive a restart, and `qqchat unread` can tell them
//! without the chat running.
//!
//! A 1:1 conversation is read up to a time: the arrival time of the last message read (the
//! history keeps it). A group's messages arrive out of order, so a group is read up to a
//! number per author: each member numbers their own messages.
//!
//! Written whole, like the drafts: to a temporary file, synced, then renamed over the old.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{ConversationKey, StoreError};
use crate::proto::PublicKey;
use crate::proto::group::GroupId;

/// Where the read points are kept in `data_dir`.
pub fn read_path(data_dir: &Path) -> PathBuf {
    data_dir.join("read.json")
}

/// How far every conversation was read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadPoints {
    /// When these started being kept. A conversation with no point of its own counts what
    /// arrived after this as unread; without it (no file yet), nothing is unread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    /// By conversation: the arrival time of the last message read.
    #[serde(default)]
    pub conversations: BTreeMap<String, Timestamp>,
    /// By group (its hex id), by author (their key in hex): the number of their last
    /// message read.
    #[serde(default)]
    pub groups: BTreeMap<String, BTreeMap<String, u64>>,
}

/// A key as the file writes it: lower-case hex.
fn key_hex(key: &PublicKey) -> String {
    key.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

impl ReadPoints {
    /// The arrival time after which a message of conversation `key` is unread; `None` when
    /// none is (no point, and none kept yet).
    pub fn unread_after(&self, key: &ConversationKey) -> Option<Timestamp> {
        self.conversations.get(key.as_str()).copied().or(self.since)
    }

    /// Whether a message of conversation `key` that arrived at `at` is unread.
    pub fn is_unread(&self, key: &ConversationKey, at: Timestamp) -> bool {
        match self.conversations.get(key.as_str()) {
            Some(read) => at > *read,
            None => self.since.is_some_and(|since| at > since),
        }
    }

    /// Whether message `seq` of `author` in `group` is unread; `sent_at` (the author's
    /// clock) only counts for a group with no point yet.
    pub fn is_group_unread(
        &self,
        group: &GroupId,
        author: &PublicKey,
        seq: u64,
        sent_at: Option<Timestamp>,
    ) -> bool {
        match self.groups.get(&group.to_hex()) {
            Some(authors) => authors.get(&key_hex(author)).is_none_or(|read| seq > *read),
            None => match (self.since, sent_at) {
                (Some(since), Some(sent)) => sent > since,
                _ => false,
            },
        }
    }

    /// Conversation `key` is read up to a message that arrived at `at` (never moved back).
    /// Returns whether anything changed.
    pub fn read_to(&mut self, key: &ConversationKey, at: Timestamp) -> bool {
        match self.conversations.get_mut(key.as_str()) {
            Some(read) if *read >= at => false,
            Some(read) => {
                *read = at;
                true
            }
            None => {
                self.conversations.insert(key.as_str().to_owned(), at);
                true
            }
        }
    }

    /// Group `group` is read up to message `seq` of `author` (never moved back). Returns
    /// whether anything changed.
    pub fn read_group_to(&mut self, group: &GroupId, author: &PublicKey, seq: u64) -> bool {
        let changed = self.touch_group(group);
        let authors = self.groups.entry(group.to_hex()).or_default();
        let author = key_hex(author);
        if authors.get(&author).is_some_and(|read| *read >= seq) {
            return changed;
        }
        authors.insert(author, seq);
        true
    }

    /// Group `group` has a point from now on, even with nothing read in it yet: whatever
    /// comes later is unread. Returns whether it had none.
    pub fn touch_group(&mut self, group: &GroupId) -> bool {
        let hex = group.to_hex();
        if self.groups.contains_key(&hex) {
            return false;
        }
        self.groups.insert(hex, BTreeMap::new());
        true
    }

    /// A conversation's history moved to another name: its read point goes along.
    pub fn rename(&mut self, from: &ConversationKey, to: &ConversationKey) {
        if let Some(at) = self.conversations.remove(from.as_str()) {
            self.conversations.insert(to.as_str().to_owned(), at);
        }
    }
}

/// The read points kept in `data_dir`; `None` when there is no file yet.
pub fn load_read(data_dir: &Path) -> Result<Option<ReadPoints>, StoreError> {
    let path = read_path(data_dir);
    let text = match super::small_file::read(&path) {
        Ok(Some(text)) => text,
        Ok(None) => return Ok(None),
        Err(source) => return Err(StoreError::Read { path, source }),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|err| StoreError::Read {
            path,
            source: io::Error::new(io::ErrorKind::InvalidData, err),
        })
}

/// Replaces the read points kept in `data_dir` with `points`, atomically.
pub fn save_read(data_dir: &Path, points: &ReadPoints) -> Result<(), StoreError> {
    let path = read_path(data_dir);
    let write_err = |source| StoreError::Write {
        path: path.clone(),
        source,
    };
    let text = serde_json::to_string_pretty(points)
        .map_err(|err| write_err(io::Error::new(io::ErrorKind::InvalidData, err)))?;
    fs::create_dir_all(data_dir).map_err(|source| StoreError::Dir {
        path: data_dir.to_owned(),
        source,
    })?;
    super::small_file::replace(data_dir, &path, &text).map_err(write_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).expect("a time")
    }

    #[test]
    fn read_points_round_trip_and_only_move_forward() {
        let dir = std::env::temp_dir().join(format!("qqchat-read-{}", std::process::id()));
        assert_eq!(load_read(&dir).ok(), Some(None), "no file, no points");
        let bob = ConversationKey::new("bob");
        let mut points = ReadPoints {
            since: Some(at(0)),
            ..ReadPoints::default()
        };
        assert!(points.is_unread(&bob, at(1)), "after since, with no point");
        assert!(!points.is_unread(&bob, at(0)));
        assert!(points.read_to(&bob, at(10)));
        assert!(!points.read_to(&bob, at(5)), "never back");
        assert!(!points.is_unread(&bob, at(10)) && points.is_unread(&bob, at(11)));

        let group = GroupId::from_hex(&"ab".repeat(16)).expect("an id");
        let alice = PublicKey::from_bytes([7; 32]);
        let carol = PublicKey::from_bytes([8; 32]);
        assert!(!points.is_group_unread(&group, &alice, 1, None), "no clock");
        assert!(points.is_group_unread(&group, &alice, 1, Some(at(3))));
        assert!(points.read_group_to(&group, &alice, 4));
        assert!(!points.is_group_unread(&group, &alice, 4, None));
        assert!(points.is_group_unread(&group, &alice, 5, None));
        assert!(
            points.is_group_unread(&group, &carol, 1, None),
            "someone new in a group read before"
        );

        save_read(&dir, &points).expect("saved");
        assert_eq!(load_read(&dir).expect("loaded"), Some(points.clone()));
        fs::write(read_path(&dir), "not json").expect("written");
        assert!(load_read(&dir).is_err(), "a damaged file says so");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_renamed_conversation_keeps_its_point() {
        let mut points = ReadPoints::default();
        points.read_to(&ConversationKey::new("bob"), at(3));
        points.rename(
            &ConversationKey::new("bob"),
            &ConversationKey::new("robert"),
        );
        assert!(!points.is_unread(&ConversationKey::new("robert"), at(3)));
        assert!(!points.conversations.contains_key("bob"));
    }
}
