//! IP Messenger on a LAN (IP Messenger, Feiq, iptux), sans-IO: no sockets and no clock. The
//! caller passes time and datagrams in and takes datagrams, events and the next deadline
//! out, so the protocol runs on a simulated clock in tests, like qqchat's own protocol.
//!
//! The wire format is `Ver:PacketNo:User:Host:Command:Extra` over UDP port 2425. What each
//! client really does (encodings, receipts, packet numbers) is written beside the code that
//! copes with it.
//!
//! File attachments (an offer's file list, the requests that fetch files over TCP, the stream
//! a directory comes as) are in [`file`], as codecs only: the caller owns the TCP sockets.
//!
//! ```
//! use std::net::{IpAddr, SocketAddr};
//! use std::time::{Instant, SystemTime};
//! use qqchat_ipmsg::{Config, Endpoint, Event, packet_no_at};
//!
//! let mut config = Config::new("ann", "ann-pc", "Ann");
//! config.local_ips = vec!["192.168.1.20".parse().unwrap()];
//! config.broadcasts = vec!["192.168.1.255".parse().unwrap()];
//! let mut lan = Endpoint::new(config, packet_no_at(SystemTime::now()));
//! lan.announce();
//!
//! // What the socket received, with the time it was read:
//! let from: SocketAddr = "192.168.1.31:2425".parse().unwrap();
//! lan.handle_datagram(Instant::now(), from, b"1_iptux 0.8.3:1733212345:ben:pc:1:Ben\0\0");
//!
//! let mut datagrams = 0;
//! while let Some(t) = lan.poll_transmit() {
//!     datagrams += 1; // socket.send_to(&t.payload, t.dst), with SO_BROADCAST if t.broadcast
//! }
//! assert_eq!(datagrams, 3); // two copies of our entry, the answer to Ben's
//! while let Some(event) = lan.poll_event() {
//!     if let Event::PeerEntered(peer) = event {
//!         assert_eq!(peer.nick, "Ben");
//!     }
//! }
//! lan.send(Instant::now(), IpAddr::from([192, 168, 1, 31]), "hi Ben", 1).unwrap();
//! // ...and call lan.handle_timeout(now) when lan.poll_timeout() is reached.
//! ```

pub mod consts;
mod endpoint;
pub mod file;
mod limit;
pub mod packet;

pub use encoding_rs;
pub use endpoint::{Config, Endpoint, Event, Peer, SendError, Stats, Transmit, packet_no_at};
pub use file::{DirHeader, DirItem, DirReader, FileEntry, FileError, FileList, FileRequest};
pub use limit::AnswerLimit;
pub use packet::{Flavor, ParseError, RawPacket, Utf8Names};
