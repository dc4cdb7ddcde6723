//! qqchat: a peer-to-peer messenger over UDP with a terminal UI.
pub mod app;
pub mod cli;
pub mod contacts;
pub mod engine;
pub mod identity;
pub mod layout;
pub mod net;
pub mod store;
pub mod text;
pub mod tui;
pub mod ui;

/// The sans-IO protocol, its own crate so that "no sockets, no clock" holds at compile time.
pub use qqchat_proto as proto;
