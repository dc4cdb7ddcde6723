//! Files received from peers, on disk: safe names inside the chosen directory, the `.part`
//! file and its durable record of what has arrived, and where downloads go by default.
//!
//! Nothing here talks to the network or knows a protocol: the transfer decides what to fetch
//! and checks hashes; this module makes sure what it writes lands where it should, survives a
//! crash, and never overwrites or escapes.
//!
//! ```
//! use qqchat::files::{Partial, Verified, make_parents, safe_path};
//!
//! # let root = std::env::temp_dir().join(format!("qqchat-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&root)?;
//! // A path a peer offered: checked before anything touches the disk.
//! let path = safe_path(b"photos/beach.jpg")?;
//! assert!(safe_path(b"photos/../../.bashrc").is_err());
//! let dir = make_parents(&root, &path)?;
//! let mut part = Partial::create(&dir, path.name(), 5, "offer 42")?;
//! part.write_at(0, b"hello")?;
//! part.persist()?; // after a crash, Partial::open(part.part_path()) resumes from here
//! // ...once the whole file's hash matched:
//! let done = part.finish(Verified::HashMatched)?;
//! assert_eq!(done, root.join("photos").join("beach.jpg"));
//! # std::fs::remove_dir_all(&root)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod downloads;
pub mod names;
pub mod outgoing;
pub mod partial;

pub use downloads::download_dir;
pub use names::{NameError, SafeName, SafePath, make_parents, safe_name, safe_path};
pub use partial::{Partial, PartialError, Ranges, Verified, human_bytes};

/// Fills `buf` from `file` at `offset`, without moving a shared cursor where the system
/// allows (so a file may be read from anywhere by anyone holding it).
#[cfg(unix)]
pub fn read_exact_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

/// Fills `buf` from `file` at `offset`.
#[cfg(not(unix))]
pub fn read_exact_at(mut file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(buf)
}

/// A fresh directory under the system's temporary directory, removed when dropped.
#[cfg(test)]
pub(crate) mod test_dir {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU32, Ordering};

    pub struct TestDir(PathBuf);

    impl TestDir {
        pub fn new(label: &str) -> Self {
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir()
                .join(format!("qqchat-files-{label}-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).expect("make a test directory");
            Self(path)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TestDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
