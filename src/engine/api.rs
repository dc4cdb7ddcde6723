//! What the front ends see of the engine: the commands they send, the events they get back,
//! how it starts, and the handle that stops it. Nothing here does I/O.

use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use jiff::Timestamp;

use super::group_view::{GroupItem, GroupSnapshot, GroupView};
use super::stun::{Reachability, StunServer};
use super::turn::{RelayReport, RelayServer};
use crate::contacts::Contact;
use crate::proto::group::GroupId;
use crate::proto::{Config, PathKind, PeerId, PublicKey, Trouble};
use crate::store::{ConversationKey, History};

/// What a front end asks the engine to do.
#[derive(Debug, Clone)]
pub enum Command {
    /// Send `text` to `to`. `id` is the message's id, from [`new_message_id`]; every later
    /// event about it carries the same id. `plain` sends bare UTF-8 with no receipt.
    ///
    /// [`new_message_id`]: super::new_message_id
    Send {
        to: PeerId,
        text: String,
        plain: bool,
        id: u64,
    },
    /// Send a queued message now instead of waiting to hear from the contact.
    SendNow { id: u64 },
    /// Drop a queued message.
    Cancel { id: u64 },
    /// The contacts changed (the file was edited or reloaded). A contact whose key is not
    /// the one trusted for its name keeps the trusted key (see [`super::hold_keys`]).
    SetContacts(Vec<Contact>),
    /// The user accepted `key` for the contact called `name` (`None`: forget its key, so
    /// the next one is trusted on first use). Send before the `SetContacts` that uses it.
    TrustKey {
        name: String,
        key: Option<PublicKey>,
    },
    /// A conversation changed its name (a contact renamed, or an address added as a contact):
    /// its history file follows. Send before the matching `SetContacts`.
    RenameHistory {
        from: ConversationKey,
        to: ConversationKey,
    },
    /// The user wants `peer` now (its conversation was opened): a keyed contact with no
    /// working path gets a punching round on every candidate at once, rather than at the
    /// next hello.
    Want(PeerId),
    /// Probe a peer once; the answer comes as [`EngineEvent::Pong`].
    Ping(PeerId),
    /// Message `id`, sent next, is sent on behalf of a command-line client (`qqchat send`
    /// through the control socket): the front end is told of it ([`EngineEvent::Outgoing`]),
    /// since it did not type it, and without `queue` it fails rather than wait in the outbox
    /// when its retries run out.
    Relayed { id: u64, queue: bool },
    /// Also send every event from now on here, until
    /// the receiver is dropped: how the control socket follows the work it asked for.
    Subscribe(Sender<EngineEvent>),
    /// The STUN servers of `[me] stun`, resolved off the engine thread, and the socket's own
    /// address: asking them starts now.
    StunServers {
        servers: Vec<StunServer>,
        local: SocketAddr,
    },
    /// Ask the STUN servers again now, and report ([`EngineEvent::Reachability`]), with the
    /// relay's state as it stands ([`EngineEvent::Relay`]).
    CheckReachability,
    /// The TURN server of `[me] relay`, resolved off the engine thread, and the relay
    /// socket's own address: the allocation starts now.
    RelayServer {
        server: RelayServer,
        local: SocketAddr,
    },
    /// Offer the file at `path` to `to` as `name`, described by `manifest` (its size and
    /// hashes, computed off the engine thread). `id` names the transfer in later events.
    SendFile {
        to: PeerId,
        id: u64,
        path: std::path::PathBuf,
        name: String,
        manifest: crate::proto::transfer::Manifest,
    },
    /// Take the file `from` offered ([`EngineEvent::FileOffered`]) into `dir`.
    AcceptFile {
        from: PeerId,
        id: u64,
        dir: std::path::PathBuf,
    },
    /// Say no to a file offered.
    DeclineFile { from: PeerId, id: u64 },
    /// Pause, resume or cancel a transfer either way (cancelling an offer not yet answered
    /// declines it).
    FileAction {
        peer: PeerId,
        id: u64,
        outgoing: bool,
        action: FileAction,
    },
    /// Start a group named `name` with these keyed contacts; each is sent an invitation.
    /// `id` names the command in the answer ([`EngineEvent::GroupCreated`]).
    GroupCreate {
        id: u64,
        name: String,
        members: Vec<PeerId>,
    },
    /// Send `text` to every member of `group`. `id` names it in [`EngineEvent::GroupSent`].
    GroupSend {
        group: GroupId,
        text: String,
        id: u64,
    },
    /// Invite a keyed contact into `group`.
    GroupAdd { group: GroupId, member: PeerId },
    /// Take a member out (the creator only).
    GroupRemove { group: GroupId, member: PublicKey },
    /// Leave `group`: the others are told, and nothing more comes.
    GroupLeave { group: GroupId },
    /// Accept or decline an invitation.
    GroupAnswer { group: GroupId, accept: bool },
    /// Say goodbye to every contact and stop.
    Shutdown,
}

/// What the engine reports to its front end.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    /// A message arrived, in order and once.
    /// The request (a stranger's conversation) of this key was dropped, its history with
    /// it, to make room for newer ones (`[me] strangers = "requests"`).
    RequestDropped { key: ConversationKey },
    Received {
        from: PeerId,
        /// The address it came from, to show.
        path: SocketAddr,
        /// What kind of path that is (through the relay, the LAN...).
        kind: PathKind,
        /// The sender's id of the message (qqchat peers only).
        id: Option<u64>,
        text: String,
        /// The sender's clock when it was sent (qqchat peers only).
        sent_at: Option<Timestamp>,
        received_at: Timestamp,
        /// True when it came as bare UTF-8 from a plain UDP peer.
        plain: bool,
    },
    /// The peer acknowledged the message with this id.
    Delivered { to: PeerId, id: u64 },
    /// A plain message was handed to the network; no receipt will follow.
    Sent { to: PeerId, id: u64 },
    /// Retries ran out; the message waits in the outbox for the contact to be heard from.
    Queued { to: PeerId, id: u64 },
    /// The message was given up on and is not queued.
    Failed { to: PeerId, id: u64 },
    /// A queued message was cancelled.
    Cancelled { to: PeerId, id: u64 },
    /// A contact came online or went offline.
    Presence { peer: PeerId, online: bool },
    /// The link to a contact was measured again.
    Link { peer: PeerId, link: Link },
    /// A ping was answered, from `path`: the path the contact answers on.
    Pong {
        peer: PeerId,
        rtt: Duration,
        path: SocketAddr,
        kind: PathKind,
    },
    /// A message sent on behalf of a command-line client ([`Command::Relayed`]) is on its
    /// way, so the chat shows a message it did not type itself.
    Outgoing {
        to: PeerId,
        id: u64,
        text: String,
        plain: bool,
        at: Timestamp,
    },
    /// A keyed contact now writes from `path` (it moved), and is written to there;
    /// `relayed` when that is through the TURN relay.
    PathChanged {
        peer: PeerId,
        path: SocketAddr,
        relayed: bool,
    },
    /// A keyed contact told its current candidate addresses (inside the encrypted session):
    /// the engine tries them from now on; the front end keeps them in the contacts file.
    Candidates {
        peer: PeerId,
        addrs: Vec<SocketAddr>,
    },
    /// Something went wrong that the user should see (the history could not be written).
    Error(String),
    /// What the DHT client of `[me] dht` did: joined, published, found a friend or not;
    /// for `qqchat doctor` and the path shown (a failure also comes as [`EngineEvent::Error`]).
    Dht(crate::dht::DhtEvent),
    /// Why `peer` cannot be reached, as the datagrams show (a key one side lacks), in words
    /// for the user. Reported once, then at most about once a minute per peer.
    Trouble {
        peer: PeerId,
        /// What the datagrams show, for a front end that words its own advice (doctor).
        why: Trouble,
        text: String,
    },
    /// What STUN says of this socket's public address and NAT, each time that changes.
    Reachability(Reachability),
    /// The TURN relay's allocation (the relayed address, or why there is none), each time
    /// that changes.
    Relay(RelayReport),
    /// Someone on this network, found with no set-up: a qqchat announcing itself over
    /// multicast DNS, or an IP Messenger, Feiq or iptux user. Sent again whenever something
    /// about them changes. A neighbour whose key (qqchat) or address (IP Messenger) is a
    /// contact's is that contact: it is reported, but never renames or replaces it.
    Neighbour(Neighbour),
    /// A neighbour said goodbye (withdrew its announcement, or sent `BR_EXIT`).
    NeighbourGone { peer: PeerId },
    /// `from` offers a file (its name is the sender's, never a path to trust): answer with
    /// [`Command::AcceptFile`] or [`Command::DeclineFile`].
    FileOffered {
        from: PeerId,
        id: u64,
        name: String,
        size: u64,
        /// Where it is already being saved, without asking: the contact has
        /// `accept_files = true`, or it is a file this end had started to receive before (a
        /// restart on either side), which continues from where it stopped.
        saving_to: Option<std::path::PathBuf>,
    },
    /// How a transfer is doing, a few times a second while it runs, and at once when it is
    /// paused or resumed.
    FileProgress(FileProgress),
    /// A file arrived whole and matched its hash (`path`: where it was put), or one this end
    /// sent was verified by the receiver (`path`: `None`).
    FileDone {
        peer: PeerId,
        id: u64,
        outgoing: bool,
        path: Option<std::path::PathBuf>,
    },
    /// A transfer ended without the file: declined, cancelled or failed, and why.
    FileFailed {
        peer: PeerId,
        id: u64,
        outgoing: bool,
        reason: String,
    },
    /// Every group on disk with its items, read at start (with the history).
    Groups(Vec<GroupSnapshot>),
    /// A group is new here (created, or an invitation came), or its name, members or this
    /// member's status changed.
    Group(GroupView),
    /// Items of a group to show, new or changed (a gap closed, more members acked): by
    /// [`GroupItem::id`], each replaces the one shown before.
    GroupItems {
        group: GroupId,
        items: Vec<GroupItem>,
    },
    /// The answer to [`Command::GroupCreate`] `id`.
    GroupCreated { id: u64, group: GroupId },
    /// The answer to [`Command::GroupSend`] `id`: the message is stored and on its way to
    /// the members in `to` (the others get it through them, or when they are back).
    GroupSent {
        id: u64,
        group: GroupId,
        to: Vec<PublicKey>,
    },
    /// A group command could not be carried out, and why (in words for the user).
    GroupRefused {
        group: Option<GroupId>,
        reason: String,
    },
}

/// What a front end can do to a transfer under way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileAction {
    Pause,
    Resume,
    Cancel,
}

/// See [`EngineEvent::FileProgress`].
#[derive(Debug, Clone, PartialEq)]
pub struct FileProgress {
    pub peer: PeerId,
    pub id: u64,
    pub outgoing: bool,
    pub name: String,
    pub size: u64,
    /// Bytes the receiver holds (acknowledged ones, for a sender).
    pub done: u64,
    /// Bytes per second, smoothed over the last seconds.
    pub rate: f64,
    /// Paused by this end or by the peer.
    pub paused: bool,
}

impl FileProgress {
    /// Seconds until done at the current rate; `None` while unknown (nothing moves).
    pub fn eta(&self) -> Option<f64> {
        (self.rate > 1.0 && !self.paused)
            .then(|| (self.size - self.done.min(self.size)) as f64 / self.rate)
    }
}

/// Someone found on the local network; see [`EngineEvent::Neighbour`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbour {
    /// Whom messages go to: a keyed qqchat's key, or the address of the others.
    pub peer: PeerId,
    /// The name it gave itself, as it came from the network (sanitise before showing).
    pub name: String,
    /// Where it is reached.
    pub addr: SocketAddr,
    pub kind: NeighbourKind,
}

/// What a [`Neighbour`] speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NeighbourKind {
    /// qqchat, announced over multicast DNS. With a key, chatting goes over Noise, which
    /// proves the key; the announcement itself proves nothing (shown `unverified`).
    Qqchat {
        key: Option<crate::proto::PublicKey>,
        version: String,
    },
    /// The IP Messenger protocol, which is unencrypted (shown so, always).
    IpMsg {
        /// `IPMsg`, `Feiq` or `iptux`, as the client's entry tells.
        client: &'static str,
        group: String,
        host: String,
        /// The user set themselves absent (away).
        absent: bool,
    },
}

impl Neighbour {
    /// Whether this neighbour speaks IP Messenger (so: unencrypted).
    pub fn is_ipmsg(&self) -> bool {
        matches!(self.kind, NeighbourKind::IpMsg { .. })
    }
}

/// Presence and quality of the link to a contact, for the UI.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    /// `None` while the first hello is unanswered. Changes go through hysteresis, so a
    /// lossy link does not make a contact flap.
    pub online: Option<bool>,
    /// Heard from lately but not confirmed online: a contact shown offline that answers
    /// again, until it has answered steadily enough to be shown online.
    pub reachable: bool,
    pub last_seen: Option<Timestamp>,
    pub rtt: Option<Duration>,
    /// 0.0 to 1.0.
    pub loss: f32,
}

/// How the engine starts.
pub struct Options {
    pub protocol: Config,
    /// This person's name (`[me] name`): what members who do not have them as a contact see
    /// of them in a group they start.
    pub name: String,
    /// Contacts: their presence is watched and their history kept under their names.
    pub contacts: Vec<Contact>,
    /// Where messages are kept; `None` keeps nothing (the demo's bot, some tests).
    pub history: Option<History>,
    /// Whether a message whose retries ran out is queued (the chat) or failed (`send`).
    pub queue_failed: bool,
    /// Say hello to the contacts and track their presence.
    pub watch: bool,
    /// Read from the history at start, in the engine thread, the ids last received (shown
    /// once) and the messages still owed (the outbox, when `queue_failed`). Start-up does not
    /// wait for it.
    pub load_history: bool,
    /// Read the groups from the history at start (their messages are checked again,
    /// signatures and all); off for what never talks to groups (a one-off `send` to a
    /// contact).
    pub load_groups: bool,
    /// `[me] strangers`: what becomes of messages from addresses that are not contacts.
    pub strangers: crate::contacts::Strangers,
    /// STUN servers (`host:port`) to ask for the public address; resolved by the engine.
    pub stun: Vec<String>,
    /// The TURN server of `[me] relay`, its password read; resolved by the engine.
    pub relay: Option<RelayServer>,
    /// IP Messenger on the LAN (a socket on port 2425), when `[lan] ipmsg` is on.
    pub lan: Option<super::core::LanOptions>,
    /// Discovery of other qqchat users over multicast DNS, when `[lan] discover` is on; the
    /// announcement is withdrawn when the engine stops.
    pub discovery: Option<crate::lan::LanConfig>,
    /// The Mainline DHT client of `[me] dht`, run beside the engine while it runs.
    pub dht: Option<crate::dht::DhtConfig>,
    /// Where files are read and written (`send-file`, `listen --accept-files`); `None`
    /// takes no files.
    pub files: Option<Box<dyn super::core::FileStore>>,
    /// The key each contact was first trusted with (`trust.json`).
    pub trust: crate::store::TrustBook,
}

impl Options {
    pub fn new(protocol: Config) -> Self {
        Options {
            protocol,
            name: String::new(),
            contacts: Vec::new(),
            history: None,
            queue_failed: false,
            watch: true,
            load_history: false,
            load_groups: true,
            strangers: crate::contacts::Strangers::Requests,
            stun: Vec::new(),
            relay: None,
            lan: None,
            discovery: None,
            dht: None,
            files: None,
            trust: crate::store::TrustBook::default(),
        }
    }
}

/// The front end's side of a running engine.
pub struct EngineHandle {
    pub commands: Sender<Command>,
    pub events: Receiver<EngineEvent>,
    /// The address the socket is bound to.
    pub local_addr: SocketAddr,
    pub(super) thread: Option<JoinHandle<()>>,
}

impl EngineHandle {
    /// Says goodbye to the contacts and waits until that has left the socket.
    pub fn shutdown(mut self) {
        let _ = self.commands.send(Command::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The conversation with `peer`: its contact's, or one named after `path`, where it writes
/// from (the address shown and stored for anyone who is not a contact).
pub fn history_key(contacts: &[Contact], peer: PeerId, path: SocketAddr) -> ConversationKey {
    contacts.iter().find(|c| c.peer_id() == peer).map_or_else(
        || ConversationKey::from_address(path),
        |c| ConversationKey::contact(&c.name),
    )
}

/// Whom a conversation is with: its contact, or the address it is named after.
pub fn conversation_peer(contacts: &[Contact], key: &ConversationKey) -> Option<PeerId> {
    contacts
        .iter()
        .find(|c| *key == *c.name)
        .map(Contact::peer_id)
        .or_else(|| key.address().map(PeerId::addr))
}
