//! `contacts.toml`: parsed from text, validated, with errors a person can act on.
//!
//! The file is read with toml's span-keeping parser rather than plain serde, so that every
//! complaint can point at the line where the mistake is and show the line to write instead.
//!
//! ```toml
//! [me]
//! name = "alice"
//! listen = "0.0.0.0:9001"
//! bell = true
//!
//! [contacts]
//! bob = "127.0.0.1:9002"
//! script = { addr = "127.0.0.1:9100", plain = true }
//! ```

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, ToSocketAddrs};
use std::ops::Range;
use std::path::{Path, PathBuf};

use thiserror::Error;
use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

/// The port qqchat listens on unless `[me] listen` says otherwise; also used in examples.
pub const DEFAULT_PORT: u16 = 9001;

/// Where qqchat listens when `[me] listen` is absent: every interface, [`DEFAULT_PORT`].
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, DEFAULT_PORT));

/// A short file to start from, shown when no contacts file can be found.
pub const EXAMPLE_FILE: &str = r#"[me]
name = "alice"
listen = "0.0.0.0:9001"

[contacts]
bob = "127.0.0.1:9002"
"#;

/// Keys allowed at the top of the file.
const TOP_KEYS: &[&str] = &["me", "contacts"];
/// Keys allowed in `[me]`.
const ME_KEYS: &[&str] = &["name", "listen", "bell", "require_keys"];
/// Keys allowed in a contact written as a table.
const CONTACT_KEYS: &[&str] = &["addr", "key", "plain"];

/// This user, from the `[me]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct Me {
    /// Shown to others and in the status line.
    pub name: String,
    /// Where this qqchat receives.
    pub listen: SocketAddr,
    /// Ring the terminal bell when a message arrives in a conversation that is not open.
    pub bell: bool,
    /// Refuse contacts without a key: only Noise-authenticated peers get through.
    pub require_keys: bool,
}

impl Default for Me {
    /// What an absent `[me]` means: the login name (or "me"), [`DEFAULT_LISTEN`], bell on.
    fn default() -> Self {
        Me {
            name: default_name(),
            listen: DEFAULT_LISTEN,
            bell: true,
            require_keys: false,
        }
    }
}

/// The login name from `USER` (Unix) or `USERNAME` (Windows), so that a file without `[me]`
/// still shows others something recognisable; "me" when neither is set.
fn default_name() -> String {
    ["USER", "USERNAME"]
        .iter()
        .filter_map(|var| std::env::var(var).ok())
        .map(|name| name.trim().to_owned())
        .find(|name| !name.is_empty() && !name.chars().any(char::is_control))
        .unwrap_or_else(|| "me".to_owned())
}

/// One entry of `[contacts]`, its address already resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub name: String,
    pub addr: SocketAddr,
    /// A plain UDP peer: sent bare UTF-8, no receipts.
    pub plain: bool,
    /// The contact's public key: with it, everything goes over Noise; without it the
    /// contact is "unverified".
    pub key: Option<[u8; 32]>,
}

/// The whole file: who I am and whom I talk to, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactBook {
    pub me: Me,
    pub contacts: Vec<Contact>,
}

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
fn list_paths(paths: &[PathBuf]) -> String {
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
    /// A key on a plain peer, which cannot speak Noise.
    #[error(
        "contact {name:?}: a plain UDP peer cannot have a key (it sends bare text); remove either the key or plain = true"
    )]
    KeyOnPlain { name: String },
}

impl ContactBook {
    /// Parse and validate; `origin` is only used in messages.
    ///
    /// Host names are resolved here, once, so that sending never waits on the resolver.
    pub fn parse(text: &str, origin: &Path) -> Result<ContactBook, ContactsError> {
        let doc = Doc { text, path: origin };
        let root = DeTable::parse(text).map_err(|e| doc.syntax(&e))?;

        let mut me = None;
        let mut contacts = Vec::new();
        for (key, value) in in_file_order(root.get_ref()) {
            match key.get_ref().as_ref() {
                "me" => {
                    let table = doc.table(value, "`me`", "a [me] line, then name = \"alice\"")?;
                    me = Some(doc.me(table)?);
                }
                "contacts" => {
                    let table = doc.table(
                        value,
                        "`contacts`",
                        "a [contacts] line, then bob = \"127.0.0.1:9002\"",
                    )?;
                    contacts = doc.contacts(table)?;
                }
                other => return Err(doc.unknown_top(key, other, value)),
            }
        }
        Ok(ContactBook {
            me: me.unwrap_or_default(),
            contacts,
        })
    }

    /// Read a file and parse it.
    pub fn load(path: &Path) -> Result<ContactBook, ContactsError> {
        let text = std::fs::read_to_string(path).map_err(|error| ContactsError::Read {
            path: path.to_owned(),
            error,
        })?;
        ContactBook::parse(&text, path)
    }

    /// The contact called exactly `name`.
    pub fn by_name(&self, name: &str) -> Option<&Contact> {
        self.contacts.iter().find(|c| c.name == name)
    }

    /// The contact at `addr`. A dual-stack socket reports IPv4 peers as `::ffff:a.b.c.d`, so
    /// addresses are compared in canonical form.
    pub fn by_addr(&self, addr: SocketAddr) -> Option<&Contact> {
        let wanted = canonical(addr);
        self.contacts.iter().find(|c| canonical(c.addr) == wanted)
    }

    /// A book with no file: used by `qqchat demo` and by `send`/`listen` when no file exists.
    pub fn empty(me: Me) -> ContactBook {
        ContactBook {
            me,
            contacts: Vec::new(),
        }
    }
}

/// `addr` with an IPv4-mapped IPv6 address turned back into IPv4.
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// Where to look: `explicit` (from --contacts) if given (an error if it does not exist),
/// else `./contacts.toml`, else `<config dir>/contacts.toml`. When none exists, the error names
/// every path tried and shows a short example file to write.
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, ContactsError> {
    locate_among(search_paths(explicit), explicit.is_some())
}

/// The first of `candidates` that is a file; `explicit` says the user named the only one.
fn locate_among(candidates: Vec<PathBuf>, explicit: bool) -> Result<PathBuf, ContactsError> {
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    match candidates.first() {
        Some(path) if explicit => Err(ContactsError::Missing { path: path.clone() }),
        _ => Err(ContactsError::NotFound { tried: candidates }),
    }
}

/// The candidate paths, in order (for messages and the README): only `explicit` when given,
/// else `./contacts.toml` and then `contacts.toml` in the qqchat config directory
/// (`~/.config/qqchat/` on Linux).
pub fn search_paths(explicit: Option<&Path>) -> Vec<PathBuf> {
    if let Some(path) = explicit {
        return vec![path.to_owned()];
    }
    let mut paths = vec![PathBuf::from("./contacts.toml")];
    if let Some(dirs) = directories::ProjectDirs::from("", "", "qqchat") {
        paths.push(dirs.config_dir().join("contacts.toml"));
    }
    paths
}

/// The entries of a table in the order they appear in the file (toml keeps them sorted by
/// name), so contacts keep the user's order and the first mistake is reported first.
fn in_file_order<'a, 'i>(
    table: &'a DeTable<'i>,
) -> Vec<(&'a Spanned<DeString<'i>>, &'a Spanned<DeValue<'i>>)> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(key, _)| key.span().start);
    entries
}

/// A contact being validated, kept with its line for duplicate-address messages.
struct Placed {
    contact: Contact,
    line: usize,
}

/// How an address was written, so that an example fix can be shown in the same form.
enum AddrSite<'a> {
    /// `bob = "host:port"`
    Contact(&'a str),
    /// `bob = { addr = "host:port" }`
    ContactTable(&'a str),
    /// `[me] listen = "host:port"`
    Listen,
}

impl AddrSite<'_> {
    /// The place in words, for the start of a message.
    fn what(&self) -> String {
        match self {
            AddrSite::Contact(name) | AddrSite::ContactTable(name) => format!("contact {name:?}"),
            AddrSite::Listen => "[me] listen".to_owned(),
        }
    }

    /// The line to write, with `addr` in place.
    fn example(&self, addr: &str) -> String {
        match self {
            AddrSite::Contact(name) => format!("{} = {addr:?}", toml_key(name)),
            AddrSite::ContactTable(_) => format!("addr = {addr:?}"),
            AddrSite::Listen => format!("listen = {addr:?}"),
        }
    }

    /// Listening on port 0 lets the system choose a port; sending to it is impossible.
    fn allows_port_zero(&self) -> bool {
        matches!(self, AddrSite::Listen)
    }
}

/// `name` as it would be written as a key: bare when it can be, quoted otherwise.
fn toml_key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare {
        name.to_owned()
    } else {
        format!("{name:?}")
    }
}

/// The text being parsed and its name, for building located errors.
struct Doc<'t> {
    text: &'t str,
    path: &'t Path,
}

impl Doc<'_> {
    /// The 1-based line holding byte `offset`.
    fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn err(&self, span: Range<usize>, problem: Problem) -> ContactsError {
        ContactsError::Invalid {
            path: self.path.to_owned(),
            line: self.line(span.start),
            problem: Box::new(problem),
        }
    }

    fn syntax(&self, error: &toml::de::Error) -> ContactsError {
        let start = error.span().map_or(0, |s| s.start);
        let hint = if error.message().contains("duplicate key") {
            "each name may appear only once in a table (and each [table] only once); \
             remove or rename one of them"
        } else {
            "each line is a [table] header, a key = value pair, or a # comment; \
             text goes in double quotes, e.g. bob = \"127.0.0.1:9002\""
        };
        self.err(
            start..start,
            Problem::Syntax {
                detail: error.to_string().trim_end().to_owned(),
                hint: hint.to_owned(),
            },
        )
    }

    /// How a value reads in a message: its own text when short, and its kind.
    fn describe(&self, value: &Spanned<DeValue<'_>>) -> String {
        let kind = match value.get_ref() {
            DeValue::String(_) => "a string",
            DeValue::Integer(_) => "an integer",
            DeValue::Float(_) => "a number",
            DeValue::Boolean(_) => "a boolean",
            DeValue::Datetime(_) => "a date",
            DeValue::Array(_) => "a list",
            DeValue::Table(_) => "a table",
        };
        match self.text.get(value.span()) {
            Some(raw) if raw.len() <= 40 && !raw.contains('\n') && !raw.is_empty() => {
                format!("{raw} ({kind})")
            }
            _ => kind.to_owned(),
        }
    }

    fn wrong_type(
        &self,
        value: &Spanned<DeValue<'_>>,
        what: &str,
        expected: &str,
        example: String,
    ) -> ContactsError {
        self.err(
            value.span(),
            Problem::WrongType {
                what: what.to_owned(),
                expected: expected.to_owned(),
                found: self.describe(value),
                example,
            },
        )
    }

    /// `value` as a table, or an error saying the top-level `what` must be one.
    fn table<'v, 'i>(
        &self,
        value: &'v Spanned<DeValue<'i>>,
        what: &str,
        example: &str,
    ) -> Result<&'v DeTable<'i>, ContactsError> {
        match value.get_ref() {
            DeValue::Table(table) => Ok(table),
            _ => Err(self.wrong_type(value, what, "a table", example.to_owned())),
        }
    }

    fn unknown(
        &self,
        key: &Spanned<DeString<'_>>,
        place: &str,
        allowed: &[&str],
        hint: String,
    ) -> ContactsError {
        self.err(
            key.span(),
            Problem::UnknownKey {
                key: key.get_ref().to_string(),
                place: place.to_owned(),
                allowed: allowed.iter().map(|k| (*k).to_owned()).collect(),
                hint,
            },
        )
    }

    fn unknown_top(
        &self,
        key: &Spanned<DeString<'_>>,
        name: &str,
        value: &Spanned<DeValue<'_>>,
    ) -> ContactsError {
        let hint = if let Some(near) = near_miss(name, TOP_KEYS) {
            format!("did you mean [{near}]?")
        } else if value.get_ref().is_str() {
            format!(
                "if {name:?} is a contact, move this line below the [contacts] line, e.g. [contacts] then {} = \"127.0.0.1:9002\"",
                toml_key(name)
            )
        } else {
            "the file has only a [me] table and a [contacts] table, e.g. [contacts] then bob = \"127.0.0.1:9002\"".to_owned()
        };
        self.unknown(key, "at the top level", TOP_KEYS, hint)
    }

    fn me(&self, table: &DeTable<'_>) -> Result<Me, ContactsError> {
        let mut me = Me::default();
        for (key, value) in in_file_order(table) {
            match key.get_ref().as_ref() {
                "name" => {
                    let DeValue::String(name) = value.get_ref() else {
                        return Err(self.wrong_type(
                            value,
                            "[me] name",
                            "a name in double quotes",
                            "name = \"alice\"".to_owned(),
                        ));
                    };
                    if name.trim().is_empty() {
                        return Err(self.err(
                            value.span(),
                            Problem::EmptyMeName {
                                example: "alice".to_owned(),
                            },
                        ));
                    }
                    if name.chars().any(char::is_control) {
                        return Err(self.err(
                            value.span(),
                            Problem::ControlInName {
                                what: "[me] name".to_owned(),
                                name: name.to_string(),
                                example: "name = \"alice\"".to_owned(),
                            },
                        ));
                    }
                    me.name = name.to_string();
                }
                "listen" => {
                    let DeValue::String(addr) = value.get_ref() else {
                        return Err(self.wrong_type(
                            value,
                            "[me] listen",
                            "an address in double quotes",
                            format!("listen = \"0.0.0.0:{DEFAULT_PORT}\""),
                        ));
                    };
                    me.listen = self.address(addr, value.span(), &AddrSite::Listen)?;
                }
                "bell" => {
                    let DeValue::Boolean(bell) = value.get_ref() else {
                        return Err(self.wrong_type(
                            value,
                            "[me] bell",
                            "true or false (no quotes)",
                            "bell = true".to_owned(),
                        ));
                    };
                    me.bell = *bell;
                }
                "require_keys" => {
                    let DeValue::Boolean(b) = value.get_ref() else {
                        return Err(self.wrong_type(
                            value,
                            "[me] require_keys",
                            "true or false (no quotes)",
                            "require_keys = true".to_owned(),
                        ));
                    };
                    me.require_keys = *b;
                }
                other => {
                    let hint = if let Some(near) = near_miss(other, ME_KEYS) {
                        format!("did you mean {near:?}?")
                    } else if value.get_ref().is_str() {
                        format!(
                            "if {other:?} is a contact, move this line below the [contacts] line; [me] holds e.g. name = \"alice\""
                        )
                    } else {
                        "e.g. name = \"alice\"".to_owned()
                    };
                    return Err(self.unknown(key, "in [me]", ME_KEYS, hint));
                }
            }
        }
        Ok(me)
    }

    fn contacts(&self, table: &DeTable<'_>) -> Result<Vec<Contact>, ContactsError> {
        let mut placed: Vec<Placed> = Vec::new();
        for (key, value) in in_file_order(table) {
            let contact = self.contact(key, value)?;
            let line = self.line(key.span().start);
            let addr = canonical(contact.addr);
            if let Some(first) = placed.iter().find(|p| canonical(p.contact.addr) == addr) {
                return Err(self.err(
                    key.span(),
                    Problem::DuplicateAddress {
                        first: first.contact.name.clone(),
                        first_line: first.line,
                        second: contact.name.clone(),
                        second_line: line,
                        addr: contact.addr,
                        example: format!(
                            "{} = \"{}\"",
                            toml_key(&contact.name),
                            next_port(contact.addr)
                        ),
                    },
                ));
            }
            placed.push(Placed { contact, line });
        }
        Ok(placed.into_iter().map(|p| p.contact).collect())
    }

    fn contact(
        &self,
        key: &Spanned<DeString<'_>>,
        value: &Spanned<DeValue<'_>>,
    ) -> Result<Contact, ContactsError> {
        let name: &str = key.get_ref();
        if name.trim().is_empty() {
            return Err(self.err(
                key.span(),
                Problem::EmptyName {
                    example: "bob = \"127.0.0.1:9002\"".to_owned(),
                },
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(self.err(
                key.span(),
                Problem::ControlInName {
                    what: "contact name".to_owned(),
                    name: name.to_owned(),
                    example: "bob = \"127.0.0.1:9002\"".to_owned(),
                },
            ));
        }
        let written = toml_key(name);
        match value.get_ref() {
            DeValue::String(addr) => Ok(Contact {
                name: name.to_owned(),
                addr: self.address(addr, value.span(), &AddrSite::Contact(name))?,
                plain: false,
                key: None,
            }),
            DeValue::Table(table) => self.contact_table(key, name, table),
            other => {
                // A lone number is most likely the port: show it in place.
                let port = match other {
                    DeValue::Integer(n) => n
                        .as_str()
                        .parse::<u16>()
                        .ok()
                        .filter(|&p| p != 0)
                        .unwrap_or(DEFAULT_PORT),
                    _ => DEFAULT_PORT,
                };
                Err(self.wrong_type(
                    value,
                    &format!("contact {name:?}"),
                    "an address in double quotes, or a table { addr = ..., plain = ... }",
                    format!("{written} = \"127.0.0.1:{port}\""),
                ))
            }
        }
    }

    fn contact_table(
        &self,
        key: &Spanned<DeString<'_>>,
        name: &str,
        table: &DeTable<'_>,
    ) -> Result<Contact, ContactsError> {
        let written = toml_key(name);
        let what = format!("contact {name:?}");
        let mut addr = None;
        let mut plain = false;
        let mut public_key = None;
        for (k, v) in in_file_order(table) {
            match k.get_ref().as_ref() {
                "addr" => {
                    let DeValue::String(text) = v.get_ref() else {
                        return Err(self.wrong_type(
                            v,
                            &format!("{what}: addr"),
                            "an address in double quotes",
                            "addr = \"127.0.0.1:9002\"".to_owned(),
                        ));
                    };
                    addr = Some(self.address(text, v.span(), &AddrSite::ContactTable(name))?);
                }
                "plain" => {
                    let DeValue::Boolean(b) = v.get_ref() else {
                        return Err(self.wrong_type(
                            v,
                            &format!("{what}: plain"),
                            "true or false (no quotes)",
                            "plain = true".to_owned(),
                        ));
                    };
                    plain = *b;
                }
                "key" => {
                    let parsed = match v.get_ref() {
                        DeValue::String(text) => crate::identity::decode_key(text),
                        _ => None,
                    };
                    let Some(parsed) = parsed else {
                        return Err(self.wrong_type(
                            v,
                            &format!("{what}: key"),
                            "a public key: 44 characters of base64 in double quotes, as `qqchat id` prints it",
                            "key = \"x25519 public key from qqchat id\"".to_owned(),
                        ));
                    };
                    public_key = Some((parsed, v.span()));
                }
                other => {
                    let hint = match near_miss(other, CONTACT_KEYS) {
                        Some(near) => format!("did you mean {near:?}?"),
                        None => format!(
                            "e.g. {written} = {{ addr = \"127.0.0.1:9100\", plain = true }}"
                        ),
                    };
                    return Err(self.unknown(k, &format!("in {what}"), CONTACT_KEYS, hint));
                }
            }
        }
        let Some(addr) = addr else {
            return Err(self.err(
                key.span(),
                Problem::MissingAddr {
                    name: name.to_owned(),
                    example: format!(
                        "{written} = {{ addr = \"127.0.0.1:9100\", plain = {plain} }}"
                    ),
                },
            ));
        };
        if plain && let Some((_, span)) = public_key {
            return Err(self.err(
                span,
                Problem::KeyOnPlain {
                    name: name.to_owned(),
                },
            ));
        }
        Ok(Contact {
            name: name.to_owned(),
            addr,
            plain,
            key: public_key.map(|(k, _)| k),
        })
    }

    /// Parse `raw` as `host:port`, resolving host names; errors point at `span`.
    fn address(
        &self,
        raw: &str,
        span: Range<usize>,
        site: &AddrSite<'_>,
    ) -> Result<SocketAddr, ContactsError> {
        let problem = match parse_address(raw.trim(), site.allows_port_zero()) {
            Ok(addr) => return Ok(addr),
            Err(fault) => fault.into_problem(raw, site),
        };
        Err(self.err(span, problem))
    }
}

/// The same address one port up: a plausible fix for a duplicate.
fn next_port(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(
        addr.ip(),
        addr.port().checked_add(1).unwrap_or(DEFAULT_PORT),
    )
}

/// Why an address string was refused, before it is placed in the file.
#[derive(Debug)]
enum AddrFault {
    /// `host` is how to write the host part before `:port`.
    MissingPort {
        host: String,
    },
    BadPort {
        host: String,
        port: String,
    },
    PortZero {
        host: String,
    },
    Malformed {
        reason: &'static str,
    },
    Unresolved {
        host: String,
        port: u16,
        reason: String,
    },
}

impl AddrFault {
    fn into_problem(self, raw: &str, site: &AddrSite<'_>) -> Problem {
        let what = site.what();
        let addr = raw.to_owned();
        match self {
            AddrFault::MissingPort { host } => Problem::MissingPort {
                example: site.example(&format!("{host}:{DEFAULT_PORT}")),
                what,
                addr,
            },
            AddrFault::BadPort { host, port } => Problem::BadPort {
                example: site.example(&format!("{host}:{DEFAULT_PORT}")),
                what,
                addr,
                port,
            },
            AddrFault::PortZero { host } => Problem::PortZero {
                example: site.example(&format!("{host}:{DEFAULT_PORT}")),
                what,
                addr,
            },
            AddrFault::Malformed { reason } => Problem::BadAddress {
                example: site.example(&format!("127.0.0.1:{DEFAULT_PORT}")),
                what,
                addr,
                reason: reason.to_owned(),
            },
            AddrFault::Unresolved { host, port, reason } => Problem::Unresolved {
                example: site.example(&format!("192.168.1.20:{port}")),
                what,
                host,
                reason,
            },
        }
    }
}

/// Parse `host:port`: an IPv4 address, an IPv6 address in brackets, or a host name resolved
/// now (the first result wins).
fn parse_address(s: &str, allow_port_zero: bool) -> Result<SocketAddr, AddrFault> {
    if s.is_empty() {
        return Err(AddrFault::Malformed {
            reason: "it is empty",
        });
    }
    if let Ok(addr) = s.parse::<SocketAddr>() {
        if addr.port() == 0 && !allow_port_zero {
            return Err(AddrFault::PortZero {
                host: host_part(addr.ip()),
            });
        }
        return Ok(addr);
    }
    // A bare IP address: only the port is missing.
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Err(AddrFault::MissingPort {
            host: host_part(ip),
        });
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or(AddrFault::Malformed {
            reason: "the [ of an IPv6 address is never closed with ]",
        })?;
        let ip: Ipv6Addr = inside.parse().map_err(|_| AddrFault::Malformed {
            reason: "the part in brackets is not an IPv6 address",
        })?;
        let host = format!("[{ip}]");
        if after.is_empty() {
            return Err(AddrFault::MissingPort { host });
        }
        let port = after.strip_prefix(':').ok_or(AddrFault::Malformed {
            reason: "the ] of an IPv6 address must be followed by :port",
        })?;
        let port = check_port(&host, port, allow_port_zero)?;
        return Ok(SocketAddr::new(IpAddr::V6(ip), port));
    }
    let Some((host, port)) = s.rsplit_once(':') else {
        check_host(s)?;
        return Err(AddrFault::MissingPort { host: s.to_owned() });
    };
    if host.contains(':') {
        return Err(AddrFault::Malformed {
            reason: "an IPv6 address goes in brackets, as in [::1]:9002",
        });
    }
    check_host(host)?;
    let port = check_port(host, port, allow_port_zero)?;
    let unresolved = |reason: String| AddrFault::Unresolved {
        host: host.to_owned(),
        port,
        reason,
    };
    (host, port)
        .to_socket_addrs()
        .map_err(|e| unresolved(e.to_string()))?
        .next()
        .ok_or_else(|| unresolved("it has no addresses".to_owned()))
}

/// The host as it is written before `:port`, brackets included for IPv6.
fn host_part(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// Refuse host names that the resolver would refuse anyway, with a clearer reason.
fn check_host(host: &str) -> Result<(), AddrFault> {
    if host.is_empty() {
        return Err(AddrFault::Malformed {
            reason: "there is no host before the :",
        });
    }
    if !host
        .chars()
        .all(|c| c.is_alphanumeric() || c == '-' || c == '.' || c == '_')
    {
        return Err(AddrFault::Malformed {
            reason: "a host name has only letters, digits, - and .",
        });
    }
    Ok(())
}

fn check_port(host: &str, port: &str, allow_zero: bool) -> Result<u16, AddrFault> {
    let bad = || AddrFault::BadPort {
        host: host.to_owned(),
        port: port.to_owned(),
    };
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match port.parse::<u16>() {
        Ok(0) if !allow_zero => Err(AddrFault::PortZero {
            host: host.to_owned(),
        }),
        Ok(p) => Ok(p),
        Err(_) => Err(bad()),
    }
}

/// The allowed key that `key` is probably a misspelling of.
fn near_miss(key: &str, allowed: &[&'static str]) -> Option<&'static str> {
    let key = key.to_lowercase();
    allowed
        .iter()
        .copied()
        .map(|a| (a, edit_distance(&key, a)))
        .filter(|&(a, d)| d <= 1 || (d <= 2 && a.len() > 3))
        .min_by_key(|&(_, d)| d)
        .map(|(a, _)| a)
}

/// Levenshtein distance, for [`near_miss`].
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diag + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(above + 1);
            diag = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn lines_are_one_based() {
        let doc = Doc {
            text: "a\nb\n\nc",
            path: Path::new("x"),
        };
        assert_eq!(doc.line(0), 1);
        assert_eq!(doc.line(2), 2);
        assert_eq!(doc.line(5), 4);
        assert_eq!(doc.line(999), 4);
    }

    #[test]
    fn near_miss_suggests_close_keys_only() {
        assert_eq!(near_miss("nmae", ME_KEYS), Some("name"));
        assert_eq!(near_miss("Listen", ME_KEYS), Some("listen"));
        assert_eq!(near_miss("adr", CONTACT_KEYS), Some("addr"));
        assert_eq!(near_miss("contact", TOP_KEYS), Some("contacts"));
        assert_eq!(near_miss("colour", ME_KEYS), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn addresses_in_every_form() {
        let ok = |s: &str| parse_address(s, false).unwrap();
        assert_eq!(ok("127.0.0.1:9002"), "127.0.0.1:9002".parse().unwrap());
        assert_eq!(ok("[::1]:9003"), "[::1]:9003".parse().unwrap());
        assert!(ok("localhost:9004").ip().is_loopback());
        assert!(matches!(
            parse_address("[::1]", false),
            Err(AddrFault::MissingPort { host }) if host == "[::1]"
        ));
        assert!(matches!(
            parse_address("::1", false),
            Err(AddrFault::MissingPort { host }) if host == "[::1]"
        ));
        assert!(matches!(
            parse_address("[::1]:x", false),
            Err(AddrFault::BadPort { port, .. }) if port == "x"
        ));
        assert!(matches!(
            parse_address("host:", false),
            Err(AddrFault::BadPort { .. })
        ));
        assert!(matches!(
            parse_address(":9002", false),
            Err(AddrFault::Malformed { .. })
        ));
        assert!(matches!(
            parse_address("a b:9002", false),
            Err(AddrFault::Malformed { .. })
        ));
        assert!(matches!(
            parse_address("[::1:9002", false),
            Err(AddrFault::Malformed { .. })
        ));
        assert_eq!(parse_address("0.0.0.0:0", true).unwrap().port(), 0);
        assert!(matches!(
            parse_address("127.0.0.1:0", false),
            Err(AddrFault::PortZero { .. })
        ));
    }

    #[test]
    fn not_found_names_every_path_and_shows_an_example() {
        let missing = std::env::temp_dir().join("qqchat-no-such-dir/contacts.toml");
        let err = locate_among(vec![missing.clone()], false).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("no contacts file found; looked for:\n"),
            "{text}"
        );
        assert!(
            text.contains(&format!("  {}\n", missing.display())),
            "{text}"
        );
        assert!(text.contains(EXAMPLE_FILE), "{text}");

        let err = locate_among(vec![missing.clone()], true).unwrap_err();
        assert!(matches!(&err, ContactsError::Missing { path } if *path == missing));
        assert!(err.to_string().contains("--contacts"));
    }
}
