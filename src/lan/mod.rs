//! Finding other qqchat users on the LAN with DNS-SD over multicast DNS (UDP 5353).
//!
//! qqchat announces itself as a `_qqchat._udp.local.` service (instance name: the user's name;
//! TXT `name`, `port`, `key`, `version`) and browses for the others. What it finds comes as
//! [`LanEvent`]s on a crossbeam channel, so a front end merges them into its own `select!`
//! like any other source. The mDNS work runs on `mdns-sd`'s own thread; [`Lan`] withdraws the
//! announcement when it is dropped or [`Lan::withdraw`]n.

mod mdns;
mod peers;
pub mod txt;

use std::net::{IpAddr, SocketAddr};

use crossbeam_channel::{Receiver, Sender};

use crate::proto::PublicKey;

pub use peers::{MAX_ADDRS, MAX_PEERS, Peers, Resolved};

/// The DNS-SD service type qqchat announces and browses.
pub const SERVICE_TYPE: &str = "_qqchat._udp.local.";

/// What discovery does, as plain data, so that a command-line flag or a contacts-file
/// setting can fill it in alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanConfig {
    /// False: neither announce nor browse.
    pub discover: bool,
    /// Interface names to use; empty means every up, non-loopback IPv4 interface.
    pub interfaces: Vec<String>,
    /// Announced as the instance name and in TXT `name`.
    pub name: String,
    /// The chat port, announced in SRV and TXT `port`.
    pub port: u16,
    /// This user's public key, announced in TXT `key`, and how its own announcement is told
    /// apart from the others.
    pub key: Option<PublicKey>,
    /// The one address the chat socket is bound to, announced alone; `None` (bound to every
    /// interface) announces each selected interface's address.
    pub ip: Option<IpAddr>,
}

/// What discovery reports. Names and versions are already bounded and safe to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LanEvent {
    /// A qqchat on the LAN, or one whose addresses, key or version changed.
    Discovered {
        name: String,
        addrs: Vec<SocketAddr>,
        key: Option<PublicKey>,
        version: Option<String>,
    },
    /// One that withdrew its announcement, or whose records expired.
    Gone { name: String },
    /// Why discovery does not work, or only partly; said once per reason.
    Trouble(String),
}

/// Discovery while it runs. Dropping it withdraws the announcement.
pub struct Lan {
    events: Receiver<LanEvent>,
    running: Option<mdns::Running>,
    /// Keeps `events` open (and quiet) when discovery is off or failed, so that a
    /// `select!` over it never sees a disconnected channel.
    _open: Sender<LanEvent>,
}

impl Lan {
    /// Starts announcing and browsing as `config` says. Never fails: what goes wrong (no
    /// usable interface, the mDNS port taken) arrives as [`LanEvent::Trouble`].
    pub fn start(config: LanConfig) -> Lan {
        let (tx, events) = crossbeam_channel::unbounded();
        let running = if config.discover {
            match mdns::start(&config, tx.clone()) {
                Ok(running) => Some(running),
                Err(err) => {
                    let _ = tx.send(LanEvent::Trouble(err.to_string()));
                    None
                }
            }
        } else {
            None
        };
        Lan {
            events,
            running,
            _open: tx,
        }
    }

    /// A `Lan` that does nothing: for `--no-lan`.
    pub fn off() -> Lan {
        let (tx, events) = crossbeam_channel::unbounded();
        Lan {
            events,
            running: None,
            _open: tx,
        }
    }

    /// Where [`LanEvent`]s arrive.
    pub fn events(&self) -> &Receiver<LanEvent> {
        &self.events
    }

    /// True while the announcement is out (discovery on and started).
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Withdraws the announcement (a goodbye with TTL 0, so the others forget this qqchat at
    /// once rather than when the records expire) and stops. Waits a moment for the goodbye
    /// to be sent; calling it again does nothing.
    pub fn withdraw(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop();
        }
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        self.withdraw();
    }
}

/// Why discovery could not start.
#[derive(Debug, thiserror::Error)]
pub enum LanError {
    #[error("LAN discovery is off: no up IPv4 interface other than loopback was found")]
    NoInterface,
    #[error("LAN discovery is off: no up IPv4 interface is named {0}")]
    NoSuchInterface(String),
    #[error("LAN discovery is off: the interfaces cannot be listed: {0}")]
    Interfaces(std::io::Error),
    #[error("LAN discovery is off: the multicast DNS port (UDP 5353) cannot be opened: {0}")]
    Socket(std::io::Error),
    #[error("LAN discovery is off: {0}")]
    Daemon(#[from] mdns_sd::Error),
    #[error("LAN discovery is off: a thread could not start: {0}")]
    Thread(std::io::Error),
}

/// The broadcast addresses and own IPv4 addresses of the interfaces LAN features use: up,
/// IPv4, not loopback, and among `chosen` when any are named. IP Messenger broadcasts its
/// entry to each of these (and to 255.255.255.255), and knows its own echoes by them.
pub fn broadcast_interfaces(chosen: &[String]) -> (Vec<std::net::Ipv4Addr>, Vec<IpAddr>) {
    let mut broadcasts = Vec::new();
    let mut own = Vec::new();
    for i in if_addrs::get_if_addrs().unwrap_or_default() {
        let if_addrs::IfAddr::V4(v4) = &i.addr else {
            continue;
        };
        if !i.is_oper_up() || !mdns::selected(chosen, &i.name, i.ip(), i.is_loopback()) {
            continue;
        }
        own.push(IpAddr::V4(v4.ip));
        if let Some(b) = v4.broadcast
            && !broadcasts.contains(&b)
        {
            broadcasts.push(b);
        }
    }
    (broadcasts, own)
}
