//! What can be wrong with a contacts file, in words a person can act on.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::*;

/// Anything wrong with finding, reading or understanding a contacts file.
///
/// Every message names the file and, where there is one, the line, and says what to write.
#[derive(Debug, Error)]
pub enum ContactsError {
    /// The file exists (or was named) but could not be read.
    #[error("{}: cannot read the contacts file: {error}", path.display())]
    Read { path: PathBuf, error: io::Error },
    /// The file was read but something in it is wrong.
    #[error("{}:{line}: {problem}", path.display())]
    Invalid {
        path: PathBuf,
        /// 1-based line of the offending key or value.
        line: usize,
        /// Boxed so that the `Ok` path of every result stays small.
        problem: Box<Problem>,
    },
    /// `--contacts` named a file that is not there.
    #[error(
        "{}: no such contacts file (named with --contacts); check the path, or create the file, for example:\n\n{EXAMPLE_FILE}",
        path.display()
    )]
    Missing { path: PathBuf },
    /// No file was named and none of the usual places has one.
    #[error(
        "no contacts file found; looked for:\n{}\ncreate one of them (or name another with --contacts), for example:\n\n{EXAMPLE_FILE}",
        list_paths(tried)
    )]
    NotFound { tried: Vec<PathBuf> },
}

impl ContactsError {
    /// The file the error is about, if it is about one file.
    pub fn path(&self) -> Option<&Path> {
        match self {
            ContactsError::Read { path, .. }
            | ContactsError::Invalid { path, .. }
            | ContactsError::Missing { path } => Some(path),
            ContactsError::NotFound { .. } => None,
        }
    }

    /// The 1-based line the error points at, if it points at one.
    pub fn line(&self) -> Option<usize> {
        match self {
            ContactsError::Invalid { line, .. } => Some(*line),
            _ => None,
        }
    }

    /// What is wrong inside the file, if the file was read.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ContactsError::Invalid { problem, .. } => Some(problem),
            _ => None,
        }
    }
}

/// One indented path per line, for [`ContactsError::NotFound`].
pub(super) fn list_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| format!("  {}\n", p.display()))
        .collect()
}

/// What is wrong at one place in the file. Shown after `path:line: `.
///
/// `what` fields name the place in words (`contact "bob"`, `[me] listen`); `example` fields
/// are a line the user can write instead.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Problem {
    /// The text is not TOML at all; `detail` is toml's own report with line and column.
    #[error("this is not valid TOML\n{detail}\nhint: {hint}")]
    Syntax { detail: String, hint: String },
    /// `"127.0.0.1"` instead of `"127.0.0.1:9002"`.
    #[error("{what}: address {addr:?} has no port; write it as {example}")]
    MissingPort {
        what: String,
        addr: String,
        example: String,
    },
    /// A port that is not a number, or not in 1..=65535.
    #[error(
        "{what}: address {addr:?} has port {port:?}, but a port is a number from 1 to 65535; write it as {example}"
    )]
    BadPort {
        what: String,
        addr: String,
        port: String,
        example: String,
    },
    /// Port 0 means "any port" when listening, so nobody can be reached there.
    #[error(
        "{what}: address {addr:?} has port 0, which cannot be sent to; use the port that qqchat listens on, e.g. {example}"
    )]
    PortZero {
        what: String,
        addr: String,
        example: String,
    },
    /// Not recognisable as `host:port` at all.
    #[error(
        "{what}: {addr:?} is not an address of the form host:port ({reason}); write it as {example}"
    )]
    BadAddress {
        what: String,
        addr: String,
        reason: String,
        example: String,
    },
    /// A host name that the system resolver does not know.
    #[error(
        "{what}: cannot resolve host {host:?} ({reason}); check the spelling, or write the IP address instead, e.g. {example}"
    )]
    Unresolved {
        what: String,
        host: String,
        reason: String,
        example: String,
    },
    /// A key that qqchat does not know; `hint` suggests what was meant.
    #[error("unknown key {key:?} {place}; the keys allowed there are {}; {hint}", allowed.join(", "))]
    UnknownKey {
        key: String,
        place: String,
        allowed: Vec<String>,
        hint: String,
    },
    /// A contact given as a table without `addr`.
    #[error("contact {name:?} has no addr; write it as {example}")]
    MissingAddr { name: String, example: String },
    /// `"" = "127.0.0.1:9002"`: a contact must be called something.
    #[error("a contact has an empty name; give it one, e.g. {example}")]
    EmptyName { example: String },
    /// `[me] name = ""`: others would see nothing.
    #[error("[me] name is empty, but others see it; write e.g. name = {example:?}")]
    EmptyMeName { example: String },
    /// A name with a tab, newline or other control character, which would garble the screen.
    #[error(
        "{what} {name:?} contains a control character (tab, newline, ...); write a plain name, e.g. {example}"
    )]
    ControlInName {
        what: String,
        name: String,
        example: String,
    },
    /// Two contacts resolve to one address, so incoming messages could not be told apart.
    #[error(
        "contacts {first:?} (line {first_line}) and {second:?} (line {second_line}) both have the address {addr}; each contact needs its own address, e.g. {example}"
    )]
    DuplicateAddress {
        first: String,
        first_line: usize,
        second: String,
        second_line: usize,
        addr: SocketAddr,
        example: String,
    },
    /// `bob = 9002`, `bell = "yes"`, `me = "alice"`, ...
    #[error("{what}: expected {expected}, found {found}; write it as {example}")]
    WrongType {
        what: String,
        expected: String,
        found: String,
        example: String,
    },
    /// `addr` and `addrs` in one contact: which one counts would be a guess.
    #[error(
        "contact {name:?} has both addr and addrs; keep one: addrs = [...] with every address, or addr = \"...\" with one"
    )]
    AddrAndAddrs { name: String },
    /// Several addresses and no key: whoever answers at any of them would be taken for the
    /// contact, with nothing to prove it.
    #[error(
        "contact {name:?} has several addresses but no key, and without a key nothing proves who answers at each of them; add the key from their `qqchat id` (key = \"...\"), or keep one address: {example}"
    )]
    AddrsWithoutKey { name: String, example: String },
    /// One address twice in one contact's `addrs`.
    #[error("contact {name:?} lists the address {addr} twice in addrs; remove one of them")]
    RepeatedAddress { name: String, addr: SocketAddr },
    /// A key on a plain peer, which cannot speak Noise.
    #[error(
        "contact {name:?}: a plain UDP peer cannot have a key (it sends bare text); remove either the key or plain = true"
    )]
    KeyOnPlain { name: String },
    /// A key on an IP Messenger peer: that protocol has no encryption, and a keyed contact is
    /// never sent anything unencrypted.
    #[error(
        "contact {name:?}: an IP Messenger peer cannot have a key (that protocol is unencrypted); remove either the key or ipmsg = true"
    )]
    KeyOnIpmsg { name: String },
    #[error(
        "contact {name:?} is both plain and ipmsg; keep plain = true for a bare-text UDP peer, or ipmsg = true for an IP Messenger, Feiq or iptux user"
    )]
    PlainAndIpmsg { name: String },
    /// qqchat always speaks UTF-8 with qqchat.
    #[error(
        "contact {name:?}: encoding applies only to plain = true or ipmsg = true contacts (qqchat itself always uses UTF-8); remove the encoding line"
    )]
    EncodingOnQqchat { name: String },
}
