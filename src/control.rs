//! The local control socket: one qqchat per person.
//!
//! A running chat, `listen` or `bot` owns the UDP port, the Noise sessions and the outbox.
//! A second process binding its own port would make keyed peers roam their replies to it and
//! leave the running one looking offline, so `send`, `ping` and `id` first look for this
//! socket and ask the running instance to do the work through its own engine. The socket is
//! a Unix socket in the data directory, readable and writable by its owner only.
//!
//! The wire is JSON lines: one [`Request`] from the client, then [`Reply`] lines from the
//! server (text for stdout or stderr), ending with the exit code. The server answers each
//! connection on its own thread, a few at a time; anything malformed is answered with an
//! error and the connection closed.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The socket's file name in the data directory.
const SOCKET_NAME: &str = "qqchat.sock";
/// Connections answered at once; more wait in the listen backlog.
const MAX_CLIENTS: usize = 8;
/// The longest request line taken: a send of many long messages fits, a flood does not.
const MAX_REQUEST: u64 = 64 << 20;

/// Where the control socket of the qqchat keeping its data in `data_dir` lives.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_NAME)
}

/// A message to send, already resolved by the client from its contacts file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// How the user named it: a contact's name or the address.
    pub name: String,
    pub addr: std::net::SocketAddr,
    /// The contact's public key, base64, when it has one.
    pub key: Option<String>,
    pub plain: bool,
}

/// What a client asks the running qqchat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Request {
    /// `qqchat send`: each text is one message.
    Send {
        to: Target,
        texts: Vec<String>,
        timeout_secs: f64,
        queue: bool,
    },
    /// `qqchat send-file`: the paths are absolute, as the running qqchat reads them.
    SendFile {
        to: Target,
        paths: Vec<PathBuf>,
        rename: Option<String>,
        timeout_secs: f64,
    },
    /// `qqchat ping`.
    Ping {
        to: Target,
        count: u32,
        interval_secs: f64,
    },
    /// `qqchat id`: the address the running qqchat actually listens on, as the first line
    /// (all an older client reads); then its public candidates, one `KIND ADDR` line each.
    Id,
    /// `qqchat history`: the conversation kept under `key`; `me` names own messages.
    History { key: String, me: String, json: bool },
    /// `qqchat doctor`: STUN and the NAT from the running socket, and a ping to each of `to`.
    Doctor { to: Vec<Target> },
    /// `qqchat group ...` and `send` to a group.
    Group(GroupWork),
}

/// What a group command asks the engine, resolved by the client from its own files: groups
/// by their id in hex, members by their key in base64.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "lowercase")]
pub enum GroupAction {
    Create { name: String, members: Vec<String> },
    Send { group: String, texts: Vec<String> },
    Add { group: String, member: String },
    Remove { group: String, member: String },
    Leave { group: String },
    Answer { group: String, accept: bool },
}

/// A group command: the action, the members whose copy is waited for and how long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupWork {
    pub action: GroupAction,
    /// Members reached directly, whose copy is waited for: key (base64) and name.
    pub expect: Vec<(String, String)>,
    /// Members reached only through the others: their names, to say so.
    pub indirect: Vec<String>,
    pub timeout_secs: f64,
}

/// One line of the answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reply {
    /// A line for the client's standard output.
    Out(String),
    /// A line for the client's standard error.
    Err(String),
    /// The last line: the exit code the client exits with.
    Exit(u8),
}

#[derive(Debug, Error)]
pub enum ControlError {
    #[error(
        "qqchat is already running with this data directory (its control socket is {path}); \
         use it, stop it, or give this one another --data-dir"
    )]
    Running { path: PathBuf },
    #[error("cannot open the control socket {path}: {source}")]
    Bind { path: PathBuf, source: io::Error },
    #[error("the running qqchat (control socket {path}) did not answer: {source}")]
    Talk { path: PathBuf, source: io::Error },
}

/// Where a request's answer goes, line by line, as the work happens (a ping prints each
/// reply as it comes).
pub struct Answer<'a> {
    stream: &'a mut UnixStream,
}

impl Answer<'_> {
    /// False once the client is gone, so long output can stop.
    pub fn out(&mut self, line: impl Into<String>) -> bool {
        self.write(&Reply::Out(line.into()))
    }

    pub fn err(&mut self, line: impl Into<String>) {
        self.write(&Reply::Err(line.into()));
    }

    fn write(&mut self, reply: &Reply) -> bool {
        let Ok(mut line) = serde_json::to_vec(reply) else {
            return false;
        };
        line.push(b'\n');
        // A client that went away stops reading; work already asked for goes on regardless.
        self.stream.write_all(&line).is_ok()
    }
}

/// What answers requests: the front end that owns the engine.
pub type Handler = dyn Fn(Request, &mut Answer<'_>) -> u8 + Send + Sync;

/// The listening side, owned by the running chat, `listen` or `bot`. Dropping it stops the
/// accept loop and removes the socket file.
pub struct Server {
    path: PathBuf,
    /// The socket file's device and inode: the path may have been removed, or taken by
    /// another qqchat, by the time this one stops.
    file: Option<(u64, u64)>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// The device and inode of what is at `path` now.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

impl Server {
    /// Opens the socket at `path`. A socket left by a process that died is taken over; one
    /// that answers means another qqchat runs with this data directory.
    pub fn start(path: &Path, handler: Arc<Handler>) -> Result<Server, ControlError> {
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                return Err(ControlError::Running {
                    path: path.to_path_buf(),
                });
            }
            let _ = std::fs::remove_file(path);
        }
        let bind_err = |source| ControlError::Bind {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(bind_err)?;
        }
        let listener = UnixListener::bind(path).map_err(bind_err)?;
        // Owner only: the socket sends messages in this user's name.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(bind_err)?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            thread::Builder::new()
                .name("qqchat-control".into())
                .spawn(move || accept(&listener, &stop, &handler))
                .map_err(bind_err)?
        };
        Ok(Server {
            path: path.to_path_buf(),
            file: file_id(path),
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Only the socket this server made is ours to wake and remove. If it was deleted or
        // replaced, nothing can reach the accept loop: it is left blocked (it ends with the
        // process) rather than waited for forever.
        let ours = self.file.is_some() && file_id(&self.path) == self.file;
        if !ours {
            return;
        }
        // Wake the accept loop so it sees `stop`.
        if UnixStream::connect(&self.path).is_ok()
            && let Some(thread) = self.thread.take()
        {
            let _ = thread.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn accept(listener: &UnixListener, stop: &Arc<AtomicBool>, handler: &Arc<Handler>) {
    let busy = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let Ok(mut stream) = stream else {
            continue;
        };
        if busy.load(Ordering::Relaxed) >= MAX_CLIENTS {
            let mut answer = Answer {
                stream: &mut stream,
            };
            answer.err("the running qqchat is busy with other commands; try again");
            answer.write(&Reply::Exit(1));
            continue;
        }
        busy.fetch_add(1, Ordering::Relaxed);
        let (done, handler) = (Arc::clone(&busy), Arc::clone(handler));
        let spawned = thread::Builder::new()
            .name("qqchat-control-client".into())
            .spawn(move || {
                serve(stream, handler.as_ref());
                done.fetch_sub(1, Ordering::Relaxed);
            });
        if spawned.is_err() {
            busy.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

fn serve(mut stream: UnixStream, handler: &Handler) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut line = Vec::new();
    let read = stream
        .try_clone()
        .map(|s| BufReader::new(Read::take(s, MAX_REQUEST)).read_until(b'\n', &mut line));
    let mut answer = Answer {
        stream: &mut stream,
    };
    let code = match read.ok().and_then(Result::ok) {
        Some(_) => match serde_json::from_slice::<Request>(&line) {
            Ok(request) => handler(request, &mut answer),
            Err(err) => {
                answer.err(format!(
                    "the running qqchat did not understand the request: {err}"
                ));
                2
            }
        },
        None => return,
    };
    answer.write(&Reply::Exit(code));
}

/// Asks the qqchat running with its control socket at `path`. `Ok(None)` when none runs
/// (no socket, or one left by a process that died); otherwise its answer, with every line
/// already printed, as the exit code.
pub fn call(path: &Path, request: &Request) -> Result<Option<u8>, ControlError> {
    let stdout = io::stdout();
    // A closed pipe (`| head`) is not an error of the command.
    exchange(path, request, |line| {
        let _ = writeln!(stdout.lock(), "{line}");
    })
}

/// Like [`call`], but the lines meant for standard output are returned instead of printed:
/// for a client that uses the answer (`id` wants the running qqchat's address).
pub fn query(path: &Path, request: &Request) -> Result<Option<(u8, Vec<String>)>, ControlError> {
    let mut lines = Vec::new();
    let code = exchange(path, request, |line| lines.push(line))?;
    Ok(code.map(|code| (code, lines)))
}

fn exchange(
    path: &Path,
    request: &Request,
    mut out: impl FnMut(String),
) -> Result<Option<u8>, ControlError> {
    let Ok(mut stream) = UnixStream::connect(path) else {
        return Ok(None);
    };
    let talk = |source| ControlError::Talk {
        path: path.to_path_buf(),
        source,
    };
    let mut line = serde_json::to_vec(request).map_err(|e| talk(io::Error::other(e)))?;
    line.push(b'\n');
    stream.write_all(&line).map_err(talk)?;
    let reader = BufReader::new(stream);
    for line in reader.lines() {
        let line = line.map_err(talk)?;
        match serde_json::from_str::<Reply>(&line) {
            Ok(Reply::Out(text)) => out(text),
            Ok(Reply::Err(text)) => eprintln!("{text}"),
            Ok(Reply::Exit(code)) => return Ok(Some(code)),
            Err(err) => return Err(talk(io::Error::other(err))),
        }
    }
    Err(talk(io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "it closed the connection before saying how the command ended",
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_socket(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("qqchat-ctl-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        socket_path(&dir)
    }

    fn echo() -> Arc<Handler> {
        Arc::new(|request, answer| {
            answer.out(format!("{request:?}"));
            answer.err("to stderr");
            7
        })
    }

    #[test]
    fn a_request_is_answered_and_the_socket_is_owner_only() {
        let path = temp_socket("answer");
        let server = Server::start(&path, echo()).expect("start");
        let mode = std::fs::metadata(&path)
            .expect("socket")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(call(&path, &Request::Id).expect("call"), Some(7));
        drop(server);
        assert!(!path.exists(), "the socket is removed on drop");
        assert_eq!(call(&path, &Request::Id).expect("call"), None);
    }

    #[test]
    fn a_second_server_is_refused() {
        let path = temp_socket("second");
        let _first = Server::start(&path, echo()).expect("start");
        assert!(matches!(
            Server::start(&path, echo()),
            Err(ControlError::Running { .. })
        ));
    }

    #[test]
    fn a_socket_left_by_a_dead_process_is_taken_over() {
        let path = temp_socket("stale");
        // A process killed with SIGKILL leaves its socket file, with nobody listening.
        drop(UnixListener::bind(&path).expect("bind"));
        assert!(path.exists());
        assert_eq!(call(&path, &Request::Id).expect("call"), None);
        let server = Server::start(&path, echo()).expect("take the stale socket over");
        assert_eq!(call(&path, &Request::Id).expect("call"), Some(7));
        drop(server);
    }

    #[test]
    fn junk_requests_are_answered_with_an_error() {
        let path = temp_socket("junk");
        let _server = Server::start(&path, echo()).expect("start");
        let mut stream = UnixStream::connect(&path).expect("connect");
        stream.write_all(b"{\"op\":\"nonsense\"}\n").expect("write");
        let replies: Vec<Reply> = BufReader::new(stream)
            .lines()
            .map(|l| serde_json::from_str(&l.expect("a line")).expect("a reply"))
            .collect();
        assert!(
            matches!(replies.first(), Some(Reply::Err(_))),
            "{replies:?}"
        );
        assert_eq!(replies.last(), Some(&Reply::Exit(2)));
    }
}
