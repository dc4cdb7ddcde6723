//! File transfers beside the messages: one [`Transfers`] per peer, its packets carried by the
//! node inside the peer's session, its file bytes read and written through a [`FileStore`]
//! the driver provides (the core itself touches no file).
//!
//! The core also holds the policy: which offers are taken without asking (a contact with
//! `accept_files = true`, or a file this end had already started to receive), which are
//! refused at once (over `[me] max_file_size`), when an unanswered offer expires, and how
//! each transfer is reported to the front end while it runs.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{EngineCore, Now};
use crate::engine::api::{EngineEvent, FileAction, FileProgress};
use crate::proto::PeerId;
use crate::proto::transfer::{
    FailReason, FileKey, Held, Manifest, Offer, Storage, Transfers, XferConfig, XferEvent,
};

/// The files of transfers, on disk in the driver and in memory in tests.
pub trait FileStore: Send {
    fn read_at(
        &mut self,
        peer: PeerId,
        key: FileKey,
        offset: u64,
        buf: &mut [u8],
    ) -> std::io::Result<()>;
    fn write_at(
        &mut self,
        peer: PeerId,
        key: FileKey,
        offset: u64,
        data: &[u8],
    ) -> std::io::Result<()>;
    /// Opens the file at `path` to send it as `key`.
    fn open_outgoing(&mut self, peer: PeerId, key: FileKey, path: &Path) -> Result<(), String>;
    /// Notes a file being sent, so that it can be offered again after a restart.
    fn keep_outgoing(&mut self, _: PeerId, _: FileKey, _: &Path, _: &str, _: &Manifest) {}
    /// Files that were being sent when the program last stopped, unchanged since: each is
    /// offered again, and the receiver continues from what it holds.
    fn unsent(&mut self) -> Vec<Unsent> {
        Vec::new()
    }
    /// Makes room in `dir` for the file `offer` describes (a safe name, free space).
    fn create_incoming(
        &mut self,
        peer: PeerId,
        key: FileKey,
        offer: &Offer,
        dir: &Path,
    ) -> Result<(), String>;
    /// A file kept from an earlier try at the same file from the same peer (either side
    /// restarted, or the transfer timed out): taken over as `key`; the directory it goes to
    /// and what it holds.
    fn resume_incoming(
        &mut self,
        _peer: PeerId,
        _key: FileKey,
        _offer: &Offer,
    ) -> Option<(PathBuf, Held)> {
        None
    }
    /// Files that were being received when the program last stopped, to continue.
    fn interrupted(&mut self) -> Vec<Interrupted> {
        Vec::new()
    }
    /// The incoming file matched its hash: moved into place; where it went.
    fn finish(&mut self, peer: PeerId, key: FileKey) -> Result<PathBuf, String>;
    /// The transfer is over without the file (or sent): let go of it. With `keep`, what
    /// arrived of an incoming file stays, for a later try at the same file to resume.
    fn close(&mut self, peer: PeerId, key: FileKey, keep: bool);
    /// False only for the stand-in of a core that keeps no files, which declines offers.
    fn takes_files(&self) -> bool {
        true
    }
    /// Where files from contacts trusted with `accept_files = true` go; `None`: nowhere
    /// (they are asked about like anyone else).
    fn downloads(&self) -> Option<&Path> {
        None
    }
    /// Offers of larger files are declined at once.
    fn max_file_size(&self) -> Option<u64> {
        None
    }
}

/// An outgoing file to offer again after a restart: see [`FileStore::unsent`].
pub struct Unsent {
    pub peer: PeerId,
    pub path: PathBuf,
    pub name: String,
    pub manifest: Manifest,
}

/// An incoming file to continue after a restart: see [`FileStore::interrupted`].
pub struct Interrupted {
    pub peer: PeerId,
    pub offer: Offer,
    pub held: Held,
    pub dir: PathBuf,
}

/// What a core without files reads and writes through: nothing.
pub(super) struct NoFiles;

impl FileStore for NoFiles {
    fn read_at(&mut self, _: PeerId, _: FileKey, _: u64, _: &mut [u8]) -> std::io::Result<()> {
        Err(std::io::Error::other("this qqchat keeps no files"))
    }
    fn write_at(&mut self, _: PeerId, _: FileKey, _: u64, _: &[u8]) -> std::io::Result<()> {
        Err(std::io::Error::other("this qqchat keeps no files"))
    }
    fn open_outgoing(&mut self, _: PeerId, _: FileKey, _: &Path) -> Result<(), String> {
        Err("this qqchat keeps no files".into())
    }
    fn create_incoming(
        &mut self,
        _: PeerId,
        _: FileKey,
        _: &Offer,
        _: &Path,
    ) -> Result<(), String> {
        Err("this qqchat keeps no files".into())
    }
    fn finish(&mut self, _: PeerId, _: FileKey) -> Result<PathBuf, String> {
        Err("this qqchat keeps no files".into())
    }
    fn close(&mut self, _: PeerId, _: FileKey, _: bool) {}
    fn takes_files(&self) -> bool {
        false
    }
}

/// The store seen by one peer's transfers.
struct PeerStorage<'a> {
    store: &'a mut dyn FileStore,
    peer: PeerId,
}

impl Storage for PeerStorage<'_> {
    fn read_at(&mut self, key: FileKey, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.store.read_at(self.peer, key, offset, buf)
    }

    fn write_at(&mut self, key: FileKey, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.store.write_at(self.peer, key, offset, data)
    }
}

/// File data sent per peer in one step at most, so a fast link never starves the loop.
const DATA_PER_STEP: usize = 256;

/// How often a running transfer is reported.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// An offer nobody answered is declined after this long (the sender gives up then too).
pub const OFFER_EXPIRES: Duration = Duration::from_secs(600);

/// An offer waiting for the user's answer.
pub(super) struct Waiting {
    offer: Offer,
    since: Instant,
}

/// A transfer under way, as the front end is told of it.
pub(super) struct Track {
    name: String,
    size: u64,
    last_at: Instant,
    last_done: u64,
    /// Whether `last_done` is a base to measure the rate from yet.
    based: bool,
    rate: f64,
    paused: bool,
}

impl EngineCore {
    /// Lets this core take and send files, through `store`.
    pub fn set_files(&mut self, store: Box<dyn FileStore>) {
        self.files = store;
    }

    fn transfers_of(&mut self, peer: PeerId) -> &mut Transfers {
        let session = self.xfer_session;
        self.transfers.entry(peer).or_insert_with(|| {
            Transfers::new(XferConfig {
                session,
                // The receiver's expiry decides, and says so; this is for one who is gone.
                offer_timeout: OFFER_EXPIRES + Duration::from_secs(60),
                ..XferConfig::default()
            })
        })
    }

    /// Continues the files that were arriving when the program last stopped: the sender
    /// (still running, or started again) is told what is here and sends the rest.
    pub(super) fn restore_files(&mut self, now: Now) {
        for Interrupted {
            peer,
            offer,
            held,
            dir,
        } in self.files.interrupted()
        {
            let key = FileKey::incoming(offer.id);
            let (name, size, done) = (offer.name.clone(), offer.size, held.bytes());
            match self.transfers_of(peer).restore(now.mono, offer, &held) {
                Ok(()) => {
                    self.ui.push(EngineEvent::FileOffered {
                        from: peer,
                        id: key.id,
                        name: name.clone(),
                        size,
                        saving_to: Some(dir),
                    });
                    self.track(now, peer, key, name, size, done);
                }
                Err(_) => self.files.close(peer, key, true),
            }
        }
        for Unsent {
            peer,
            path,
            name,
            manifest,
        } in self.files.unsent()
        {
            let id = self.ids.next_id();
            self.send_file(now, peer, id, &path, &name, manifest);
        }
    }

    /// A transfer packet from `peer`. A core that keeps no files still answers: it
    /// declines every offer, so the sender hears at once instead of waiting in vain.
    pub(super) fn on_xfer(&mut self, now: Now, peer: PeerId, bytes: &[u8]) {
        self.transfers_of(peer);
        if let Some(transfers) = self.transfers.get_mut(&peer) {
            let mut storage = PeerStorage {
                store: self.files.as_mut(),
                peer,
            };
            // A packet that does not decode is junk from the peer: dropped.
            let _ = transfers.handle(now.mono, bytes, &mut storage);
        }
        self.take_xfer_events(now, peer);
    }

    pub(super) fn send_file(
        &mut self,
        now: Now,
        to: PeerId,
        id: u64,
        path: &Path,
        name: &str,
        manifest: Manifest,
    ) {
        if self.is_ipmsg(to) {
            return self.lan_send_file(now, to, id, path, name, manifest.size);
        }
        let key = FileKey::outgoing(id);
        if self.unreachable_ipmsg(to) {
            // Never a qqchat datagram to an IP Messenger client.
            return self.file_failed(to, key, Self::IPMSG_OFF.to_owned(), false);
        }
        if let Err(why) = self.files.open_outgoing(to, key, path) {
            self.file_failed(to, key, why, false);
            return;
        }
        self.files.keep_outgoing(to, key, path, name, &manifest);
        let size = manifest.size;
        match self.transfers_of(to).send(now.mono, id, name, manifest) {
            Ok(()) => self.track(now, to, key, name.to_owned(), size, 0),
            Err(err) => self.file_failed(to, key, err.to_string(), false),
        }
    }

    pub(super) fn accept_file(&mut self, now: Now, from: PeerId, id: u64, dir: &Path) {
        if self.is_ipmsg(from) {
            return self.lan_accept_file(from, id, dir);
        }
        let key = FileKey::incoming(id);
        let Some(Waiting { offer, .. }) = self.offers.remove(&(from, id)) else {
            self.file_failed(from, key, "no such offer".into(), false);
            return;
        };
        self.start_receiving(now, from, offer, dir);
    }

    /// Takes an offered file into `dir`, or into wherever an earlier try at it went.
    fn start_receiving(&mut self, now: Now, from: PeerId, offer: Offer, dir: &Path) {
        let key = FileKey::incoming(offer.id);
        let held = match self.files.resume_incoming(from, key, &offer) {
            Some((_, held)) => held,
            None => {
                if let Err(why) = self.files.create_incoming(from, key, &offer, dir) {
                    let _ = self.transfers_of(from).decline(offer.id);
                    self.file_failed(from, key, why, false);
                    return;
                }
                Held::default()
            }
        };
        let (name, size, done) = (offer.name.clone(), offer.size, held.bytes());
        match self.transfers_of(from).accept(now.mono, offer.id, &held) {
            Ok(()) => self.track(now, from, key, name, size, done),
            Err(err) => self.file_failed(from, key, err.to_string(), true),
        }
    }

    pub(super) fn decline_file(&mut self, from: PeerId, id: u64) {
        if self.is_ipmsg(from) {
            return self.lan_decline_file(from, id);
        }
        self.offers.remove(&(from, id));
        let _ = self.transfers_of(from).decline(id);
    }

    pub(super) fn file_action(
        &mut self,
        now: Now,
        peer: PeerId,
        id: u64,
        outgoing: bool,
        action: FileAction,
    ) {
        let key = FileKey { id, outgoing };
        if !outgoing && action == FileAction::Cancel && self.offers.contains_key(&(peer, id)) {
            self.decline_file(peer, id);
            self.file_failed(peer, key, "declined".into(), false);
            return;
        }
        let Some(t) = self.transfers.get_mut(&peer) else {
            return;
        };
        let done = match action {
            FileAction::Pause => t.pause(now.mono, key),
            FileAction::Resume => t.resume(now.mono, key),
            FileAction::Cancel => t.cancel(key),
        };
        if done.is_err() {
            return;
        }
        if action == FileAction::Cancel {
            self.file_failed(peer, key, "cancelled here".into(), false);
        } else {
            self.report_progress(now, peer, key, true);
        }
    }

    /// Ends a transfer for the front end. `keep`: what arrived stays for a later resume.
    fn file_failed(&mut self, peer: PeerId, key: FileKey, reason: String, keep: bool) {
        self.files.close(peer, key, keep);
        self.tracks.remove(&(peer, key));
        self.ui.push(EngineEvent::FileFailed {
            peer,
            id: key.id,
            outgoing: key.outgoing,
            reason,
        });
    }

    /// A new offer: refused, resumed, taken without asking, or shown to the user.
    fn on_offered(&mut self, now: Now, peer: PeerId, offer: Offer) {
        let key = FileKey::incoming(offer.id);
        let shown = |saving_to| EngineEvent::FileOffered {
            from: peer,
            id: offer.id,
            name: offer.name.clone(),
            size: offer.size,
            saving_to,
        };
        if !self.files.takes_files() {
            let _ = self.transfers_of(peer).decline(offer.id);
            return;
        }
        if let Some(max) = self.files.max_file_size()
            && offer.size > max
        {
            let _ = self.transfers_of(peer).decline(offer.id);
            let reason = format!(
                "{} ({}) refused: over [me] max_file_size ({})",
                crate::text::one_line(&offer.name),
                crate::files::human_bytes(offer.size),
                crate::files::human_bytes(max)
            );
            self.file_failed(peer, key, reason, false);
            return;
        }
        // The same file again from the same peer, which restarted: the transfer it replaces
        // here is dropped without a word (the peer no longer knows it).
        let replaced: Vec<FileKey> = self
            .tracks
            .keys()
            .filter(|(p, k)| *p == peer && !k.outgoing)
            .map(|&(_, k)| k)
            .filter(|k| {
                self.incoming_offers
                    .get(&(peer, k.id))
                    .is_some_and(|o| o.session != offer.session && o.same_content(&offer))
            })
            .collect();
        for old in replaced {
            if let Some(t) = self.transfers.get_mut(&peer) {
                let _ = t.cancel(old);
            }
            self.tracks.remove(&(peer, old));
            self.ui.push(EngineEvent::FileFailed {
                peer,
                id: old.id,
                outgoing: false,
                reason: "the sender restarted it".into(),
            });
        }
        self.incoming_offers.insert((peer, offer.id), offer.clone());
        if let Some((dir, held)) = self.files.resume_incoming(peer, key, &offer) {
            self.ui.push(shown(Some(dir)));
            let (name, size, done) = (offer.name.clone(), offer.size, held.bytes());
            match self.transfers_of(peer).accept(now.mono, offer.id, &held) {
                Ok(()) => self.track(now, peer, key, name, size, done),
                Err(err) => self.file_failed(peer, key, err.to_string(), true),
            }
            return;
        }
        let trusted = self
            .contacts
            .iter()
            .any(|c| c.accept_files && c.peer_id() == peer);
        if trusted && let Some(dir) = self.files.downloads().map(Path::to_path_buf) {
            self.ui.push(shown(Some(dir.clone())));
            self.start_receiving(now, peer, offer, &dir);
            return;
        }
        self.ui.push(shown(None));
        self.offers.insert(
            (peer, offer.id),
            Waiting {
                offer,
                since: now.mono,
            },
        );
    }

    fn take_xfer_events(&mut self, now: Now, peer: PeerId) {
        let Some(t) = self.transfers.get_mut(&peer) else {
            return;
        };
        let events: Vec<XferEvent> = std::iter::from_fn(|| t.poll_event()).collect();
        for event in events {
            match event {
                XferEvent::Offered { offer } => self.on_offered(now, peer, offer),
                XferEvent::Verified { key } => {
                    self.report_progress(now, peer, key, true);
                    self.tracks.remove(&(peer, key));
                    self.incoming_offers.remove(&(peer, key.id));
                    match self.files.finish(peer, key) {
                        Ok(path) => self.ui.push(EngineEvent::FileDone {
                            peer,
                            id: key.id,
                            outgoing: false,
                            path: Some(path),
                        }),
                        Err(why) => self.file_failed(peer, key, why, false),
                    }
                }
                XferEvent::Delivered { key } => {
                    self.report_progress(now, peer, key, true);
                    self.tracks.remove(&(peer, key));
                    self.files.close(peer, key, false);
                    self.ui.push(EngineEvent::FileDone {
                        peer,
                        id: key.id,
                        outgoing: true,
                        path: None,
                    });
                }
                XferEvent::Declined { key } => {
                    self.file_failed(peer, key, "declined".into(), false);
                }
                XferEvent::Cancelled {
                    key,
                    by_peer,
                    forgotten,
                } => {
                    // A peer that restarted does not know the transfer: keep what is here
                    // for its next offer of the file.
                    let unknown_to_peer = by_peer && forgotten && !key.outgoing;
                    let reason = if unknown_to_peer {
                        "interrupted: the sender restarted; sending it again continues it"
                    } else if by_peer {
                        "cancelled by the other side"
                    } else {
                        "cancelled here"
                    };
                    if !key.outgoing && !unknown_to_peer {
                        self.incoming_offers.remove(&(peer, key.id));
                    }
                    self.file_failed(peer, key, reason.to_owned(), unknown_to_peer);
                }
                XferEvent::Failed { key, reason, .. } => {
                    // Silence keeps what arrived (a later offer resumes it); a broken file
                    // or protocol does not.
                    let keep = reason == FailReason::Timeout;
                    if !keep {
                        self.incoming_offers.remove(&(peer, key.id));
                    }
                    self.file_failed(peer, key, reason.to_string(), keep);
                }
                XferEvent::Paused { key, .. } | XferEvent::Resumed { key, .. } => {
                    self.report_progress(now, peer, key, true);
                }
                XferEvent::Accepted { .. } | XferEvent::BlockRejected { .. } => {}
            }
        }
    }

    /// Starts reporting a transfer's progress.
    fn track(&mut self, now: Now, peer: PeerId, key: FileKey, name: String, size: u64, done: u64) {
        self.tracks.insert(
            (peer, key),
            Track {
                name,
                size,
                last_at: now.mono,
                last_done: done,
                based: false,
                rate: 0.0,
                paused: false,
            },
        );
        self.report_progress(now, peer, key, true);
    }

    /// Tells the front end how a transfer is doing: at most every [`PROGRESS_EVERY`], or at
    /// once with `force`.
    fn report_progress(&mut self, now: Now, peer: PeerId, key: FileKey, force: bool) {
        let Some(progress) = self.transfers.get(&peer).and_then(|t| t.progress(key)) else {
            return;
        };
        let Some(track) = self.tracks.get_mut(&(peer, key)) else {
            return;
        };
        let elapsed = now.mono.saturating_duration_since(track.last_at);
        if !force && elapsed < PROGRESS_EVERY {
            return;
        }
        if elapsed >= PROGRESS_EVERY / 2 {
            let moved = progress.done.saturating_sub(track.last_done) as f64;
            let sample = moved / elapsed.as_secs_f64();
            // Smoothed over about two seconds, so the time left does not jump about. The
            // first interval only sets the base: a sender learns at the start what the
            // receiver already held, which is not speed.
            track.rate = if !track.based {
                track.based = true;
                0.0
            } else if track.rate == 0.0 {
                sample
            } else {
                track.rate * 0.8 + sample * 0.2
            };
            track.last_at = now.mono;
            track.last_done = progress.done;
        }
        track.paused = progress.paused;
        self.ui.push(EngineEvent::FileProgress(FileProgress {
            peer,
            id: key.id,
            outgoing: key.outgoing,
            name: track.name.clone(),
            size: track.size,
            done: progress.done,
            rate: if progress.paused { 0.0 } else { track.rate },
            paused: progress.paused,
        }));
    }

    /// Hands the transfers' control packets (acks, offers, ...) to the node, to go with the
    /// chat traffic, after everything the node already had.
    pub(super) fn xfer_control(&mut self, now: Now) {
        for (&peer, t) in &mut self.transfers {
            let packets: Vec<Vec<u8>> = std::iter::from_fn(|| t.poll_control()).collect();
            for p in packets {
                self.node.send_xfer(now.mono, peer, &p);
            }
        }
    }

    /// Hands file data to the node, as much as pacing and the driver's room allow; called
    /// once the node's other datagrams are out, so data never goes before a message or a
    /// receipt. True if any went.
    pub(super) fn xfer_data(&mut self, now: Now) -> bool {
        self.data_held = false;
        let mut room = self.data_room;
        let mut sent = false;
        for (&peer, t) in &mut self.transfers {
            let mut storage = PeerStorage {
                store: self.files.as_mut(),
                peer,
            };
            let mut taken = 0;
            while taken < DATA_PER_STEP {
                if room == 0 {
                    // The queue to the socket is full, not the window: it must not grow.
                    t.data_blocked();
                    self.data_held = true;
                    break;
                }
                let Some(p) = t.poll_data(now.mono, &mut storage) else {
                    break;
                };
                self.node.send_xfer(now.mono, peer, &p);
                room -= 1;
                taken += 1;
                sent = true;
            }
        }
        // What is left, should the driver step again before it says how much room there is.
        self.data_room = room;
        sent
    }

    /// Events of the transfers, and their progress for the front end.
    pub(super) fn xfer_report(&mut self, now: Now) {
        if self.transfers.is_empty() {
            return;
        }
        for peer in self.transfers.keys().copied().collect::<Vec<_>>() {
            self.take_xfer_events(now, peer);
        }
        let tracked: Vec<(PeerId, FileKey)> = self.tracks.keys().copied().collect();
        for (peer, key) in tracked {
            self.report_progress(now, peer, key, false);
        }
    }

    pub(super) fn xfer_timeout(&mut self, now: Now) {
        for t in self.transfers.values_mut() {
            if t.poll_timeout().is_some_and(|d| d <= now.mono) {
                t.handle_timeout(now.mono);
            }
        }
        let expired: Vec<(PeerId, u64)> = self
            .offers
            .iter()
            .filter(|(_, w)| now.mono >= w.since + OFFER_EXPIRES)
            .map(|(&k, _)| k)
            .collect();
        for (peer, id) in expired {
            self.decline_file(peer, id);
            self.incoming_offers.remove(&(peer, id));
            let reason = "the offer expired unanswered".to_owned();
            self.file_failed(peer, FileKey::incoming(id), reason, false);
        }
    }

    pub(super) fn xfer_deadline(&self) -> Option<Instant> {
        let transfers = self.transfers.values().filter_map(Transfers::poll_timeout);
        let offers = self.offers.values().map(|w| w.since + OFFER_EXPIRES);
        transfers.chain(offers).min()
    }
}
