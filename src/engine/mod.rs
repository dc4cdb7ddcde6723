//! Drives a sans-IO [`proto::Node`](crate::proto::Node) from channels and the clock, and
//! keeps the history and the outbox on disk.
//!
//! The engine is split like the protocol under it. [`EngineCore`] is the logic, with no I/O:
//! commands, datagrams and time in; records to store, datagrams to send and events out. The
//! driver is the thread around it: it owns the channels, the history files and the only
//! clock reads, and it writes and syncs every record of a step before any datagram of that
//! step (a receipt above all) is sent. Front ends (the TUI, `send`, `listen`, `bot`, `ping`)
//! talk to it only through [`Command`]s in and [`EngineEvent`]s out, so none of them ever
//! waits on the network and the network never waits on them.

mod advice;
mod api;
mod core;
mod disk;
mod driver;
mod group_view;
mod ids;
mod lan_files;
mod limit;
mod stun;
mod trust;
mod turn;

pub use self::core::{
    CoreOptions, EngineCore, Fetch, FileStore, LanFileJob, LanFileReport, LanOptions, Now,
    OFFER_LIFETIME, Output, RequestHeader, StoreOp,
};
pub use api::{
    Command, EngineEvent, EngineHandle, FileAction, FileProgress, Link, Neighbour, NeighbourKind,
    Options, conversation_peer, history_key,
};
pub use disk::{DiskFiles, FilesSetup, KEEP_INTERRUPTED};
pub use driver::{default_config, spawn};
pub use group_view::{GroupItem, GroupItemKind, GroupSnapshot, GroupView};
pub use ids::{IdGen, ProcessIds, SeededIds, new_message_id};
pub use limit::too_long;
pub use stun::{Mapping, Probe, Reachability, ServerReport, StunClient, StunServer};
pub use trust::{KeyChange, accept_change, hold_keys};
pub use turn::{RelayFailure, RelayReport, RelayServer, RelayState};
