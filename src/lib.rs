//! qqchat: a peer-to-peer messenger over UDP with a terminal UI.
//!
//! The modules are layers, and each uses only those below it (`tests/layers.rs` checks this):
//!
//! ```text
//! cli            the front ends: the chat, the demo, send, listen, bot, ping, history, id, add
//! tui            the terminal: raw mode, the input thread, the loop that feeds App and draws
//! ui             drawing, one function per pane, read-only over &App
//! control        the local socket through which commands ask the running qqchat
//! app            UI state and what keys and engine events do to it; no I/O
//! engine         drives the protocol: a sans-IO core and the thread that owns files and clock
//! layout         sizes and wrapping shared by app and ui
//! store          the history on disk;  contacts: contacts.toml;  lan: finding qqchats on the LAN
//!                dht: our address record on the BitTorrent DHT, and friends' looked up there
//! files          received files on disk: safe names, resumable `.part` files, the downloads dir
//! identity, net  the key pair file and contact strings; the only socket code
//! text, proto    text helpers; the sans-IO protocol crate
//! ```
pub mod app;
pub mod cli;
pub mod contacts;
pub mod control;
pub mod dht;
pub mod engine;
pub mod files;
pub mod identity;
pub mod lan;
pub mod layout;
mod net;
pub mod signals;
pub mod store;
mod text;
mod tui;
pub mod ui;

/// The sans-IO protocol, its own crate so that "no sockets, no clock" holds at compile time.
pub use qqchat_proto as proto;
