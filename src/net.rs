//! The only socket code: binding, a receiver thread and a sender thread.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Select, Sender};
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

/// File data the chat socket's sender thread holds at most, in datagrams. Chat never waits
/// behind it (it has a lane of its own), so it only has to cover the engine's wake-up: 128
/// datagrams are 12 ms at 100 Mbit/s. Anything longer is a queue congestion control cannot
/// see the end of, since a full socket buffer blocks instead of dropping.
pub const BULK_LANE: usize = 128;

/// The bulk lane has drained to this: an engine that held file data back is woken to refill.
pub const BULK_LOW: usize = BULK_LANE / 2;

/// The engine's end of the chat socket's sender thread: an urgent lane (chat, receipts,
/// pings, transfer control: everything small) that always goes first, and a short bulk lane
/// for file data, which the engine fills only as far as [`Outbound::room`] says.
pub struct Outbound {
    urgent: Sender<Transmit>,
    bulk: Sender<Transmit>,
    drained_tx: Sender<()>,
    /// A token here: the bulk lane has room again for file data the engine held back.
    pub drained: Receiver<()>,
}

impl Outbound {
    /// Queues a datagram ahead of all file data; a closed sender is a lost datagram, which
    /// retransmission covers.
    pub fn send(&self, t: Transmit) {
        let _ = self.urgent.send(t);
    }

    /// Queues a datagram of file data. Past [`Outbound::room`] it is dropped, as a full
    /// queue on the path would: the transfer sends it again.
    pub fn send_bulk(&self, t: Transmit) {
        let _ = self.bulk.try_send(t);
    }

    /// Datagrams of file data the bulk lane takes now.
    pub fn room(&self) -> usize {
        BULK_LANE.saturating_sub(self.bulk.len())
    }

    /// The engine held file data back for want of room, after its last datagram of the
    /// step: a token comes on [`Outbound::drained`] once the lane is down to [`BULK_LOW`], at
    /// once if it already is. (The sender thread sends one each time it takes the lane down
    /// to that mark: with no more pushed, it gets there one datagram at a time, so it cannot
    /// miss it.)
    pub fn want_room(&self) {
        if self.bulk.len() <= BULK_LOW {
            let _ = self.drained_tx.try_send(());
        }
    }
}

/// The sender thread's end of [`Outbound`].
struct Lanes {
    urgent: Receiver<Transmit>,
    bulk: Receiver<Transmit>,
    drained: Sender<()>,
}

impl Lanes {
    fn new() -> (Outbound, Lanes) {
        let (urgent, urgent_rx) = crossbeam_channel::unbounded();
        let (bulk, bulk_rx) = crossbeam_channel::bounded(BULK_LANE);
        // One token is enough: the engine takes its next step, and sees the room itself.
        let (drained_tx, drained) = crossbeam_channel::bounded(1);
        let lanes = Lanes {
            urgent: urgent_rx,
            bulk: bulk_rx,
            drained: drained_tx.clone(),
        };
        let out = Outbound {
            urgent,
            bulk,
            drained_tx,
            drained,
        };
        (out, lanes)
    }

    /// Lanes with only the urgent one, for a socket that carries no file data.
    fn urgent_only(urgent: Receiver<Transmit>) -> Lanes {
        // A bulk lane whose sending end is gone: empty and closed.
        let (_, bulk) = crossbeam_channel::bounded(0);
        Lanes {
            urgent,
            bulk,
            drained: crossbeam_channel::bounded(1).0,
        }
    }

    /// The next datagram to write, urgent ones first, waiting until there is one; `None`
    /// once both lanes are closed and empty (everything queued has been handed out).
    fn next(&self) -> Option<Transmit> {
        let never = crossbeam_channel::never();
        loop {
            let urgent = match self.urgent.try_recv() {
                Ok(t) => return Some(t),
                Err(e) => e,
            };
            let bulk = match self.bulk.try_recv() {
                Ok(t) => {
                    self.took_bulk();
                    return Some(t);
                }
                Err(e) => e,
            };
            if urgent.is_disconnected() && bulk.is_disconnected() {
                return None;
            }
            // Wait for either, then take from the urgent lane first: a select that takes
            // the datagram itself could pick file data over a message ready beside it.
            let mut ready = Select::new();
            ready.recv(if urgent.is_disconnected() {
                &never
            } else {
                &self.urgent
            });
            ready.recv(if bulk.is_disconnected() {
                &never
            } else {
                &self.bulk
            });
            ready.ready();
        }
    }

    /// Wakes the engine as the lane passes its low mark; a token nobody waited for only
    /// costs the engine one step.
    fn took_bulk(&self) {
        if self.bulk.len() == BULK_LOW {
            let _ = self.drained.try_send(());
        }
    }
}

/// The chat socket's sender thread, and the engine's end of its lanes. It writes until
/// both lanes close, everything queued included.
pub fn spawn_sender(socket: UdpSocket) -> io::Result<(Outbound, JoinHandle<()>)> {
    let (out, lanes) = Lanes::new();
    let thread = spawn_writer(socket, lanes)?;
    Ok((out, thread))
}

fn spawn_writer(socket: UdpSocket, lanes: Lanes) -> io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name("qqchat-send".into())
        .spawn(move || {
            while let Some(t) = lanes.next() {
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
        let sender = spawn_writer(socket, Lanes::urgent_only(out_rx))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn datagram(text: &str) -> Transmit {
        Transmit {
            dst: SocketAddr::from(([127, 0, 0, 1], 9)),
            payload: text.as_bytes().to_vec(),
        }
    }

    fn text(t: Option<Transmit>) -> String {
        String::from_utf8(t.expect("a datagram").payload).expect("text")
    }

    #[test]
    fn a_message_queued_behind_a_full_bulk_lane_goes_first() {
        let (out, lanes) = Lanes::new();
        for _ in 0..BULK_LANE {
            out.send_bulk(datagram("data"));
        }
        assert_eq!(out.room(), 0);
        out.send(datagram("chat"));
        out.send(datagram("ack"));
        assert_eq!(text(lanes.next()), "chat");
        assert_eq!(text(lanes.next()), "ack");
        assert_eq!(text(lanes.next()), "data");
        out.send(datagram("pong"));
        assert_eq!(text(lanes.next()), "pong");
        assert_eq!(out.room(), 1);
    }

    #[test]
    fn file_data_past_the_room_is_dropped_not_queued() {
        let (out, lanes) = Lanes::new();
        for _ in 0..BULK_LANE + 10 {
            out.send_bulk(datagram("data"));
        }
        assert_eq!(lanes.bulk.len(), BULK_LANE);
    }

    #[test]
    fn an_engine_waiting_for_room_is_woken_once_the_lane_is_low() {
        let (out, lanes) = Lanes::new();
        for _ in 0..BULK_LANE {
            out.send_bulk(datagram("data"));
        }
        out.want_room();
        for _ in BULK_LOW..BULK_LANE - 1 {
            lanes.next();
        }
        assert!(
            out.drained.try_recv().is_err(),
            "woken while the lane is still full"
        );
        lanes.next();
        assert!(out.drained.try_recv().is_ok(), "not woken at the low mark");
        // Below the mark: no more tokens.
        lanes.next();
        assert!(out.drained.try_recv().is_err());
        // Asked when the lane is already low: woken at once.
        out.want_room();
        assert!(out.drained.try_recv().is_ok());
    }

    #[test]
    fn everything_queued_is_written_before_the_sender_ends() {
        let (out, lanes) = Lanes::new();
        out.send_bulk(datagram("data"));
        out.send(datagram("bye"));
        drop(out);
        assert_eq!(text(lanes.next()), "bye");
        assert_eq!(text(lanes.next()), "data");
        assert!(lanes.next().is_none());
        let (tx, rx) = crossbeam_channel::unbounded();
        tx.send(datagram("relay")).expect("open");
        drop(tx);
        let side = Lanes::urgent_only(rx);
        assert_eq!(text(side.next()), "relay");
        assert!(side.next().is_none());
    }
}
