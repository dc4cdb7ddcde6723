//! File transfers beside the messages: one [`Transfers`] per peer, its packets carried by the
//! node inside the peer's session, its file bytes read and written through a [`FileStore`]
//! the driver provides (the core itself touches no file).

use std::path::{Path, PathBuf};

use super::{EngineCore, Now};
use crate::engine::api::EngineEvent;
use crate::proto::PeerId;
use crate::proto::transfer::{
    FileKey, Held, Manifest, Offer, Storage, Transfers, XferConfig, XferEvent,
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
    /// Makes room in `dir` for the file `offer` describes (a safe name, free space).
    fn create_incoming(
        &mut self,
        peer: PeerId,
        key: FileKey,
        offer: &Offer,
        dir: &Path,
    ) -> Result<(), String>;
    /// The incoming file matched its hash: moved into place; where it went.
    fn finish(&mut self, peer: PeerId, key: FileKey) -> Result<PathBuf, String>;
    /// The transfer is over without the file (or sent): let go of it.
    fn close(&mut self, peer: PeerId, key: FileKey);
    /// False only for the stand-in of a core that keeps no files, which declines offers.
    fn takes_files(&self) -> bool {
        true
    }
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
    fn close(&mut self, _: PeerId, _: FileKey) {}
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
                ..XferConfig::default()
            })
        })
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
        self.take_xfer_events(peer);
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
        if let Err(why) = self.files.open_outgoing(to, key, path) {
            self.file_failed(to, key, why);
            return;
        }
        if let Err(err) = self.transfers_of(to).send(now.mono, id, name, manifest) {
            self.file_failed(to, key, err.to_string());
        }
    }

    pub(super) fn accept_file(&mut self, now: Now, from: PeerId, id: u64, dir: &Path) {
        if self.is_ipmsg(from) {
            return self.lan_accept_file(from, id, dir);
        }
        let key = FileKey::incoming(id);
        let Some(offer) = self.offers.remove(&(from, id)) else {
            self.file_failed(from, key, "no such offer".into());
            return;
        };
        if let Err(why) = self.files.create_incoming(from, key, &offer, dir) {
            let _ = self.transfers_of(from).decline(id);
            self.file_failed(from, key, why);
            return;
        }
        if let Err(err) = self
            .transfers_of(from)
            .accept(now.mono, id, &Held::default())
        {
            self.file_failed(from, key, err.to_string());
        }
    }

    pub(super) fn decline_file(&mut self, from: PeerId, id: u64) {
        if self.is_ipmsg(from) {
            return self.lan_decline_file(from, id);
        }
        self.offers.remove(&(from, id));
        let _ = self.transfers_of(from).decline(id);
    }

    fn file_failed(&mut self, peer: PeerId, key: FileKey, reason: String) {
        self.files.close(peer, key);
        self.ui.push(EngineEvent::FileFailed {
            peer,
            id: key.id,
            outgoing: key.outgoing,
            reason,
        });
    }

    fn take_xfer_events(&mut self, peer: PeerId) {
        let Some(t) = self.transfers.get_mut(&peer) else {
            return;
        };
        let events: Vec<XferEvent> = std::iter::from_fn(|| t.poll_event()).collect();
        for event in events {
            match event {
                XferEvent::Offered { offer } if !self.files.takes_files() => {
                    if let Some(t) = self.transfers.get_mut(&peer) {
                        let _ = t.decline(offer.id);
                    }
                }
                XferEvent::Offered { offer } => {
                    self.ui.push(EngineEvent::FileOffered {
                        from: peer,
                        id: offer.id,
                        name: offer.name.clone(),
                        size: offer.size,
                    });
                    self.offers.insert((peer, offer.id), offer);
                }
                XferEvent::Verified { key } => match self.files.finish(peer, key) {
                    Ok(path) => self.ui.push(EngineEvent::FileDone {
                        peer,
                        id: key.id,
                        outgoing: false,
                        path: Some(path),
                    }),
                    Err(why) => self.file_failed(peer, key, why),
                },
                XferEvent::Delivered { key } => {
                    self.files.close(peer, key);
                    self.ui.push(EngineEvent::FileDone {
                        peer,
                        id: key.id,
                        outgoing: true,
                        path: None,
                    });
                }
                XferEvent::Declined { key } => {
                    self.file_failed(peer, key, "declined".into());
                }
                XferEvent::Cancelled { key, by_peer } => {
                    let who = if by_peer { "by the other side" } else { "here" };
                    self.file_failed(peer, key, format!("cancelled {who}"));
                }
                XferEvent::Failed { key, reason, .. } => {
                    self.file_failed(peer, key, format!("{reason:?}"));
                }
                _ => {}
            }
        }
    }

    /// Hands the transfers' packets to the node: control first, then file data, after
    /// everything the node already had, so data never goes before a message or a receipt.
    pub(super) fn xfer_transmits(&mut self, now: Now) {
        if self.transfers.is_empty() {
            return;
        }
        for (&peer, t) in &mut self.transfers {
            let mut storage = PeerStorage {
                store: self.files.as_mut(),
                peer,
            };
            let mut packets: Vec<Vec<u8>> = std::iter::from_fn(|| t.poll_control()).collect();
            packets.extend(
                std::iter::from_fn(|| t.poll_data(now.mono, &mut storage)).take(DATA_PER_STEP),
            );
            for p in packets {
                self.node.send_xfer(now.mono, peer, &p);
            }
        }
        for peer in self.transfers.keys().copied().collect::<Vec<_>>() {
            self.take_xfer_events(peer);
        }
    }

    pub(super) fn xfer_timeout(&mut self, now: Now) {
        for t in self.transfers.values_mut() {
            if t.poll_timeout().is_some_and(|d| d <= now.mono) {
                t.handle_timeout(now.mono);
            }
        }
    }

    pub(super) fn xfer_deadline(&self) -> Option<std::time::Instant> {
        self.transfers
            .values()
            .filter_map(Transfers::poll_timeout)
            .min()
    }
}
