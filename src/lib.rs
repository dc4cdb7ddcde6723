//! qqchat: a peer-to-peer messenger over UDP with a terminal UI.
pub mod app;
pub mod cli;
pub mod contacts;
pub mod contacts_edit;
pub mod engine;
pub mod identity;
pub mod net;
pub mod proto;
pub mod store;
pub mod text;
pub mod tui;
pub mod ui;
