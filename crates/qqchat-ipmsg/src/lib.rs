//! IP Messenger on a LAN (IP Messenger, Feiq, iptux), sans-IO: no sockets and no clock. The
//! caller passes time and datagrams in and takes datagrams, events and the next deadline
//! out, so the protocol runs on a simulated clock in tests, like qqchat's own protocol.
//!
//! The wire format is `Ver:PacketNo:User:Host:Command:Extra` over UDP port 2425. What each
//! client really does (encodings, receipts, packet numbers) is written beside the code that
//! copes with it.

pub mod consts;
mod endpoint;
mod limit;
pub mod packet;

pub use encoding_rs;
pub use endpoint::{Config, Endpoint, Event, Peer, SendError, Stats, Transmit};
pub use limit::AnswerLimit;
pub use packet::{Flavor, ParseError, RawPacket};
