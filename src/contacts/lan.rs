//! `[lan]`: what qqchat does on the local network by itself, with no contact written down.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::address::near_miss;
use super::parse::{Doc, in_file_order};
use super::{ContactsError, Problem};

/// Keys allowed in `[lan]`.
pub(super) const LAN_KEYS: &[&str] = &["discover", "ipmsg", "group", "interfaces"];

/// How qqchat finds people next to it. Both kinds of discovery are on unless the file (or
/// `--no-lan`) says otherwise: a first start with no contacts should already show someone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lan {
    /// Announce this qqchat over multicast DNS and list the others that do.
    pub discover: bool,
    /// Speak IP Messenger on UDP 2425 (IP Messenger, Feiq, iptux).
    pub ipmsg: bool,
    /// The IP Messenger group shown to others; empty for none.
    pub group: String,
    /// The interfaces to announce and listen on, by name; empty for every up, non-loopback
    /// IPv4 interface with a broadcast address.
    pub interfaces: Vec<String>,
}

impl Default for Lan {
    fn default() -> Self {
        Lan {
            discover: true,
            ipmsg: true,
            group: String::new(),
            interfaces: Vec::new(),
        }
    }
}

impl Lan {
    /// Everything off, as `--no-lan` asks: nothing is broadcast or announced.
    pub fn off(&mut self) {
        self.discover = false;
        self.ipmsg = false;
    }
}

impl Doc<'_> {
    pub(super) fn lan(&self, table: &DeTable<'_>) -> Result<Lan, ContactsError> {
        let mut lan = Lan::default();
        for (key, value) in in_file_order(table) {
            match key.get_ref().as_ref() {
                "discover" => lan.discover = self.flag(value, "discover")?,
                "ipmsg" => lan.ipmsg = self.flag(value, "ipmsg")?,
                "group" => {
                    let group = match value.get_ref() {
                        DeValue::String(s) if !s.chars().any(char::is_control) => s,
                        _ => {
                            return Err(self.wrong_type(
                                value,
                                "[lan] group",
                                "a group name in double quotes, without control characters",
                                "group = \"sales\"".to_owned(),
                            ));
                        }
                    };
                    lan.group = group.trim().to_owned();
                }
                "interfaces" => lan.interfaces = self.interfaces(value)?,
                other => {
                    let hint = match near_miss(other, LAN_KEYS) {
                        Some(near) => format!("did you mean {near:?}?"),
                        None => "e.g. discover = false".to_owned(),
                    };
                    return Err(self.unknown(key, "in [lan]", LAN_KEYS, hint));
                }
            }
        }
        Ok(lan)
    }

    fn flag(&self, value: &Spanned<DeValue<'_>>, name: &str) -> Result<bool, ContactsError> {
        match value.get_ref() {
            DeValue::Boolean(b) => Ok(*b),
            _ => Err(self.wrong_type(
                value,
                &format!("[lan] {name}"),
                "true or false (no quotes)",
                format!("{name} = false"),
            )),
        }
    }

    fn interfaces(&self, value: &Spanned<DeValue<'_>>) -> Result<Vec<String>, ContactsError> {
        let wrong = || {
            self.wrong_type(
                value,
                "[lan] interfaces",
                "a list of interface names in double quotes (see `ip link`)",
                "interfaces = [\"eth0\", \"wlan0\"]".to_owned(),
            )
        };
        let DeValue::Array(items) = value.get_ref() else {
            return Err(wrong());
        };
        let mut names = Vec::with_capacity(items.len());
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(name)
                    if !name.trim().is_empty() && !name.chars().any(char::is_control) =>
                {
                    names.push(name.trim().to_owned());
                }
                _ => return Err(wrong()),
            }
        }
        if names.is_empty() {
            // An empty list would silently mean "every interface": say what to write.
            return Err(self.err(
                value.span(),
                Problem::WrongType {
                    what: "[lan] interfaces".to_owned(),
                    expected: "at least one interface name; leave the line out for every interface"
                        .to_owned(),
                    found: "an empty list".to_owned(),
                    example: "interfaces = [\"eth0\"]".to_owned(),
                },
            ));
        }
        Ok(names)
    }
}
