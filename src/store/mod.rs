//! What qqchat keeps on disk besides the contacts file: the history of every conversation,
//! which is also the outbox of messages still to deliver.

mod drafts;
mod groups;
mod history;
mod key;
mod read;

pub use drafts::{drafts_path, load_drafts, save_drafts};
pub use groups::{GroupRecord, GroupStatus, StoredGroup, group_path, load_group};
pub use history::{
    Direction, History, MessageState, Record, StoreError, StoredMessage, fold_records,
};
pub use key::ConversationKey;
pub use read::{ReadPoints, load_read, read_path, save_read};

/// One conversation read from the history.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub key: ConversationKey,
    pub messages: Vec<StoredMessage>,
}

use std::path::PathBuf;

/// The data directory: `--data-dir`, else `$QQCHAT_DATA_DIR`, else the platform's data dir
/// (`~/.local/share/qqchat` on Linux).
pub fn data_dir(explicit: Option<PathBuf>) -> Option<PathBuf> {
    explicit
        .or_else(|| std::env::var_os("QQCHAT_DATA_DIR").map(PathBuf::from))
        .or_else(|| {
            directories::ProjectDirs::from("", "", "qqchat").map(|d| d.data_dir().to_path_buf())
        })
}
