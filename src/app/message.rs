//! One message of a conversation and what became of it.

use std::borrow::Cow;

use jiff::Timestamp;

use crate::store::{Direction, MessageState, StoredMessage};
use crate::text::{is_clean, sanitize, sanitize_owned};

/// What became of a message this user sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Handed to the engine, no answer yet.
    Pending,
    /// The peer acknowledged it.
    Delivered,
    /// Sent as plain UDP; no receipt will ever come.
    Sent,
    /// Retries ran out; the engine sends it when the contact is next heard from.
    Queued,
    /// The engine gave up; the user may retry.
    Failed,
    /// Taken out of the outbox by the user.
    Cancelled,
}

impl Mark {
    /// The mark a stored message comes back with.
    fn from_state(state: MessageState) -> Mark {
        match state {
            MessageState::Pending => Mark::Pending,
            MessageState::Delivered => Mark::Delivered,
            // An own message is never `Received`; if one says so, it at least left.
            MessageState::Sent | MessageState::Received => Mark::Sent,
            MessageState::Queued => Mark::Queued,
            MessageState::Failed => Mark::Failed,
            MessageState::Cancelled => Mark::Cancelled,
        }
    }

    /// The engine will still report on it, so its msg_id stays registered.
    pub(super) fn is_open(self) -> bool {
        matches!(self, Mark::Pending | Mark::Queued)
    }

    /// Something `r` can act on: send it again, or send it now.
    pub(super) fn is_retryable(self) -> bool {
        matches!(self, Mark::Queued | Mark::Failed)
    }

    /// The words shown after a message with this mark, where it asks for any. They are
    /// part of the message's height, so the state knows them, not only the drawing.
    pub fn hint(self) -> Option<&'static str> {
        match self {
            Mark::Failed => Some("failed — r to retry"),
            Mark::Queued => Some("⏳ queued · r send now · x cancel"),
            Mark::Cancelled => Some("cancelled"),
            _ => None,
        }
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// This user; `msg_id` is the number the engine reports on it under.
    Own { mark: Mark, msg_id: u64 },
    /// The peer of the conversation.
    Received,
    /// A file or folder sent (`outgoing`) or offered: transfer `transfer` of the App; the
    /// text is rewritten as it moves.
    File { outgoing: bool, transfer: usize },
}

/// One message of a conversation.
#[derive(Debug, Clone)]
pub struct Message {
    pub(super) at: Timestamp,
    /// The sender's clock when it was sent, for a received qqchat message.
    pub(super) sent_at: Option<Timestamp>,
    pub(super) text: String,
    pub(super) origin: Origin,
}

impl Message {
    /// When it was written (own messages) or received.
    pub fn at(&self) -> Timestamp {
        self.at
    }

    /// The sender's clock when it was sent, where the sender said.
    pub fn sent_at(&self) -> Option<Timestamp> {
        self.sent_at
    }

    /// The time shown with it: when its sender wrote it. A message queued at 15:33 and
    /// delivered at 15:40 says 15:33. A sender's clock ahead of this one is not believed
    /// past the arrival.
    pub fn shown_at(&self) -> Timestamp {
        self.sent_at.map_or(self.at, |sent| sent.min(self.at))
    }

    /// The text as it is safe to draw.
    ///
    /// Received text was sanitized on arrival. Own text is kept exactly as typed, because
    /// that is what a retry sends again, so it is sanitized here.
    pub fn display_text(&self) -> Cow<'_, str> {
        match self.origin {
            Origin::Received | Origin::File { .. } => Cow::Borrowed(&self.text),
            // Nearly always clean: then no copy is made on every frame.
            Origin::Own { .. } if is_clean(&self.text) => Cow::Borrowed(&self.text),
            Origin::Own { .. } => Cow::Owned(sanitize(&self.text)),
        }
    }

    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// The delivery mark of an own message, `None` for a received one.
    pub fn mark(&self) -> Option<Mark> {
        match self.origin {
            Origin::Own { mark, .. } => Some(mark),
            Origin::Received | Origin::File { .. } => None,
        }
    }

    pub fn is_own(&self) -> bool {
        matches!(self.origin, Origin::Own { .. })
    }

    /// Written or sent by this user: an own message, or a file sent.
    pub fn is_from_me(&self) -> bool {
        matches!(
            self.origin,
            Origin::Own { .. } | Origin::File { outgoing: true, .. }
        )
    }

    /// The transfer this message shows, for a file.
    pub fn transfer(&self) -> Option<usize> {
        match self.origin {
            Origin::File { transfer, .. } => Some(transfer),
            _ => None,
        }
    }

    /// A file sent or offered; `text` is what [`Transfer::text`](super::Transfer::text)
    /// says of it, safe to show.
    pub(super) fn file(at: Timestamp, text: String, outgoing: bool, transfer: usize) -> Message {
        Message {
            at,
            sent_at: None,
            text,
            origin: Origin::File { outgoing, transfer },
        }
    }

    /// A message this user just wrote, waiting for the engine's word.
    pub(super) fn own(at: Timestamp, text: String, msg_id: u64) -> Message {
        Message {
            at,
            sent_at: None,
            text,
            origin: Origin::Own {
                mark: Mark::Pending,
                msg_id,
            },
        }
    }

    /// A message from the history, as it was last known.
    pub(super) fn from_stored(m: StoredMessage) -> Message {
        match m.dir {
            Direction::In => {
                let mut text = m.text;
                text.truncate(text.trim_end_matches(['\n', '\r']).len());
                Message {
                    at: m.at,
                    sent_at: m.sent_at,
                    text: sanitize_owned(text),
                    origin: Origin::Received,
                }
            }
            Direction::Out => Message {
                at: m.at,
                sent_at: None,
                text: m.text,
                origin: Origin::Own {
                    mark: Mark::from_state(m.state),
                    msg_id: m.id,
                },
            },
        }
    }
}

/// Two conversations, each oldest first, as one; on equal times `a` goes first.
pub(super) fn merge_by_time(a: Vec<Message>, b: Vec<Message>) -> Vec<Message> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let mut a = a.into_iter().peekable();
    let mut b = b.into_iter().peekable();
    loop {
        let take_b = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => y.at < x.at,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (None, None) => break,
        };
        out.extend(if take_b { b.next() } else { a.next() });
    }
    out
}
