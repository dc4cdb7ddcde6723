//! `contacts.toml`: parsed from text, validated, with errors a person can act on.

use std::net::SocketAddr;

/// This user, from the `[me]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct Me {
    /// Shown to others and in the status line.
    pub name: String,
    /// Where this qqchat receives.
    pub listen: SocketAddr,
    /// Ring the terminal bell when a message arrives in a conversation that is not open.
    pub bell: bool,
}

/// One entry of `[contacts]`, its address already resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub name: String,
    pub addr: SocketAddr,
    /// A plain UDP peer: sent bare UTF-8, no receipts.
    pub plain: bool,
}

/// The whole file: who I am and whom I talk to, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactBook {
    pub me: Me,
    pub contacts: Vec<Contact>,
}
