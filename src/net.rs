//! The only socket code: binding, a receiver thread and a sender thread.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender};
use thiserror::Error;

use crate::proto::Transmit;

/// A datagram as it came off the socket.
#[derive(Debug)]
pub struct Incoming {
    pub from: SocketAddr,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Error)]
pub enum NetError {
    #[error(
        "port {port} is already in use on {addr}: is another qqchat running? \
         Pick another address with --bind, e.g. --bind {suggest}"
    )]
    InUse {
        addr: SocketAddr,
        port: u16,
        suggest: SocketAddr,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
}

/// Binds the socket, turning "address in use" into advice a person can act on.
pub fn bind(addr: SocketAddr) -> Result<UdpSocket, NetError> {
    UdpSocket::bind(addr).map_err(|source| {
        if source.kind() == io::ErrorKind::AddrInUse {
            let suggest = free_neighbour(addr);
            NetError::InUse {
                addr,
                port: addr.port(),
                suggest,
            }
        } else {
            NetError::Bind { addr, source }
        }
    })
}

/// The first port above `addr`'s (at least 1024) that can be bound right now, so the advice
/// after "port in use" is itself usable; port 0 (the system picks) if none of the next
/// hundred is free.
fn free_neighbour(addr: SocketAddr) -> SocketAddr {
    let first = addr.port().saturating_add(1).max(1024);
    (first..=first.saturating_add(100))
        .map(|port| SocketAddr::new(addr.ip(), port))
        .find(|candidate| UdpSocket::bind(candidate).is_ok())
        .unwrap_or(SocketAddr::new(addr.ip(), 0))
}

/// Reads datagrams until `stop` is set (the owner then wakes it with one datagram).
pub fn spawn_receiver(
    socket: UdpSocket,
    tx: Sender<Incoming>,
    stop: Arc<AtomicBool>,
) -> io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name("qqchat-recv".into())
        .spawn(move || {
            // Larger than any valid datagram, so an oversized one is seen whole and refused.
            let mut buf = vec![0u8; 65_536];
            while !stop.load(Ordering::Relaxed) {
                match socket.recv_from(&mut buf) {
                    Ok((len, from)) => {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let incoming = Incoming {
                            from,
                            bytes: buf[..len].to_vec(),
                        };
                        if tx.send(incoming).is_err() {
                            break;
                        }
                    }
                    // ICMP errors surface here on some systems; they say nothing about us.
                    Err(_) => continue,
                }
            }
        })
}

/// Writes datagrams until the channel closes.
pub fn spawn_sender(socket: UdpSocket, rx: Receiver<Transmit>) -> io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name("qqchat-send".into())
        .spawn(move || {
            for t in rx {
                // A failed send is the same as a lost datagram: retransmission covers it.
                let _ = socket.send_to(&t.payload, t.dst);
            }
        })
}

/// A socket of the engine's own beside the chat socket (the TURN relay's on a port the
/// system picks, IP Messenger's on 2425), with its receiver and sender threads. Dropping it sends what is queued,
/// stops both threads and frees the port.
pub struct SideSocket {
    pub local: SocketAddr,
    pub incoming: Receiver<Incoming>,
    out: Option<Sender<Transmit>>,
    stop: Arc<AtomicBool>,
    sender: Option<JoinHandle<()>>,
    receiver: Option<JoinHandle<()>>,
}

impl SideSocket {
    /// Opens one on `ip` (the chat socket's, so it leaves by the same interface).
    pub fn open(ip: IpAddr) -> io::Result<SideSocket> {
        SideSocket::open_at(SocketAddr::new(ip, 0), false)
    }

    /// Opens one at `addr`; `broadcast` allows sending to broadcast addresses (IP
    /// Messenger's entry and exit go to every host on the LAN).
    pub fn open_at(addr: SocketAddr, broadcast: bool) -> io::Result<SideSocket> {
        let socket = UdpSocket::bind(addr)?;
        socket.set_broadcast(broadcast)?;
        let local = socket.local_addr()?;
        let (tx, incoming) = crossbeam_channel::bounded(1024);
        let (out, out_rx) = crossbeam_channel::unbounded();
        let stop = Arc::new(AtomicBool::new(false));
        let receiver = spawn_receiver(socket.try_clone()?, tx, Arc::clone(&stop))?;
        let sender = spawn_sender(socket, out_rx)?;
        Ok(SideSocket {
            local,
            incoming,
            out: Some(out),
            stop,
            sender: Some(sender),
            receiver: Some(receiver),
        })
    }

    /// Queues a datagram; a closed sender is a lost datagram, which retransmission covers.
    pub fn send(&self, t: Transmit) {
        if let Some(out) = &self.out {
            let _ = out.send(t);
        }
    }
}

impl Drop for SideSocket {
    fn drop(&mut self) {
        drop(self.out.take());
        if let Some(sender) = self.sender.take() {
            let _ = sender.join();
        }
        self.stop.store(true, Ordering::Relaxed);
        // A receiver blocked on a full channel ends once the channel is gone.
        self.incoming = crossbeam_channel::never();
        let wake = wake_addr(self.local);
        if let Ok(s) = UdpSocket::bind(SocketAddr::new(wake.ip(), 0)) {
            let _ = s.send_to(&[], wake);
        }
        if let Some(receiver) = self.receiver.take() {
            let _ = receiver.join();
        }
    }
}

/// The loopback address of a socket bound to `local`, for waking its receiver.
pub fn wake_addr(local: SocketAddr) -> SocketAddr {
    let mut addr = local;
    if local.ip().is_unspecified() {
        addr.set_ip(match local {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}

/// For a socket on every interface, the address this machine sends from by default: a UDP
/// `connect` only asks the routing table, no datagram is sent. `None` for a specific
/// address, or when there is no route (a machine with no network).
pub fn outbound_ip(listen: SocketAddr) -> Option<IpAddr> {
    if !listen.ip().is_unspecified() {
        return None;
    }
    // A documentation address (RFC 5737 / 3849): it only picks the route.
    let probe: SocketAddr = if listen.is_ipv4() {
        "192.0.2.1:9".parse().ok()?
    } else {
        "[2001:db8::1]:9".parse().ok()?
    };
    let socket = UdpSocket::bind(SocketAddr::new(listen.ip(), 0)).ok()?;
    socket.connect(probe).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}
