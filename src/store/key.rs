//! The name a conversation's history is kept under.

use std::fmt;
use std::net::SocketAddr;

/// Conversations with someone who is not a contact are named after their address, behind
/// this prefix; a contact may not take a name that starts with it.
const ADDRESS_PREFIX: &str = "addr-";
/// The first name after every one that starts with [`ADDRESS_PREFIX`].
const ADDRESS_PREFIX_END: &str = "addr.";

/// A conversation's name: the contact's name as written in `contacts.toml`, or for anyone
/// else `addr-<ip:port>`. It is the history file's name (escaped), so it outlives restarts
/// and must not change when nothing about the conversation did.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConversationKey(String);

impl ConversationKey {
    /// A name as found on disk: a contact's, an address's, or one of a contact since removed.
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// The conversation with the contact called `name` in the file.
    pub fn contact(name: &str) -> Self {
        Self::new(name)
    }

    /// The conversation with someone known only by their address.
    pub fn from_address(addr: SocketAddr) -> Self {
        Self(format!("{ADDRESS_PREFIX}{addr}"))
    }

    /// The address this conversation is named after, if it is named after one.
    pub fn address(&self) -> Option<SocketAddr> {
        self.0.strip_prefix(ADDRESS_PREFIX)?.parse().ok()
    }

    /// Named after an address (or looks like it), rather than after a person.
    pub fn is_address(&self) -> bool {
        Self::is_address_name(&self.0)
    }

    /// Whether `name` is kept for addresses, so a contact cannot be called that.
    pub fn is_address_name(name: &str) -> bool {
        name.starts_with(ADDRESS_PREFIX)
    }

    /// Where the names kept for addresses sort: every one is at or after the first, and
    /// before the second (the prefix with its last character moved one on), so a range of
    /// an index finds them all.
    pub fn address_range() -> (&'static str, &'static str) {
        (ADDRESS_PREFIX, ADDRESS_PREFIX_END)
    }

    /// What a name kept for addresses starts with, for messages to the user.
    pub fn address_prefix() -> &'static str {
        ADDRESS_PREFIX
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConversationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// So a key can be checked against a contact's name without building one.
impl PartialEq<str> for ConversationKey {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_key_round_trips_in_the_form_on_disk() {
        let addr: SocketAddr = "[::1]:9002".parse().expect("an address");
        let key = ConversationKey::from_address(addr);
        assert_eq!(key.as_str(), "addr-[::1]:9002");
        assert_eq!(key.address(), Some(addr));
        assert!(key.is_address());
        let (start, end) = ConversationKey::address_range();
        assert!(start <= key.as_str() && key.as_str() < end);
        for other in ["addr", "addr.x", "addrs", "bob", "Addr-x"] {
            assert!(!(start <= other && other < end), "{other}");
        }
        assert_eq!(ConversationKey::contact("bob").address(), None);
    }
}
