//! Groups on disk: each group's records in the history database, under the same rules as the
//! conversations (committed before anything is acked or sent). The records hold the group's
//! signed messages as they travel, so what is read back is checked again like anything from
//! the network, and this member's own state: invited, joined, left; and which members acked
//! each of its messages. Earlier versions kept one JSON-lines file per group, read in once.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::proto::PublicKey;
use crate::proto::group::GroupId;

/// Where this member stands in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupStatus {
    /// Invited, not answered yet: messages are kept, not shown.
    Invited,
    Joined,
    Declined,
    Left,
    /// The creator took this member out.
    Removed,
}

impl GroupStatus {
    /// Whether this member takes part: sends, catches up and is caught up.
    pub fn active(self) -> bool {
        matches!(self, GroupStatus::Invited | GroupStatus::Joined)
    }
}

/// One record of a group (a line of its file, in earlier versions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "lowercase")]
pub enum GroupRecord {
    /// A signed message, as it travels (base64), and when it was held here.
    Msg {
        m: String,
        at: Timestamp,
    },
    Status {
        status: GroupStatus,
        at: Timestamp,
    },
    /// `by` (a key in base64) acked this member's message `seq`.
    Ack {
        seq: u64,
        by: String,
    },
}

impl GroupRecord {
    pub fn msg(bytes: &[u8], at: Timestamp) -> GroupRecord {
        GroupRecord::Msg {
            m: B64.encode(bytes),
            at,
        }
    }

    pub fn ack(seq: u64, by: &PublicKey) -> GroupRecord {
        GroupRecord::Ack {
            seq,
            by: B64.encode(by.as_bytes()),
        }
    }
}

/// A group as read back: messages not yet checked, in the order written.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredGroup {
    pub id: GroupId,
    pub msgs: Vec<(Vec<u8>, Timestamp)>,
    pub status: GroupStatus,
    /// This member's messages, by count, and who acked each.
    pub acks: BTreeMap<u64, BTreeSet<PublicKey>>,
}

/// The directory of an earlier version's group files, next to `history`.
pub fn groups_dir(history_dir: &Path) -> PathBuf {
    history_dir.with_file_name("groups")
}

pub fn group_path(dir: &Path, id: &GroupId) -> PathBuf {
    dir.join(format!("{}.jsonl", id.to_hex()))
}

/// Folds a group's records, in the order written, into what they say.
pub(super) fn fold_group(
    id: GroupId,
    records: impl IntoIterator<Item = GroupRecord>,
) -> StoredGroup {
    let mut group = StoredGroup {
        id,
        msgs: Vec::new(),
        status: GroupStatus::Joined,
        acks: BTreeMap::new(),
    };
    for record in records {
        match record {
            GroupRecord::Msg { m, at } => {
                if let Ok(bytes) = B64.decode(m) {
                    group.msgs.push((bytes, at));
                }
            }
            GroupRecord::Status { status, .. } => group.status = status,
            GroupRecord::Ack { seq, by } => {
                let key = B64
                    .decode(by)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok());
                if let Some(key) = key {
                    group
                        .acks
                        .entry(seq)
                        .or_default()
                        .insert(PublicKey::from_bytes(key));
                }
            }
        }
    }
    group
}

/// The records of one group's file as an earlier version wrote it; lines that do not parse
/// are skipped.
fn read_records(path: &Path) -> Result<Option<Vec<GroupRecord>>, StoreError> {
    let text = match fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StoreError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    Ok(Some(
        text.split(|&b| b == b'\n')
            .filter_map(|line| serde_json::from_slice(line).ok())
            .collect(),
    ))
}

/// Reads one group's file as an earlier version wrote it.
pub fn load_group(dir: &Path, id: GroupId) -> Result<Option<StoredGroup>, StoreError> {
    Ok(read_records(&group_path(dir, &id))?.map(|records| fold_group(id, records)))
}

/// Every group file an earlier version wrote in `dir`, as records, for the import.
pub(super) fn legacy_records(dir: &Path) -> Result<Vec<(GroupId, Vec<GroupRecord>)>, StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(StoreError::Read {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let mut ids: Vec<GroupId> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            GroupId::from_hex(name.strip_suffix(".jsonl")?)
        })
        .collect();
    ids.sort();
    let mut out = Vec::new();
    for id in ids {
        if let Some(records) = read_records(&group_path(dir, &id))? {
            out.push((id, records));
        }
    }
    Ok(out)
}
