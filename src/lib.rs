//! qqchat: a peer-to-peer messenger over UDP with a terminal UI.
pub mod contacts;
pub mod engine;
pub mod proto;
