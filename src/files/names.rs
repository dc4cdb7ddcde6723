//! File names from the network made into safe paths inside a directory the user chose.
//!
//! A name a peer sends is data, not a path: it may climb out (`..`, `/etc/passwd`,
//! `C:\x`), name a device Windows opens instead of a file (`CON`, `nul.txt`), hide escape
//! sequences that rewrite the terminal it is shown in, be longer than any file system allows,
//! or not be UTF-8 at all. Each name is checked on its own ([`safe_name`]) and a relative path
//! component by component ([`safe_path`]); then the directories are made without following a
//! symbolic link ([`make_parents`]) and a free name is picked that overwrites nothing
//! ([`create_new_file`], [`create_new_dir`], [`rename_no_replace`]).
//!
//! What can be repaired is repaired (invalid UTF-8 shows as U+FFFD, a long name is cut keeping
//! its extension, a taken name gets " (1)"); what would change where the file goes or what the
//! name shows is refused with the reason.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Component, Path, PathBuf};

/// The longest name, in bytes, that common file systems (ext4, APFS, NTFS in UTF-16 units
/// roughly) take.
pub const MAX_NAME_BYTES: usize = 255;

/// The deepest directory tree accepted from a peer.
pub const MAX_DEPTH: usize = 64;

/// The longest relative path accepted from a peer, in bytes (Linux's `PATH_MAX`).
pub const MAX_PATH_BYTES: usize = 4096;

/// Extensions longer than this are not kept when a name is cut: they are not extensions.
const MAX_EXTENSION_BYTES: usize = 32;

/// How many numbered names are tried before giving up.
const MAX_NUMBER: u32 = 9999;

/// Why a name or path from the network was refused. Names are shown escaped (`{:?}`) so that
/// a hostile one cannot act on the terminal that shows the error.
#[derive(Debug, thiserror::Error)]
pub enum NameError {
    #[error("the name is empty")]
    Empty,
    #[error("{0:?} is only dots")]
    Dots(String),
    #[error("{0:?} goes up with `..`, out of the download directory")]
    Parent(String),
    #[error("{0:?} is an absolute path")]
    Absolute(String),
    #[error("{0:?} starts with a drive letter")]
    Drive(String),
    #[error("{0:?} is a device name on Windows")]
    Device(String),
    #[error("{name:?} contains the control character U+{code:04X}")]
    Control { name: String, code: u32 },
    #[error("{0:?} contains a path separator")]
    Separator(String),
    #[error("{name:?} contains {ch:?}, which Windows does not allow in a name")]
    Reserved { name: String, ch: char },
    #[error("the path has more than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("the path is longer than {MAX_PATH_BYTES} bytes")]
    TooLong,
    #[error("{} is a symbolic link, which is not followed", .0.display())]
    Symlink(PathBuf),
    #[error("{} is in the way: it is not a directory", .0.display())]
    NotADirectory(PathBuf),
    #[error("{} would be outside {}", .path.display(), .root.display())]
    Outside { path: PathBuf, root: PathBuf },
    #[error("no free name for {name:?} in {} after {MAX_NUMBER} tries", .dir.display())]
    NoFreeName { name: String, dir: PathBuf },
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> NameError + '_ {
    move |source| NameError::Io {
        path: path.to_owned(),
        source,
    }
}

/// One checked path component: not empty, not dots, no separator, no control character, no
/// device name, at most [`MAX_NAME_BYTES`] bytes. Only [`safe_name`] and [`safe_path`] make one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SafeName(String);

impl SafeName {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// This name with " (n)" before its extension, cut to fit: the name to try when this
    /// one is taken. `n == 0` is the name itself.
    pub fn numbered(&self, n: u32) -> SafeName {
        if n == 0 {
            return self.clone();
        }
        let (stem, ext) = split_extension(&self.0);
        SafeName(fit(stem, &format!(" ({n}){ext}")))
    }

    /// This name cut to `max` bytes on a char boundary, then `suffix` (plain ASCII such as
    /// `.part`, never a separator) appended: names derived from this one.
    pub(crate) fn derived(&self, max: usize, suffix: &str) -> SafeName {
        let mut end = self.0.len().min(max);
        while !self.0.is_char_boundary(end) {
            end -= 1;
        }
        SafeName(fit(&self.0[..end], suffix))
    }
}

impl fmt::Display for SafeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<Path> for SafeName {
    fn as_ref(&self) -> &Path {
        Path::new(&self.0)
    }
}

/// A checked relative path: one or more [`SafeName`]s, the last being the file or directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SafePath(Vec<SafeName>);

impl SafePath {
    pub fn components(&self) -> &[SafeName] {
        &self.0
    }

    /// The last component: the file's own name.
    pub fn name(&self) -> &SafeName {
        // Never empty: `safe_path` refuses an empty path.
        &self.0[self.0.len() - 1]
    }

    /// The directories above the name, outermost first.
    pub fn parents(&self) -> &[SafeName] {
        &self.0[..self.0.len() - 1]
    }

    /// The path below `root`, joined with the platform's separator.
    pub fn under(&self, root: &Path) -> PathBuf {
        let mut path = root.to_path_buf();
        path.extend(self.0.iter().map(SafeName::as_str));
        path
    }
}

impl From<SafeName> for SafePath {
    fn from(name: SafeName) -> Self {
        SafePath(vec![name])
    }
}

impl fmt::Display for SafePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            f.write_str(name.as_str())?;
        }
        Ok(())
    }
}

/// Names Windows opens as devices, whatever the extension and case (`con.txt` is the console).
const DEVICES: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "COM¹", "COM²", "COM³", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8",
    "LPT9", "LPT¹", "LPT²", "LPT³", "CONIN$", "CONOUT$",
];

fn is_device(name: &str) -> bool {
    // Windows ignores what follows the first dot, and spaces before it.
    let stem = name.split('.').next().unwrap_or(name).trim_end_matches(' ');
    // Case folding is ASCII only: `com¹` matches `COM¹` byte for byte past the letters.
    DEVICES.iter().any(|d| d.eq_ignore_ascii_case(stem))
}

/// Characters that change how text around them is shown: C0 and C1 controls (escape
/// sequences start with one) and the bidirectional overrides that make `exe.txt` read as
/// `txt.exe`.
fn is_unshowable(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn has_drive(name: &str) -> bool {
    let mut chars = name.chars();
    matches!((chars.next(), chars.next()), (Some(l), Some(':')) if l.is_ascii_alphabetic())
}

/// `name.ext` → (`name`, `.ext`); no extension for dot files, trailing dots or long tails.
fn split_extension(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(at) if at > 0 && name.len() - at <= MAX_EXTENSION_BYTES && at + 1 < name.len() => {
            name.split_at(at)
        }
        _ => (name, ""),
    }
}

/// `stem` cut on a char boundary so that `stem + tail` is at most [`MAX_NAME_BYTES`].
fn fit(stem: &str, tail: &str) -> String {
    let room = MAX_NAME_BYTES.saturating_sub(tail.len());
    let mut end = stem.len().min(room);
    while !stem.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{tail}", &stem[..end])
}

fn lossy(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

/// Checks one name from the network. Bytes that are not UTF-8 become U+FFFD; a name longer
/// than [`MAX_NAME_BYTES`] is cut keeping its extension; the rest is refused with the reason.
pub fn safe_name(raw: &[u8]) -> Result<SafeName, NameError> {
    let name = lossy(raw);
    if name.trim().is_empty() {
        return Err(NameError::Empty);
    }
    if name.starts_with(['/', '\\']) {
        return Err(NameError::Absolute(name));
    }
    if has_drive(&name) {
        return Err(NameError::Drive(name));
    }
    if name.split(['/', '\\']).any(|part| part == "..") {
        return Err(NameError::Parent(name));
    }
    if name.contains(['/', '\\']) {
        return Err(NameError::Separator(name));
    }
    check_component(name)
}

/// The checks of [`safe_name`] after separators: dots, controls, devices, Windows' reserved
/// characters, length.
fn check_component(name: String) -> Result<SafeName, NameError> {
    if name.trim().is_empty() {
        return Err(NameError::Empty);
    }
    if name == ".." {
        return Err(NameError::Parent(name));
    }
    if name.chars().all(|c| c == '.') {
        return Err(NameError::Dots(name));
    }
    if let Some(c) = name.chars().find(|&c| is_unshowable(c)) {
        return Err(NameError::Control {
            code: u32::from(c),
            name,
        });
    }
    if is_device(&name) {
        return Err(NameError::Device(name));
    }
    if cfg!(windows)
        && let Some(ch) = name.chars().find(|c| "<>:\"|?*".contains(*c))
    {
        return Err(NameError::Reserved { name, ch });
    }
    if name.len() <= MAX_NAME_BYTES {
        return Ok(SafeName(name));
    }
    let (stem, ext) = split_extension(&name);
    Ok(SafeName(fit(stem, ext)))
}

/// Checks a relative path from the network (`/` or `\` between components), each component as
/// [`safe_name`] does; `..` anywhere, an absolute path or a drive letter is refused whole.
pub fn safe_path(raw: &[u8]) -> Result<SafePath, NameError> {
    let path = lossy(raw);
    if path.trim().is_empty() {
        return Err(NameError::Empty);
    }
    if path.starts_with(['/', '\\']) {
        return Err(NameError::Absolute(path));
    }
    if has_drive(&path) {
        return Err(NameError::Drive(path));
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(NameError::TooLong);
    }
    let parts: Vec<&str> = path.split(['/', '\\']).collect();
    if parts.len() > MAX_DEPTH {
        return Err(NameError::TooDeep);
    }
    if parts.contains(&"..") {
        return Err(NameError::Parent(path));
    }
    let names = parts
        .into_iter()
        .map(|p| check_component(p.to_owned()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SafePath(names))
}

/// [`safe_name`] for a name the platform gave (a local file's name when sending, a name in
/// a test): on Unix the raw bytes, elsewhere their WTF-8 form.
pub fn safe_os_name(name: &std::ffi::OsStr) -> Result<SafeName, NameError> {
    safe_name(name.as_encoded_bytes())
}

/// True when `path` is `root` followed only by plain names: no `..`, no root, no prefix.
pub fn is_inside(root: &Path, path: &Path) -> bool {
    path.strip_prefix(root)
        .is_ok_and(|rest| rest.components().all(|c| matches!(c, Component::Normal(_))))
}

fn check_inside(root: &Path, path: &Path) -> Result<(), NameError> {
    if is_inside(root, path) {
        Ok(())
    } else {
        Err(NameError::Outside {
            path: path.to_owned(),
            root: root.to_owned(),
        })
    }
}

/// Makes the directories above `path` inside `root` (which must exist), refusing a symbolic
/// link or a file on the way; returns the directory the last component goes in.
///
/// Each directory is checked when reached, not held open: the threat is a peer's names, not
/// another process of the same user swapping a directory for a link in between.
pub fn make_parents(root: &Path, path: &SafePath) -> Result<PathBuf, NameError> {
    let mut dir = root.to_path_buf();
    for name in path.parents() {
        dir.push(name.as_str());
        check_inside(root, &dir)?;
        ensure_dir(&dir)?;
    }
    Ok(dir)
}

/// `dir` is a real directory afterwards, made if missing; a symbolic link is refused.
fn ensure_dir(dir: &Path) -> Result<(), NameError> {
    for _ in 0..2 {
        match fs::symlink_metadata(dir) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(NameError::Symlink(dir.to_owned()));
            }
            Ok(meta) if meta.is_dir() => return Ok(()),
            Ok(_) => return Err(NameError::NotADirectory(dir.to_owned())),
            Err(err) if err.kind() == io::ErrorKind::NotFound => match fs::create_dir(dir) {
                Ok(()) => return Ok(()),
                // Made by someone else meanwhile: look again at what it is.
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(err) => return Err(io_error(dir)(err)),
            },
            Err(err) => return Err(io_error(dir)(err)),
        }
    }
    Err(NameError::NotADirectory(dir.to_owned()))
}

/// Refuses `dir` when it is a symbolic link (its own target is not followed).
fn refuse_symlink(dir: &Path) -> Result<(), NameError> {
    match fs::symlink_metadata(dir) {
        Ok(meta) if meta.file_type().is_symlink() => Err(NameError::Symlink(dir.to_owned())),
        Ok(meta) if !meta.is_dir() => Err(NameError::NotADirectory(dir.to_owned())),
        Ok(_) => Ok(()),
        Err(err) => Err(io_error(dir)(err)),
    }
}

/// Tries `name`, then `name (1)`, `name (2)`…: `attempt` says whether a path was free
/// (`Ok(Some)`), taken (`Ok(None)`, then the next number is tried) or failed.
fn first_free<T>(
    dir: &Path,
    name: &SafeName,
    mut attempt: impl FnMut(&Path) -> io::Result<Option<T>>,
) -> Result<(T, PathBuf), NameError> {
    for n in 0..=MAX_NUMBER {
        let path = dir.join(name.numbered(n).as_str());
        check_inside(dir, &path)?;
        if let Some(found) = attempt(&path).map_err(io_error(&path))? {
            return Ok((found, path));
        }
    }
    Err(NameError::NoFreeName {
        name: name.to_string(),
        dir: dir.to_owned(),
    })
}

fn taken<T>(result: io::Result<T>) -> io::Result<Option<T>> {
    match result {
        Ok(t) => Ok(Some(t)),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(None),
        Err(err) => Err(err),
    }
}

/// The first of `name`, `name (1)`… in `dir` that nothing (not even a dangling link) has;
/// for showing where a file will go. Creating it is a separate step: use [`create_new_file`]
/// to be sure nothing is overwritten.
pub fn free_path(dir: &Path, name: &SafeName) -> Result<PathBuf, NameError> {
    first_free(dir, name, |path| match fs::symlink_metadata(path) {
        Ok(_) => Ok(None),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(Some(())),
        Err(err) => Err(err),
    })
    .map(|((), path)| path)
}

/// Creates a new empty file named `name`, or numbered, in `dir` (itself not a symbolic
/// link), atomically: an existing file is never opened.
pub fn create_new_file(dir: &Path, name: &SafeName) -> Result<(File, PathBuf), NameError> {
    refuse_symlink(dir)?;
    first_free(dir, name, |path| {
        let mut options = OpenOptions::new();
        options.read(true).write(true).create_new(true);
        taken(options.open(path))
    })
}

/// Creates a new directory named `name`, or numbered, in `dir`: a received folder never
/// mixes with one already there.
pub fn create_new_dir(dir: &Path, name: &SafeName) -> Result<PathBuf, NameError> {
    refuse_symlink(dir)?;
    first_free(dir, name, |path| taken(fs::create_dir(path))).map(|((), path)| path)
}

/// Moves the file `from` to `name`, or numbered, in `dir`, never replacing anything there;
/// returns where it went. Both must be on one file system.
pub fn rename_no_replace(from: &Path, dir: &Path, name: &SafeName) -> Result<PathBuf, NameError> {
    refuse_symlink(dir)?;
    first_free(dir, name, |to| taken(rename_noreplace(from, to))).map(|((), path)| path)
}

/// A rename that fails with `AlreadyExists` rather than replace `to`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    use nix::errno::Errno;
    use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};
    match renameat2(AT_FDCWD, from, AT_FDCWD, to, RenameFlags::RENAME_NOREPLACE) {
        Ok(()) => Ok(()),
        // File systems without the flag: the portable way.
        Err(Errno::EINVAL | Errno::ENOSYS) => link_then_unlink(from, to),
        Err(errno) => Err(io::Error::from(errno)),
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    link_then_unlink(from, to)
}

/// A hard link fails if `to` exists, atomically; then the old name goes. Where hard links are
/// not supported, `to` is reserved with an exclusive create and renamed over.
fn link_then_unlink(from: &Path, to: &Path) -> io::Result<()> {
    match fs::hard_link(from, to) {
        Ok(()) => fs::remove_file(from),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Err(err),
        Err(_) => {
            OpenOptions::new().write(true).create_new(true).open(to)?;
            fs::rename(from, to)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::test_dir::TestDir;

    fn refused(raw: &[u8]) -> String {
        match safe_name(raw) {
            Ok(name) => panic!(
                "{:?} was accepted as {name}",
                raw.escape_ascii().to_string()
            ),
            Err(err) => err.to_string(),
        }
    }

    fn ok(raw: &[u8]) -> String {
        safe_name(raw).expect("accepted").to_string()
    }

    #[test]
    fn plain_names_pass_unchanged() {
        for name in [
            "report.pdf",
            "日本語.txt",
            ".bashrc",
            "a b",
            "...a",
            "x..y",
            "a.b.c",
        ] {
            assert_eq!(ok(name.as_bytes()), name);
        }
        if cfg!(unix) {
            assert_eq!(
                ok(b"at 10:30"),
                "at 10:30",
                "a colon is a name character on Unix"
            );
        }
    }

    #[test]
    fn climbing_and_absolute_names_are_refused() {
        assert!(refused(b"..").contains("goes up"));
        assert!(refused(b"../x").contains("goes up"));
        assert!(refused(b"a\\..\\..\\x").contains("goes up"));
        assert!(refused(b"/etc/passwd").contains("absolute path"));
        assert!(refused(b"\\\\server\\share").contains("absolute path"));
        assert!(refused(b"C:\\x").contains("drive letter"));
        assert!(refused(b"c:x").contains("drive letter"));
        assert!(refused(b"a/b").contains("separator"));
        assert!(refused(b"a\\b").contains("separator"));
        assert!(refused(b"").contains("empty"));
        assert!(refused(b"   ").contains("empty"));
        assert!(refused(b".").contains("only dots"));
        assert!(refused(b"...").contains("only dots"));
    }

    #[test]
    fn device_names_are_refused_in_any_case_and_with_an_extension() {
        for name in [
            "CON",
            "con",
            "Con.txt",
            "con.tar.gz",
            "NUL",
            "nul.",
            "AUX",
            "prn.doc",
            "COM1",
            "com9.log",
            "LPT1",
            "lpt9",
            "COM¹",
            "CON .txt",
            "conin$",
        ] {
            assert!(
                refused(name.as_bytes()).contains("device name"),
                "{name} accepted"
            );
        }
        for name in ["CONSOLE", "com10", "lpt", "nul_", "acon.txt", "COM0"] {
            assert_eq!(ok(name.as_bytes()), name);
        }
    }

    #[test]
    fn control_characters_and_escape_sequences_are_refused_and_shown_escaped() {
        let err = refused(b"a\nb.txt");
        assert!(err.contains("U+000A"), "{err}");
        assert!(err.contains("\\n"), "shown escaped: {err}");
        let err = refused(b"\x1b[2J\x1b]0;owned\x07.txt");
        assert!(err.contains("U+001B"), "{err}");
        assert!(!err.contains('\x1b'), "no raw escape in the message");
        assert!(refused("a\u{9b}b".as_bytes()).contains("U+009B"), "C1 CSI");
        assert!(refused(b"tab\there").contains("U+0009"));
        assert!(refused(b"del\x7f").contains("U+007F"));
        assert!(
            refused("invoice\u{202E}fdp.exe".as_bytes()).contains("U+202E"),
            "a bidi override"
        );
    }

    #[test]
    fn invalid_utf8_is_made_visible() {
        assert_eq!(ok(b"caf\xe9.txt"), "caf\u{FFFD}.txt");
        assert_eq!(ok(b"\xff\xfe"), "\u{FFFD}\u{FFFD}");
        #[cfg(unix)]
        {
            use std::ffi::OsStr;
            use std::os::unix::ffi::OsStrExt;
            let name = safe_os_name(OsStr::from_bytes(b"r\xc3\x28sum\xe9.pdf")).expect("ok");
            assert_eq!(name.as_str(), "r\u{FFFD}(sum\u{FFFD}.pdf");
        }
    }

    #[test]
    fn long_names_are_cut_on_a_char_boundary_keeping_the_extension() {
        let long = format!("{}.txt", "a".repeat(1000));
        let name = ok(long.as_bytes());
        assert_eq!(name.len(), MAX_NAME_BYTES);
        assert!(name.ends_with("aaa.txt"));
        // Three-byte characters: the cut may not split one.
        let long = format!("{}.pdf", "語".repeat(200));
        let name = ok(long.as_bytes());
        assert!(name.len() <= MAX_NAME_BYTES && name.len() > MAX_NAME_BYTES - 3);
        assert!(name.ends_with("語.pdf"));
        // A "extension" longer than an extension is not kept whole.
        let long = format!("a.{}", "b".repeat(300));
        assert_eq!(ok(long.as_bytes()).len(), MAX_NAME_BYTES);
        // Numbering keeps within the limit too.
        let name = safe_name(format!("{}.txt", "x".repeat(300)).as_bytes()).expect("ok");
        let numbered = name.numbered(12);
        assert_eq!(numbered.as_str().len(), MAX_NAME_BYTES);
        assert!(numbered.as_str().ends_with("x (12).txt"));
    }

    #[test]
    fn numbering_goes_before_the_extension() {
        let name = safe_name(b"report.pdf").expect("ok");
        assert_eq!(name.numbered(0).as_str(), "report.pdf");
        assert_eq!(
            name.numbered(1).as_str(),
            "report.pdf".replace(".pdf", " (1).pdf")
        );
        let name = safe_name(b".bashrc").expect("ok");
        assert_eq!(name.numbered(2).as_str(), ".bashrc (2)");
        let name = safe_name(b"archive.tar.gz").expect("ok");
        assert_eq!(name.numbered(3).as_str(), "archive.tar (3).gz");
    }

    #[test]
    fn paths_are_checked_component_by_component() {
        let path = safe_path(b"photos/2024/beach.jpg").expect("ok");
        assert_eq!(path.to_string(), "photos/2024/beach.jpg");
        assert_eq!(path.name().as_str(), "beach.jpg");
        assert_eq!(path.parents().len(), 2);
        let path = safe_path(b"docs\\a.txt").expect("backslash separates too");
        assert_eq!(path.components().len(), 2);
        let err = |raw: &[u8]| safe_path(raw).expect_err("refused").to_string();
        assert!(err(b"a/../../b").contains("goes up"));
        assert!(err(b"../x").contains("goes up"));
        assert!(err(b"a/..").contains("goes up"));
        assert!(err(b"/etc/passwd").contains("absolute"));
        assert!(err(b"C:\\x").contains("drive letter"));
        assert!(err(b"C:/x").contains("drive letter"));
        assert!(err(b"a/CON/b").contains("device name"));
        assert!(err(b"a//b").contains("empty"));
        assert!(err(b"a/./b").contains("only dots"));
        assert!(err(b"a/\x1bx").contains("control"));
        assert!(err(b"a/").contains("empty"));
        assert!(err("a/".repeat(100).trim_end_matches('/').as_bytes()).contains("levels"));
        assert!(err("x".repeat(5000).as_bytes()).contains("longer"));
    }

    #[test]
    fn the_final_path_stays_inside() {
        let root = Path::new("/srv/downloads");
        let path = safe_path(b"a/b/c.txt").expect("ok");
        let full = path.under(root);
        assert!(is_inside(root, &full));
        assert!(!is_inside(root, &root.join("../etc")));
        assert!(!is_inside(root, Path::new("/etc/passwd")));
    }

    #[test]
    fn existing_files_are_never_overwritten() {
        let dir = TestDir::new("names-existing");
        let name = safe_name(b"report.pdf").expect("ok");
        fs::write(dir.path().join("report.pdf"), b"mine").expect("write");
        let (_, first) = create_new_file(dir.path(), &name).expect("created");
        assert_eq!(first, dir.path().join("report (1).pdf"));
        let (_, second) = create_new_file(dir.path(), &name).expect("created");
        assert_eq!(second, dir.path().join("report (2).pdf"));
        assert_eq!(
            fs::read(dir.path().join("report.pdf")).expect("read"),
            b"mine"
        );
        assert_eq!(
            free_path(dir.path(), &name).expect("free"),
            dir.path().join("report (3).pdf")
        );
        // A rename into place numbers too, and leaves the other file alone.
        let from = dir.path().join("incoming");
        fs::write(&from, b"theirs").expect("write");
        let to = rename_no_replace(&from, dir.path(), &name).expect("moved");
        assert_eq!(to, dir.path().join("report (3).pdf"));
        assert_eq!(fs::read(&to).expect("read"), b"theirs");
        assert!(!from.exists());
        assert_eq!(
            fs::read(dir.path().join("report.pdf")).expect("read"),
            b"mine"
        );
        // And a directory.
        let photos = safe_name(b"photos").expect("ok");
        let a = create_new_dir(dir.path(), &photos).expect("made");
        let b = create_new_dir(dir.path(), &photos).expect("made");
        assert_eq!(
            (a.file_name(), b.file_name()),
            (Some("photos".as_ref()), Some("photos (1)".as_ref()))
        );
    }

    #[test]
    fn parents_are_made_and_a_file_in_the_way_is_refused() {
        let dir = TestDir::new("names-parents");
        let path = safe_path(b"a/b/c.txt").expect("ok");
        let parent = make_parents(dir.path(), &path).expect("made");
        assert_eq!(parent, dir.path().join("a").join("b"));
        assert!(parent.is_dir());
        make_parents(dir.path(), &path).expect("again: already there");
        fs::write(dir.path().join("x"), b"").expect("write");
        let err = make_parents(dir.path(), &safe_path(b"x/y").expect("ok"))
            .expect_err("a file in the way");
        assert!(matches!(err, NameError::NotADirectory(_)), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_give_a_safe_name_or_a_reason(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
            picks in proptest::collection::vec(0usize..12, 0..40),
        ) {
            // Random bytes, and names built from the pieces hostile names are made of.
            const PIECES: [&str; 12] =
                ["..", ".", "/", "\\", "C:", "con", "\u{1b}[", "\n", "a", "語", ".txt", " "];
            let built: String = picks.iter().map(|&i| PIECES[i]).collect();
            let root = Path::new("/srv/in");
            for raw in [bytes.as_slice(), built.as_bytes()] {
                if let Ok(name) = safe_name(raw) {
                    let s = name.as_str();
                    proptest::prop_assert!(s.len() <= MAX_NAME_BYTES);
                    proptest::prop_assert!(!s.contains(['/', '\\']) && s != "..");
                    proptest::prop_assert!(!s.chars().any(is_unshowable));
                    proptest::prop_assert!(is_inside(root, &root.join(s)));
                    proptest::prop_assert!(name.numbered(9999).as_str().len() <= MAX_NAME_BYTES);
                }
                if let Ok(path) = safe_path(raw) {
                    proptest::prop_assert!(is_inside(root, &path.under(root)));
                    proptest::prop_assert!(path.components().len() <= MAX_DEPTH);
                }
            }
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_parent_is_refused() {
        let dir = TestDir::new("names-symlink");
        let outside = TestDir::new("names-symlink-target");
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).expect("symlink");
        let err = make_parents(dir.path(), &safe_path(b"link/file.txt").expect("ok"))
            .expect_err("refused");
        assert!(matches!(err, NameError::Symlink(_)), "{err}");
        assert!(err.to_string().contains("symbolic link"));
        let err = create_new_file(&dir.path().join("link"), &safe_name(b"f").expect("ok"))
            .expect_err("refused");
        assert!(matches!(err, NameError::Symlink(_)), "{err}");
        assert_eq!(
            fs::read_dir(outside.path()).expect("list").count(),
            0,
            "nothing written"
        );
        // A dangling link counts as taken: it is not written through.
        std::os::unix::fs::symlink("/nonexistent/x", dir.path().join("d.txt")).expect("symlink");
        let (_, path) = create_new_file(dir.path(), &safe_name(b"d.txt").expect("ok")).expect("ok");
        assert_eq!(path, dir.path().join("d (1).txt"));
    }
}
