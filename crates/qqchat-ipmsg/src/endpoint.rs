//! The endpoint: everything qqchat keeps about the IP Messenger LAN, driven by datagrams and
//! time passed in, giving datagrams, events and its next deadline out.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

use encoding_rs::{Encoding, UTF_8};

use crate::consts::*;
use crate::file::{self, FileEntry, FileRequest};
use crate::limit::{AnswerLimit, AnswerLimiter};
use crate::packet::{self, Flavor, RawPacket};

/// Tunables and this user's identity; [`Config::new`] gives what qqchat ships with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Log-in name, the packet's third field. A `:` in it is written as `_`.
    pub user: String,
    /// Host name, the fourth field.
    pub host: String,
    /// The name peers show.
    pub nick: String,
    /// The group peers sort this user under (may be empty).
    pub group: String,
    /// The port peers listen on; every datagram goes to it, whatever port a peer sent from,
    /// as IP Messenger clients do.
    pub port: u16,
    /// Broadcast (or single host) addresses that entry, absence and exit packets go to, on
    /// top of 255.255.255.255: a directed broadcast such as 192.168.1.255 crosses setups
    /// where the limited one is not routed.
    pub broadcasts: Vec<Ipv4Addr>,
    /// This machine's addresses: a broadcast comes back to its sender, and one from these
    /// with this user and host, or with a number this endpoint broadcast, is its own.
    pub local_ips: Vec<IpAddr>,
    /// The encoding of broadcasts, which every flavor hears at once. Peers that read
    /// another encoding get a unicast [`BR_ABSENCE`] in theirs after answering, so they show
    /// the right name.
    pub broadcast_encoding: &'static Encoding,
    /// The encoding for a peer that never sent an entry.
    pub default_encoding: &'static Encoding,
    /// First retransmission of an unacknowledged message after this, doubling...
    pub initial_rto: Duration,
    /// ...up to this.
    pub max_rto: Duration,
    /// A message not acknowledged this long after its first send has failed.
    pub give_up: Duration,
    /// Larger datagrams are dropped unread.
    pub max_datagram: usize,
    /// The largest datagram this endpoint sends: iptux reads at most 8 KiB.
    pub max_send: usize,
    /// Peers kept; an entry beyond it is answered but not remembered.
    pub max_peers: usize,
    /// Messages waiting or in flight, to all peers together.
    pub max_queued: usize,
    /// (sender IP, packet number) pairs remembered to show a retransmitted message once.
    pub max_seen: usize,
    pub answer_limit: AnswerLimit,
    /// Written in answers to [`GETINFO`].
    pub client_name: String,
}

impl Config {
    pub fn new(user: &str, host: &str, nick: &str) -> Self {
        Self {
            user: user.to_owned(),
            host: host.to_owned(),
            nick: nick.to_owned(),
            group: String::new(),
            port: PORT,
            broadcasts: Vec::new(),
            local_ips: Vec::new(),
            broadcast_encoding: UTF_8,
            default_encoding: UTF_8,
            initial_rto: Duration::from_secs(1),
            max_rto: Duration::from_secs(8),
            give_up: Duration::from_secs(30),
            max_datagram: 32 * 1024,
            max_send: 8 * 1024,
            max_peers: 1024,
            max_queued: 1024,
            max_seen: 4096,
            answer_limit: AnswerLimit::default(),
            client_name: concat!("qqchat ", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// A peer on the LAN, identified by its IP (as every IP Messenger client does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub ip: IpAddr,
    pub nick: String,
    pub group: String,
    pub user: String,
    pub host: String,
    pub flavor: Flavor,
    pub absent: bool,
    /// The version field, e.g. `1_iptux 0.8.3`.
    pub version: String,
    /// What this endpoint writes to the peer.
    pub encoding: &'static Encoding,
    /// The peer advertised UTF-8 (`CAPUTF8OPT`): its datagrams carry `UTF8OPT|CAPUTF8OPT`.
    pub utf8: bool,
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub dst: SocketAddr,
    pub payload: Vec<u8>,
    /// Sent to a broadcast address: the socket needs `SO_BROADCAST`.
    pub broadcast: bool,
}

/// Something the front end should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A peer announced itself, answered our announcement, or wrote first.
    PeerEntered(Peer),
    /// A known peer changed its name, group or absence.
    PeerUpdated(Peer),
    /// A peer said goodbye (`BR_EXIT`).
    PeerLeft { ip: IpAddr },
    /// A message, shown once however often the sender retransmits it.
    Received {
        ip: IpAddr,
        text: String,
        packet_no: u64,
        /// Sent sealed (`SECRETOPT`): the sender's client would hide it until opened.
        sealed: bool,
        /// Files were offered with it.
        attachments: bool,
        /// The files of the offer that parsed (fetched over TCP with [`Endpoint::file_request`]).
        files: Vec<FileEntry>,
    },
    /// The peer no longer wants the files of our offer `packet_no` (`RELEASEFILES`).
    Released { ip: IpAddr, packet_no: u64 },
    /// An offer sent with [`Endpoint::send_files`] left as packet `packet_no`: the number
    /// the peer's requests name.
    OfferSent { id: u64, packet_no: u32 },
    /// The peer acknowledged the message with this id.
    Delivered { id: u64 },
    /// The message with this id was not acknowledged in time.
    Failed { id: u64 },
}

/// Why [`Endpoint::send`] refused a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("the message makes a datagram of {len} bytes, more than the limit of {max}")]
    TooLong { len: usize, max: usize },
    #[error("{0} messages are already waiting")]
    QueueFull(usize),
}

/// Counters, for a status line and for tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub datagrams_in: u64,
    pub datagrams_out: u64,
    /// Dropped for being larger than [`Config::max_datagram`].
    pub too_large: u64,
    /// Not an IP Messenger packet.
    pub malformed: u64,
    /// Our own broadcasts heard back.
    pub own: u64,
    /// Commands this crate does not act on.
    pub ignored: u64,
    /// Answers not sent because of the rate limit.
    pub rate_limited: u64,
    /// Retransmitted messages seen again (acknowledged again, not shown).
    pub duplicates: u64,
    pub retransmits: u64,
    pub delivered: u64,
    pub failed: u64,
    /// Entries not remembered because the peer table was full.
    pub peers_refused: u64,
}

#[derive(Debug)]
struct Flight {
    packet_no: u32,
    payload: Vec<u8>,
    first: Instant,
    next: Instant,
    rto: Duration,
}

#[derive(Debug)]
struct Outgoing {
    id: u64,
    text: String,
    /// Offered with the text (`FILEATTACHOPT`) when not empty.
    files: Vec<FileEntry>,
    flight: Option<Flight>,
}

/// One IP Messenger endpoint (sans-IO, like quinn-proto).
///
/// Feed it with [`handle_datagram`](Self::handle_datagram) and
/// [`handle_timeout`](Self::handle_timeout); after each call drain
/// [`poll_transmit`](Self::poll_transmit) and [`poll_event`](Self::poll_event), and call
/// `handle_timeout` again at [`poll_timeout`](Self::poll_timeout).
///
/// Messages to one IP go one at a time: the next leaves once the previous is acknowledged or
/// has failed. iptux acknowledges, then silently drops, a message whose number is not above
/// the last it saw from that IP, so a retransmission overtaken by a later message would be
/// reported delivered and never shown.
#[derive(Debug)]
pub struct Endpoint {
    config: Config,
    next_no: u32,
    absent: bool,
    peers: BTreeMap<IpAddr, Peer>,
    outbox: BTreeMap<IpAddr, VecDeque<Outgoing>>,
    queued: usize,
    seen: HashSet<(IpAddr, u64)>,
    seen_order: VecDeque<(IpAddr, u64)>,
    own_broadcasts: VecDeque<u32>,
    limiter: AnswerLimiter,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    stats: Stats,
}

/// The first packet number for a run started at `wall` (seconds since the Unix epoch): time
/// grows across restarts, so numbers do too, as iptux requires (see [`Endpoint::new`]).
pub fn packet_no_at(wall: SystemTime) -> u32 {
    let secs = wall
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(1, |d| d.as_secs());
    u32::try_from(secs).unwrap_or(u32::MAX).max(1)
}

/// Broadcast packet numbers remembered to recognise our own echoes.
const OWN_BROADCASTS: usize = 64;

/// The icon iptux shows for a peer (iptux reads it from the entry); its own default.
const IPTUX_ICON: &str = "icon-tux.png";

impl Endpoint {
    /// `first_packet_no` starts the packet numbers: pass the wall clock's seconds since the
    /// Unix epoch, or [`next_packet_no`](Self::next_packet_no) kept from the previous run if
    /// that is larger. Peers (iptux) drop a message whose number is not above the last one
    /// they saw from this IP, so numbers must grow across restarts; they only increase, and
    /// wrap to 1 after `u32::MAX`.
    ///
    /// Timer settings are brought into sane bounds (a retransmission timeout of at least
    /// 10 ms, nothing longer than a day), so no setting can spin or overflow the clock.
    pub fn new(mut config: Config, first_packet_no: u32) -> Self {
        const DAY: Duration = Duration::from_secs(86_400);
        config.initial_rto = config.initial_rto.clamp(Duration::from_millis(10), DAY);
        config.max_rto = config.max_rto.clamp(config.initial_rto, DAY);
        config.give_up = config.give_up.min(DAY);
        for ip in &mut config.local_ips {
            *ip = ip.to_canonical();
        }
        let first = first_packet_no.max(1);
        Self {
            limiter: AnswerLimiter::new(config.answer_limit),
            config,
            next_no: first,
            absent: false,
            peers: BTreeMap::new(),
            outbox: BTreeMap::new(),
            queued: 0,
            seen: HashSet::new(),
            seen_order: VecDeque::new(),
            own_broadcasts: VecDeque::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The number the next packet gets; keep it across restarts (see [`Endpoint::new`]).
    pub fn next_packet_no(&self) -> u32 {
        self.next_no
    }

    /// The known peers, by IP.
    pub fn peers(&self) -> impl Iterator<Item = &Peer> {
        self.peers.values()
    }

    pub fn peer(&self, ip: IpAddr) -> Option<&Peer> {
        self.peers.get(&ip.to_canonical())
    }

    pub fn is_absent(&self) -> bool {
        self.absent
    }

    /// Updates this machine's addresses (they change when interfaces come and go).
    pub fn set_local_ips(&mut self, ips: Vec<IpAddr>) {
        self.config.local_ips = ips.into_iter().map(|ip| ip.to_canonical()).collect();
    }

    /// Updates the broadcast addresses (see [`Config::broadcasts`]).
    pub fn set_broadcasts(&mut self, addrs: Vec<Ipv4Addr>) {
        self.config.broadcasts = addrs;
    }

    /// Messages waiting or in flight, to all peers.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Tells the LAN this user is here (`BR_ENTRY`, advertising UTF-8): every client answers
    /// with `ANSENTRY`, which fills the peer list.
    pub fn announce(&mut self) {
        self.broadcast_entry(BR_ENTRY);
    }

    /// Tells the LAN this user leaves (`BR_EXIT`). Pending messages stay queued.
    pub fn quit(&mut self) {
        self.broadcast_entry(BR_EXIT);
    }

    /// Tells the peer at `ip` alone that this user is here (a unicast `BR_ENTRY`), for a
    /// run that does not broadcast: a client learns a sender's name only from an entry, and
    /// iptux shows a message from a sender it has none for as from a stranger. Call it
    /// before [`send`](Self::send), so the entry leaves first.
    pub fn announce_to(&mut self, ip: IpAddr) {
        self.send_entry_to(ip.to_canonical(), BR_ENTRY);
    }

    /// Tells the peer at `ip` alone that this user leaves (a unicast `BR_EXIT`), after
    /// [`announce_to`](Self::announce_to): it does not go on listing someone gone.
    pub fn quit_to(&mut self, ip: IpAddr) {
        self.send_entry_to(ip.to_canonical(), BR_EXIT);
    }

    /// Tells the LAN this user is away or back (`BR_ABSENCE`, with `ABSENCEOPT` when away);
    /// answers to entries carry it from now on.
    pub fn set_absent(&mut self, absent: bool) {
        self.absent = absent;
        self.broadcast_entry(BR_ABSENCE);
    }

    /// Changes the name and group peers show, and tells the LAN (`BR_ABSENCE`, which every
    /// flavor takes as an update of a peer's entry).
    pub fn set_names(&mut self, nick: &str, group: &str) {
        self.config.nick = nick.to_owned();
        self.config.group = group.to_owned();
        self.broadcast_entry(BR_ABSENCE);
    }

    /// Sends `text` to the peer at `ip` (`SENDMSG|SENDCHECKOPT`, in the peer's encoding).
    /// [`Event::Delivered`] with `id` follows its receipt, or [`Event::Failed`] after
    /// [`Config::give_up`]. It leaves at once unless an earlier message to `ip` is still
    /// unacknowledged. Returns nothing more: its packet number is chosen when it leaves.
    pub fn send(&mut self, now: Instant, ip: IpAddr, text: &str, id: u64) -> Result<(), SendError> {
        self.send_files(now, ip, text, Vec::new(), id)
    }

    /// Sends `text` with `files` offered (`SENDMSG|SENDCHECKOPT|FILEATTACHOPT`), queued and
    /// retried as a message is; [`Event::OfferSent`] tells its packet number when it leaves.
    pub fn send_files(
        &mut self,
        now: Instant,
        ip: IpAddr,
        text: &str,
        files: Vec<FileEntry>,
        id: u64,
    ) -> Result<(), SendError> {
        let ip = ip.to_canonical();
        if self.queued >= self.config.max_queued {
            return Err(SendError::QueueFull(self.queued));
        }
        let len = self.message_payload(ip, u32::MAX, text, &files).len();
        if len > self.config.max_send {
            return Err(SendError::TooLong {
                len,
                max: self.config.max_send,
            });
        }
        let queue = self.outbox.entry(ip).or_default();
        queue.push_back(Outgoing {
            id,
            text: text.to_owned(),
            files,
            flight: None,
        });
        self.queued += 1;
        self.start_head(now, ip);
        Ok(())
    }

    /// Takes one datagram that arrived from `from`. Never panics, whatever the bytes.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        self.stats.datagrams_in += 1;
        if bytes.len() > self.config.max_datagram {
            self.stats.too_large += 1;
            return;
        }
        let Ok(raw) = RawPacket::parse(bytes) else {
            self.stats.malformed += 1;
            return;
        };
        let ip = from.ip().to_canonical();
        if self.is_own(ip, &raw) {
            self.stats.own += 1;
            return;
        }
        match raw.cmd() {
            BR_ENTRY => {
                // A client starting anew: iptux numbers its packets from 1 again after a
                // restart, so the numbers seen from this IP before say nothing any more.
                self.forget_seen(ip);
                self.note_entry(ip, &raw, true);
                if self.limiter.allow(now, ip) {
                    self.send_entry_to(ip, ANSENTRY);
                } else {
                    self.stats.rate_limited += 1;
                }
            }
            ANSENTRY => {
                if self.note_entry(ip, &raw, true) {
                    self.follow_up_answer(ip);
                }
            }
            BR_ABSENCE => {
                self.note_entry(ip, &raw, false);
            }
            BR_EXIT => {
                self.forget_seen(ip);
                self.limiter.forget(ip);
                if self.peers.remove(&ip).is_some() {
                    self.events.push_back(Event::PeerLeft { ip });
                }
            }
            SENDMSG => self.on_message(ip, &raw),
            RELEASEFILES => match FileRequest::parse(&raw) {
                Ok(FileRequest::Release { packet_no }) => {
                    self.events.push_back(Event::Released { ip, packet_no });
                }
                _ => self.stats.malformed += 1,
            },
            RECVMSG => self.on_receipt(now, ip, &raw),
            GETINFO => {
                let name = self.config.client_name.clone();
                self.answer(now, ip, SENDINFO, &name);
            }
            GETABSENCEINFO => {
                let text = if self.absent {
                    "Away"
                } else {
                    "Not absence mode"
                };
                self.answer(now, ip, SENDABSENCEINFO, text);
            }
            _ => self.stats.ignored += 1,
        }
    }

    /// Retransmits what is due and gives up on what is too old.
    pub fn handle_timeout(&mut self, now: Instant) {
        let ips: Vec<IpAddr> = self.outbox.keys().copied().collect();
        for ip in ips {
            self.service(now, ip);
        }
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let t = self.transmits.pop_front()?;
        self.stats.datagrams_out += 1;
        Some(t)
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work; `None` while nothing is
    /// in flight.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.outbox
            .values()
            .filter_map(|q| q.front()?.flight.as_ref())
            .map(|f| f.next.min(f.first + self.config.give_up))
            .min()
    }

    fn alloc_packet_no(&mut self) -> u32 {
        let n = self.next_no;
        self.next_no = n.checked_add(1).unwrap_or(1);
        n
    }

    /// A broadcast of ours heard back: from one of our addresses with our names or one of
    /// our recent broadcast numbers, or, when [`Config::local_ips`] is not known, from
    /// anywhere with both.
    fn is_own(&self, ip: IpAddr, raw: &RawPacket<'_>) -> bool {
        let enc = self.config.broadcast_encoding;
        let same_names = raw.user == &*enc.encode(&self.config.user.replace([':', '\0'], "_")).0
            && raw.host == &*enc.encode(&self.config.host.replace([':', '\0'], "_")).0;
        let our_number =
            u32::try_from(raw.packet_no).is_ok_and(|n| self.own_broadcasts.contains(&n));
        if self.config.local_ips.contains(&ip) {
            same_names || our_number
        } else {
            same_names && our_number
        }
    }

    fn entry_opts(&self, enc: &'static Encoding, utf8_peer: bool) -> u32 {
        let mut opts = CAPUTF8OPT;
        if enc == UTF_8 && utf8_peer {
            opts |= UTF8OPT;
        }
        if self.absent {
            opts |= ABSENCEOPT;
        }
        opts
    }

    fn broadcast_entry(&mut self, cmd: u32) {
        let enc = self.config.broadcast_encoding;
        let no = self.alloc_packet_no();
        if self.own_broadcasts.len() >= OWN_BROADCASTS {
            self.own_broadcasts.pop_front();
        }
        self.own_broadcasts.push_back(no);
        let opts = self.entry_opts(enc, true);
        let payload = packet::build(
            no,
            &self.config.user,
            &self.config.host,
            cmd | opts,
            &[&self.config.nick, &self.config.group],
            enc,
        );
        let mut dsts: Vec<Ipv4Addr> = self.config.broadcasts.clone();
        dsts.push(Ipv4Addr::BROADCAST);
        let mut done = HashSet::new();
        for dst in dsts {
            if done.insert(dst) {
                self.transmits.push_back(Transmit {
                    dst: SocketAddr::new(IpAddr::V4(dst), self.config.port),
                    payload: payload.clone(),
                    broadcast: true,
                });
            }
        }
    }

    /// The encoding and UTF-8 options for a datagram to `ip`.
    fn encoding_for(&self, ip: IpAddr) -> (&'static Encoding, bool) {
        match self.peers.get(&ip) {
            Some(p) => (p.encoding, p.utf8),
            None => (self.config.default_encoding, true),
        }
    }

    fn unicast(&mut self, ip: IpAddr, payload: Vec<u8>) {
        self.transmits.push_back(Transmit {
            dst: SocketAddr::new(ip, self.config.port),
            payload,
            broadcast: false,
        });
    }

    /// An entry packet (`ANSENTRY`, `BR_ABSENCE` as a correction, or a unicast `BR_ENTRY`
    /// or `BR_EXIT`) to one peer, in its encoding.
    ///
    /// An iptux peer written to in UTF-8 also gets `\0icon\0utf-8\0`: iptux then counts
    /// qqchat as one of its own and takes every later datagram as UTF-8, whatever encoding
    /// it is set to guess. Every iptux writes `utf-8` there, so to a peer written to in
    /// another encoding the fields are left out, and iptux converts from that encoding.
    fn send_entry_to(&mut self, ip: IpAddr, cmd: u32) {
        let (enc, utf8) = self.encoding_for(ip);
        let iptux = self
            .peers
            .get(&ip)
            .is_some_and(|p| p.flavor == Flavor::Iptux);
        let no = self.alloc_packet_no();
        let mut extra: Vec<&str> = vec![&self.config.nick, &self.config.group];
        if iptux && enc == UTF_8 {
            extra.push(IPTUX_ICON);
            extra.push("utf-8");
        }
        let payload = packet::build(
            no,
            &self.config.user,
            &self.config.host,
            cmd | self.entry_opts(enc, utf8),
            &extra,
            enc,
        );
        self.unicast(ip, payload);
    }

    /// A new peer answered our broadcast, which said less than it could to this peer: tell
    /// it again, unicast (`BR_ABSENCE`, which every flavor takes as an update).
    ///
    /// iptux learns from the extra fields that qqchat writes UTF-8 (see
    /// [`send_entry_to`](Self::send_entry_to)); a peer with another encoding read our names
    /// in the broadcast encoding, garbled unless they are plain ASCII.
    fn follow_up_answer(&mut self, ip: IpAddr) {
        let (enc, _) = self.encoding_for(ip);
        let iptux = self
            .peers
            .get(&ip)
            .is_some_and(|p| p.flavor == Flavor::Iptux);
        let c = &self.config;
        let ascii = [&c.user, &c.host, &c.nick, &c.group]
            .iter()
            .all(|s| s.is_ascii());
        if (iptux && enc == UTF_8) || (enc != c.broadcast_encoding && !ascii) {
            self.send_entry_to(ip, BR_ABSENCE);
        }
    }

    /// A small unasked-for answer (`SENDINFO`, `SENDABSENCEINFO`), rate limited like entries.
    fn answer(&mut self, now: Instant, ip: IpAddr, cmd: u32, text: &str) {
        if !self.limiter.allow(now, ip) {
            self.stats.rate_limited += 1;
            return;
        }
        let no = self.alloc_packet_no();
        let payload = self.payload_for(ip, no, cmd, text);
        self.unicast(ip, payload);
    }

    /// Records what an entry packet (or, with `full` false, an absence packet) says about
    /// its sender; true if the peer is new.
    fn note_entry(&mut self, ip: IpAddr, raw: &RawPacket<'_>, full: bool) -> bool {
        let known = self.peers.get(&ip);
        let parts = raw.extra_parts();
        let nick = parts.first().copied().unwrap_or_default();
        let group = parts.get(1).copied().unwrap_or_default();
        let primary = packet::datagram_encoding(raw, known.map(|p| p.encoding));
        let (fields, _) = packet::decode_all(primary, &[raw.user, raw.host, nick, group]);
        let [mut user, mut host, mut nick, mut group]: [String; 4] = match fields.try_into() {
            Ok(f) => f,
            Err(_) => return false,
        };
        if let Some(names) = raw.utf8_names() {
            for (slot, value) in [
                (&mut user, names.user),
                (&mut host, names.host),
                (&mut nick, names.nick),
                (&mut group, names.group),
            ] {
                if let Some(value) = value.filter(|v| !v.is_empty()) {
                    *slot = value;
                }
            }
        }
        let opts = raw.opts();
        let flavor = raw.flavor();
        let (encoding, utf8, flavor, version) = match known {
            Some(p) if !full => (p.encoding, p.utf8, p.flavor, p.version.clone()),
            _ => (
                packet::peer_encoding(flavor, opts, raw.iptux_encoding()),
                opts & (CAPUTF8OPT | UTF8OPT) != 0,
                flavor,
                String::from_utf8_lossy(raw.version).into_owned(),
            ),
        };
        let peer = Peer {
            ip,
            nick: if nick.is_empty() { user.clone() } else { nick },
            group,
            user,
            host,
            flavor,
            // iptux has no absence mode and sets ABSENCEOPT on every entry it sends.
            absent: opts & ABSENCEOPT != 0 && flavor != Flavor::Iptux,
            version,
            encoding,
            utf8,
        };
        self.remember(peer)
    }

    /// Adds or updates a peer, with its event; true if it is new.
    fn remember(&mut self, peer: Peer) -> bool {
        let full = self.peers.len() >= self.config.max_peers;
        match self.peers.get_mut(&peer.ip) {
            Some(old) => {
                if *old != peer {
                    *old = peer.clone();
                    self.events.push_back(Event::PeerUpdated(peer));
                }
                false
            }
            None if full => {
                self.stats.peers_refused += 1;
                false
            }
            None => {
                self.peers.insert(peer.ip, peer.clone());
                self.events.push_back(Event::PeerEntered(peer));
                true
            }
        }
    }

    fn on_message(&mut self, ip: IpAddr, raw: &RawPacket<'_>) {
        let opts = raw.opts();
        let known_enc = self.peers.get(&ip).map(|p| p.encoding);
        let primary = packet::datagram_encoding(raw, known_enc);
        let (fields, _) = packet::decode_all(primary, &[raw.user, raw.host, raw.text()]);
        let [user, host, text]: [String; 3] = match fields.try_into() {
            Ok(f) => f,
            Err(_) => return,
        };
        if !self.peers.contains_key(&ip) && opts & NOADDLISTOPT == 0 {
            // A peer that wrote before (or without) announcing itself: known by its
            // log-in name until its entry arrives.
            let iptux_label = known_enc.filter(|_| raw.flavor() == Flavor::Iptux);
            self.remember(Peer {
                ip,
                nick: user.clone(),
                group: String::new(),
                user,
                host,
                flavor: raw.flavor(),
                absent: false,
                version: String::from_utf8_lossy(raw.version).into_owned(),
                encoding: packet::peer_encoding(raw.flavor(), opts, iptux_label),
                utf8: opts & (CAPUTF8OPT | UTF8OPT) != 0,
            });
        }
        if opts & SENDCHECKOPT != 0 {
            // Every copy is acknowledged: the receipt for the first may have been lost.
            let no = self.alloc_packet_no();
            let payload = self.payload_for(ip, no, RECVMSG, &raw.packet_no.to_string());
            self.unicast(ip, payload);
        }
        if !self.first_sight(ip, raw.packet_no) {
            self.stats.duplicates += 1;
            return;
        }
        let text = text.replace("\r\n", "\n");
        let attachments = opts & FILEATTACHOPT != 0;
        let files = if attachments {
            file::offer(raw, known_enc)
                .map(|(_, list)| list.files)
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        if text.is_empty() && !attachments {
            // Nothing to show (clients send empty messages as probes); acknowledged above.
            self.stats.ignored += 1;
            return;
        }
        self.events.push_back(Event::Received {
            ip,
            text,
            packet_no: raw.packet_no,
            sealed: opts & SECRETOPT != 0,
            attachments,
            files,
        });
    }

    /// Forgets the packet numbers seen from `ip`.
    fn forget_seen(&mut self, ip: IpAddr) {
        self.seen.retain(|&(i, _)| i != ip);
        self.seen_order.retain(|&(i, _)| i != ip);
    }

    /// Remembers (ip, packet number), forgetting the oldest beyond [`Config::max_seen`];
    /// false if it was already remembered.
    fn first_sight(&mut self, ip: IpAddr, no: u64) -> bool {
        if !self.seen.insert((ip, no)) {
            return false;
        }
        self.seen_order.push_back((ip, no));
        while self.seen_order.len() > self.config.max_seen.max(1) {
            if let Some(old) = self.seen_order.pop_front() {
                self.seen.remove(&old);
            }
        }
        true
    }

    fn on_receipt(&mut self, now: Instant, ip: IpAddr, raw: &RawPacket<'_>) {
        let acked = std::str::from_utf8(raw.text())
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok());
        let Some(acked) = acked else {
            self.stats.malformed += 1;
            return;
        };
        let Some(queue) = self.outbox.get_mut(&ip) else {
            return;
        };
        let in_flight = queue
            .front()
            .and_then(|o| o.flight.as_ref())
            .is_some_and(|f| u64::from(f.packet_no) == acked);
        if !in_flight {
            return;
        }
        if let Some(done) = queue.pop_front() {
            self.queued = self.queued.saturating_sub(1);
            self.stats.delivered += 1;
            self.events.push_back(Event::Delivered { id: done.id });
        }
        self.start_head(now, ip);
    }

    fn message_payload(&self, ip: IpAddr, no: u32, text: &str, files: &[FileEntry]) -> Vec<u8> {
        if files.is_empty() {
            return self.payload_for(ip, no, SENDMSG | SENDCHECKOPT, text);
        }
        let (enc, _) = self.encoding_for(ip);
        file::build_offer(
            no,
            &self.config.user,
            &self.config.host,
            SENDCHECKOPT | self.utf8_opts(ip),
            text,
            files,
            enc,
        )
    }

    fn utf8_opts(&self, ip: IpAddr) -> u32 {
        match self.encoding_for(ip) {
            (enc, true) if enc == UTF_8 => UTF8OPT | CAPUTF8OPT,
            _ => 0,
        }
    }

    /// The encoding `ip` reads and writes: names in its directory streams are in it.
    pub fn encoding_of(&self, ip: IpAddr) -> &'static Encoding {
        self.encoding_for(ip.to_canonical()).0
    }

    /// A request for offered files, ready to write to the peer's TCP port: its own packet
    /// number, the peer's encoding, and `FILEATTACHOPT` on fetches, which iptux wants.
    pub fn file_request(&mut self, ip: IpAddr, request: FileRequest) -> Vec<u8> {
        let (no, mut opts, enc) = self.request_header(ip);
        if matches!(request, FileRequest::Release { .. }) {
            opts &= !FILEATTACHOPT;
        }
        request.build(no, &self.config.user, &self.config.host, opts, enc)
    }

    /// The packet number, options and encoding of a fetch (`GETFILEDATA`, `GETDIRFILES`) from
    /// `ip`, for a caller that builds the request later with [`FileRequest::build`] and this
    /// endpoint's user and host names.
    pub fn request_header(&mut self, ip: IpAddr) -> (u32, u32, &'static Encoding) {
        let ip = ip.to_canonical();
        let (enc, _) = self.encoding_for(ip);
        let no = self.alloc_packet_no();
        (no, self.utf8_opts(ip) | FILEATTACHOPT, enc)
    }

    /// Tells `ip` that the files of its offer `packet_no` are not wanted (`RELEASEFILES`).
    pub fn release(&mut self, ip: IpAddr, packet_no: u64) {
        let ip = ip.to_canonical();
        let payload = self.file_request(ip, FileRequest::Release { packet_no });
        self.unicast(ip, payload);
    }

    /// A packet for `ip` alone, in the encoding it reads, saying UTF-8 when that is it.
    fn payload_for(&self, ip: IpAddr, no: u32, cmd: u32, extra: &str) -> Vec<u8> {
        let (enc, utf8) = self.encoding_for(ip);
        let opts = if enc == UTF_8 && utf8 {
            UTF8OPT | CAPUTF8OPT
        } else {
            0
        };
        packet::build(
            no,
            &self.config.user,
            &self.config.host,
            cmd | opts,
            &[extra],
            enc,
        )
    }

    /// Sends the first message queued to `ip` if none is in flight.
    fn start_head(&mut self, now: Instant, ip: IpAddr) {
        let needs_start = match self.outbox.get(&ip) {
            Some(q) => q.front().is_some_and(|o| o.flight.is_none()),
            None => false,
        };
        if !needs_start {
            if self.outbox.get(&ip).is_some_and(VecDeque::is_empty) {
                self.outbox.remove(&ip);
            }
            return;
        }
        let no = self.alloc_packet_no();
        let (text, files, id) = match self.outbox.get(&ip).and_then(|q| q.front()) {
            Some(o) => (o.text.clone(), o.files.clone(), o.id),
            None => return,
        };
        let payload = self.message_payload(ip, no, &text, &files);
        if !files.is_empty() {
            self.events
                .push_back(Event::OfferSent { id, packet_no: no });
        }
        self.unicast(ip, payload.clone());
        let rto = self.config.initial_rto;
        if let Some(head) = self.outbox.get_mut(&ip).and_then(|q| q.front_mut()) {
            head.flight = Some(Flight {
                packet_no: no,
                payload,
                first: now,
                next: now + rto,
                rto,
            });
        }
    }

    /// Retransmits or gives up on the message in flight to `ip`. When it fails, the ones
    /// queued behind it fail too: the peer has not answered for [`Config::give_up`].
    fn service(&mut self, now: Instant, ip: IpAddr) {
        let give_up = self.config.give_up;
        let max_rto = self.config.max_rto;
        let Some(queue) = self.outbox.get_mut(&ip) else {
            return;
        };
        let Some(flight) = queue.front_mut().and_then(|o| o.flight.as_mut()) else {
            self.start_head(now, ip);
            return;
        };
        if now >= flight.first + give_up {
            for o in queue.drain(..) {
                self.stats.failed += 1;
                self.events.push_back(Event::Failed { id: o.id });
            }
            self.queued = self.outbox.values().map(VecDeque::len).sum();
            self.outbox.remove(&ip);
            return;
        }
        if now >= flight.next {
            flight.rto = (flight.rto * 2).min(max_rto);
            flight.next = now + flight.rto;
            let payload = flight.payload.clone();
            self.stats.retransmits += 1;
            self.unicast(ip, payload);
        }
    }
}
