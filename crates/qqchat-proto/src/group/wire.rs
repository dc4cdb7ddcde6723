//! What members send each other about a group, inside the pairwise encrypted sessions.
//!
//! An envelope travels as an ordinary reliable message, so it is acked, retried and
//! fragmented like any other; its text is [`MARK`] and the envelope's postcard bytes in
//! base64. The mark starts with U+FFFF, a noncharacter nobody types, so a chat message is
//! never taken for one, and a qqchat too old to know groups shows a line of letters rather
//! than losing anything.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::GroupError;
use super::msg::{GroupId, GroupMsg};
use crate::PublicKey;

/// How a group envelope's text starts.
pub const MARK: &str = "\u{FFFF}qqg1 ";

/// The most bytes of messages in one catch-up page: the page's text stays well under the
/// 1 MiB a message may have.
pub const PAGE_BYTES: usize = 512 << 10;
/// The most messages in one catch-up page.
pub const PAGE_MESSAGES: usize = 128;

/// One exchange between two members about one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Envelope {
    /// New messages, from their author or forwarded. `reached`: the first bytes of the keys
    /// of the members the author sent them to itself, so a member who got them from the
    /// author forwards them only to the others it can reach.
    Live {
        group: GroupId,
        msgs: Vec<Vec<u8>>,
        reached: Vec<[u8; 4]>,
    },
    /// Messages the receiver lacked, in order, answering its [`Envelope::Have`]; `more`: the
    /// receiver asks again for the next page.
    Page {
        group: GroupId,
        msgs: Vec<Vec<u8>>,
        more: bool,
    },
    /// What the sender holds: every message up to a count, per author. The receiver answers
    /// with a page of what the sender lacks, and (unless this is itself an answer) with its
    /// own `Have` when the sender holds something it lacks.
    Have {
        group: GroupId,
        have: Vec<(PublicKey, u64)>,
        answer: bool,
    },
    /// An invitation: the group's membership messages in order, the last adding the receiver.
    Invite { group: GroupId, msgs: Vec<Vec<u8>> },
}

impl Envelope {
    pub fn group(&self) -> GroupId {
        match self {
            Envelope::Live { group, .. }
            | Envelope::Page { group, .. }
            | Envelope::Have { group, .. }
            | Envelope::Invite { group, .. } => *group,
        }
    }

    /// The envelope as the text of a message.
    pub fn to_text(&self) -> String {
        let bytes = postcard::to_stdvec(self).unwrap_or_default();
        let mut text = String::with_capacity(MARK.len() + bytes.len() * 4 / 3 + 4);
        text.push_str(MARK);
        URL_SAFE_NO_PAD.encode_string(bytes, &mut text);
        text
    }

    /// Whether a message's text is a group envelope (well formed or not).
    pub fn is_envelope(text: &str) -> bool {
        text.starts_with(MARK)
    }

    pub fn from_text(text: &str) -> Result<Envelope, GroupError> {
        let rest = text.strip_prefix(MARK).ok_or(GroupError::Undecodable)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(rest)
            .map_err(|_| GroupError::Undecodable)?;
        postcard::from_bytes(&bytes).map_err(|_| GroupError::Undecodable)
    }
}

/// The bytes of messages, for an envelope.
pub fn encode_all<'a>(msgs: impl IntoIterator<Item = &'a GroupMsg>) -> Vec<Vec<u8>> {
    msgs.into_iter().map(|m| m.bytes().to_vec()).collect()
}

/// The first bytes of a key, as [`Envelope::Live`] names members.
pub fn short(key: &PublicKey) -> [u8; 4] {
    let mut s = [0; 4];
    s.copy_from_slice(&key.as_bytes()[..4]);
    s
}
