//! A file being received: its bytes in a `.part` file beside where it will go, and a small
//! state file saying which byte ranges are held, so that a transfer resumes after a crash, a
//! restart or `kill -9` from where it was, not from zero.
//!
//! The state is written like the store writes its files (a temporary file, synced, renamed
//! over the old one), and only after the data it describes is synced: after a crash the state
//! names no range the disk does not hold. Ranges written since the last
//! [`persist`](Partial::persist) are fetched again; nothing is trusted that was not synced.
//!
//! The `.part` file becomes the file only in [`finish`](Partial::finish), after the caller has
//! checked the whole file's hash, under a name that overwrites nothing.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::names::{self, NameError, SafeName};

/// The suffix of a file still being received.
pub const PART_SUFFIX: &str = ".part";

/// The suffix of its state, kept hidden beside it (`.name.part.state`).
const STATE_SUFFIX: &str = ".state";

/// The longest name a `.part` file is made from: with " (9999)", `.part`, and the state's
/// `.`, `.state` and `.<pid>.tmp`, its files stay within 255 bytes.
const PART_NAME_BYTES: usize = 220;

/// A state file larger than this is not read: ranges are merged, so an honest one is small.
const MAX_STATE_BYTES: u64 = 16 << 20;

/// Why a partial file could not be made, written, read back or finished.
#[derive(Debug, thiserror::Error)]
pub enum PartialError {
    #[error(transparent)]
    Name(#[from] NameError),
    #[error("needs {}, {} free on {}", human_bytes(*.needed), human_bytes(*.free), .dir.display())]
    NoSpace {
        needed: u64,
        free: u64,
        dir: PathBuf,
    },
    #[error("{len} bytes at offset {offset} do not fit in a file of {size} bytes")]
    OutOfRange { offset: u64, len: u64, size: u64 },
    #[error("{missing} of {size} bytes are still missing")]
    Incomplete { missing: u64, size: u64 },
    #[error("{}: damaged state: {reason}", .path.display())]
    State { path: PathBuf, reason: String },
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> PartialError + '_ {
    move |source| PartialError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Sizes as people read them: `512 B`, `1.5 KiB`, `3.2 GiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// The bytes free to this user on the file system holding `dir`; `None` where it cannot be
/// asked (then no check is made rather than a wrong one).
pub fn free_space(dir: &Path) -> io::Result<Option<u64>> {
    #[cfg(unix)]
    {
        let stat = nix::sys::statvfs::statvfs(dir).map_err(io::Error::from)?;
        #[allow(clippy::useless_conversion)] // the field types differ between platforms
        let (blocks, size) = (
            u64::from(stat.blocks_available()),
            u64::from(stat.fragment_size()),
        );
        Ok(Some(blocks.saturating_mul(size)))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(None)
    }
}

/// Refuses to start when `dir`'s file system has less than `needed` bytes free, with the
/// figures in the message ("needs 2.0 GiB, 1.1 GiB free on /home/ann/Downloads").
pub fn check_space(dir: &Path, needed: u64) -> Result<(), PartialError> {
    match free_space(dir).map_err(io_error(dir))? {
        Some(free) if free < needed => Err(PartialError::NoSpace {
            needed,
            free,
            dir: dir.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// Byte ranges held, `[start, end)`, sorted, merged, never touching.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ranges(Vec<(u64, u64)>);

impl Ranges {
    pub fn as_slice(&self) -> &[(u64, u64)] {
        &self.0
    }

    /// Adds `[start, end)`, merging with what it overlaps or touches.
    pub fn insert(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        let (mut start, mut end) = (start, end);
        // The ranges before stay, those overlapping or touching merge, the rest follow.
        let first = self.0.partition_point(|&(_, e)| e < start);
        let last = self.0.partition_point(|&(s, _)| s <= end);
        if first < last {
            start = start.min(self.0[first].0);
            end = end.max(self.0[last - 1].1);
        }
        self.0.splice(first..last, [(start, end)]);
    }

    /// How many bytes are held.
    pub fn len(&self) -> u64 {
        self.0.iter().map(|&(s, e)| e - s).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The ranges of `[0, size)` not held: what is left to fetch.
    pub fn missing(&self, size: u64) -> Vec<(u64, u64)> {
        let mut gaps = Vec::new();
        let mut at = 0;
        for &(s, e) in &self.0 {
            if s >= size {
                break;
            }
            if s > at {
                gaps.push((at, s));
            }
            at = at.max(e);
        }
        if at < size {
            gaps.push((at, size));
        }
        gaps
    }

    /// Whether `[0, size)` is held whole.
    pub fn covers(&self, size: u64) -> bool {
        self.missing(size).is_empty()
    }

    /// Forgets what lies at or beyond `len` (a file found shorter than its state said).
    fn truncate(&mut self, len: u64) {
        self.0.retain(|&(s, _)| s < len);
        if let Some(last) = self.0.last_mut() {
            last.1 = last.1.min(len);
        }
    }
}

/// What the state file holds.
#[derive(Debug, Serialize, Deserialize)]
struct State {
    version: u32,
    /// The name the file gets when finished.
    name: String,
    size: u64,
    /// The caller's identity for the transfer (an offer id, the expected hash), to find this
    /// partial file again after a restart.
    tag: String,
    held: Vec<(u64, u64)>,
}

/// The caller's word that the file's hash matched: the only way to [`finish`](Partial::finish).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    HashMatched,
}

/// A file being received into a directory. Dropping it keeps the `.part` file and its last
/// persisted state, as a crash would; [`discard`](Self::discard) removes both.
#[derive(Debug)]
pub struct Partial {
    dir: PathBuf,
    name: SafeName,
    part: PathBuf,
    state: PathBuf,
    file: File,
    size: u64,
    tag: String,
    held: Ranges,
    /// Bytes written since the last persist.
    dirty: bool,
}

/// The state file that goes with a `.part` file: hidden, beside it.
fn state_path(part: &Path) -> Option<PathBuf> {
    let name = part.file_name()?.to_str()?;
    Some(part.with_file_name(format!(".{name}{STATE_SUFFIX}")))
}

impl Partial {
    /// Starts receiving `size` bytes to be named `name` in `dir` (which must exist and not be
    /// a symbolic link). Refused when the disk has less than `size` free. The `.part` name is
    /// numbered if taken, so two transfers of one name do not meet.
    pub fn create(dir: &Path, name: &SafeName, size: u64, tag: &str) -> Result<Self, PartialError> {
        check_space(dir, size)?;
        // Room for " (9999)", and for the state file's dot, suffix and temporary suffix.
        let part_name = name.derived(PART_NAME_BYTES, PART_SUFFIX);
        let (file, part) = names::create_new_file(dir, &part_name)?;
        let state = state_path(&part).ok_or_else(|| PartialError::State {
            path: part.clone(),
            reason: "no state file name".into(),
        })?;
        let mut partial = Self {
            dir: dir.to_owned(),
            name: name.clone(),
            part,
            state,
            file,
            size,
            tag: tag.to_owned(),
            held: Ranges::default(),
            dirty: true,
        };
        if let Err(err) = partial.persist() {
            let _ = fs::remove_file(&partial.part);
            return Err(err);
        }
        Ok(partial)
    }

    /// Reopens a `.part` file after a restart, with the ranges its state last persisted.
    /// Refused when the disk lacks room for what is still missing.
    pub fn open(part: &Path) -> Result<Self, PartialError> {
        let state_file = state_path(part).ok_or_else(|| PartialError::State {
            path: part.to_owned(),
            reason: "no state file name".into(),
        })?;
        let damaged = |reason: String| PartialError::State {
            path: state_file.clone(),
            reason,
        };
        let meta = fs::metadata(&state_file).map_err(io_error(&state_file))?;
        if meta.len() > MAX_STATE_BYTES {
            return Err(damaged(format!("{} bytes", meta.len())));
        }
        let text = fs::read_to_string(&state_file).map_err(io_error(&state_file))?;
        let state: State = serde_json::from_str(&text).map_err(|e| damaged(e.to_string()))?;
        if state.version != 1 {
            return Err(damaged(format!("version {}", state.version)));
        }
        let name = names::safe_name(state.name.as_bytes())?;
        let dir = part
            .parent()
            .ok_or_else(|| damaged("no directory".into()))?
            .to_owned();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(part)
            .map_err(io_error(part))?;
        let len = file.metadata().map_err(io_error(part))?.len();
        let mut held = Ranges::default();
        for (start, end) in state.held {
            if start > end || end > state.size {
                return Err(damaged(format!("range {start}..{end} of {}", state.size)));
            }
            held.insert(start, end);
        }
        // A file shorter than its state (restored from a backup, truncated by hand) holds less.
        held.truncate(len);
        check_space(&dir, state.size - held.len())?;
        Ok(Self {
            dir,
            name,
            part: part.to_owned(),
            state: state_file,
            file,
            size: state.size,
            tag: state.tag,
            held,
            dirty: false,
        })
    }

    /// The partial files in `dir` whose tag is `tag` (a transfer resumed after a restart
    /// finds its own this way); unreadable ones are skipped.
    pub fn find(dir: &Path, tag: &str) -> Result<Vec<PathBuf>, PartialError> {
        let mut found = Vec::new();
        for entry in fs::read_dir(dir).map_err(io_error(dir))? {
            let entry = entry.map_err(io_error(dir))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(part) = name
                .strip_prefix('.')
                .and_then(|n| n.strip_suffix(STATE_SUFFIX))
                .filter(|n| n.ends_with(PART_SUFFIX))
            else {
                continue;
            };
            let Ok(text) = fs::read_to_string(entry.path()) else {
                continue;
            };
            if let Ok(state) = serde_json::from_str::<State>(&text)
                && state.tag == tag
                && dir.join(part).is_file()
            {
                found.push(dir.join(part));
            }
        }
        found.sort();
        Ok(found)
    }

    /// Writes `data` at `offset`. Held in memory until [`persist`](Self::persist).
    pub fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), PartialError> {
        let len = data.len() as u64;
        let end = offset
            .checked_add(len)
            .filter(|&end| end <= self.size)
            .ok_or(PartialError::OutOfRange {
                offset,
                len,
                size: self.size,
            })?;
        write_all_at(&self.file, data, offset).map_err(io_error(&self.part))?;
        self.held.insert(offset, end);
        self.dirty = true;
        Ok(())
    }

    /// Reads what is on disk at `offset` (to hash it); short at the end of the file.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, PartialError> {
        read_at(&self.file, buf, offset).map_err(io_error(&self.part))
    }

    /// Makes what was written durable: the data first, then the state naming it.
    pub fn persist(&mut self) -> Result<(), PartialError> {
        if !self.dirty {
            return Ok(());
        }
        self.file.sync_data().map_err(io_error(&self.part))?;
        let state = State {
            version: 1,
            name: self.name.to_string(),
            size: self.size,
            tag: self.tag.clone(),
            held: self.held.as_slice().to_vec(),
        };
        let text = serde_json::to_string(&state).map_err(|e| PartialError::State {
            path: self.state.clone(),
            reason: e.to_string(),
        })?;
        write_durably(&self.state, text.as_bytes()).map_err(io_error(&self.state))?;
        self.dirty = false;
        Ok(())
    }

    /// Moves the complete file into place under its name (numbered if taken) once the caller
    /// has checked its hash; returns where it went. The state file goes last, so a crash in
    /// between leaves a state without its `.part` file, which [`find`](Self::find) skips.
    pub fn finish(self, _: Verified) -> Result<PathBuf, PartialError> {
        if !self.held.covers(self.size) {
            return Err(PartialError::Incomplete {
                missing: self.size - self.held.len(),
                size: self.size,
            });
        }
        self.file.sync_all().map_err(io_error(&self.part))?;
        drop(self.file);
        let path = names::rename_no_replace(&self.part, &self.dir, &self.name)?;
        sync_dir(&self.dir);
        let _ = fs::remove_file(&self.state);
        sync_dir(&self.dir);
        Ok(path)
    }

    /// Gives up: removes the `.part` file and its state.
    pub fn discard(self) -> Result<(), PartialError> {
        drop(self.file);
        fs::remove_file(&self.part).map_err(io_error(&self.part))?;
        let _ = fs::remove_file(&self.state);
        sync_dir(&self.dir);
        Ok(())
    }

    /// The ranges written (persisted or not).
    pub fn held(&self) -> &Ranges {
        &self.held
    }

    /// What is left to fetch.
    pub fn missing(&self) -> Vec<(u64, u64)> {
        self.held.missing(self.size)
    }

    pub fn is_complete(&self) -> bool {
        self.held.covers(self.size)
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The name the file will get.
    pub fn name(&self) -> &SafeName {
        &self.name
    }

    /// Where the bytes are meanwhile (to reopen it with [`open`](Self::open)).
    pub fn part_path(&self) -> &Path {
        &self.part
    }
}

/// Replaces `path` with `bytes` so that a crash leaves the old or the new, never a mix.
fn write_durably(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "no file name"));
    };
    let temp = path.with_file_name(format!("{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, path)?;
        if let Some(dir) = path.parent() {
            sync_dir(dir);
        }
        Ok(())
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}

/// Makes a rename in `dir` durable where the platform allows syncing a directory.
fn sync_dir(dir: &Path) {
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
}

#[cfg(unix)]
fn write_all_at(file: &File, data: &[u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, data, offset)
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn write_all_at(file: &File, mut data: &[u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !data.is_empty() {
        let n = file.seek_write(data, offset)?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        data = &data[n..];
        offset += n as u64;
    }
    Ok(())
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::names::safe_name;
    use crate::files::test_dir::TestDir;

    fn name(s: &str) -> SafeName {
        safe_name(s.as_bytes()).expect("a safe name")
    }

    #[test]
    fn ranges_merge_and_report_gaps() {
        let mut r = Ranges::default();
        r.insert(10, 20);
        r.insert(30, 40);
        r.insert(0, 5);
        assert_eq!(r.as_slice(), [(0, 5), (10, 20), (30, 40)]);
        r.insert(20, 30);
        assert_eq!(r.as_slice(), [(0, 5), (10, 40)], "touching ranges merge");
        r.insert(3, 12);
        assert_eq!(r.as_slice(), [(0, 40)]);
        r.insert(50, 50);
        assert_eq!(r.len(), 40);
        assert_eq!(r.missing(60), [(40, 60)]);
        assert!(r.covers(40));
        let mut r = Ranges::default();
        r.insert(5, 8);
        r.insert(1, 2);
        r.insert(0, 100);
        assert_eq!(r.as_slice(), [(0, 100)]);
        assert_eq!(r.missing(100), []);
        let mut r = Ranges::default();
        r.insert(10, 20);
        assert_eq!(r.missing(30), [(0, 10), (20, 30)]);
        r.truncate(15);
        assert_eq!(r.as_slice(), [(10, 15)]);
    }

    #[test]
    fn write_persist_reopen_finish() {
        let dir = TestDir::new("partial-roundtrip");
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut p = Partial::create(dir.path(), &name("big.bin"), data.len() as u64, "t1")
            .expect("created");
        assert_eq!(p.part_path(), dir.path().join("big.bin.part"));
        assert!(dir.path().join(".big.bin.part.state").is_file());
        // Out of order, overlapping, in pieces.
        p.write_at(50_000, &data[50_000..]).expect("written");
        p.write_at(0, &data[..30_000]).expect("written");
        p.persist().expect("persisted");
        drop(p);
        let mut p = Partial::open(&dir.path().join("big.bin.part")).expect("reopened");
        assert_eq!(p.held().as_slice(), [(0, 30_000), (50_000, 100_000)]);
        assert_eq!(p.missing(), [(30_000, 50_000)]);
        assert_eq!(p.tag(), "t1");
        assert!(matches!(
            p.write_at(99_999, &[1, 2]),
            Err(PartialError::OutOfRange { .. })
        ));
        assert!(matches!(
            p.write_at(u64::MAX, &[1]),
            Err(PartialError::OutOfRange { .. })
        ));
        p.write_at(20_000, &data[20_000..60_000]).expect("written");
        assert!(p.is_complete());
        let mut back = vec![0; 10];
        assert_eq!(p.read_at(99_990, &mut back).expect("read"), 10);
        assert_eq!(back, data[99_990..]);
        let path = p.finish(Verified::HashMatched).expect("finished");
        assert_eq!(path, dir.path().join("big.bin"));
        assert_eq!(fs::read(&path).expect("read"), data);
        let left: Vec<_> = fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(left, ["big.bin"], "no part, state or temp file left");
    }

    #[test]
    fn a_crash_between_writes_keeps_only_what_was_persisted() {
        let dir = TestDir::new("partial-crash");
        let mut p = Partial::create(dir.path(), &name("f"), 300, "t").expect("created");
        p.write_at(0, &[1; 100]).expect("written");
        p.persist().expect("persisted");
        p.write_at(100, &[2; 100]).expect("written");
        // kill -9 here: the second write was never persisted.
        drop(p);
        let mut p = Partial::open(&dir.path().join("f.part")).expect("reopened");
        assert_eq!(p.held().as_slice(), [(0, 100)]);
        assert_eq!(p.missing(), [(100, 300)]);
        // An unfinished file cannot be finished.
        p.write_at(100, &[2; 100]).expect("written");
        let err = p.finish(Verified::HashMatched).expect_err("incomplete");
        assert_eq!(err.to_string(), "100 of 300 bytes are still missing");
    }

    #[test]
    fn a_state_longer_than_the_file_is_trimmed_and_damage_is_reported() {
        let dir = TestDir::new("partial-damage");
        let mut p = Partial::create(dir.path(), &name("g"), 100, "t").expect("created");
        p.write_at(0, &[7; 100]).expect("written");
        p.persist().expect("persisted");
        let part = p.part_path().to_owned();
        drop(p);
        OpenOptions::new()
            .write(true)
            .open(&part)
            .and_then(|f| f.set_len(40))
            .expect("truncated");
        let p = Partial::open(&part).expect("reopened");
        assert_eq!(p.held().as_slice(), [(0, 40)]);
        drop(p);
        let state = dir.path().join(".g.part.state");
        fs::write(&state, "{not json").expect("written");
        let err = Partial::open(&part).expect_err("damaged");
        assert!(err.to_string().contains("damaged state"), "{err}");
        fs::write(
            &state,
            r#"{"version":1,"name":"../x","size":10,"tag":"t","held":[]}"#,
        )
        .expect("written");
        assert!(matches!(Partial::open(&part), Err(PartialError::Name(_))));
        fs::write(
            &state,
            r#"{"version":1,"name":"g","size":10,"tag":"t","held":[[0,11]]}"#,
        )
        .expect("written");
        assert!(matches!(
            Partial::open(&part),
            Err(PartialError::State { .. })
        ));
    }

    #[test]
    fn finishing_never_overwrites_and_parts_do_not_collide() {
        let dir = TestDir::new("partial-collide");
        fs::write(dir.path().join("a.txt"), b"mine").expect("written");
        let mut one = Partial::create(dir.path(), &name("a.txt"), 3, "one").expect("created");
        let mut two = Partial::create(dir.path(), &name("a.txt"), 3, "two").expect("created");
        assert_ne!(one.part_path(), two.part_path());
        assert_eq!(
            Partial::find(dir.path(), "two").expect("listed"),
            [two.part_path().to_owned()]
        );
        one.write_at(0, b"one").expect("written");
        two.write_at(0, b"two").expect("written");
        let p1 = one.finish(Verified::HashMatched).expect("finished");
        let p2 = two.finish(Verified::HashMatched).expect("finished");
        assert_eq!(p1, dir.path().join("a (1).txt"));
        assert_eq!(p2, dir.path().join("a (2).txt"));
        assert_eq!(fs::read(dir.path().join("a.txt")).expect("read"), b"mine");
        assert_eq!(fs::read(p2).expect("read"), b"two");
        let p = Partial::create(dir.path(), &name("gone"), 1, "x").expect("created");
        p.discard().expect("discarded");
        assert_eq!(fs::read_dir(dir.path()).expect("list").count(), 3);
    }

    #[test]
    fn long_names_leave_room_for_the_part_suffix() {
        let dir = TestDir::new("partial-long");
        let long = name(&format!("{}.txt", "n".repeat(400)));
        let mut p = Partial::create(dir.path(), &long, 1, "t").expect("created");
        p.write_at(0, b"x").expect("written");
        p.persist().expect("persisted");
        let path = p.finish(Verified::HashMatched).expect("finished");
        assert_eq!(
            path.file_name().and_then(|n| n.to_str()),
            Some(long.as_str())
        );
    }

    #[test]
    fn too_little_space_is_refused_with_the_figures() {
        let dir = TestDir::new("partial-space");
        let err = Partial::create(dir.path(), &name("huge"), u64::MAX / 2, "t")
            .expect_err("no disk is that big");
        let text = err.to_string();
        assert!(text.starts_with("needs 8.0 EiB, "), "{text}");
        assert!(text.contains(" free on "), "{text}");
        assert_eq!(fs::read_dir(dir.path()).expect("list").count(), 0);
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
    }
}
