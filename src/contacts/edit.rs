//! Changing `contacts.toml` from the chat: add, rename and remove contacts.
//!
//! The file is the user's: it has comments, an order and a layout that they chose. So it is
//! edited through `toml_edit`, which keeps every byte it is not asked to change, and only
//! the one entry concerned is touched. The result is checked with [`ContactBook::parse`]
//! before it is written, so an edit never leaves behind a file that qqchat cannot load, and
//! it is written to a temporary file beside the original and renamed over it, so a crash
//! leaves either the old file or the new one, never half of one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use thiserror::Error;
use toml_edit::{DocumentMut, InlineTable, Item, Key, RawString, Table, Value};

use crate::contacts::{ContactBook, ContactsError};
use crate::proto::PublicKey;

/// Why the contacts file was not changed.
#[derive(Debug, Error)]
pub enum EditError {
    #[error("{}: cannot read the contacts file: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{}: cannot write the contacts file: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    /// The file is not TOML right now (perhaps it is being edited); it is left alone.
    #[error("{}: not changed, because it is not valid TOML: {detail}", path.display())]
    Syntax { path: PathBuf, detail: String },
    /// `contacts = 5` or similar: there is no table to edit.
    #[error("{}: `contacts` is not a table; it should be a [contacts] section", path.display())]
    NotATable { path: PathBuf },
    #[error("a contact needs a name")]
    EmptyName,
    #[error("the name {name:?} contains a control character (tab, newline, ...)")]
    ControlInName { name: String },
    #[error("there is already a contact called {name:?}")]
    NameTaken { name: String },
    #[error("{addr} is already in contacts as {name:?}")]
    AddrTaken { addr: String, name: String },
    #[error("there is no contact called {name:?}")]
    NoSuchContact { name: String },
    /// The edit would leave a file that does not load (say, two contacts at one address).
    #[error("not changed, because the file would then not load: {0}")]
    Invalid(#[source] ContactsError),
}

/// Adds `name = "addr"` (or `{ addr = "…", plain = true }`) at the end of `[contacts]`,
/// creating the table if the file has none.
pub fn add_contact(
    path: &Path,
    name: &str,
    addr: SocketAddr,
    plain: bool,
) -> Result<(), EditError> {
    check_name(name)?;
    edit(path, true, |contacts| {
        if contacts.contains(name) {
            return Err(EditError::NameTaken { name: name.into() });
        }
        contacts.insert(name, entry(addr, plain));
        Ok(None)
    })
}

/// Adds an IP Messenger, Feiq or iptux user at the end of `[contacts]` as
/// `name = { addr = "192.168.1.30", ipmsg = true }`: the IP alone when the client is on the
/// protocol's port (2425), `ip:port` otherwise. An address that is a contact's already is
/// refused, whatever that contact speaks.
pub fn add_ipmsg_contact(path: &Path, name: &str, addr: SocketAddr) -> Result<(), EditError> {
    check_name(name)?;
    let addr = crate::proto::canonical(addr);
    if let Some(owner) = ContactBook::load(path)
        .ok()
        .and_then(|book| book.by_addr(addr).map(|c| c.name.clone()))
    {
        return Err(EditError::AddrTaken {
            addr: addr.to_string(),
            name: owner,
        });
    }
    let written = if addr.port() == super::IPMSG_PORT {
        addr.ip().to_string()
    } else {
        addr.to_string()
    };
    edit(path, true, |contacts| {
        if contacts.contains(name) {
            return Err(EditError::NameTaken { name: name.into() });
        }
        let mut table = InlineTable::new();
        table.insert("addr", written.into());
        table.insert("ipmsg", true.into());
        contacts.insert(name, Item::Value(Value::InlineTable(table)));
        Ok(None)
    })
}

/// What [`add_keyed_contact`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyedAdd {
    /// A new entry, `name = { addr = "…", key = "…" }` (or `addrs = […]`).
    New,
    /// An existing contact without a key, with this name or at one of these addresses, got
    /// the key (and the addresses from the contact string, when they differed).
    KeyGiven { name: String, addr_changed: bool },
}

/// Adds a contact with a public key, as `qqchat add` does: `name = { addr = "…", key = "…" }`,
/// or `addrs = […]` with several addresses. Addresses are kept as written (a host name stays
/// a host name). A contact that has no key yet and has this name, or else one of these
/// addresses, is given the key instead: that is an upgrade of the same friend, not a second
/// one. A contact whose key differs is left alone.
pub fn add_keyed_contact(
    path: &Path,
    name: &str,
    addrs: &[String],
    key: &PublicKey,
) -> Result<KeyedAdd, EditError> {
    check_name(name)?;
    let book = ContactBook::load(path).ok();
    let parsed: Vec<SocketAddr> = addrs.iter().filter_map(|a| a.parse().ok()).collect();
    let unkeyed = book.as_ref().and_then(|book| {
        let by_name = book.by_name(name).filter(|c| c.key.is_none());
        let by_addr = || {
            book.contacts
                .iter()
                .find(|c| c.key.is_none() && !c.plain && parsed.iter().any(|&a| c.has_addr(a)))
        };
        by_name.or_else(by_addr).map(|c| {
            let same = parsed.len() == addrs.len()
                && parsed.len() == c.addrs.len()
                && parsed.iter().zip(&c.addrs).all(|(&a, &b)| same_addr(a, b));
            (c.name.clone(), !same)
        })
    });
    let mut result = KeyedAdd::New;
    edit(path, true, |contacts| {
        if let Some((existing, addr_changed)) = unkeyed {
            contacts.give_key(&existing, addrs, key);
            result = KeyedAdd::KeyGiven {
                name: existing,
                addr_changed,
            };
            return Ok(None);
        }
        if contacts.contains(name) {
            return Err(EditError::NameTaken { name: name.into() });
        }
        let mut table = InlineTable::new();
        set_addrs(&mut table, addrs);
        table.insert("key", crate::identity::encode_key(key).into());
        contacts.insert(name, Item::Value(Value::InlineTable(table)));
        Ok(None)
    })?;
    Ok(result)
}

/// Keeps the candidate addresses a keyed contact told (inside the encrypted session) in its
/// entry, in place of the IP addresses written there; host names written there stay (a
/// dynamic DNS name outlives every address it points to), and so do the rest of the entry
/// and its comments. An entry with another key, or none, is left alone: only the key's owner
/// may move it.
pub fn learn_addrs(
    path: &Path,
    name: &str,
    key: &PublicKey,
    addrs: &[SocketAddr],
) -> Result<(), EditError> {
    let book = ContactBook::load(path).ok();
    let Some(contact) = book
        .as_ref()
        .and_then(|b| b.by_name(name))
        .filter(|c| c.key.as_ref() == Some(key))
    else {
        return Err(EditError::NoSuchContact { name: name.into() });
    };
    // Written in the file's order, as the contact's resolved addresses are.
    let written = written_addrs(path, name);
    let names: Vec<(&String, SocketAddr)> = written
        .iter()
        .zip(&contact.addrs)
        .filter(|(raw, _)| raw.trim().parse::<SocketAddr>().is_err())
        .map(|(raw, &resolved)| (raw, resolved))
        .collect();
    let mut kept: Vec<String> = names.iter().map(|(raw, _)| (*raw).clone()).collect();
    kept.extend(
        addrs
            .iter()
            .filter(|&&a| !names.iter().any(|&(_, r)| same_addr(r, a)))
            .map(|&a| crate::proto::canonical(a).to_string()),
    );
    edit(path, false, |contacts| {
        contacts.give_key(name, &kept, key);
        Ok(None)
    })
}

/// The addresses of contact `name` as written in the file (`addr` or `addrs`).
fn written_addrs(path: &Path, name: &str) -> Vec<String> {
    let Some(doc) = fs::read_to_string(path)
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
    else {
        return Vec::new();
    };
    let entry = doc
        .get("contacts")
        .and_then(|c| c.get(name))
        .and_then(toml::Value::as_table);
    let Some(entry) = entry else {
        return Vec::new();
    };
    match (entry.get("addr"), entry.get("addrs")) {
        (Some(toml::Value::String(one)), _) => vec![one.clone()],
        (_, Some(toml::Value::Array(list))) => list
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// Writes `addr = "…"` for one address, `addrs = […]` for several, and drops the other key.
fn set_addrs(table: &mut dyn toml_edit::TableLike, addrs: &[String]) {
    if let [one] = addrs {
        table.remove("addrs");
        table.insert("addr", toml_edit::value(one.as_str()));
    } else {
        let list: toml_edit::Array = addrs.iter().map(String::as_str).collect();
        table.remove("addr");
        table.insert("addrs", toml_edit::value(list));
    }
}

/// The same address, an IPv4-mapped IPv6 one matching its IPv4 form.
fn same_addr(a: SocketAddr, b: SocketAddr) -> bool {
    crate::proto::canonical(a) == crate::proto::canonical(b)
}

/// Renames contact `old` to `new` where it stands: same place in the file, same comments,
/// same value.
pub fn rename_contact(path: &Path, old: &str, new: &str) -> Result<(), EditError> {
    check_name(new)?;
    edit(path, false, |contacts| {
        if !contacts.contains(old) {
            return Err(EditError::NoSuchContact { name: old.into() });
        }
        if old != new {
            if contacts.contains(new) {
                return Err(EditError::NameTaken { name: new.into() });
            }
            contacts.rename(old, new);
        }
        Ok(None)
    })
}

/// Writes another key (and the addresses that came with it) into contact `name`'s entry,
/// keeping the rest of it and its comments: `qqchat add` with a new contact string for a
/// friend already keyed. Whether the new key is used is not decided here: the trusted key
/// stays in use until the user accepts the new one.
pub fn replace_key(
    path: &Path,
    name: &str,
    addrs: &[String],
    key: &PublicKey,
) -> Result<(), EditError> {
    edit(path, false, |contacts| {
        if !contacts.contains(name) {
            return Err(EditError::NoSuchContact { name: name.into() });
        }
        contacts.give_key(name, addrs, key);
        Ok(None)
    })
}

/// Removes contact `name`. Only the entry goes: comments above it stay where they were.
pub fn remove_contact(path: &Path, name: &str) -> Result<(), EditError> {
    edit(path, false, |contacts| {
        contacts
            .remove(name)
            .ok_or_else(|| EditError::NoSuchContact { name: name.into() })
    })
}

/// Sets the addresses and `key` in an entry, turning a bare address string into an inline
/// table (in the string's place, with its comments) first.
fn fill_entry(item: &mut Item, addrs: &[String], key: &str) {
    if let Item::Value(Value::String(text)) = item {
        let mut table = InlineTable::new();
        *table.decor_mut() = text.decor().clone();
        *item = Item::Value(Value::InlineTable(table));
    }
    if let Some(table) = item.as_table_like_mut() {
        set_addrs(table, addrs);
        table.insert("key", toml_edit::value(key));
    }
}

/// A name that can be written as a key and read back by [`ContactBook::parse`].
fn check_name(name: &str) -> Result<(), EditError> {
    if name.trim().is_empty() {
        return Err(EditError::EmptyName);
    }
    if name.chars().any(char::is_control) {
        return Err(EditError::ControlInName { name: name.into() });
    }
    Ok(())
}

/// The value of a new entry. IPv4-mapped IPv6 addresses are written in their IPv4 form.
fn entry(addr: SocketAddr, plain: bool) -> Item {
    let addr = crate::proto::canonical(addr).to_string();
    if !plain {
        return toml_edit::value(addr);
    }
    let mut table = InlineTable::new();
    table.insert("addr", addr.into());
    table.insert("plain", true.into());
    Item::Value(Value::InlineTable(table))
}

/// Reads the file, lets `change` edit its `[contacts]`, checks the result and writes it back.
/// With `create`, a missing `[contacts]` table is added first. `change` returns the text
/// (comments, blank lines) that stood before a removed entry, to be kept.
fn edit(
    path: &Path,
    create: bool,
    change: impl FnOnce(&mut Contacts) -> Result<Option<Orphan>, EditError>,
) -> Result<(), EditError> {
    let text = fs::read_to_string(path).map_err(|source| EditError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut doc: DocumentMut =
        text.parse()
            .map_err(|err: toml_edit::TomlError| EditError::Syntax {
                path: path.to_owned(),
                detail: err.to_string().trim_end().to_owned(),
            })?;
    if create && doc.get("contacts").is_none() {
        doc.insert("contacts", Item::Table(Table::new()));
    }
    let orphan = match doc.get_mut("contacts") {
        None => return change(&mut Contacts::None).map(|_| ()),
        Some(Item::Table(table)) => {
            let position = table.position();
            change(&mut Contacts::Table { table, position })?
        }
        Some(Item::Value(Value::InlineTable(table))) => change(&mut Contacts::Inline(table))?,
        Some(_) => {
            return Err(EditError::NotATable {
                path: path.to_owned(),
            });
        }
    };
    if let Some(orphan) = orphan {
        adopt(&mut doc, orphan);
    }
    let mut new_text = doc.to_string();
    if !new_text.ends_with('\n') {
        new_text.push('\n');
    }
    if new_text == text {
        return Ok(());
    }
    ContactBook::parse(&new_text, path).map_err(EditError::Invalid)?;
    write_atomically(path, &new_text).map_err(|source| EditError::Write {
        path: path.to_owned(),
        source,
    })
}

/// Text that stood before a removed entry, and where in the document that entry was.
struct Orphan {
    text: String,
    /// The position of the table the entry ended: the text goes before the next table.
    after: Option<isize>,
}

/// The `[contacts]` table in whichever form the file wrote it.
enum Contacts<'a> {
    /// The file has no `contacts` at all.
    None,
    /// `[contacts]`, or an implicit table made by `[contacts.bob]` headers.
    Table {
        table: &'a mut Table,
        position: Option<isize>,
    },
    /// `contacts = { bob = "…" }`.
    Inline(&'a mut InlineTable),
}

impl Contacts<'_> {
    fn contains(&self, name: &str) -> bool {
        match self {
            Contacts::None => false,
            Contacts::Table { table, .. } => table.contains_key(name),
            Contacts::Inline(table) => table.contains_key(name),
        }
    }

    fn insert(&mut self, name: &str, item: Item) {
        match self {
            Contacts::None => {}
            Contacts::Table { table, .. } => {
                // A table that only existed through `[contacts.x]` headers needs its own now.
                table.set_implicit(false);
                table.insert(name, item);
            }
            Contacts::Inline(table) => {
                if let Ok(value) = item.into_value() {
                    table.insert(name, value);
                }
            }
        }
    }

    /// Gives contact `name` a key and `addrs`, in whatever form its entry is written: a bare
    /// `"host:port"` becomes an inline table; a table keeps its other settings and comments.
    fn give_key(&mut self, name: &str, addrs: &[String], key: &PublicKey) {
        let key = crate::identity::encode_key(key);
        match self {
            Contacts::None => {}
            Contacts::Table { table, .. } => {
                if let Some(item) = table.get_mut(name) {
                    fill_entry(item, addrs, &key);
                }
            }
            Contacts::Inline(table) => {
                if let Some(value) = table.get_mut(name) {
                    let mut item = Item::Value(std::mem::replace(value, Value::from(false)));
                    fill_entry(&mut item, addrs, &key);
                    if let Ok(filled) = item.into_value() {
                        *value = filled;
                    }
                }
            }
        }
    }

    /// Renames a key that exists, keeping its decoration and its place.
    fn rename(&mut self, old: &str, new: &str) {
        let rank = |order: &[String], key: &str| {
            let key = if key == new { old } else { key };
            order.iter().position(|k| k == key).unwrap_or(usize::MAX)
        };
        match self {
            Contacts::None => {}
            Contacts::Table { table, .. } => {
                let order: Vec<String> = table.iter().map(|(k, _)| k.to_owned()).collect();
                let Some((key, item)) = table.remove_entry(old) else {
                    return;
                };
                table.insert_formatted(&renamed(&key, new), item);
                table
                    .sort_values_by(|a, _, b, _| rank(&order, a.get()).cmp(&rank(&order, b.get())));
            }
            Contacts::Inline(table) => {
                let order: Vec<String> = table.iter().map(|(k, _)| k.to_owned()).collect();
                let Some((key, value)) = table.remove_entry(old) else {
                    return;
                };
                table.insert_formatted(&renamed(&key, new), value);
                table
                    .sort_values_by(|a, _, b, _| rank(&order, a.get()).cmp(&rank(&order, b.get())));
            }
        }
    }

    /// Removes a key; `None` when there was no such key.
    fn remove(&mut self, name: &str) -> Option<Option<Orphan>> {
        match self {
            Contacts::None => None,
            Contacts::Table { table, position } => {
                let index = table.iter().position(|(k, _)| k == name)?;
                let (key, item) = table.remove_entry(name)?;
                let (text, after) = match &item {
                    // `[contacts.bob]`: its header's comments go before the next header.
                    Item::Table(sub) if !sub.is_dotted() => {
                        (raw(sub.decor().prefix()), sub.position())
                    }
                    _ => (raw(key.leaf_decor().prefix()), *position),
                };
                if text.is_empty() {
                    return Some(None);
                }
                // Before the next entry of the table, if one follows on the following lines.
                let next = table
                    .iter()
                    .nth(index)
                    .filter(|(_, item)| !is_section(item))
                    .map(|(k, _)| k.to_owned());
                if let Some(mut next) = next.and_then(|k| table.key_mut(&k)) {
                    let decor = next.leaf_decor_mut();
                    let joined = format!("{text}{}", raw(decor.prefix()));
                    decor.set_prefix(joined);
                    return Some(None);
                }
                Some(Some(Orphan { text, after }))
            }
            Contacts::Inline(table) => table.remove(name).map(|_| None),
        }
    }
}

/// `key` renamed to `new`, keeping the spaces and comments around it.
fn renamed(key: &Key, new: &str) -> Key {
    Key::new(new)
        .with_leaf_decor(key.leaf_decor().clone())
        .with_dotted_decor(key.dotted_decor().clone())
}

/// A table with its own `[header]` (or `[[header]]`), rather than a key-value line.
fn is_section(item: &Item) -> bool {
    match item {
        Item::Table(table) => !table.is_dotted(),
        Item::ArrayOfTables(_) => true,
        _ => false,
    }
}

fn raw(text: Option<&RawString>) -> String {
    text.and_then(RawString::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Puts the text that stood before a removed entry where that entry's text ended: before
/// the next section header, or at the end of the file.
fn adopt(doc: &mut DocumentMut, orphan: Orphan) {
    let after = orphan.after.unwrap_or(isize::MIN);
    let mut next: Option<isize> = None;
    visit_sections(doc.as_table_mut(), &mut |table| {
        if let Some(p) = table.position()
            && p > after
            && !table.is_implicit()
            && next.is_none_or(|n| p < n)
        {
            next = Some(p);
        }
    });
    if let Some(wanted) = next {
        let mut done = false;
        visit_sections(doc.as_table_mut(), &mut |table| {
            if !done && table.position() == Some(wanted) && !table.is_implicit() {
                let decor = table.decor_mut();
                let joined = format!("{}{}", orphan.text, raw(decor.prefix()));
                decor.set_prefix(joined);
                done = true;
            }
        });
        return;
    }
    let trailing = format!(
        "{}{}",
        orphan.text,
        doc.trailing().as_str().unwrap_or_default()
    );
    doc.set_trailing(trailing);
}

/// Calls `f` on every table with a header, at any depth.
fn visit_sections(table: &mut Table, f: &mut dyn FnMut(&mut Table)) {
    for (_, item) in table.iter_mut() {
        match item {
            Item::Table(sub) if !sub.is_dotted() => {
                f(sub);
                visit_sections(sub, f);
            }
            Item::ArrayOfTables(array) => {
                for sub in array.iter_mut() {
                    f(sub);
                    visit_sections(sub, f);
                }
            }
            _ => {}
        }
    }
}

/// Writes `text` to a temporary file beside `path`, then renames it over `path`. A symbolic
/// link is followed, so that it stays a link to the edited file.
fn write_atomically(path: &Path, text: &str) -> io::Result<()> {
    let target = fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = target.file_name().map_or_else(
        || "contacts.toml".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = File::create(&temp)?;
        file.write_all(text.as_bytes())?;
        if let Ok(meta) = fs::metadata(&target) {
            file.set_permissions(meta.permissions())?;
        }
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, &target)?;
        // Make the rename itself durable where directories can be synced.
        if let Ok(dir) = File::open(&dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}
