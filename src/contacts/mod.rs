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
//! carol = { key = "...", addrs = ["203.0.113.21:40000", "192.168.1.20:9001"] }
//! ```

mod address;
mod dht;
mod edit;
mod error;
mod lan;
mod parse;
mod relay;
mod stun;
mod template;
#[cfg(test)]
mod tests;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};

use toml::de::DeTable;

use crate::proto::{PeerId, PublicKey, canonical};

pub use edit::{
    EditError, KeyedAdd, add_contact, add_ipmsg_contact, add_keyed_contact, learn_addrs,
    remove_contact, rename_contact, replace_key,
};
pub use error::{ContactsError, Problem};
pub use lan::Lan;
pub use parse::parse_size;
use parse::{Doc, in_file_order};
pub use relay::{Relay, Secret, SecretError};
pub use template::create_file;

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
const TOP_KEYS: &[&str] = &["me", "contacts", "lan"];
/// Keys allowed in `[me]`.
const ME_KEYS: &[&str] = &[
    "name",
    "listen",
    "bell",
    "require_keys",
    "keepalive",
    "stun",
    "relay",
    "downloads",
    "max_file_size",
    "notify",
    "notify_preview",
    "notify_command",
    "on_message",
    "strangers",
    "mouse",
    "dht",
    "dht_bootstrap",
];
/// STUN servers asked for this user's public address when `[me] stun` is absent: two
/// operators on different addresses, so the NAT's mapping can be classified. Resolved only
/// when qqchat starts asking, never while the file is read.
pub const DEFAULT_STUN: &[&str] = &["stun.l.google.com:19302", "stun.cloudflare.com:3478"];

/// Keys allowed in a contact written as a table.
const CONTACT_KEYS: &[&str] = &[
    "addr",
    "addrs",
    "key",
    "plain",
    "ipmsg",
    "encoding",
    "accept_files",
    "mute",
];

/// The UDP port every IP Messenger client uses; an `ipmsg` contact may leave it out.
pub const IPMSG_PORT: u16 = 2425;

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
    /// Seconds between keepalives on each keyed contact's path, so NATs keep it open; 0 is
    /// none.
    pub keepalive: u64,
    /// STUN servers (`host:port`, resolved lazily) that tell this user's public address;
    /// empty turns the asking off.
    pub stun: Vec<String>,
    /// The TURN server that relays when no direct path works; none when absent.
    pub relay: Option<Relay>,
    /// Where accepted files go unless the user picks a place (`None`: the system's download
    /// directory).
    pub downloads: Option<std::path::PathBuf>,
    /// Offers of larger files are declined at once, with the reason (`None`: no limit).
    pub max_file_size: Option<u64>,
    /// Whose messages raise a desktop notification.
    pub notify: Notify,
    /// Show the sender and the text in a notification; off: only "new message".
    pub notify_preview: bool,
    /// A program run for each notification, with `QQCHAT_FROM` and `QQCHAT_TEXT` in its
    /// environment (never through a shell): the program and its arguments.
    pub notify_command: Option<Vec<String>>,
    /// A program run for each message received, given it as one JSON line on its standard
    /// input.
    pub on_message: Option<Vec<String>>,
    /// What becomes of messages from addresses that are not contacts.
    pub strangers: Strangers,
    /// The chat takes the mouse: the wheel scrolls, a click picks a contact. Off, the
    /// terminal keeps it, for selecting text without Shift.
    pub mouse: bool,
    /// Publish this user's addresses on the BitTorrent Mainline DHT, and look friends up
    /// there. Off by default: anyone who knows the key could then find the IP address.
    pub dht: bool,
    /// The DHT nodes to join through (`host:port`, resolved when the DHT starts); `None`:
    /// mainline's public bootstrap nodes.
    pub dht_bootstrap: Option<Vec<String>>,
}

/// `[me] strangers`: messages from addresses that are not contacts go to a list of
/// requests, bounded in count and size so that a flood cannot fill the disk or the screen
/// (the default); are taken like a contact's; or are dropped unseen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strangers {
    #[default]
    Requests,
    Accept,
    Drop,
}

/// `[me] notify`: whose messages raise a desktop notification (through the terminal's own
/// escape sequences) when their conversation is not open or the terminal is not in focus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Notify {
    #[default]
    All,
    /// Contacts only: nobody else's message notifies (it still counts as unread).
    Contacts,
    None,
}

impl Default for Me {
    /// What an absent `[me]` means: the login name (or "me"), [`DEFAULT_LISTEN`], bell on.
    fn default() -> Self {
        Me {
            name: login_name(),
            listen: DEFAULT_LISTEN,
            bell: true,
            require_keys: false,
            keepalive: 25,
            stun: DEFAULT_STUN.iter().map(|s| (*s).to_owned()).collect(),
            relay: None,
            downloads: None,
            max_file_size: None,
            notify: Notify::All,
            notify_preview: true,
            mouse: true,
            notify_command: None,
            on_message: None,
            strangers: Strangers::Requests,
            dht: false,
            dht_bootstrap: None,
        }
    }
}

/// The login name from `USER` or `LOGNAME` (Unix), `USERNAME` (Windows), else from the
/// system's user database, so that a file without `[me]` still shows others something
/// recognisable (IP Messenger shows it as the log-in name too); "me" only when none of
/// them says.
pub fn login_name() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .filter_map(|var| std::env::var(var).ok())
        .chain(system_user_name())
        .map(|name| name.trim().to_owned())
        .find(|name| !name.is_empty() && !name.chars().any(char::is_control))
        .unwrap_or_else(|| "me".to_owned())
}

/// The name of the user this process runs as, from the password database, for when no
/// environment variable names it (a service, `env -i`, a container).
#[cfg(unix)]
fn system_user_name() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the process's user: its uid, without a libc binding.
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_owned())
    })
}

#[cfg(not(unix))]
fn system_user_name() -> Option<String> {
    None
}

/// One entry of `[contacts]`, its address already resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub name: String,
    /// Where the contact may be reached, in the file's order; never empty. Several only with
    /// a key, since only a key proves who answers at each of them. The first is the primary,
    /// used where one address is needed (an unkeyed contact's identity, messages).
    pub addrs: Vec<SocketAddr>,
    /// A plain UDP peer: sent bare UTF-8, no receipts.
    pub plain: bool,
    /// The contact's public key: with it, everything goes over Noise; without it the
    /// contact is "unverified".
    pub key: Option<PublicKey>,
    /// An IP Messenger, Feiq or iptux user, spoken to in that protocol (unencrypted).
    pub ipmsg: bool,
    /// How a plain peer's text is encoded, when not UTF-8 (`encoding = "gb18030"`).
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// Files this contact offers are taken without asking, into `[me] downloads`.
    pub accept_files: bool,
    /// Its messages neither ring nor notify (they still count as unread).
    pub mute: bool,
}

impl Contact {
    /// A contact with one address.
    pub fn at(name: impl Into<String>, addr: SocketAddr) -> Contact {
        Contact {
            name: name.into(),
            addrs: vec![addr],
            plain: false,
            key: None,
            ipmsg: false,
            encoding: None,
            accept_files: false,
            mute: false,
        }
    }

    /// The primary address: the first one written. (`0.0.0.0:0`, which nothing is sent to,
    /// only for a contact built by hand with none.)
    pub fn addr(&self) -> SocketAddr {
        self.addrs
            .first()
            .copied()
            .unwrap_or(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)))
    }

    /// Whether `addr` is one of the contact's addresses, IPv4-mapped IPv6 matching IPv4.
    pub fn has_addr(&self, addr: SocketAddr) -> bool {
        let wanted = canonical(addr);
        self.addrs.iter().any(|&a| canonical(a) == wanted)
    }

    /// Who the contact is to the protocol: its key when it has one (then it is the same
    /// contact from any address), else its address.
    pub fn peer_id(&self) -> PeerId {
        match self.key {
            Some(key) => PeerId::Key(key),
            None => PeerId::addr(self.addr()),
        }
    }
}

/// The whole file: who I am and whom I talk to, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactBook {
    pub me: Me,
    pub contacts: Vec<Contact>,
    pub lan: Lan,
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
        let mut lan = Lan::default();
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
                "lan" => {
                    let table = doc.table(value, "`lan`", "a [lan] line, then discover = true")?;
                    lan = doc.lan(table)?;
                }
                other => return Err(doc.unknown_top(key, other, value)),
            }
        }
        Ok(ContactBook {
            me: me.unwrap_or_default(),
            contacts,
            lan,
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

    /// The contact with `addr` among its addresses. A dual-stack socket reports IPv4 peers as `::ffff:a.b.c.d`, so
    /// addresses are compared in canonical form.
    pub fn by_addr(&self, addr: SocketAddr) -> Option<&Contact> {
        self.contacts.iter().find(|c| c.has_addr(addr))
    }

    /// The contact that is `peer` to the protocol.
    pub fn by_peer(&self, peer: PeerId) -> Option<&Contact> {
        self.contacts.iter().find(|c| c.peer_id() == peer)
    }

    /// A book with no file: used by `qqchat demo` and by `send`/`listen` when no file exists.
    pub fn empty(me: Me) -> ContactBook {
        ContactBook {
            me,
            contacts: Vec::new(),
            lan: Lan::default(),
        }
    }
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
