//! What qqchat's integration tests share, as a library so that every test binary takes only
//! what it uses: loopback addresses and free ports, a seeded generator with junk datagrams, a
//! lossy UDP relay, temporary directories, `qqchat` child processes that are always killed
//! and whose output is read with timeouts, and a NAT lab in network namespaces.

mod fs;
mod lab;
mod net;
mod process;
mod relay;
mod rng;
mod tmux;

pub use fs::TempDir;
pub use lab::{Host, Lab, Nat, Router, Segment, lab_required};
pub use net::{WAIT, addr, free_addr, free_port, loopback, loopback_socket};
pub use process::{
    ChildGuard, DHT_LOCAL, Lines, Person, Running, STUN_OFF, friends, qqchat, run, run_within, text,
};
pub use relay::{Impairment, Relay, RelayStats};
pub use rng::{Draw, Rng, junk_datagrams, noise};
pub use tmux::{Tmux, chat, qqchat_line};
