//! Drives a sans-IO [`proto::Node`](crate::proto::Node) from channels and the clock.
//!
//! The engine thread owns the protocol state. Front ends (the TUI, `send`, `listen`, `bot`)
//! talk to it only through [`Command`]s in and [`EngineEvent`]s out, so none of them ever waits
//! on the network and the network never waits on them.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, select};
use jiff::Timestamp;

use crate::net::{self, Incoming};
use crate::proto::{Config, Event, Node, Transmit};

/// What a front end asks the engine to do.
#[derive(Debug, Clone)]
pub enum Command {
    /// Send `text` to `to`. `tag` is the caller's own number for this message; every later
    /// event about it carries the same tag. `plain` sends bare UTF-8 with no receipt.
    Send {
        to: SocketAddr,
        text: String,
        plain: bool,
        tag: u64,
    },
    /// Stop the engine and its threads.
    Shutdown,
}

/// What the engine reports to its front end.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    /// A message arrived, in order and once.
    Received {
        from: SocketAddr,
        text: String,
        /// The sender's clock when it was sent (qqchat peers only).
        sent_at: Option<Timestamp>,
        received_at: Timestamp,
        /// True when it came as bare UTF-8 from a plain UDP peer.
        plain: bool,
    },
    /// The peer acknowledged the message with this tag.
    Delivered { to: SocketAddr, tag: u64 },
    /// A plain message was handed to the network; no receipt will follow.
    Sent { to: SocketAddr, tag: u64 },
    /// The message was given up on after its retries ran out.
    Failed { to: SocketAddr, tag: u64 },
}

/// The front end's side of a running engine.
pub struct EngineHandle {
    pub commands: Sender<Command>,
    pub events: Receiver<EngineEvent>,
    /// The address the socket is bound to.
    pub local_addr: SocketAddr,
}

/// Starts the engine, receiver and sender threads on a bound socket.
pub fn spawn(socket: UdpSocket, config: Config) -> io::Result<EngineHandle> {
    let local_addr = socket.local_addr()?;
    let (cmd_tx, cmd_rx) = crossbeam_channel::unbounded();
    let (ev_tx, ev_rx) = crossbeam_channel::unbounded();
    let (net_tx, net_rx) = crossbeam_channel::unbounded();
    let (out_tx, out_rx) = crossbeam_channel::unbounded();
    let stop = Arc::new(AtomicBool::new(false));
    net::spawn_receiver(socket.try_clone()?, net_tx, Arc::clone(&stop))?;
    net::spawn_sender(socket, out_rx)?;
    let engine = Engine {
        node: Node::new(config),
        out: out_tx,
        events: ev_tx,
    };
    thread::Builder::new()
        .name("qqchat-engine".into())
        .spawn(move || {
            engine.run(&cmd_rx, &net_rx);
            stop.store(true, Ordering::Relaxed);
            // Wake the receiver from recv_from so it sees `stop` and the socket closes.
            if let Ok(s) = UdpSocket::bind(SocketAddr::new(net::wake_addr(local_addr).ip(), 0)) {
                let _ = s.send_to(&[], net::wake_addr(local_addr));
            }
        })?;
    Ok(EngineHandle {
        commands: cmd_tx,
        events: ev_rx,
        local_addr,
    })
}

/// A protocol config for this run: its epoch is the wall clock in microseconds, so message
/// ids never repeat across restarts.
pub fn default_config() -> Config {
    let micros = Timestamp::now().as_microsecond();
    Config::new(u64::try_from(micros).unwrap_or(1))
}

struct Engine {
    node: Node,
    out: Sender<Transmit>,
    events: Sender<EngineEvent>,
}

impl Engine {
    fn run(mut self, commands: &Receiver<Command>, net: &Receiver<Incoming>) {
        loop {
            let timer = match self.node.poll_timeout() {
                Some(deadline) => crossbeam_channel::at(deadline),
                None => crossbeam_channel::never(),
            };
            select! {
                recv(commands) -> cmd => match cmd {
                    Ok(Command::Send { to, text, plain, tag }) => self.send(to, text, plain, tag),
                    Ok(Command::Shutdown) | Err(_) => break,
                },
                recv(net) -> incoming => match incoming {
                    Ok(incoming) => {
                        let now = Instant::now();
                        self.node.handle_datagram(now, incoming.from, &incoming.bytes);
                        // Take whatever else already arrived so acks go out batched.
                        for incoming in net.try_iter().take(256) {
                            self.node.handle_datagram(now, incoming.from, &incoming.bytes);
                        }
                    }
                    Err(_) => break,
                },
                recv(timer) -> _ => self.node.handle_timeout(Instant::now()),
            }
            if !self.flush() {
                break;
            }
        }
        self.flush();
    }

    fn send(&mut self, to: SocketAddr, text: String, plain: bool, tag: u64) {
        if plain {
            self.node.send_plain(to, &text, tag);
            return;
        }
        let sent_at = Timestamp::now().as_millisecond();
        if self
            .node
            .send(Instant::now(), to, text, sent_at, tag)
            .is_err()
        {
            let _ = self.events.send(EngineEvent::Failed { to, tag });
        }
    }

    /// Hands transmits to the sender thread and events to the front end; false once the
    /// front end has gone.
    fn flush(&mut self) -> bool {
        while let Some(t) = self.node.poll_transmit() {
            let _ = self.out.send(t);
        }
        while let Some(event) = self.node.poll_event() {
            let event = match event {
                Event::Received {
                    from,
                    text,
                    sent_at_ms,
                    plain,
                    ..
                } => EngineEvent::Received {
                    from,
                    text,
                    sent_at: sent_at_ms.and_then(|ms| Timestamp::from_millisecond(ms).ok()),
                    received_at: Timestamp::now(),
                    plain,
                },
                Event::Delivered { to, id } => EngineEvent::Delivered { to, tag: id },
                Event::Sent { to, id } => EngineEvent::Sent { to, tag: id },
                Event::Failed { to, id } => EngineEvent::Failed { to, tag: id },
                Event::Presence { .. } => continue,
            };
            if self.events.send(event).is_err() {
                return false;
            }
        }
        true
    }
}
