//! IP Messenger beside the qqchat protocol. Its events become the same records and
//! front-end events as a qqchat peer's (history, receipts, the outbox), and the people it
//! finds become [`EngineEvent::Neighbour`]s.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use qqchat_ipmsg::{Endpoint, Event as LanEvent, Flavor, Peer};

use super::{EngineCore, Now};
use crate::engine::api::{EngineEvent, Neighbour, NeighbourKind};
use crate::proto::{Event, PeerId, Transmit};

/// How this user appears to IP Messenger clients, and where it broadcasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanOptions {
    /// The name shown to others.
    pub nick: String,
    /// The IP Messenger group shown to others.
    pub group: String,
    /// Log-in and host names, as IP Messenger clients show them.
    pub user: String,
    pub host: String,
    /// Each interface's broadcast address (255.255.255.255 is always added).
    pub broadcasts: Vec<Ipv4Addr>,
    /// This machine's addresses: its own broadcasts come back from them.
    pub local_ips: Vec<IpAddr>,
    /// The port of every IP Messenger client: 2425.
    pub port: u16,
    /// The first packet number, from the wall clock: iptux drops a message whose number is
    /// not above the last it saw from this IP, so numbers must grow across restarts.
    pub first_packet_no: u32,
    /// Broadcast an entry at start and an exit at the end: off for a one-off `send`, which
    /// only delivers its message and is not someone for the whole LAN to list. Off, each
    /// peer written to is sent an entry of its own first and an exit at the end: clients
    /// learn a sender's name only from an entry (iptux shows a stranger, and crashes when
    /// the name comes later).
    pub announce: bool,
}

/// The IP Messenger endpoint with what the core needs to route its events.
pub(super) struct IpMsg {
    pub(super) endpoint: Endpoint,
    port: u16,
    announce: bool,
    /// Where each message in flight goes, so a receipt names its peer.
    to: HashMap<u64, PeerId>,
    /// With `announce` off, the peers sent an entry of their own, to be told goodbye.
    entered: BTreeSet<IpAddr>,
}

impl IpMsg {
    pub(super) fn new(options: LanOptions) -> IpMsg {
        let mut config = qqchat_ipmsg::Config::new(&options.user, &options.host, &options.nick);
        config.group = options.group;
        config.port = options.port;
        config.broadcasts = options.broadcasts;
        config.local_ips = options.local_ips;
        IpMsg {
            endpoint: Endpoint::new(config, options.first_packet_no),
            port: options.port,
            announce: options.announce,
            to: HashMap::new(),
            entered: BTreeSet::new(),
        }
    }

    /// Before the first message or offer to `ip` in a run that does not broadcast its
    /// entry, tells that peer alone who this is (the entry leaves before what follows).
    pub(super) fn introduce(&mut self, ip: IpAddr) {
        if !self.announce && self.entered.insert(ip) {
            self.endpoint.announce_to(ip);
        }
    }

    /// The address an IP Messenger peer is reached at, as its [`PeerId`] names it.
    fn peer_id(&self, ip: IpAddr) -> PeerId {
        PeerId::addr(SocketAddr::new(ip, self.port))
    }
}

impl EngineCore {
    /// Whether messages to `peer` go over IP Messenger: anyone at IP Messenger's port (an
    /// `ipmsg = true` contact, a client that announced itself, or an address typed by hand).
    pub(super) fn is_ipmsg(&self, peer: PeerId) -> bool {
        match (peer, &self.ipmsg) {
            (PeerId::Addr(addr), Some(lan)) => addr.port() == lan.port,
            _ => false,
        }
    }

    /// Why nothing goes to an IP Messenger client while IP Messenger is off here.
    pub(super) const IPMSG_OFF: &str = "IP Messenger is off (--no-lan, [lan] ipmsg = false, or \
        UDP port 2425 taken by another IP Messenger client here, such as a running qqchat \
        listen with another data directory)";

    /// Whether `peer` is an IP Messenger client while IP Messenger is off: it is then sent
    /// nothing at all (a qqchat datagram would reach it as garbage).
    pub(super) fn unreachable_ipmsg(&self, peer: PeerId) -> bool {
        self.ipmsg.is_none()
            && (self.contacts.iter().any(|c| c.ipmsg && c.peer_id() == peer)
                || matches!(peer, PeerId::Addr(a) if a.port() == crate::contacts::IPMSG_PORT))
    }

    /// Announces this user on the LAN (`BR_ENTRY`).
    pub(super) fn lan_start(&mut self) {
        if let Some(lan) = self.ipmsg.as_mut().filter(|l| l.announce) {
            lan.endpoint.announce();
        }
    }

    /// A datagram on the IP Messenger socket.
    pub fn handle_lan_datagram(&mut self, now: Now, from: SocketAddr, bytes: &[u8]) {
        if let Some(lan) = &mut self.ipmsg {
            lan.endpoint.handle_datagram(now.mono, from, bytes);
        }
    }

    /// Hands an unacked message for an IP Messenger peer to the endpoint; why it was refused
    /// (too long, too many waiting), which the caller reports.
    pub(super) fn lan_send(
        &mut self,
        now: Now,
        to: PeerId,
        text: &str,
        id: u64,
    ) -> Result<(), String> {
        let (Some(lan), PeerId::Addr(addr)) = (&mut self.ipmsg, to) else {
            return Err("IP Messenger is off".to_owned());
        };
        lan.introduce(addr.ip());
        lan.endpoint
            .send(now.mono, addr.ip(), text, id)
            .map_err(|e| e.to_string())?;
        lan.to.insert(id, to);
        Ok(())
    }

    /// Turns what the endpoint noticed into records and events.
    pub(super) fn take_lan_events(&mut self, now: Now) {
        let events: Vec<LanEvent> = match &mut self.ipmsg {
            Some(lan) => std::iter::from_fn(|| lan.endpoint.poll_event()).collect(),
            None => return,
        };
        for e in events {
            self.on_lan_event(now, e);
        }
    }

    /// The IP Messenger datagrams of this step: taken last, after everything that may send
    /// (the outbox drained when a peer appeared, receipts of what was just stored).
    pub(super) fn lan_transmits(&mut self) -> Vec<Transmit> {
        let Some(lan) = &mut self.ipmsg else {
            return Vec::new();
        };
        std::iter::from_fn(|| lan.endpoint.poll_transmit())
            .map(|t| Transmit {
                dst: t.dst,
                payload: t.payload,
            })
            .collect()
    }

    fn on_lan_event(&mut self, now: Now, event: LanEvent) {
        let Some(lan) = &mut self.ipmsg else {
            return;
        };
        match event {
            // Another qqchat: reached over qqchat's own (encrypted) protocol, found over
            // multicast DNS, never listed as an IP Messenger user.
            LanEvent::PeerEntered(peer) | LanEvent::PeerUpdated(peer) if is_qqchat(&peer) => {}
            LanEvent::PeerEntered(peer) => {
                let neighbour = neighbour(lan, &peer);
                let id = neighbour.peer;
                self.ui.push(EngineEvent::Neighbour(neighbour));
                self.on_event(
                    now,
                    Event::Presence {
                        peer: id,
                        online: true,
                    },
                );
            }
            LanEvent::PeerUpdated(peer) => {
                let neighbour = neighbour(lan, &peer);
                let id = neighbour.peer;
                self.ui.push(EngineEvent::Neighbour(neighbour));
                // Heard from: what waits for it goes now, as for a qqchat peer.
                self.drain_outbox(now, id);
            }
            LanEvent::PeerLeft { ip } => {
                let peer = lan.peer_id(ip);
                self.ui.push(EngineEvent::NeighbourGone { peer });
                self.on_event(
                    now,
                    Event::Presence {
                        peer,
                        online: false,
                    },
                );
            }
            LanEvent::Received {
                ip,
                text,
                packet_no,
                files,
                ..
            } => {
                let from = lan.peer_id(ip);
                let path = SocketAddr::new(ip, lan.port);
                if !files.is_empty() {
                    self.lan_offered(from, packet_no, files);
                }
                if text.trim().is_empty() {
                    // Files alone: there is no message to show.
                    self.drain_outbox(now, from);
                    return;
                }
                self.on_event(
                    now,
                    Event::Received {
                        from,
                        path,
                        id: None,
                        text,
                        sent_at_ms: None,
                        plain: false,
                    },
                );
                self.drain_outbox(now, from);
            }
            LanEvent::OfferSent { id, packet_no } => self.lan_offer_sent(id, packet_no),
            LanEvent::Released { ip, packet_no } => self.lan_released(ip, packet_no),
            LanEvent::Delivered { id } => {
                if let Some(to) = lan.to.remove(&id) {
                    self.on_event(now, Event::Delivered { to, id });
                }
            }
            LanEvent::Failed { id } => {
                if let Some(to) = lan.to.remove(&id) {
                    self.on_event(now, Event::Failed { to, id });
                } else if self.is_lan_offer(id) {
                    self.lan_offer_unheard(id);
                }
            }
        }
    }

    /// Says goodbye on the LAN (`BR_EXIT`): broadcast, or, when nothing was broadcast, to
    /// each peer that was sent an entry of its own.
    pub(super) fn lan_goodbye(&mut self) {
        let Some(lan) = &mut self.ipmsg else {
            return;
        };
        if lan.announce {
            lan.endpoint.quit();
        }
        for ip in std::mem::take(&mut lan.entered) {
            lan.endpoint.quit_to(ip);
        }
    }

    pub(super) fn lan_timeout(&mut self, now: Now) {
        if let Some(lan) = &mut self.ipmsg
            && lan.endpoint.poll_timeout().is_some_and(|t| t <= now.mono)
        {
            lan.endpoint.handle_timeout(now.mono);
        }
    }

    pub(super) fn lan_deadline(&self) -> Option<std::time::Instant> {
        self.ipmsg.as_ref().and_then(|l| l.endpoint.poll_timeout())
    }
}

/// Whether an IP Messenger peer is a qqchat (its version field says so).
fn is_qqchat(peer: &Peer) -> bool {
    peer.version.starts_with(qqchat_ipmsg::consts::VERSION)
}

fn neighbour(lan: &IpMsg, peer: &Peer) -> Neighbour {
    let client = match peer.flavor {
        Flavor::Feiq => "Feiq",
        Flavor::Iptux => "iptux",
        Flavor::IpMsg => "IPMsg",
    };
    let name = if peer.nick.trim().is_empty() {
        peer.user.clone()
    } else {
        peer.nick.clone()
    };
    Neighbour {
        peer: lan.peer_id(peer.ip),
        name,
        addr: SocketAddr::new(peer.ip, lan.port),
        kind: NeighbourKind::IpMsg {
            client,
            group: peer.group.clone(),
            host: peer.host.clone(),
            absent: peer.absent,
        },
    }
}
