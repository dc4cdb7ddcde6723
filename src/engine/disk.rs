//! Transferred files on disk, for the driver: what is sent is read where it lies; what
//! arrives is written to a `.part` file under a safe name and moved into place only once its
//! hash matched (see [`crate::files`]).

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use super::core::FileStore;
use crate::files::{Partial, Verified, read_exact_at, safe_name};
use crate::proto::PeerId;
use crate::proto::transfer::{FileKey, Offer};

/// The files of a running engine's transfers.
#[derive(Default)]
pub struct DiskFiles {
    outgoing: HashMap<(PeerId, u64), File>,
    incoming: HashMap<(PeerId, u64), Partial>,
}

impl DiskFiles {
    pub fn new() -> DiskFiles {
        DiskFiles::default()
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
        let part = self.incoming.get(&(peer, key.id)).ok_or_else(missing)?;
        let read = part.read_at(offset, buf).map_err(io::Error::other)?;
        if read < buf.len() {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        Ok(())
    }

    fn write_at(&mut self, peer: PeerId, key: FileKey, offset: u64, data: &[u8]) -> io::Result<()> {
        let part = self.incoming.get_mut(&(peer, key.id)).ok_or_else(missing)?;
        part.write_at(offset, data).map_err(io::Error::other)
    }

    fn open_outgoing(&mut self, peer: PeerId, key: FileKey, path: &Path) -> Result<(), String> {
        let file = File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        self.outgoing.insert((peer, key.id), file);
        Ok(())
    }

    fn create_incoming(
        &mut self,
        peer: PeerId,
        key: FileKey,
        offer: &Offer,
        dir: &Path,
    ) -> Result<(), String> {
        let name = safe_name(offer.name.as_bytes()).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
        let tag = format!("{}-{}", offer.session, offer.id);
        let part = Partial::create(dir, &name, offer.size, &tag).map_err(|e| e.to_string())?;
        self.incoming.insert((peer, key.id), part);
        Ok(())
    }

    fn finish(&mut self, peer: PeerId, key: FileKey) -> Result<PathBuf, String> {
        let part = self
            .incoming
            .remove(&(peer, key.id))
            .ok_or("no file for this transfer")?;
        part.finish(Verified::HashMatched)
            .map_err(|e| e.to_string())
    }

    fn close(&mut self, peer: PeerId, key: FileKey) {
        if key.outgoing {
            self.outgoing.remove(&(peer, key.id));
        } else if let Some(part) = self.incoming.remove(&(peer, key.id)) {
            // Not resumed yet across runs: what did not arrive whole is not left behind.
            let _ = part.discard();
        }
    }
}
