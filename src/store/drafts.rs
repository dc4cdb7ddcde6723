//! Messages being written and not sent yet, one per conversation, kept in `drafts.json`
//! in the data directory so that switching away, quitting or a restart loses none.
//!
//! The file is small and rewritten whole: written to a temporary file, synced, then renamed
//! over the old one, so a crash leaves either the old drafts or the new, never half of one.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{ConversationKey, StoreError};

/// Where the drafts are kept in `data_dir`.
pub fn drafts_path(data_dir: &Path) -> PathBuf {
    data_dir.join("drafts.json")
}

/// The drafts kept in `data_dir`, by conversation; none when there is no file yet.
pub fn load_drafts(data_dir: &Path) -> Result<Vec<(ConversationKey, String)>, StoreError> {
    let path = drafts_path(data_dir);
    let text = match super::small_file::read(&path) {
        Ok(Some(text)) => text,
        Ok(None) => return Ok(Vec::new()),
        Err(source) => return Err(StoreError::Read { path, source }),
    };
    let map: BTreeMap<String, String> =
        serde_json::from_str(&text).map_err(|err| StoreError::Read {
            path,
            source: io::Error::new(io::ErrorKind::InvalidData, err),
        })?;
    Ok(map
        .into_iter()
        .filter(|(_, text)| !text.is_empty())
        .map(|(key, text)| (ConversationKey::new(key), text))
        .collect())
}

/// Replaces the drafts kept in `data_dir` with `drafts`, atomically; empty ones are left out.
pub fn save_drafts(
    data_dir: &Path,
    drafts: &[(ConversationKey, String)],
) -> Result<(), StoreError> {
    let path = drafts_path(data_dir);
    let map: BTreeMap<&str, &str> = drafts
        .iter()
        .filter(|(_, text)| !text.is_empty())
        .map(|(key, text)| (key.as_str(), text.as_str()))
        .collect();
    let write_err = |source| StoreError::Write {
        path: path.clone(),
        source,
    };
    let text = serde_json::to_string_pretty(&map)
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

    #[test]
    fn drafts_round_trip_and_empty_ones_are_dropped() {
        let dir = std::env::temp_dir().join(format!("qqchat-drafts-{}", std::process::id()));
        assert_eq!(
            load_drafts(&dir).ok(),
            Some(Vec::new()),
            "no file, no drafts"
        );
        let drafts = vec![
            (
                ConversationKey::new("alice"),
                "half a thought\nand more".to_owned(),
            ),
            (ConversationKey::new("bob"), String::new()),
        ];
        save_drafts(&dir, &drafts).expect("saved");
        let loaded = load_drafts(&dir).expect("loaded");
        assert_eq!(loaded, drafts[..1].to_vec());
        fs::write(drafts_path(&dir), "not json").expect("written");
        assert!(load_drafts(&dir).is_err(), "a damaged file says so");
        let _ = fs::remove_dir_all(&dir);
    }
}
