//! Drives a sans-IO [`proto::Node`](crate::proto::Node) from channels and the clock.
//!
//! The engine thread owns the protocol state. Front ends (the TUI, `send`, `listen`, `bot`)
//! talk to it only through [`Command`]s in and [`EngineEvent`]s out, so none of them ever waits
//! on the network and the network never waits on them.

use std::net::SocketAddr;

use jiff::Timestamp;

/// What a front end asks the engine to do.
#[derive(Debug, Clone)]
pub enum Command {
    /// Send `text` to `to`. `tag` is the caller's own number for this message; every later
    /// event about it carries the same tag. `plain` sends bare UTF-8 with no receipt.
    Send {
        to: SocketAddr,
        text: String,
        plain: bool,
        tag: u64,
    },
    /// Stop the engine and its threads.
    Shutdown,
}

/// What the engine reports to its front end.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    /// A message arrived, in order and once.
    Received {
        from: SocketAddr,
        text: String,
        /// The sender's clock when it was sent (qqchat peers only).
        sent_at: Option<Timestamp>,
        received_at: Timestamp,
        /// True when it came as bare UTF-8 from a plain UDP peer.
        plain: bool,
    },
    /// The peer acknowledged the message with this tag.
    Delivered { to: SocketAddr, tag: u64 },
    /// A plain message was handed to the network; no receipt will follow.
    Sent { to: SocketAddr, tag: u64 },
    /// The message was given up on after its retries ran out.
    Failed { to: SocketAddr, tag: u64 },
}
