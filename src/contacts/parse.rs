//! Validating the parsed TOML, table by table, into a [`ContactBook`](super::ContactBook).

use std::net::SocketAddr;
use std::ops::Range;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use super::address::*;
use super::*;

/// The entries of a table in the order they appear in the file (toml keeps them sorted by
/// name), so contacts keep the user's order and the first mistake is reported first.
pub(super) fn in_file_order<'a, 'i>(
    table: &'a DeTable<'i>,
) -> Vec<(&'a Spanned<DeString<'i>>, &'a Spanned<DeValue<'i>>)> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(key, _)| key.span().start);
    entries
}

/// A contact being validated, kept with its line for duplicate-address messages.
pub(super) struct Placed {
    contact: Contact,
    line: usize,
}

/// How an address was written, so that an example fix can be shown in the same form.
pub(super) enum AddrSite<'a> {
    /// `bob = "host:port"`
    Contact(&'a str),
    /// `bob = { addr = "host:port" }`
    ContactTable(&'a str),
    /// `bob = { addrs = ["host:port", ...] }`
    ContactList(&'a str),
    /// `[me] listen = "host:port"`
    Listen,
}

impl AddrSite<'_> {
    /// The place in words, for the start of a message.
    pub(super) fn what(&self) -> String {
        match self {
            AddrSite::Contact(name)
            | AddrSite::ContactTable(name)
            | AddrSite::ContactList(name) => {
                format!("contact {name:?}")
            }
            AddrSite::Listen => "[me] listen".to_owned(),
        }
    }

    /// The line to write, with `addr` in place.
    pub(super) fn example(&self, addr: &str) -> String {
        match self {
            AddrSite::Contact(name) => format!("{} = {addr:?}", toml_key(name)),
            AddrSite::ContactTable(_) => format!("addr = {addr:?}"),
            AddrSite::ContactList(_) => format!("addrs = [{addr:?}, ...]"),
            AddrSite::Listen => format!("listen = {addr:?}"),
        }
    }

    /// A valid address with `port` for this place: every interface for `listen`, this
    /// machine for a contact.
    pub(super) fn sample_addr(&self, port: u16) -> String {
        match self {
            AddrSite::Listen => format!("0.0.0.0:{port}"),
            _ => format!("127.0.0.1:{port}"),
        }
    }

    /// Listening on port 0 lets the system choose a port; sending to it is impossible.
    pub(super) fn allows_port_zero(&self) -> bool {
        matches!(self, AddrSite::Listen)
    }
}

/// `name` as it would be written as a key: bare when it can be, quoted otherwise.
pub(super) fn toml_key(name: &str) -> String {
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
pub(super) struct Doc<'t> {
    pub(super) text: &'t str,
    pub(super) path: &'t Path,
}

impl Doc<'_> {
    /// The 1-based line holding byte `offset`.
    pub(super) fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    pub(super) fn err(&self, span: Range<usize>, problem: Problem) -> ContactsError {
        ContactsError::Invalid {
            path: self.path.to_owned(),
            line: self.line(span.start),
            problem: Box::new(problem),
        }
    }

    pub(super) fn syntax(&self, error: &toml::de::Error) -> ContactsError {
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
    pub(super) fn describe(&self, value: &Spanned<DeValue<'_>>) -> String {
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

    pub(super) fn wrong_type(
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
    pub(super) fn table<'v, 'i>(
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

    pub(super) fn unknown(
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

    pub(super) fn unknown_top(
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
            "the file has only a [me], a [contacts] and a [lan] table, e.g. [contacts] then bob = \"127.0.0.1:9002\"".to_owned()
        };
        self.unknown(key, "at the top level", TOP_KEYS, hint)
    }

    pub(super) fn me(&self, table: &DeTable<'_>) -> Result<Me, ContactsError> {
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
                "keepalive" => {
                    let secs = match value.get_ref() {
                        DeValue::Integer(n) => n.as_str().parse::<u64>().ok(),
                        _ => None,
                    };
                    let Some(secs) = secs.filter(|&s| s <= 3600) else {
                        return Err(self.wrong_type(
                            value,
                            "[me] keepalive",
                            "a number of seconds from 0 (off) to 3600, no quotes",
                            "keepalive = 25".to_owned(),
                        ));
                    };
                    me.keepalive = secs;
                }
                "downloads" => {
                    let dir = match value.get_ref() {
                        DeValue::String(text) if !text.trim().is_empty() => {
                            Some(expand_home(text.trim()))
                        }
                        _ => None,
                    };
                    let Some(dir) = dir else {
                        return Err(self.wrong_type(
                            value,
                            "[me] downloads",
                            "a directory in double quotes (~ is your home)",
                            "downloads = \"~/Downloads\"".to_owned(),
                        ));
                    };
                    me.downloads = Some(dir);
                }
                "max_file_size" => {
                    let size = match value.get_ref() {
                        DeValue::Integer(n) => n.as_str().parse::<u64>().ok(),
                        DeValue::String(text) => parse_size(text),
                        _ => None,
                    };
                    let Some(size) = size else {
                        return Err(self.wrong_type(
                            value,
                            "[me] max_file_size",
                            "a number of bytes, or a size in double quotes such as \"500 MB\" or \"4 GiB\"",
                            "max_file_size = \"4 GiB\"".to_owned(),
                        ));
                    };
                    me.max_file_size = Some(size);
                }
                "notify" => {
                    me.notify = match value.get_ref() {
                        DeValue::String(s) if s == "all" => super::Notify::All,
                        DeValue::String(s) if s == "contacts" => super::Notify::Contacts,
                        DeValue::String(s) if s == "none" => super::Notify::None,
                        _ => {
                            return Err(self.wrong_type(
                                value,
                                "[me] notify",
                                "\"all\", \"contacts\" or \"none\", in double quotes",
                                "notify = \"contacts\"".to_owned(),
                            ));
                        }
                    };
                }
                "strangers" => {
                    me.strangers = match value.get_ref() {
                        DeValue::String(s) if s == "requests" => super::Strangers::Requests,
                        DeValue::String(s) if s == "accept" => super::Strangers::Accept,
                        DeValue::String(s) if s == "drop" => super::Strangers::Drop,
                        _ => {
                            return Err(self.wrong_type(
                                value,
                                "[me] strangers",
                                "\"requests\", \"accept\" or \"drop\", in double quotes",
                                "strangers = \"requests\"".to_owned(),
                            ));
                        }
                    };
                }
                "notify_preview" => {
                    let DeValue::Boolean(b) = value.get_ref() else {
                        return Err(self.wrong_type(
                            value,
                            "[me] notify_preview",
                            "true or false (no quotes)",
                            "notify_preview = false".to_owned(),
                        ));
                    };
                    me.notify_preview = *b;
                }
                "mouse" => {
                    let DeValue::Boolean(b) = value.get_ref() else {
                        return Err(self.wrong_type(
                            value,
                            "[me] mouse",
                            "true or false (no quotes)",
                            "mouse = false".to_owned(),
                        ));
                    };
                    me.mouse = *b;
                }
                "notify_command" => {
                    me.notify_command = Some(self.command(
                        value,
                        "[me] notify_command",
                        "notify_command = [\"notify-send\", \"qqchat\"]",
                    )?);
                }
                "on_message" => {
                    me.on_message = Some(self.command(
                        value,
                        "[me] on_message",
                        "on_message = \"/home/me/bin/log-message\"",
                    )?);
                }
                "stun" => me.stun = self.stun_servers(value)?,
                "dht" => {
                    let DeValue::Boolean(b) = value.get_ref() else {
                        return Err(self.wrong_type(
                            value,
                            "[me] dht",
                            "true or false (no quotes)",
                            "dht = true".to_owned(),
                        ));
                    };
                    me.dht = *b;
                }
                "dht_bootstrap" => me.dht_bootstrap = Some(self.dht_bootstrap(value)?),
                "relay" => me.relay = Some(self.relay(value)?),
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

    /// A program to run, and its arguments: a string (split at spaces) or a list of
    /// strings. Never handed to a shell.
    fn command(
        &self,
        value: &Spanned<DeValue<'_>>,
        what: &str,
        example: &str,
    ) -> Result<Vec<String>, ContactsError> {
        let words: Option<Vec<String>> = match value.get_ref() {
            DeValue::String(s) => Some(s.split_whitespace().map(str::to_owned).collect()),
            DeValue::Array(items) => items
                .iter()
                .map(|i| match i.get_ref() {
                    DeValue::String(s) => Some(s.to_string()),
                    _ => None,
                })
                .collect(),
            _ => None,
        };
        match words {
            Some(words) if !words.is_empty() && !words[0].is_empty() => Ok(words),
            _ => Err(self.wrong_type(
                value,
                what,
                "a program in double quotes, or a list of the program and its arguments",
                example.to_owned(),
            )),
        }
    }

    pub(super) fn contacts(&self, table: &DeTable<'_>) -> Result<Vec<Contact>, ContactsError> {
        let mut placed: Vec<Placed> = Vec::new();
        for (key, value) in in_file_order(table) {
            let contact = self.contact(key, value)?;
            let line = self.line(key.span().start);
            // Every candidate counts: a datagram from any of them must name one contact.
            let clash = contact.addrs.iter().find_map(|&addr| {
                placed
                    .iter()
                    .find(|p| p.contact.has_addr(addr))
                    .map(|first| (first, addr))
            });
            if let Some((first, addr)) = clash {
                let fixed: Vec<SocketAddr> = contact
                    .addrs
                    .iter()
                    .map(|&a| if a == addr { next_port(a) } else { a })
                    .collect();
                let example = if contact.addrs.len() > 1 {
                    format!("addrs = {}", addr_list(&fixed))
                } else {
                    format!("{} = \"{}\"", toml_key(&contact.name), next_port(addr))
                };
                return Err(self.err(
                    key.span(),
                    Problem::DuplicateAddress {
                        first: first.contact.name.clone(),
                        first_line: first.line,
                        second: contact.name.clone(),
                        second_line: line,
                        addr,
                        example,
                    },
                ));
            }
            placed.push(Placed { contact, line });
        }
        Ok(placed.into_iter().map(|p| p.contact).collect())
    }

    pub(super) fn contact(
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
            DeValue::String(addr) => Ok(Contact::at(
                name,
                self.address(addr, value.span(), &AddrSite::Contact(name))?,
            )),
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

    pub(super) fn contact_table(
        &self,
        key: &Spanned<DeString<'_>>,
        name: &str,
        table: &DeTable<'_>,
    ) -> Result<Contact, ContactsError> {
        let written = toml_key(name);
        let what = format!("contact {name:?}");
        // The addresses, with the span of the key that gave them, for later complaints.
        let mut addrs: Option<(Vec<SocketAddr>, Range<usize>)> = None;
        let mut plain = false;
        let mut public_key = None;
        let mut encoding = None;
        let mut accept_files = false;
        let mut mute = false;
        // Known first, since it lets `addr` leave out the port wherever it is written.
        let ipmsg = match in_file_order(table)
            .into_iter()
            .find(|(k, _)| k.get_ref().as_ref() == "ipmsg")
        {
            None => None,
            Some((k, v)) => match v.get_ref() {
                DeValue::Boolean(b) => Some((*b, k.span())),
                _ => {
                    return Err(self.wrong_type(
                        v,
                        &format!("{what}: ipmsg"),
                        "true or false (no quotes)",
                        "ipmsg = true".to_owned(),
                    ));
                }
            },
        };
        let is_ipmsg = ipmsg.as_ref().is_some_and(|(b, _)| *b);
        for (k, v) in in_file_order(table) {
            match k.get_ref().as_ref() {
                field @ ("addr" | "addrs") => {
                    if addrs.is_some() {
                        return Err(self.err(
                            k.span(),
                            Problem::AddrAndAddrs {
                                name: name.to_owned(),
                            },
                        ));
                    }
                    let list = if field == "addr" {
                        vec![self.contact_addr(v, name, is_ipmsg)?]
                    } else {
                        self.contact_addrs(v, name)?
                    };
                    addrs = Some((list, k.span()));
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
                "ipmsg" => {}
                "mute" => {
                    let DeValue::Boolean(b) = v.get_ref() else {
                        return Err(self.wrong_type(
                            v,
                            &format!("{what}: mute"),
                            "true or false (no quotes)",
                            "mute = true".to_owned(),
                        ));
                    };
                    mute = *b;
                }
                "accept_files" => {
                    let DeValue::Boolean(b) = v.get_ref() else {
                        return Err(self.wrong_type(
                            v,
                            &format!("{what}: accept_files"),
                            "true or false (no quotes)",
                            "accept_files = true".to_owned(),
                        ));
                    };
                    accept_files = *b;
                }
                "encoding" => {
                    let found = match v.get_ref() {
                        DeValue::String(label) => {
                            encoding_rs::Encoding::for_label(label.trim().as_bytes())
                        }
                        _ => None,
                    };
                    let Some(found) = found else {
                        return Err(self.wrong_type(
                            v,
                            &format!("{what}: encoding"),
                            "the name of a text encoding in double quotes (utf-8, gb18030, gbk, big5, shift_jis, euc-kr, windows-1252, ...)",
                            "encoding = \"gb18030\"".to_owned(),
                        ));
                    };
                    encoding = Some((found, v.span()));
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
        let Some((addrs, addrs_span)) = addrs else {
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
        if is_ipmsg && let Some((_, span)) = public_key {
            return Err(self.err(
                span,
                Problem::KeyOnIpmsg {
                    name: name.to_owned(),
                },
            ));
        }
        if is_ipmsg
            && plain
            && let Some((_, span)) = ipmsg
        {
            return Err(self.err(
                span,
                Problem::PlainAndIpmsg {
                    name: name.to_owned(),
                },
            ));
        }
        if !plain
            && !is_ipmsg
            && let Some((_, span)) = encoding
        {
            return Err(self.err(
                span,
                Problem::EncodingOnQqchat {
                    name: name.to_owned(),
                },
            ));
        }
        if addrs.len() > 1 && public_key.is_none() {
            return Err(self.err(
                addrs_span,
                Problem::AddrsWithoutKey {
                    name: name.to_owned(),
                    example: format!("addr = {:?}", addrs[0].to_string()),
                },
            ));
        }
        Ok(Contact {
            name: name.to_owned(),
            addrs,
            plain,
            key: public_key.map(|(k, _)| k),
            ipmsg: is_ipmsg,
            encoding: encoding.map(|(e, _)| e),
            accept_files,
            mute,
        })
    }

    /// A contact table's `addr = "host:port"`.
    fn contact_addr(
        &self,
        value: &Spanned<DeValue<'_>>,
        name: &str,
        ipmsg: bool,
    ) -> Result<SocketAddr, ContactsError> {
        let DeValue::String(text) = value.get_ref() else {
            return Err(self.wrong_type(
                value,
                &format!("contact {name:?}: addr"),
                "an address in double quotes",
                "addr = \"127.0.0.1:9002\"".to_owned(),
            ));
        };
        // IP Messenger clients all listen on one port, so an IP alone is enough.
        if ipmsg && let Ok(ip) = text.trim().parse::<std::net::IpAddr>() {
            return Ok(SocketAddr::new(ip, IPMSG_PORT));
        }
        self.address(text, value.span(), &AddrSite::ContactTable(name))
    }

    /// A contact table's `addrs = ["host:port", ...]`: at least one, none twice.
    fn contact_addrs(
        &self,
        value: &Spanned<DeValue<'_>>,
        name: &str,
    ) -> Result<Vec<SocketAddr>, ContactsError> {
        let example = "addrs = [\"203.0.113.21:40000\", \"192.168.1.20:9001\"]";
        let items = match value.get_ref() {
            DeValue::Array(items) if !items.is_empty() => items,
            _ => {
                return Err(self.wrong_type(
                    value,
                    &format!("contact {name:?}: addrs"),
                    "a list of one or more addresses in double quotes",
                    example.to_owned(),
                ));
            }
        };
        let mut addrs: Vec<SocketAddr> = Vec::with_capacity(items.len());
        for item in items.iter() {
            let DeValue::String(text) = item.get_ref() else {
                return Err(self.wrong_type(
                    item,
                    &format!("contact {name:?}: addrs"),
                    "addresses in double quotes",
                    example.to_owned(),
                ));
            };
            let addr = self.address(text, item.span(), &AddrSite::ContactList(name))?;
            if addrs.iter().any(|&a| canonical(a) == canonical(addr)) {
                return Err(self.err(
                    item.span(),
                    Problem::RepeatedAddress {
                        name: name.to_owned(),
                        addr,
                    },
                ));
            }
            addrs.push(addr);
        }
        Ok(addrs)
    }

    /// Parse `raw` as `host:port`, resolving host names; errors point at `span`.
    pub(super) fn address(
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

/// `~/x` is `x` in the home directory; anything else is taken as written.
fn expand_home(text: &str) -> std::path::PathBuf {
    match text
        .strip_prefix("~/")
        .or(if text == "~" { Some("") } else { None })
    {
        Some(rest) => match std::env::var_os("HOME") {
            Some(home) => std::path::PathBuf::from(home).join(rest),
            None => std::path::PathBuf::from(text),
        },
        None => std::path::PathBuf::from(text),
    }
}

/// A size as people write it: `1048576`, `500 MB`, `4 GiB`, `1.5G` (K, M, G, T: powers of
/// 1000; KiB, MiB, GiB, TiB: of 1024).
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let unit = unit.trim().to_ascii_lowercase();
    let scale: f64 = match unit.trim_end_matches('b') {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        "t" => 1e12,
        "ki" => 1024.0,
        "mi" => 1024.0 * 1024.0,
        "gi" => 1024.0 * 1024.0 * 1024.0,
        "ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = number * scale;
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}
