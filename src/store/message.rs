//! A message as the history keeps it, and the records that change it.

use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::proto::PathKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    In,
    Out,
}

/// Where an outgoing message stands; received messages are always `Received`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageState {
    Received,
    /// Handed to the protocol, no receipt yet.
    Pending,
    Delivered,
    /// Sent as plain text: no receipt will come.
    Sent,
    /// Not delivered yet; sent again when the contact is next heard from.
    Queued,
    /// Given up on, not queued.
    Failed,
    /// The user cancelled it while queued.
    Cancelled,
}

impl MessageState {
    /// Still owed to the contact: goes in the outbox on start.
    pub fn is_undelivered(self) -> bool {
        matches!(self, MessageState::Pending | MessageState::Queued)
    }
}

/// One line of a history file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "lowercase")]
pub enum Record {
    /// A message, sent or received.
    Msg {
        id: u64,
        dir: Direction,
        /// The peer's address at the time.
        peer: String,
        /// The kind of path a received message came over; absent in older files.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<PathKind>,
        /// When it was written here: sent by us, or received.
        at: Timestamp,
        /// The sender's clock, for received qqchat messages.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sent_at: Option<Timestamp>,
        text: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        plain: bool,
        state: MessageState,
    },
    /// A later change of an outgoing message's state.
    State { id: u64, state: MessageState },
}

/// A message with its latest state folded in.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    pub id: u64,
    pub dir: Direction,
    /// The peer's address at the time; shared between the messages of one conversation.
    pub peer: Arc<str>,
    /// The kind of path it came over, for received messages stored since that was kept.
    pub path: Option<PathKind>,
    pub at: Timestamp,
    pub sent_at: Option<Timestamp>,
    pub text: String,
    pub plain: bool,
    pub state: MessageState,
}

impl Direction {
    /// As serde writes it, and as the database keeps it.
    pub fn name(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }

    pub fn from_name(name: &str) -> Option<Direction> {
        match name {
            "in" => Some(Direction::In),
            "out" => Some(Direction::Out),
            _ => None,
        }
    }
}

impl MessageState {
    /// As serde writes it, and as the database keeps it.
    pub fn name(self) -> &'static str {
        match self {
            MessageState::Received => "received",
            MessageState::Pending => "pending",
            MessageState::Delivered => "delivered",
            MessageState::Sent => "sent",
            MessageState::Queued => "queued",
            MessageState::Failed => "failed",
            MessageState::Cancelled => "cancelled",
        }
    }

    pub fn from_name(name: &str) -> Option<MessageState> {
        [
            MessageState::Received,
            MessageState::Pending,
            MessageState::Delivered,
            MessageState::Sent,
            MessageState::Queued,
            MessageState::Failed,
            MessageState::Cancelled,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }
}
