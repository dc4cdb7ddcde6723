//! The TCP side of IP Messenger files: fetching offered files and directories from a peer's
//! port 2425, and serving ours on our own. The core decides what may be fetched and by whom
//! ([`LanFileJob`]); this does the socket and file work on threads of its own and reports
//! back ([`LanFileReport`]) into the driver's loop.
//!
//! Bounded: at most [`MAX_CONNECTIONS`] connections at once (others are closed at once), an
//! idle connection is dropped after [`IDLE`], a request line may not exceed
//! [`MAX_REQUEST`] bytes, and a name that is not safe ends the transfer with the reason.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use qqchat_ipmsg::encoding_rs::Encoding;
use qqchat_ipmsg::{DirItem, DirReader, FileRequest, RawPacket};

use super::core::{Fetch, LanFileJob, LanFileReport};
use crate::files::names::{create_new_dir, create_new_file, rename_no_replace};
use crate::files::partial::check_space;
use crate::files::{SafeName, safe_name};

/// Connections (fetching and serving together) open at once.
pub const MAX_CONNECTIONS: usize = 8;

/// How long a connection may stay silent.
pub const IDLE: Duration = Duration::from_secs(30);

/// The longest request line a peer may send before it is closed.
pub const MAX_REQUEST: usize = 1024;

/// Entries a directory stream may hold before it is refused.
const MAX_ENTRIES: usize = 100_000;

/// How often the listener looks whether it should stop.
const POLL: Duration = Duration::from_millis(100);

/// A file we offer, and to whom.
struct Served {
    ip: IpAddr,
    file_id: u64,
    path: PathBuf,
}

type Table = Arc<Mutex<HashMap<u64, Served>>>;

/// The running service; dropping it stops the listener (connections already open finish).
pub(crate) struct FileService {
    table: Table,
    active: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    reports_tx: Sender<LanFileReport>,
    pub(crate) reports: Receiver<LanFileReport>,
    listener: Option<JoinHandle<()>>,
}

impl FileService {
    /// Listens on TCP `port` of every interface, as the UDP socket does; when that fails
    /// (another client holds it), files are still fetched, and the error is returned with
    /// the service to say why none are served.
    pub(crate) fn start(port: u16) -> (FileService, Option<io::Error>) {
        let (reports_tx, reports) = crossbeam_channel::unbounded();
        let mut service = FileService {
            table: Arc::default(),
            active: Arc::default(),
            stop: Arc::default(),
            reports_tx,
            reports,
            listener: None,
        };
        let addr = SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port);
        let error = match TcpListener::bind(addr).and_then(|l| {
            l.set_nonblocking(true)?;
            Ok(l)
        }) {
            Ok(listener) => {
                let (table, active, stop, reports) = (
                    Arc::clone(&service.table),
                    Arc::clone(&service.active),
                    Arc::clone(&service.stop),
                    service.reports_tx.clone(),
                );
                match thread::Builder::new()
                    .name("qqchat-ipmsg-files".into())
                    .spawn(move || listen(&listener, &table, &active, &stop, &reports))
                {
                    Ok(handle) => {
                        service.listener = Some(handle);
                        None
                    }
                    Err(err) => Some(err),
                }
            }
            Err(err) => Some(err),
        };
        (service, error)
    }

    /// Takes one job from the core.
    pub(crate) fn handle(&self, job: LanFileJob) {
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        match job {
            LanFileJob::Serve {
                id,
                ip,
                file_id,
                path,
                enc: _,
            } => {
                table.insert(id, Served { ip, file_id, path });
            }
            LanFileJob::Unserve { id } => {
                table.remove(&id);
            }
            LanFileJob::Fetch(fetch) => {
                drop(table);
                let (peer, id) = (fetch.peer, fetch.id);
                let Some(slot) = Slot::take(&self.active) else {
                    let _ = self.reports_tx.send(LanFileReport::FetchFailed {
                        peer,
                        id,
                        reason: format!("{MAX_CONNECTIONS} transfers are already running"),
                    });
                    return;
                };
                let reports = self.reports_tx.clone();
                let spawned = thread::Builder::new()
                    .name("qqchat-ipmsg-fetch".into())
                    .spawn(move || {
                        let _slot = slot;
                        let report = match fetch_one(&fetch) {
                            Ok(path) => LanFileReport::Fetched { peer, id, path },
                            Err(reason) => LanFileReport::FetchFailed { peer, id, reason },
                        };
                        let _ = reports.send(report);
                    });
                if let Err(err) = spawned {
                    let _ = self.reports_tx.send(LanFileReport::FetchFailed {
                        peer,
                        id,
                        reason: format!("cannot start the transfer: {err}"),
                    });
                }
            }
        }
    }
}

impl Drop for FileService {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.listener.take() {
            let _ = handle.join();
        }
    }
}

/// One of the [`MAX_CONNECTIONS`], given back when dropped.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(active: &Arc<AtomicUsize>) -> Option<Slot> {
        active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_CONNECTIONS).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(Arc::clone(active)))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn listen(
    listener: &TcpListener,
    table: &Table,
    active: &Arc<AtomicUsize>,
    stop: &AtomicBool,
    reports: &Sender<LanFileReport>,
) {
    while !stop.load(Ordering::Relaxed) {
        let (stream, from) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(POLL);
                continue;
            }
            Err(_) => {
                thread::sleep(POLL);
                continue;
            }
        };
        let ip = from.ip().to_canonical();
        // Only a peer something was offered to may connect: the others are closed unread.
        let offered = table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .any(|s| s.ip == ip);
        if !offered {
            continue;
        }
        let Some(slot) = Slot::take(active) else {
            continue;
        };
        let (table, reports) = (Arc::clone(table), reports.clone());
        let _ = thread::Builder::new()
            .name("qqchat-ipmsg-serve".into())
            .spawn(move || {
                let _slot = slot;
                if let Some(id) = serve(stream, ip, &table) {
                    let _ = reports.send(LanFileReport::Served { id });
                }
            });
    }
}

/// Answers one request; the offer's id when the peer was sent the whole file.
fn serve(mut stream: TcpStream, ip: IpAddr, table: &Table) -> Option<u64> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(IDLE)).ok()?;
    stream.set_write_timeout(Some(IDLE)).ok()?;
    let request = read_request(&mut stream)?;
    let FileRequest::Data {
        file_id, offset, ..
    } = request
    else {
        // Only files are offered: a directory request names nothing of ours.
        return None;
    };
    let (id, path) = {
        let table = table.lock().unwrap_or_else(PoisonError::into_inner);
        let (&id, served) = table
            .iter()
            .find(|(_, s)| s.ip == ip && s.file_id == file_id)?;
        (id, served.path.clone())
    };
    let mut file = File::open(&path).ok()?;
    let size = file.metadata().ok()?.len();
    if offset > size {
        return None;
    }
    file.seek(SeekFrom::Start(offset)).ok()?;
    let sent = io::copy(&mut file.take(size - offset), &mut stream).ok()?;
    stream.flush().ok()?;
    (sent == size - offset).then_some(id)
}

/// Reads a request line: up to its NUL, or what arrived when the peer paused after a
/// complete one (some clients send none).
fn read_request(stream: &mut TcpStream) -> Option<FileRequest> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 256];
    loop {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_REQUEST {
            return None;
        }
        let line = match buf.iter().position(|&b| b == 0) {
            Some(end) => &buf[..end],
            None => &buf[..],
        };
        let parsed = RawPacket::parse(line)
            .ok()
            .and_then(|raw| FileRequest::parse(&raw).ok());
        match parsed {
            Some(request) => return Some(request),
            None if buf.contains(&0) => return None,
            None => {}
        }
    }
}

/// Fetches one offered file or directory; where it was put, or why not.
fn fetch_one(fetch: &Fetch) -> Result<PathBuf, String> {
    let name = safe_name(fetch.name.trim_end_matches('/').as_bytes())
        .map_err(|err| format!("refused the name {:?}: {err}", fetch.name))?;
    let mut stream = TcpStream::connect_timeout(&fetch.addr, IDLE)
        .map_err(|err| format!("cannot connect to {}: {err}", fetch.addr))?;
    stream
        .set_read_timeout(Some(IDLE))
        .and_then(|()| stream.set_write_timeout(Some(IDLE)))
        .map_err(|err| err.to_string())?;
    if fetch.dir {
        fetch_dir(fetch, &name, &mut stream)
    } else {
        fetch_file(fetch, &name, &mut stream)
    }
}

fn request(fetch: &Fetch, request: FileRequest) -> Vec<u8> {
    let h = &fetch.header;
    request.build(h.packet_no, &h.user, &h.host, h.opts, h.enc)
}

/// The `.part` a file is written to until whole: named after it, so a later fetch of the
/// same name resumes where this one stopped.
fn part_name(name: &SafeName) -> SafeName {
    name.derived(crate::files::names::MAX_NAME_BYTES - 5, ".part")
}

fn fetch_file(fetch: &Fetch, name: &SafeName, stream: &mut TcpStream) -> Result<PathBuf, String> {
    let part = fetch.into.join(part_name(name).as_str());
    // Resumed only from a plain file no longer than the offer; anything else starts anew.
    let held = std::fs::symlink_metadata(&part)
        .ok()
        .filter(|m| m.file_type().is_file() && m.len() <= fetch.size)
        .map_or(0, |m| m.len());
    check_space(&fetch.into, fetch.size - held).map_err(|err| err.to_string())?;
    let mut file = if held > 0 {
        OpenOptions::new().append(true).open(&part)
    } else {
        if std::fs::symlink_metadata(&part).is_ok() {
            return Err(format!("{} is in the way", part.display()));
        }
        OpenOptions::new().write(true).create_new(true).open(&part)
    }
    .map_err(|err| format!("{}: {err}", part.display()))?;
    let line = request(
        fetch,
        FileRequest::Data {
            packet_no: fetch.packet_no,
            file_id: fetch.file_id,
            offset: held,
        },
    );
    stream.write_all(&line).map_err(|err| err.to_string())?;
    let mut got = held;
    let mut buf = vec![0u8; 64 * 1024];
    while got < fetch.size {
        let want = usize::try_from(fetch.size - got)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = match stream.read(&mut buf[..want]) {
            Ok(0) => {
                return Err(format!(
                    "the connection closed after {got} of {} bytes ({} is kept to resume)",
                    fetch.size,
                    part.display()
                ));
            }
            Ok(n) => n,
            Err(err) => return Err(format!("after {got} of {} bytes: {err}", fetch.size)),
        };
        file.write_all(&buf[..n])
            .map_err(|err| format!("{}: {err}", part.display()))?;
        got += n as u64;
    }
    file.sync_all()
        .map_err(|err| format!("{}: {err}", part.display()))?;
    // No hash in IP Messenger: the size is all there is to check.
    let len = file.metadata().map_err(|err| err.to_string())?.len();
    if len != fetch.size {
        return Err(format!("{len} bytes arrived, {} were offered", fetch.size));
    }
    rename_no_replace(&part, &fetch.into, name).map_err(|err| err.to_string())
}

fn fetch_dir(fetch: &Fetch, name: &SafeName, stream: &mut TcpStream) -> Result<PathBuf, String> {
    let top = create_new_dir(&fetch.into, &part_name(name)).map_err(|err| err.to_string())?;
    let line = request(
        fetch,
        FileRequest::Dir {
            packet_no: fetch.packet_no,
            file_id: fetch.file_id,
        },
    );
    stream.write_all(&line).map_err(|err| err.to_string())?;
    let result = read_dir_stream(stream, &top, fetch.header.enc);
    match result {
        Ok(()) => rename_no_replace(&top, &fetch.into, name).map_err(|err| err.to_string()),
        Err(err) => Err(format!("{err} (what arrived is in {})", top.display())),
    }
}

/// Writes a directory stream below `top`: every name through [`safe_name`], every
/// directory and file made new (a number added when one is taken), never replaced.
fn read_dir_stream(
    stream: &mut TcpStream,
    top: &Path,
    enc: &'static Encoding,
) -> Result<(), String> {
    let mut reader = DirReader::new(enc);
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut file: Option<File> = None;
    let mut entries = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut buf).map_err(|err| err.to_string())?;
        if n == 0 {
            return Err("the connection closed before the directory was complete".into());
        }
        let mut input = &buf[..n];
        while !input.is_empty() {
            let (used, item) = reader.next(input).map_err(|err| err.to_string())?;
            input = &input[used..];
            let Some(item) = item else {
                continue;
            };
            let here = dirs.last().map_or(top, PathBuf::as_path).to_path_buf();
            match item {
                DirItem::Enter(header) => {
                    entries += 1;
                    let dir = if dirs.is_empty() {
                        top.to_path_buf()
                    } else {
                        let name = checked(&header.name)?;
                        create_new_dir(&here, &name).map_err(|err| err.to_string())?
                    };
                    dirs.push(dir);
                }
                DirItem::File(header) => {
                    entries += 1;
                    let name = checked(&header.name)?;
                    if dirs.is_empty() {
                        return Err("a file where a directory was offered".into());
                    }
                    file = if qqchat_ipmsg::consts::file_kind(header.attr)
                        == qqchat_ipmsg::consts::FILE_REGULAR
                    {
                        let (f, _) = create_new_file(&here, &name).map_err(|e| e.to_string())?;
                        Some(f)
                    } else {
                        // Links and other kinds: their bytes are read and dropped.
                        None
                    };
                }
                DirItem::Data { bytes, last } => {
                    if let Some(f) = file.as_mut() {
                        f.write_all(bytes).map_err(|err| err.to_string())?;
                    }
                    if last {
                        file = None;
                    }
                }
                DirItem::Leave => {
                    dirs.pop();
                }
                DirItem::Done => return Ok(()),
            }
            if entries > MAX_ENTRIES {
                return Err(format!("more than {MAX_ENTRIES} entries in the directory"));
            }
        }
        if reader.is_done() {
            return Ok(());
        }
    }
}

fn checked(name: &str) -> Result<SafeName, String> {
    safe_name(name.as_bytes()).map_err(|err| format!("refused the name {name:?}: {err}"))
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use qqchat_ipmsg::encoding_rs::UTF_8;
    use qqchat_testkit::TempDir;

    use super::*;
    use crate::engine::core::RequestHeader;
    use crate::proto::PeerId;

    /// A peer on loopback that answers one request with `answer(request)`.
    fn peer(
        answer: impl FnOnce(&[u8]) -> Vec<u8> + Send + 'static,
    ) -> (SocketAddr, JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind on loopback");
        let addr = listener.local_addr().expect("its address");
        let handle = thread::spawn(move || {
            let (mut c, _) = listener.accept().expect("a connection");
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while c.read(&mut byte).expect("read the request") == 1 && byte[0] != 0 {
                request.push(byte[0]);
            }
            c.write_all(&answer(&request)).expect("answer");
            request
        });
        (addr, handle)
    }

    fn fetch(addr: SocketAddr, name: &str, size: u64, dir: bool, into: &Path) -> Fetch {
        Fetch {
            peer: PeerId::addr(addr),
            id: 1,
            addr,
            packet_no: 0x77,
            file_id: 2,
            name: name.into(),
            size,
            dir,
            into: into.to_owned(),
            header: RequestHeader {
                packet_no: 9,
                user: "alice".into(),
                host: "box".into(),
                opts: 0,
                enc: UTF_8,
            },
        }
    }

    fn header(name: &str, size: u64, attr: u32) -> Vec<u8> {
        qqchat_ipmsg::DirHeader {
            name: name.into(),
            size,
            attr,
            ext: Vec::new(),
        }
        .build(UTF_8)
    }

    #[test]
    fn a_file_resumes_from_its_part_and_is_renamed_into_place() {
        let dir = TempDir::new("ipmsg-resume");
        std::fs::write(dir.path().join("notes.txt.part"), b"hello").expect("a part");
        let (addr, peer) = peer(|_| b", world".to_vec());
        let got = fetch_one(&fetch(addr, "notes.txt", 12, false, dir.path()));
        let request = peer.join().expect("the peer");
        assert_eq!(got, Ok(dir.path().join("notes.txt")));
        // GETFILEDATA (0x60) for packet 0x77, file 2, from offset 5.
        assert!(
            request.ends_with(b":96:77:2:5"),
            "{}",
            String::from_utf8_lossy(&request)
        );
        assert_eq!(
            std::fs::read(dir.path().join("notes.txt")).expect("the file"),
            b"hello, world"
        );
        assert!(!dir.path().join("notes.txt.part").exists());
    }

    #[test]
    fn a_short_file_fails_and_keeps_its_part() {
        let dir = TempDir::new("ipmsg-short");
        let (addr, peer) = peer(|_| b"only".to_vec());
        let got = fetch_one(&fetch(addr, "big.bin", 100, false, dir.path()));
        peer.join().expect("the peer");
        assert!(got.is_err_and(|e| e.contains("after 4 of 100")));
        assert!(!dir.path().join("big.bin").exists());
        assert!(dir.path().join("big.bin.part").exists());
    }

    #[test]
    fn a_directory_with_a_name_going_up_is_refused_and_nothing_lands_outside() {
        let root = TempDir::new("ipmsg-hostile");
        let into = root.path().join("inbox");
        std::fs::create_dir(&into).expect("the inbox");
        let (addr, peer) = peer(|_| {
            let mut s = header("photos", 0, 2);
            s.extend(header("../../escape.txt", 3, 1));
            s.extend(b"bad");
            s.extend(header(".", 0, 3));
            s
        });
        let got = fetch_one(&fetch(addr, "photos", 0, true, &into));
        let request = peer.join().expect("the peer");
        // GETDIRFILES (0x62) for packet 0x77, file 2.
        assert!(
            request.ends_with(b":98:77:2"),
            "{}",
            String::from_utf8_lossy(&request)
        );
        assert!(got.is_err_and(|e| e.contains("refused the name")));
        assert!(!root.path().join("escape.txt").exists());
        assert!(!into.join("photos").exists(), "not renamed into place");
    }

    #[test]
    fn a_directory_stream_lands_whole_under_a_free_name() {
        let dir = TempDir::new("ipmsg-dir");
        std::fs::create_dir(dir.path().join("photos")).expect("a directory in the way");
        let (addr, peer) = peer(|_| {
            let mut s = header("photos", 0, 2);
            s.extend(header("a.jpg", 3, 1));
            s.extend(b"abc");
            s.extend(header("sub", 0, 2));
            s.extend(header("b.txt", 0, 1));
            s.extend(header(".", 0, 3));
            s.extend(header(".", 0, 3));
            s
        });
        let got = fetch_one(&fetch(addr, "photos", 0, true, dir.path()));
        peer.join().expect("the peer");
        let top = dir.path().join("photos (1)");
        assert_eq!(got, Ok(top.clone()));
        assert_eq!(std::fs::read(top.join("a.jpg")).expect("a.jpg"), b"abc");
        assert_eq!(std::fs::read(top.join("sub/b.txt")).expect("b.txt"), b"");
    }
}
