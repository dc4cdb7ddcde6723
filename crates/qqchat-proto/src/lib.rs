//! The sans-IO protocol: no sockets, no clocks. The caller passes time and datagrams in and
//! takes datagrams, events and the next deadline out, so the whole protocol runs on a
//! simulated clock in tests.

mod api;
mod conn;
pub mod dht;
pub mod group;
pub mod limit;
mod node;
mod peer;
pub mod presence;
pub mod recv;
pub mod rtt;
pub mod secure;
pub mod send;
#[cfg(feature = "sim")]
pub mod sim;
pub mod transfer;
pub mod wire;

pub use api::{Config, Event, MAX_MESSAGE, PunchConfig, SendError, Stats, Transmit, Trouble};
pub use node::{Node, PathKind, is_lan};
pub use peer::{PeerId, PublicKey, canonical};
pub use presence::{LinkHealth, PresenceConfig};
