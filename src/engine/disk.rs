//! Transferred files on disk, for the driver: what is sent is read where it lies; what
//! arrives is written to a `.part` file under a safe name and moved into place only once its
//! hash matched (see [`crate::files`]).
//!
//! Each incoming file also has a small record in the data directory (`transfers/in-ID.json`:
//! the peer, the offer, where the `.part` file is), so that after a crash, `kill -9` or a
//! restart the transfer continues from the ranges the `.part` file's state names, and so that
//! a restarted sender's new offer of the same file finds what already arrived.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::core::{FileStore, Interrupted, Unsent};
use crate::files::{Partial, Verified, make_parents, read_exact_at, safe_path};
use crate::identity::{decode_key, encode_key};
use crate::proto::PeerId;
use crate::proto::transfer::{FileKey, Held, Manifest, Offer};

/// Ranges written since the last persist are made durable after this many bytes: what a
/// crash can cost to fetch again.
const PERSIST_EVERY: u64 = 8 << 20;

/// An interrupted file whose sender has not offered it again for this long is given up:
/// its `.part` file and record are removed when qqchat next starts.
pub const KEEP_INTERRUPTED: Duration = Duration::from_secs(14 * 24 * 3600);

/// Records larger than this are not read (an honest one is a few hundred bytes).
const MAX_RECORD_BYTES: u64 = 64 << 10;

/// Records of outgoing files hold the block hashes: 32 bytes a MiB, so this is ample.
const MAX_OUT_RECORD_BYTES: u64 = 64 << 20;

/// Where files go and what is taken.
#[derive(Debug, Clone, Default)]
pub struct FilesSetup {
    /// Where the records of incoming files are kept (`DATA_DIR/transfers`); `None` keeps
    /// none, and nothing resumes across runs.
    pub state_dir: Option<PathBuf>,
    /// Where files from contacts with `accept_files = true` go.
    pub downloads: Option<PathBuf>,
    /// `[me] max_file_size`.
    pub max_file_size: Option<u64>,
    /// Keep a record of each file being sent, so that a restart offers it again (the chat;
    /// a one-off `send-file` is simply run again).
    pub resend: bool,
}

/// The files of a running engine's transfers.
pub struct DiskFiles {
    setup: FilesSetup,
    outgoing: HashMap<(PeerId, u64), File>,
    incoming: HashMap<(PeerId, u64), Incoming>,
}

/// A file being received, and what its record says.
struct Incoming {
    part: Partial,
    record: Record,
    unpersisted: u64,
}

/// The record of an incoming file, as kept in `state_dir`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    version: u32,
    /// `key:BASE64` or `addr:IP:PORT`.
    peer: String,
    offer: Offer,
    /// The `.part` file.
    part: PathBuf,
    /// The directory the user chose (the file may be in a folder below it).
    dir: PathBuf,
    /// How many times it was restored (see [`Held::round`]).
    round: u32,
    /// False once it stopped without the peer (a timeout, a restarted peer): it is taken up
    /// again only when the peer offers the same file anew.
    active: bool,
}

/// The record of a file being sent, as kept in `state_dir` (`out-ID.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct OutRecord {
    version: u32,
    peer: String,
    path: PathBuf,
    name: String,
    /// The file's modification time when it was hashed, in nanoseconds since the epoch: a
    /// file changed since is not offered again under the old hashes.
    modified: u128,
    manifest: Manifest,
}

fn modified_nanos(meta: &std::fs::Metadata) -> Option<u128> {
    let at = meta.modified().ok()?;
    Some(at.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_nanos())
}

fn peer_text(peer: PeerId) -> String {
    match peer {
        PeerId::Key(key) => format!("key:{}", encode_key(&key)),
        PeerId::Addr(addr) => format!("addr:{addr}"),
    }
}

fn peer_from_text(text: &str) -> Option<PeerId> {
    if let Some(key) = text.strip_prefix("key:") {
        return decode_key(key).map(PeerId::Key);
    }
    text.strip_prefix("addr:")?.parse().ok().map(PeerId::addr)
}

impl DiskFiles {
    pub fn new(setup: FilesSetup) -> DiskFiles {
        DiskFiles {
            setup,
            outgoing: HashMap::new(),
            incoming: HashMap::new(),
        }
    }

    fn record_path(&self, id: u64) -> Option<PathBuf> {
        let dir = self.setup.state_dir.as_ref()?;
        Some(dir.join(format!("in-{id:016x}.json")))
    }

    fn out_record_path(&self, id: u64) -> Option<PathBuf> {
        let dir = self
            .setup
            .state_dir
            .as_ref()
            .filter(|_| self.setup.resend)?;
        Some(dir.join(format!("out-{id:016x}.json")))
    }

    fn write_record(&self, record: &Record) {
        let Some(path) = self.record_path(record.offer.id) else {
            return;
        };
        let Ok(text) = serde_json::to_vec(record) else {
            return;
        };
        // Without its record a file still arrives; it just does not resume after a restart.
        write_atomically(&path, &text);
    }

    fn remove_record(&self, id: u64) {
        if let Some(path) = self.record_path(id) {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Every record on disk that can be read, with the peer it names.
    fn records(&self) -> Vec<(PeerId, Record)> {
        let Some(dir) = &self.setup.state_dir else {
            return Vec::new();
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut found = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if !entry.file_name().to_string_lossy().starts_with("in-")
                || path.extension().is_none_or(|e| e != "json")
                || entry
                    .metadata()
                    .map_or(true, |m| m.len() > MAX_RECORD_BYTES)
            {
                continue;
            }
            let record = std::fs::read(&path)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Record>(&bytes).ok())
                .filter(|r| r.version == 1);
            match record.and_then(|r| Some((peer_from_text(&r.peer)?, r))) {
                Some(found_one) => found.push(found_one),
                // A record that cannot be read cannot be resumed: it goes.
                None => {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        found
    }

    /// Removes an interrupted file not offered again within [`KEEP_INTERRUPTED`] of its
    /// record's last change, with its `.part` file: a half file is not kept for ever.
    fn forget_if_stale(&self, record: &Record) {
        let Some(path) = self.record_path(record.offer.id) else {
            return;
        };
        let stale = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|at| SystemTime::now().duration_since(at).ok())
            .is_some_and(|age| age > KEEP_INTERRUPTED);
        if stale {
            if let Ok(part) = Partial::open(&record.part) {
                let _ = part.discard();
            }
            self.remove_record(record.offer.id);
        }
    }

    /// Opens the `.part` file of `record` again, as the transfer `id`.
    fn reopen(&mut self, peer: PeerId, mut record: Record, offer: Offer) -> Option<Held> {
        let old_id = record.offer.id;
        let Ok(part) = Partial::open(&record.part) else {
            self.remove_record(old_id);
            return None;
        };
        if part.size() != offer.size {
            self.remove_record(old_id);
            return None;
        }
        self.remove_record(old_id);
        record.round += 1;
        record.active = true;
        record.offer = offer;
        self.write_record(&record);
        let held = Held {
            ranges: part.held().as_slice().to_vec(),
            round: record.round,
        };
        let id = record.offer.id;
        self.incoming.insert(
            (peer, id),
            Incoming {
                part,
                record,
                unpersisted: 0,
            },
        );
        Some(held)
    }
}

/// Writes a record whole or not at all (a temporary file renamed over it).
fn write_atomically(path: &Path, bytes: &[u8]) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let tmp = path.with_extension("json.tmp");
    if std::fs::write(&tmp, bytes).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
}

fn missing() -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, "no file open for this transfer")
}

impl FileStore for DiskFiles {
    fn read_at(
        &mut self,
        peer: PeerId,
        key: FileKey,
        offset: u64,
        buf: &mut [u8],
    ) -> io::Result<()> {
        if key.outgoing {
            let file = self.outgoing.get(&(peer, key.id)).ok_or_else(missing)?;
            return read_exact_at(file, buf, offset);
        }
        // What arrived, read back to check a block against its hash.
        let incoming = self.incoming.get(&(peer, key.id)).ok_or_else(missing)?;
        let read = incoming
            .part
            .read_at(offset, buf)
            .map_err(io::Error::other)?;
        if read < buf.len() {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        Ok(())
    }

    fn write_at(&mut self, peer: PeerId, key: FileKey, offset: u64, data: &[u8]) -> io::Result<()> {
        let incoming = self.incoming.get_mut(&(peer, key.id)).ok_or_else(missing)?;
        incoming
            .part
            .write_at(offset, data)
            .map_err(io::Error::other)?;
        incoming.unpersisted += data.len() as u64;
        if incoming.unpersisted >= PERSIST_EVERY {
            incoming.unpersisted = 0;
            incoming.part.persist().map_err(io::Error::other)?;
        }
        Ok(())
    }

    fn open_outgoing(&mut self, peer: PeerId, key: FileKey, path: &Path) -> Result<(), String> {
        let file = File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        self.outgoing.insert((peer, key.id), file);
        Ok(())
    }

    fn keep_outgoing(
        &mut self,
        peer: PeerId,
        key: FileKey,
        path: &Path,
        name: &str,
        manifest: &Manifest,
    ) {
        let Some(record_path) = self.out_record_path(key.id) else {
            return;
        };
        let Some(modified) = std::fs::metadata(path)
            .ok()
            .as_ref()
            .and_then(modified_nanos)
        else {
            return;
        };
        let record = OutRecord {
            version: 1,
            peer: peer_text(peer),
            path: path.to_path_buf(),
            name: name.to_owned(),
            modified,
            manifest: manifest.clone(),
        };
        if let Ok(text) = serde_json::to_vec(&record) {
            write_atomically(&record_path, &text);
        }
    }

    fn unsent(&mut self) -> Vec<Unsent> {
        let Some(dir) = self.setup.state_dir.as_ref().filter(|_| self.setup.resend) else {
            return Vec::new();
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut unsent = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if !entry.file_name().to_string_lossy().starts_with("out-")
                || path.extension().is_none_or(|e| e != "json")
            {
                continue;
            }
            let record = entry
                .metadata()
                .ok()
                .filter(|m| m.len() <= MAX_OUT_RECORD_BYTES)
                .and_then(|_| std::fs::read(&path).ok())
                .and_then(|bytes| serde_json::from_slice::<OutRecord>(&bytes).ok())
                .filter(|r| r.version == 1);
            // Offered again under a new id, which writes a record of its own.
            let _ = std::fs::remove_file(&path);
            let Some(record) = record else {
                continue;
            };
            let unchanged = std::fs::metadata(&record.path).is_ok_and(|m| {
                m.is_file()
                    && m.len() == record.manifest.size
                    && modified_nanos(&m) == Some(record.modified)
            });
            if let (true, Some(peer)) = (unchanged, peer_from_text(&record.peer)) {
                unsent.push(Unsent {
                    peer,
                    path: record.path,
                    name: record.name,
                    manifest: record.manifest,
                });
            }
        }
        unsent
    }

    fn create_incoming(
        &mut self,
        peer: PeerId,
        key: FileKey,
        offer: &Offer,
        dir: &Path,
    ) -> Result<(), String> {
        // A name with `/` is a file in a folder that is being sent: its folders are made
        // inside `dir`, each checked; nothing lands outside it.
        let path = safe_path(offer.name.as_bytes()).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
        let parent = make_parents(dir, &path).map_err(|e| e.to_string())?;
        let tag = offer
            .hash
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        let part =
            Partial::create(&parent, path.name(), offer.size, &tag).map_err(|e| e.to_string())?;
        let record = Record {
            version: 1,
            peer: peer_text(peer),
            offer: offer.clone(),
            part: part.part_path().to_path_buf(),
            dir: dir.to_path_buf(),
            round: 0,
            active: true,
        };
        self.write_record(&record);
        self.incoming.insert(
            (peer, key.id),
            Incoming {
                part,
                record,
                unpersisted: 0,
            },
        );
        Ok(())
    }

    fn resume_incoming(
        &mut self,
        peer: PeerId,
        key: FileKey,
        offer: &Offer,
    ) -> Option<(PathBuf, Held)> {
        // Still open under the id of the sender's run before (the same run offering the
        // same file twice, as a folder holding two copies does, is two transfers).
        let open = self
            .incoming
            .iter()
            .find(|((p, id), i)| {
                *p == peer
                    && *id != key.id
                    && i.record.offer.session != offer.session
                    && i.record.offer.same_content(offer)
            })
            .map(|(&k, _)| k);
        if let Some(old) = open
            && let Some(mut incoming) = self.incoming.remove(&old)
        {
            let _ = incoming.part.persist();
            let record = incoming.record.clone();
            drop(incoming);
            let dir = record.dir.clone();
            return self.reopen(peer, record, offer.clone()).map(|h| (dir, h));
        }
        let (_, record) = self
            .records()
            .into_iter()
            .filter(|(p, r)| *p == peer && !self.incoming.contains_key(&(*p, r.offer.id)))
            .find(|(_, r)| r.offer.same_content(offer))?;
        let dir = record.dir.clone();
        self.reopen(peer, record, offer.clone()).map(|h| (dir, h))
    }

    fn interrupted(&mut self) -> Vec<Interrupted> {
        let mut restored = Vec::new();
        for (peer, record) in self.records() {
            if !record.active {
                self.forget_if_stale(&record);
                continue;
            }
            if self.incoming.contains_key(&(peer, record.offer.id)) {
                continue;
            }
            let (offer, dir) = (record.offer.clone(), record.dir.clone());
            if let Some(held) = self.reopen(peer, record, offer.clone()) {
                restored.push(Interrupted {
                    peer,
                    offer,
                    held,
                    dir,
                });
            }
        }
        restored
    }

    fn finish(&mut self, peer: PeerId, key: FileKey) -> Result<PathBuf, String> {
        let incoming = self
            .incoming
            .remove(&(peer, key.id))
            .ok_or("no file for this transfer")?;
        let path = incoming
            .part
            .finish(Verified::HashMatched)
            .map_err(|e| e.to_string())?;
        self.remove_record(key.id);
        Ok(path)
    }

    fn close(&mut self, peer: PeerId, key: FileKey, keep: bool) {
        if key.outgoing {
            self.outgoing.remove(&(peer, key.id));
            // Kept only when the receiver fell silent: the next start offers it again.
            if !keep && let Some(path) = self.out_record_path(key.id) {
                let _ = std::fs::remove_file(path);
            }
            return;
        }
        let Some(mut incoming) = self.incoming.remove(&(peer, key.id)) else {
            return;
        };
        if keep && self.setup.state_dir.is_some() {
            let _ = incoming.part.persist();
            incoming.record.active = false;
            self.write_record(&incoming.record);
        } else {
            let _ = incoming.part.discard();
            self.remove_record(key.id);
        }
    }

    fn downloads(&self) -> Option<&Path> {
        self.setup.downloads.as_deref()
    }

    fn max_file_size(&self) -> Option<u64> {
        self.setup.max_file_size
    }
}

impl Drop for DiskFiles {
    /// What arrived is made durable, so the next run continues from all of it.
    fn drop(&mut self) {
        for incoming in self.incoming.values_mut() {
            let _ = incoming.part.persist();
        }
    }
}
