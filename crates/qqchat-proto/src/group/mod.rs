//! Group chats with no server: signed messages in causal order, membership changes as
//! messages, and catch-up between any two members.
//!
//! Every message is signed by its author's identity key ([`crate::secure::sign`]), so any
//! member may forward it and every receiver can check who wrote it. Each names the latest
//! messages its author had seen; members show them in an order that puts every message after
//! what it follows ([`Group`]). Members tell each other what they hold per author
//! ([`Envelope::Have`]) and send back what the other lacks, a page at a time, so a member back
//! after a week gets the week from whoever is online. Like the rest of this crate, nothing
//! here reads a clock or a socket.

mod log;
mod msg;
mod sync;
#[cfg(test)]
mod tests;
mod wire;

pub use log::{Group, Inserted, Membership};
pub use msg::{
    Body, Content, GroupId, GroupMsg, MAX_MEMBERS, MAX_NAME, MAX_PARENTS, MAX_TEXT, Member, MsgRef,
    Order, clip_name,
};
pub use sync::{
    AUTHOR_BURST, AUTHOR_RATE, GAP_WAIT, Outgoing, PAGE_ANSWERS, PAGES_PER_MINUTE, Received, Sync,
};
pub use wire::{Envelope, MARK, PAGE_BYTES, PAGE_MESSAGES, encode_all, short};

/// Why a group message or envelope was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    #[error("not a well-formed group message")]
    Undecodable,
    #[error("the signature does not match the message and its author")]
    BadSignature,
    #[error("malformed group message: {0}")]
    Malformed(&'static str),
    #[error("the message belongs to another group")]
    WrongGroup,
    #[error("the message is already held")]
    Duplicate,
    #[error("another message with the same author and count is already held")]
    Conflict,
    #[error("its author is not a member of the group")]
    NotMember,
    #[error("a group has at most {} members", MAX_MEMBERS)]
    TooManyMembers,
}
