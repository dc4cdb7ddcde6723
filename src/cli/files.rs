//! `qqchat send-file`: offer files to a contact and wait until each is verified there.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use crossbeam_channel::RecvTimeoutError;

use super::{Common, engine_options, one_off_book, start_engine, target};
use crate::engine::{Command, DiskFiles, EngineEvent, new_message_id};
use crate::files::read_exact_at;
use crate::proto::transfer::Manifest;

/// Block size of the hashes a resume re-checks: 1 MiB.
const BLOCK: u32 = 1 << 20;

pub fn send_file(common: &Common, to: &str, paths: &[PathBuf], timeout: f64) -> Result<ExitCode> {
    let book = one_off_book(common)?;
    let target = target(&book, to)?;
    let Some(timeout) = super::seconds(timeout) else {
        bail!("--timeout must be a positive number of seconds, at most a year");
    };
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?;
        if !meta.is_file() {
            bail!(
                "{} is not a file; only files are sent for now (not directories)",
                path.display()
            );
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("{}: the file name is not UTF-8", path.display()))?
            .to_owned();
        let manifest = manifest(path, meta.len())?;
        files.push((path.clone(), name, manifest));
    }
    let mut options = engine_options(&book, None, false)?;
    options.watch = false;
    options.files = Some(Box::new(DiskFiles::new()));
    // An IP Messenger client fetches the files over TCP on its port, 2425: that port is
    // opened as for `send`, and nothing is announced.
    let ipmsg = book.by_peer(target.peer).is_some_and(|c| c.ipmsg)
        || target.addr.port() == crate::contacts::IPMSG_PORT;
    if ipmsg {
        super::lan_options(common, &book, &mut options, book.me.listen);
        options.discovery = None;
        if let Some(lan) = &mut options.lan {
            lan.announce = false;
        }
    }
    let engine = start_engine(book.me.listen, options)?;
    let mut pending = std::collections::BTreeMap::new();
    for (path, name, manifest) in files {
        let id = new_message_id();
        pending.insert(id, name.clone());
        let _ = engine.commands.send(Command::SendFile {
            to: target.peer,
            id,
            path,
            name,
            manifest,
        });
    }
    let deadline = Instant::now() + timeout;
    let mut failed = 0;
    while !pending.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        match engine
            .events
            .recv_timeout(left.max(Duration::from_millis(1)))
        {
            Ok(EngineEvent::FileDone {
                id, outgoing: true, ..
            }) => {
                if let Some(name) = pending.remove(&id) {
                    if ipmsg {
                        // IP Messenger has no hash: all that is known is that it was read.
                        eprintln!("qqchat: {name}: fetched whole by {}", target.name);
                    } else {
                        eprintln!("qqchat: {name}: received and verified by {}", target.name);
                    }
                }
            }
            Ok(EngineEvent::FileFailed {
                id,
                outgoing: true,
                reason,
                ..
            }) => {
                if let Some(name) = pending.remove(&id) {
                    eprintln!("qqchat: {name}: not sent: {reason}");
                    failed += 1;
                }
            }
            Ok(EngineEvent::Error(err)) => eprintln!("qqchat: {err}"),
            Ok(_) => {}
            Err(RecvTimeoutError::Timeout) => {
                for name in pending.values() {
                    eprintln!(
                        "qqchat: {name}: not verified by {} within {} s",
                        target.name,
                        timeout.as_secs_f64()
                    );
                }
                failed += pending.len();
                pending.clear();
            }
            Err(RecvTimeoutError::Disconnected) => bail!("the engine stopped"),
        }
    }
    engine.shutdown();
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The file's size and BLAKE3 hashes (of each block and of the whole), read once before
/// the offer.
fn manifest(path: &Path, size: u64) -> Result<Manifest> {
    let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    Manifest::compute(size, BLOCK, |offset, buf| read_exact_at(&file, buf, offset))
        .with_context(|| format!("reading {}", path.display()))
}
