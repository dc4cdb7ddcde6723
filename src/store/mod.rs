//! What qqchat keeps on disk besides the contacts file: the history of every conversation
//! and group, which is also the outbox of messages still to deliver, and small files beside.

mod drafts;
mod groups;
mod history;
mod key;
mod legacy;
mod message;
mod read;
mod search;
mod small_file;
mod trust;

use std::io;
use std::path::PathBuf;

use thiserror::Error;

pub use drafts::{drafts_path, load_drafts, save_drafts};
pub use groups::{GroupRecord, GroupStatus, StoredGroup, group_path, load_group};
pub use history::{DB_FILE, History};
pub use key::ConversationKey;
pub use legacy::{conversation_path, fold_records};
pub use message::{Direction, MessageState, Record, StoredMessage};
pub use search::{Hit, Order, Search, contains_words, words as search_words};

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot use the data directory {path}: {source}")]
    Dir { path: PathBuf, source: io::Error },
    #[error("cannot write the history file {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot read the history file {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("the history database {path}: {source}")]
    Db {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "another qqchat{} is already running on the data directory {dir}: quit it, or give this one \
         its own with --data-dir",
        pid.map(|p| format!(" (process {p})")).unwrap_or_default()
    )]
    Busy { dir: PathBuf, pid: Option<u32> },
}
pub use read::{ReadPoints, load_read, read_path, save_read};
pub use trust::{TrustBook, TrustError, Trusted, load_trust, save_trust, trust_path};

/// One conversation read from the history.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub key: ConversationKey,
    pub messages: Vec<StoredMessage>,
}

/// The data directory: `--data-dir`, else `$QQCHAT_DATA_DIR`, else the platform's data dir
/// (`~/.local/share/qqchat` on Linux).
pub fn data_dir(explicit: Option<PathBuf>) -> Option<PathBuf> {
    explicit
        .or_else(|| std::env::var_os("QQCHAT_DATA_DIR").map(PathBuf::from))
        .or_else(|| {
            directories::ProjectDirs::from("", "", "qqchat").map(|d| d.data_dir().to_path_buf())
        })
}
