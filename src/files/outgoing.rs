//! What sending some paths means: every regular file among them, a directory as its whole
//! tree, each under the name it is offered as (`folder/sub/file.txt` for a file in a folder,
//! so the receiver rebuilds the tree), and the hashes the offer carries.
//!
//! Symbolic links are not followed (a link in a folder could point anywhere on the disk),
//! and neither are devices, sockets or pipes: they are left out and listed, so the user
//! knows what did not go.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::proto::transfer::Manifest;
use crate::proto::transfer::wire::MAX_NAME;

use super::read_exact_at;

/// Block size of the hashes a resume re-checks: 1 MiB.
pub const BLOCK: u32 = 1 << 20;

/// The most files one send takes (a folder of more is refused, rather than flooding the
/// receiver with offers).
pub const MAX_FILES: usize = 10_000;

/// How deep a folder is walked.
const MAX_DEPTH: usize = 32;

/// One file to offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToSend {
    pub path: PathBuf,
    /// The name it is offered as: its own name, or its path inside the folder sent.
    pub name: String,
    pub size: u64,
}

/// What a send of some paths comes to.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub files: Vec<ToSend>,
    /// Left out, and why (a symbolic link, a device...).
    pub skipped: Vec<(PathBuf, &'static str)>,
}

impl Plan {
    pub fn total(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OutgoingError {
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: the name inside the folder is longer than {MAX_NAME} bytes", .0.display())]
    TooLong(PathBuf),
    #[error("{}: more than {MAX_FILES} files; send fewer at a time", .0.display())]
    TooMany(PathBuf),
    #[error("{}: folders nested deeper than {MAX_DEPTH}", .0.display())]
    TooDeep(PathBuf),
    #[error("{}: not a file or a folder", .0.display())]
    Special(PathBuf),
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> OutgoingError + '_ {
    move |source| OutgoingError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The name a file is offered under. One that is not UTF-8 (an old Latin-1 name, say)
/// still goes, with U+FFFD where a byte was not text, rather than not at all.
fn name_of(path: &Path) -> Result<String, OutgoingError> {
    let name = path
        .file_name()
        .ok_or_else(|| OutgoingError::Special(path.to_owned()))?;
    Ok(name.to_string_lossy().into_owned())
}

/// The files that sending `paths` offers, in order: each file as itself, each folder as its
/// tree (sorted by name). A path given by the user that is a link is followed (the user
/// chose it); links inside folders are not.
pub fn plan(paths: &[PathBuf]) -> Result<Plan, OutgoingError> {
    let mut plan = Plan::default();
    for path in paths {
        let meta = fs::metadata(path).map_err(io_error(path))?;
        let name = name_of(&path.canonicalize().map_err(io_error(path))?)?;
        if meta.is_dir() {
            walk(path, &name, 0, &mut plan)?;
        } else if meta.is_file() {
            push(&mut plan, path, name, meta.len())?;
        } else {
            return Err(OutgoingError::Special(path.clone()));
        }
    }
    Ok(plan)
}

fn push(plan: &mut Plan, path: &Path, name: String, size: u64) -> Result<(), OutgoingError> {
    if name.len() > MAX_NAME {
        return Err(OutgoingError::TooLong(path.to_owned()));
    }
    if plan.files.len() >= MAX_FILES {
        return Err(OutgoingError::TooMany(path.to_owned()));
    }
    plan.files.push(ToSend {
        path: path.to_owned(),
        name,
        size,
    });
    Ok(())
}

fn walk(dir: &Path, prefix: &str, depth: usize, plan: &mut Plan) -> Result<(), OutgoingError> {
    if depth >= MAX_DEPTH {
        return Err(OutgoingError::TooDeep(dir.to_owned()));
    }
    let mut entries = fs::read_dir(dir)
        .map_err(io_error(dir))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(io_error(dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = format!("{prefix}/{}", name_of(&path)?);
        // The entry itself, not what a link points to.
        let kind = entry.file_type().map_err(io_error(&path))?;
        if kind.is_symlink() {
            plan.skipped.push((path, "a symbolic link"));
        } else if kind.is_dir() {
            walk(&path, &name, depth + 1, plan)?;
        } else if kind.is_file() {
            let size = entry.metadata().map_err(io_error(&path))?.len();
            push(plan, &path, name, size)?;
        } else {
            plan.skipped.push((path, "not a regular file"));
        }
    }
    Ok(())
}

/// The file's size and BLAKE3 hashes (of each block and of the whole), read once before
/// the offer: seconds for a large file, so never on a thread that draws or answers.
pub fn manifest(path: &Path, size: u64) -> io::Result<Manifest> {
    let file = fs::File::open(path)?;
    Manifest::compute(size, BLOCK, |offset, buf| read_exact_at(&file, buf, offset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::test_dir::TestDir;

    #[test]
    fn a_folder_goes_as_its_tree_without_links() {
        let root = TestDir::new("plan");
        let top = root.path().join("photos");
        fs::create_dir_all(top.join("2024/summer")).expect("the test directory");
        fs::write(top.join("a.txt"), b"a").expect("the test directory");
        fs::write(top.join("2024/summer/b.jpg"), b"bb").expect("the test directory");
        fs::write(root.path().join("outside"), b"secret").expect("the test directory");
        std::os::unix::fs::symlink(root.path().join("outside"), top.join("link"))
            .expect("the test directory");
        let single = root.path().join("single.bin");
        fs::write(&single, b"xyz").expect("the test directory");
        let plan = plan(&[top.clone(), single.clone()]).expect("the test directory");
        let names: Vec<&str> = plan.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            ["photos/2024/summer/b.jpg", "photos/a.txt", "single.bin"]
        );
        assert_eq!(plan.total(), 6);
        assert_eq!(plan.skipped, vec![(top.join("link"), "a symbolic link")]);
    }

    #[test]
    fn a_missing_path_names_itself() {
        let err = plan(&[PathBuf::from("/no/such/file")]).expect_err("a missing path is refused");
        assert!(err.to_string().starts_with("/no/such/file: "), "{err}");
    }

    #[test]
    fn the_manifest_is_the_files_hashes() {
        let root = TestDir::new("manifest");
        let path = root.path().join("f");
        let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        fs::write(&path, &bytes).expect("the test directory");
        let m = manifest(&path, bytes.len() as u64).expect("the test directory");
        assert_eq!(m, Manifest::of_bytes(&bytes, BLOCK));
        assert_eq!(m.block_hashes.len(), 3);
    }
}
