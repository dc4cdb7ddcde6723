//! The small files kept beside the history (drafts, read points, trusted keys): read whole,
//! and rewritten whole, atomically: written to a temporary file readable by this user only,
//! synced, then renamed over the old one, so a crash leaves the old file or the new, never
//! half of one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// The file's text; `None` when there is no file yet.
pub(super) fn read(path: &Path) -> io::Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err),
    }
}

/// Replaces `path` (in the existing directory `dir`) with `text` and a final newline.
pub(super) fn replace(dir: &Path, path: &Path, text: &str) -> io::Result<()> {
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy());
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            // What someone was writing, and whom they read and trust, is as private as
            // what they sent.
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file: File = options.open(&temp)?;
        file.write_all(text.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, path)?;
        if let Ok(dir) = File::open(dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}
