//! One group message: what its author wrote, where it stands in the group's history (the
//! messages it follows), and the author's signature over both, so a member who forwards it
//! can change neither the words nor who wrote them.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::GroupError;
use crate::PublicKey;
use crate::secure::{Keypair, sign};

/// The most members a group has, its creator included.
pub const MAX_MEMBERS: usize = 64;
/// The longest group or member name, in bytes of UTF-8.
pub const MAX_NAME: usize = 64;
/// The most messages one message names as the latest its author had seen.
pub const MAX_PARENTS: usize = 16;
/// The longest text of a group message, in bytes: room is left in a 1 MiB message for the
/// signature, the parents and the text encoding of the envelope.
pub const MAX_TEXT: usize = 256 << 10;

/// What a signature covers starts with this, so a group message's signature can never be
/// taken for one over anything else the key signs.
const SIGNING_CONTEXT: &[u8] = b"qqchat group message v1\0";

/// `name` cut to at most [`MAX_NAME`] bytes on a character boundary, never empty: how a
/// contact's name becomes a member's.
pub fn clip_name(name: &str) -> String {
    let mut end = name.len().min(MAX_NAME);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    match &name[..end] {
        "" => "member".to_owned(),
        n => n.to_owned(),
    }
}

/// A group's name on the wire: derived from its creator's key and a random salt (see
/// [`GroupId::derive`]), so only the creator can write the message that starts it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GroupId(pub [u8; 16]);

impl GroupId {
    pub fn derive(creator: &PublicKey, salt: &[u8; 16]) -> GroupId {
        let mut h = blake3::Hasher::new();
        h.update(b"qqchat group id\0");
        h.update(creator.as_bytes());
        h.update(salt);
        let mut id = [0; 16];
        id.copy_from_slice(&h.finalize().as_bytes()[..16]);
        GroupId(id)
    }

    /// The id in lower-case hex, as files and the command line name it.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn from_hex(s: &str) -> Option<GroupId> {
        if s.len() != 32 || !s.is_ascii() {
            return None;
        }
        let mut id = [0; 16];
        for (i, b) in id.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(GroupId(id))
    }
}

impl fmt::Debug for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GroupId({})", &self.to_hex()[..8])
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// A message's place: its author and the author's count of messages in the group (from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MsgRef {
    pub author: PublicKey,
    pub seq: u64,
}

/// Someone in the group, as whoever added them named them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub key: PublicKey,
    pub name: String,
}

/// What a message says: text, or a change of the membership.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    Text(String),
    /// The first message of a group, by its creator: its name and first members.
    Create {
        name: String,
        salt: [u8; 16],
        members: Vec<Member>,
    },
    /// Any member invites someone.
    Add(Member),
    /// The creator takes someone out.
    Remove(PublicKey),
    /// The author leaves (or declines the invitation).
    Leave,
}

impl Body {
    pub fn is_membership(&self) -> bool {
        !matches!(self, Body::Text(_))
    }
}

/// What the author signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    pub group: GroupId,
    pub author: PublicKey,
    /// The author's count of its messages in this group, from 1: its message `seq - 1`
    /// comes before it too.
    pub seq: u64,
    /// One more than the largest `lamport` among the parents: sorting by it puts every
    /// message after everything it follows, the same way on every screen.
    pub lamport: u64,
    /// The latest messages the author had seen (no message among them follows another).
    pub parents: Vec<MsgRef>,
    /// The author's clock, in milliseconds since the Unix epoch: shown, never trusted for
    /// order.
    pub sent_at_ms: i64,
    pub body: Body,
}

impl Content {
    pub fn id(&self) -> MsgRef {
        MsgRef {
            author: self.author,
            seq: self.seq,
        }
    }

    /// The messages this one follows directly: its parents and its author's previous one.
    pub fn follows(&self) -> impl Iterator<Item = MsgRef> + '_ {
        let own = (self.seq > 1).then(|| MsgRef {
            author: self.author,
            seq: self.seq - 1,
        });
        own.into_iter().chain(self.parents.iter().copied())
    }

    /// Where it goes in the group's order: after everything it follows.
    pub fn order(&self) -> Order {
        Order {
            lamport: self.lamport,
            author: self.author,
            seq: self.seq,
        }
    }

    fn check(&self) -> Result<(), GroupError> {
        let bad = |why: &'static str| Err(GroupError::Malformed(why));
        if self.seq == 0 || self.lamport == 0 {
            return bad("a count of zero");
        }
        if self.parents.len() > MAX_PARENTS {
            return bad("too many parents");
        }
        if self.parents.iter().any(|p| p.seq == 0) {
            return bad("a parent counted zero");
        }
        let name_ok = |n: &str| !n.is_empty() && n.len() <= MAX_NAME;
        match &self.body {
            Body::Text(t) if t.len() > MAX_TEXT => bad("text too long"),
            Body::Create {
                name,
                salt,
                members,
            } => {
                if self.seq != 1 || GroupId::derive(&self.author, salt) != self.group {
                    return bad("a group started by someone else");
                }
                if !name_ok(name) || members.iter().any(|m| !name_ok(&m.name)) {
                    return bad("a name empty or too long");
                }
                if members.iter().filter(|m| m.key != self.author).count() >= MAX_MEMBERS {
                    return Err(GroupError::TooManyMembers);
                }
                Ok(())
            }
            Body::Add(m) if !name_ok(&m.name) => bad("a name empty or too long"),
            _ => Ok(()),
        }
    }
}

/// The order of a group's messages: by `lamport`, then by author and count so that
/// concurrent messages sort the same everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Order {
    pub lamport: u64,
    pub author: PublicKey,
    pub seq: u64,
}

impl Order {
    pub fn id(&self) -> MsgRef {
        MsgRef {
            author: self.author,
            seq: self.seq,
        }
    }
}

/// A message as it travels and is stored: the signed bytes, and what they say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMsg {
    pub content: Content,
    /// The encoded [`Wire`] form: what is forwarded and stored, never re-encoded.
    bytes: Arc<[u8]>,
}

/// The bytes of a signed message.
#[derive(Serialize, Deserialize)]
struct Wire<'a> {
    content: &'a [u8],
    signature: (&'a [u8], &'a [u8]),
}

impl GroupMsg {
    /// Writes and signs a message as the owner of `keys`.
    pub fn sign(keys: &Keypair, content: Content, rng: impl rand::CryptoRng) -> GroupMsg {
        let body = postcard::to_stdvec(&content).unwrap_or_default();
        let signature = sign::sign(keys, &signed_bytes(&body), rng);
        let wire = Wire {
            content: &body,
            signature: (&signature[..32], &signature[32..]),
        };
        let bytes = postcard::to_stdvec(&wire).unwrap_or_default();
        GroupMsg {
            content,
            bytes: bytes.into(),
        }
    }

    /// Reads a message from the network or a file, checking its signature and bounds.
    pub fn decode(bytes: &[u8]) -> Result<GroupMsg, GroupError> {
        let wire: Wire = postcard::from_bytes(bytes).map_err(|_| GroupError::Undecodable)?;
        let content: Content =
            postcard::from_bytes(wire.content).map_err(|_| GroupError::Undecodable)?;
        let (a, b) = wire.signature;
        let signature: sign::Signature = [a, b]
            .concat()
            .try_into()
            .map_err(|_| GroupError::Undecodable)?;
        sign::verify(&content.author, &signed_bytes(wire.content), &signature)
            .map_err(|_| GroupError::BadSignature)?;
        content.check()?;
        Ok(GroupMsg {
            content,
            bytes: bytes.into(),
        })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn id(&self) -> MsgRef {
        self.content.id()
    }

    pub fn order(&self) -> Order {
        self.content.order()
    }
}

fn signed_bytes(content: &[u8]) -> Vec<u8> {
    [SIGNING_CONTEXT, content].concat()
}
