//! What the secure layer shows the node: its settings, what a datagram turned out to be, why
//! one was refused, its events and counters.

use std::net::SocketAddr;
use std::time::Duration;

use crate::PublicKey;

/// Timers of the secure layer.
#[derive(Debug, Clone)]
pub struct SecureConfig {
    /// The initiator of a session starts a new handshake once it is this old.
    pub rekey_after: Duration,
    /// Either side starts a new handshake once a session is this old...
    pub rekey_any_after: Duration,
    /// ...and no longer uses it at all after this.
    pub reject_after: Duration,
    /// A handshake unanswered this long is sent again (with a fresh ephemeral key).
    pub handshake_retry: Duration,
    /// A handshake unanswered this long is given up (a new send starts another).
    pub handshake_give_up: Duration,
    /// Handshake initiations accepted per second (and at once) from one IP.
    pub handshake_rate: u32,
    pub handshake_burst: u32,
}

impl Default for SecureConfig {
    fn default() -> Self {
        Self {
            rekey_after: Duration::from_secs(120),
            rekey_any_after: Duration::from_secs(150),
            reject_after: Duration::from_secs(180),
            handshake_retry: Duration::from_secs(1),
            handshake_give_up: Duration::from_secs(90),
            handshake_rate: 10,
            handshake_burst: 20,
        }
    }
}

/// Something the node should report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecureEvent {
    /// A handshake offered a key that no contact carries. `expected` is set when it came from
    /// the address of a keyed contact: that contact's key changed, or someone impersonates it.
    KeyRefused {
        from: SocketAddr,
        offered: PublicKey,
        expected: Option<PublicKey>,
    },
    /// Handshakes with this contact went unanswered while there was no session to send with:
    /// reported once until a session is made.
    NoAnswer { key: PublicKey },
}

/// What became of an inbound version-2 datagram.
#[derive(Debug, PartialEq, Eq)]
pub enum Inbound {
    /// Authenticated plaintext from the contact with this key.
    Packet(PublicKey, Vec<u8>),
    /// A handshake step with the contact with this key, handled.
    Handshake(PublicKey),
    /// Refused: failed authentication, a replay, junk or too many handshakes.
    Refused(Refusal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Malformed,
    BadMac,
    RateLimited,
    Unauthenticated,
    Replay,
    UnknownKey,
    Expired,
}

/// Counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecureStats {
    pub handshakes_sent: u64,
    /// Handshake initiations refused for coming too often from one IP.
    pub rate_limited: u64,
    pub sessions: u64,
    pub refused: u64,
    pub replays: u64,
}
