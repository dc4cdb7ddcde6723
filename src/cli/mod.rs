//! The front ends: the chat TUI, the demo, and the headless `send`, `listen`, `bot`, `ping`
//! and `history`, all driving the same engine.

mod bot;
mod doctor;
mod files;
mod groups;
mod history;
mod keys;
mod listen;
mod ping;
mod search;
mod send;
mod trust;
mod unread;

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use crossbeam_channel::{Receiver, Sender};

use crate::contacts::{self, Contact, ContactBook, Me};
use crate::control::{self, Answer, Request};
use crate::engine::{self, Command, EngineEvent, EngineHandle, FilesSetup, Options, RelayServer};
use crate::identity;
use crate::proto::PeerId;
use crate::proto::secure::Keypair;
use crate::store::{self, ConversationKey, History};

pub use bot::{Reply, bot};
pub use doctor::doctor;
pub use files::send_file;
pub use groups::{GroupCmd, group, list as group_list};
pub use history::history;
pub use keys::{add, id};
pub use listen::listen;
pub use ping::ping;
pub use search::{Format as ExportFormat, export, search};
pub use send::send;
pub use trust::{VerifyArgs, verify, warning as key_warning};
pub use unread::unread;

/// Removes a directory when dropped, unwinding included.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Flags every command takes.
#[derive(Debug, Clone, Default)]
pub struct Common {
    pub contacts: Option<PathBuf>,
    pub bind: Option<String>,
    pub name: Option<String>,
    pub data_dir: Option<PathBuf>,
    /// Neither announce this qqchat on the LAN nor look for others there.
    pub no_lan: bool,
    /// Look on these interfaces only (names, as `ip link` shows them); none means all.
    pub lan_interfaces: Vec<String>,
}

/// Loads the contacts file. The chat needs one; the headless commands can do without,
/// unless one was named with `--contacts`. Returns the book and the file it came from.
/// Every contact is held to the key it was first trusted with, and a contact whose key
/// the file changed is warned of on standard error.
fn load_book(common: &Common, required: bool) -> Result<(ContactBook, Option<PathBuf>)> {
    let (mut book, path) = load_book_quiet(common, required)?;
    let held = trust::hold_book(common, &mut book)?;
    trust::warn(&held.changes);
    Ok((book, path))
}

/// [`load_book`] with the keys as the file names them, trusted or not: for what shows or
/// holds them itself.
fn load_book_quiet(common: &Common, required: bool) -> Result<(ContactBook, Option<PathBuf>)> {
    let (mut book, path) = match contacts::locate(common.contacts.as_deref()) {
        Ok(path) => (ContactBook::load(&path)?, Some(path)),
        Err(err) if required || common.contacts.is_some() => return Err(err.into()),
        Err(_) => (ContactBook::empty(Me::default()), None),
    };
    if let Some(name) = &common.name {
        if name.trim().is_empty() {
            bail!("--name must not be empty");
        }
        book.me.name.clone_from(name);
    }
    if let Some(bind) = &common.bind {
        book.me.listen = resolve(bind).with_context(|| format!("--bind {bind}"))?;
    }
    Ok((book, path))
}

/// The book for a command that runs once (`send`, `send-file`, `ping`): with no contacts
/// file there is no identity to keep, so any free port will do.
fn one_off_book(common: &Common) -> Result<ContactBook> {
    let (mut book, path) = load_book(common, false)?;
    if common.bind.is_none() && path.is_none() {
        book.me.listen.set_port(0);
    }
    Ok(book)
}

/// The data directory, which must be known.
fn data_dir_of(common: &Common) -> Result<PathBuf> {
    store::data_dir(common.data_dir.clone())
        .context("no data directory could be found for the history: give one with --data-dir DIR")
}

/// Opens the history in the data directory, to write: one process at a time.
fn open_history(common: &Common) -> Result<History> {
    Ok(History::open(&data_dir_of(common)?)?)
}

/// Opens the history in the data directory to read, beside a writer if one runs.
fn read_history(common: &Common) -> Result<History> {
    Ok(History::open_read(&data_dir_of(common)?)?)
}

/// Where files go and what is kept to resume them: records in the data directory, trusted
/// contacts' files in `[me] downloads` (or the user's download directory), and the limit.
pub(crate) fn files_setup(common: &Common, me: &Me) -> FilesSetup {
    let data = store::data_dir(common.data_dir.clone());
    FilesSetup {
        state_dir: data.as_ref().map(|d| d.join("transfers")),
        downloads: data
            .as_ref()
            .map(|d| crate::files::download_dir(me.downloads.as_deref(), d))
            .or_else(|| me.downloads.clone()),
        max_file_size: me.max_file_size,
        resend: false,
    }
}

/// This user's key pair, made on first use.
fn load_identity() -> Result<Keypair> {
    let path = identity::identity_path()?;
    Ok(identity::load_or_create(&path)?)
}

/// Engine options with this user's key. With `history`, the engine keeps it and reads it at
/// start: ids already received, and (`with_outbox`) messages still owed.
fn engine_options(
    book: &ContactBook,
    history: Option<History>,
    with_outbox: bool,
) -> Result<Options> {
    let mut options = Options::new(engine::default_config());
    options.protocol.identity = Some(load_identity()?);
    options.protocol.require_keys = book.me.require_keys;
    options.protocol.keepalive =
        (book.me.keepalive > 0).then(|| std::time::Duration::from_secs(book.me.keepalive));
    options.contacts = book.contacts.clone();
    options.name = book.me.name.clone();
    options.queue_failed = with_outbox;
    options.load_history = history.is_some();
    options.history = history;
    Ok(options)
}

/// The STUN servers a long-running qqchat asks for its public address: `[me] stun`, but none
/// on a loopback socket, which can reach no server (and the tests' qqchats, all on loopback
/// or in the NAT lab, never touch a public one).
fn stun_servers(me: &Me) -> Vec<String> {
    if me.listen.ip().is_loopback() {
        return Vec::new();
    }
    me.stun.clone()
}

/// `[me] relay` with its password read, for [`Options::relay`]. A password that cannot be
/// read stops the start: the error names the file or variable and how to provide it.
fn relay_server(me: &Me) -> Result<Option<RelayServer>> {
    let Some(relay) = &me.relay else {
        return Ok(None);
    };
    Ok(Some(RelayServer {
        name: relay.server.clone(),
        addr: None,
        username: relay.username.clone(),
        password: relay.password.read()?,
    }))
}

/// A one-off command to an IP Messenger client (a contact, or an address at its port)
/// reaches it over that protocol, which needs its port; nothing is broadcast for it (the
/// client alone is sent an entry and an exit). Says whether the target is one.
fn reach_ipmsg(
    common: &Common,
    book: &ContactBook,
    target: &Target,
    options: &mut Options,
) -> bool {
    let ipmsg = book.by_peer(target.peer).is_some_and(|c| c.ipmsg)
        || target.addr.port() == contacts::IPMSG_PORT;
    if ipmsg {
        lan_options(common, book, options, book.me.listen);
        options.discovery = None;
        if let Some(lan) = &mut options.lan {
            lan.announce = false;
        }
    }
    ipmsg
}

/// What qqchat does on the LAN for this run: discovery over multicast DNS and IP Messenger,
/// as `[lan]` says, both off with `--no-lan`, and both off when the chat socket is on
/// loopback (nobody on the LAN could answer, and tests on loopback stay off the network).
fn lan_options(common: &Common, book: &ContactBook, options: &mut Options, local: SocketAddr) {
    if common.no_lan || local.ip().is_loopback() {
        return;
    }
    let interfaces = if common.lan_interfaces.is_empty() {
        book.lan.interfaces.clone()
    } else {
        common.lan_interfaces.clone()
    };
    let key = options.protocol.identity.as_ref().map(|keys| keys.public);
    if book.lan.discover {
        options.discovery = Some(crate::lan::LanConfig {
            discover: true,
            interfaces: interfaces.clone(),
            name: book.me.name.clone(),
            port: local.port(),
            key,
            ip: (!local.ip().is_unspecified()).then_some(local.ip()),
        });
    }
    // IP Messenger has no keys: a user who refuses every peer without one does not speak it.
    if book.lan.ipmsg && !book.me.require_keys {
        let (broadcasts, local_ips) = crate::lan::broadcast_interfaces(&interfaces);
        options.lan = Some(crate::engine::LanOptions {
            nick: book.me.name.clone(),
            group: book.lan.group.clone(),
            user: contacts::login_name(),
            host: host_name(),
            broadcasts,
            local_ips,
            port: crate::contacts::IPMSG_PORT,
            first_packet_no: qqchat_ipmsg::packet_no_at(std::time::SystemTime::now()),
            announce: true,
        });
    }
}

/// This machine's host name, as IP Messenger clients show it.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_else(|| "qqchat".to_owned())
}

/// The STUN servers, the relay and the DHT of `[me]`: what every long-running qqchat asks.
fn reach_options(options: &mut Options, me: &Me) -> Result<()> {
    options.stun = stun_servers(me);
    options.relay = relay_server(me)?;
    options.dht = dht_config(options, me);
    Ok(())
}

/// The DHT client of `[me] dht`, with this user's key. On a loopback socket it binds
/// loopback too, and without `[me] dht_bootstrap` it stays off there, as STUN does: a
/// qqchat on loopback (the tests') never reaches a public node.
fn dht_config(options: &Options, me: &Me) -> Option<crate::dht::DhtConfig> {
    let keys = options.protocol.identity.clone().filter(|_| me.dht)?;
    let loopback = me.listen.ip().is_loopback();
    if loopback && me.dht_bootstrap.is_none() {
        return None;
    }
    let mut config = crate::dht::DhtConfig::new(keys, me.dht_bootstrap.clone());
    config.bind = match me.listen.ip() {
        _ if loopback => std::net::Ipv4Addr::LOCALHOST,
        std::net::IpAddr::V4(ip) => ip,
        std::net::IpAddr::V6(_) => std::net::Ipv4Addr::UNSPECIFIED,
    };
    Some(config)
}

/// A number of seconds from the command line, if it is positive and at most a year (larger
/// ones would overflow the clock arithmetic).
fn seconds(secs: f64) -> Option<std::time::Duration> {
    (secs.is_finite() && secs > 0.0 && secs <= 365.0 * 24.0 * 3600.0)
        .then(|| std::time::Duration::from_secs_f64(secs))
}

/// Parses `ip:port` or `host:port`.
pub fn resolve(text: &str) -> Result<SocketAddr> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    text.to_socket_addrs()
        .with_context(|| format!("{text:?} is not an address like 127.0.0.1:9002 or [::1]:9002"))?
        .next()
        .with_context(|| format!("{text:?} did not resolve to any address"))
}

/// Binds the socket and starts the engine, before any terminal set-up.
fn start_engine(listen: SocketAddr, options: Options) -> Result<EngineHandle> {
    let socket = crate::net::bind(listen)?;
    Ok(engine::spawn(socket, options)?)
}

/// Where a command's lines go: this process's terminal, or the client of the control
/// socket that asked the running qqchat for them.
pub(crate) trait Say {
    /// A line for standard output; false once nobody reads it any more (`| head`), so
    /// long output can stop.
    fn out(&mut self, line: String) -> bool;
    fn err(&mut self, line: String);
}

/// Standard output and standard error of this process.
struct Terminal;

impl Say for Terminal {
    fn out(&mut self, line: String) -> bool {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}").and_then(|()| out.flush()).is_ok()
    }

    fn err(&mut self, line: String) {
        eprintln!("{line}");
    }
}

impl Say for Answer<'_> {
    fn out(&mut self, line: String) -> bool {
        Answer::out(self, line)
    }

    fn err(&mut self, line: String) {
        Answer::err(self, line);
    }
}

/// What `send` and `ping` need of an engine: where commands go and where its events come
/// back. Their own engine's, or a subscription to the running chat's.
pub(crate) struct EngineLink<'a> {
    commands: &'a Sender<Command>,
    events: &'a Receiver<EngineEvent>,
}

impl<'a> EngineLink<'a> {
    fn of(engine: &'a EngineHandle) -> Self {
        EngineLink {
            commands: &engine.commands,
            events: &engine.events,
        }
    }
}

/// The data directory and, in it, the control socket of the qqchat that keeps its data
/// there; `None` when no data directory can be found.
fn control_paths(common: &Common) -> Option<(PathBuf, PathBuf)> {
    let dir = store::data_dir(common.data_dir.clone())?;
    let socket = control::socket_path(&dir);
    Some((dir, socket))
}

/// Asks the qqchat running with this data directory to do `request`: its exit code, or
/// `None` when none runs (then the command binds its own port, as before).
fn ask_running(common: &Common, request: &Request) -> Result<Option<u8>> {
    let Some((_, path)) = control_paths(common) else {
        return Ok(None);
    };
    let code = control::call(&path, request)?;
    if code.is_some() && common.bind.is_some() {
        eprintln!(
            "qqchat: note: --bind was not used: the qqchat already running here did the work \
             from its own port, so that it stays the one your contacts reach"
        );
    }
    Ok(code)
}

/// Opens the control socket for the running chat, `listen` or `bot`: `send`, `ping` and
/// `id` then go through `engine` instead of binding a second port. `relay`: whether
/// `[me] relay` is configured, for doctor.
fn serve_control(
    common: &Common,
    engine: &EngineHandle,
    relay: bool,
) -> Result<Option<control::Server>> {
    let Some((dir, socket)) = control_paths(common) else {
        return Ok(None);
    };
    let commands = engine.commands.clone();
    let local = engine.local_addr;
    let handler = move |request: Request, answer: &mut Answer<'_>| -> u8 {
        // Events from now on, for this request only; dropped (and unsubscribed) at the end.
        let (tx, events) = crossbeam_channel::unbounded();
        if commands.send(Command::Subscribe(tx)).is_err() {
            answer.err("qqchat: the running qqchat is stopping");
            return 1;
        }
        let link = EngineLink {
            commands: &commands,
            events: &events,
        };
        match request {
            Request::Send {
                to,
                texts,
                timeout_secs,
                queue,
            } => {
                let Some(timeout) = seconds(timeout_secs) else {
                    answer.err("qqchat: the timeout is out of range");
                    return 2;
                };
                let target = Target::from_wire(to);
                send::deliver(&link, answer, &target, &texts, timeout, queue, true)
            }
            Request::SendFile {
                to,
                paths,
                rename,
                timeout_secs,
            } => {
                let Some(timeout) = seconds(timeout_secs) else {
                    answer.err("qqchat: the timeout is out of range");
                    return 2;
                };
                let target = Target::from_wire(to);
                // The running qqchat speaks IP Messenger already, if it can at all.
                let ipmsg = target.addr.port() == contacts::IPMSG_PORT;
                files::deliver_files(
                    &link,
                    answer,
                    &target,
                    ipmsg,
                    (&paths, rename.as_deref()),
                    timeout,
                    false,
                )
            }
            Request::Ping {
                to,
                count,
                interval_secs,
            } => {
                let Some(interval) = seconds(interval_secs) else {
                    answer.err("qqchat: the interval is out of range");
                    return 2;
                };
                ping::probe(
                    &link,
                    answer,
                    &Target::from_wire(to),
                    local,
                    count,
                    interval,
                )
            }
            Request::Id => keys::answer_id(&link, answer, local, relay),
            Request::Doctor { to } => {
                answer.out(format!("(asked the qqchat running here, on {local})"));
                let targets: Vec<Target> = to.into_iter().map(Target::from_wire).collect();
                doctor::examine(&link, answer, local, &targets, relay)
            }
            Request::Group(work) => groups::carry_out(&link, answer, &work),
            Request::History { key, me, json } => {
                let printed = History::open_read(&dir)
                    .map_err(anyhow::Error::from)
                    .and_then(|h| {
                        history::print(&h, &ConversationKey::new(&key), &me, json, answer)
                    });
                printed.unwrap_or_else(|err| {
                    answer.err(format!("qqchat: {err:#}"));
                    1
                })
            }
        }
    };
    Ok(Some(control::Server::start(&socket, Arc::new(handler))?))
}

/// Where a message goes and how: a contact by name, or an address.
pub(crate) struct Target {
    name: String,
    /// Whom the engine sends to: the contact's key if it has one.
    peer: PeerId,
    addr: SocketAddr,
    plain: bool,
}

impl Target {
    /// Contact `c`, written to at `addr`.
    fn of(c: &Contact, addr: SocketAddr) -> Target {
        Target {
            name: c.name.clone(),
            peer: c.peer_id(),
            addr,
            plain: c.plain,
        }
    }

    /// As the control socket carries it.
    fn to_wire(&self) -> control::Target {
        control::Target {
            name: self.name.clone(),
            addr: self.addr,
            key: self.peer.key().map(|k| identity::encode_key(&k)),
            plain: self.plain,
        }
    }

    /// As the control socket carried it; a key that does not decode leaves the address.
    fn from_wire(t: control::Target) -> Target {
        let key = t.key.as_deref().and_then(identity::decode_key);
        Target {
            name: t.name,
            peer: key.map_or_else(|| PeerId::addr(t.addr), PeerId::Key),
            addr: t.addr,
            plain: t.plain,
        }
    }
}

fn target(book: &ContactBook, to: &str) -> Result<Target> {
    if let Some(c) = book.by_name(to) {
        return Ok(Target::of(c, c.addr()));
    }
    match resolve(to) {
        Ok(addr) => Ok(match book.by_addr(addr) {
            Some(c) => Target::of(c, addr),
            None => Target {
                name: addr.to_string(),
                peer: PeerId::addr(addr),
                addr,
                plain: false,
            },
        }),
        Err(_) => {
            let known: Vec<&str> = book.contacts.iter().map(|c| c.name.as_str()).collect();
            if known.is_empty() {
                bail!("{to:?} is neither a contact nor an ip:port (no contacts are known)")
            }
            bail!(
                "{to:?} is neither a contact nor an ip:port; contacts: {}",
                known.join(", ")
            )
        }
    }
}

/// `qqchat`: the chat.
pub fn chat(common: &Common) -> Result<ExitCode> {
    let (mut book, path) = load_book_quiet(common, false)?;
    // Warned of in the chat itself, loudly, rather than on a terminal about to be cleared.
    let held = trust::hold_book(common, &mut book)?;
    // No file yet: the chat starts empty (people on the LAN appear by themselves) and the
    // file is made in the config directory when the first contact is added.
    let path = path.or_else(|| contacts::search_paths(None).pop());
    let history = open_history(common)?;
    let data_dir = Some(history.dir().to_path_buf());
    // The chat reads what it shows beside the engine, which writes.
    let reader = History::open_read(&data_dir_of(common)?)?;
    let mut options = engine_options(&book, Some(history), true)?;
    // Without a file store the chat's engine would decline every offer.
    // The chat offers again what it was sending when it last stopped.
    let files = FilesSetup {
        resend: true,
        ..files_setup(common, &book.me)
    };
    let downloads = files.downloads.clone();
    options.files = Some(Box::new(engine::DiskFiles::new(files)));
    reach_options(&mut options, &book.me)?;
    lan_options(common, &book, &mut options, book.me.listen);
    let on_lan = options.discovery.is_some() || options.lan.is_some();
    let public_key = options.protocol.identity.as_ref().map(|keys| keys.public);
    options.trust = held.trust.clone();
    let engine = start_engine(book.me.listen, options)?;
    let _control = serve_control(common, &engine, book.me.relay.is_some())?;
    let session = crate::tui::Session {
        history: Some(reader),
        public_key,
        data_dir,
        on_lan,
        downloads,
        trust: held.trust,
        trust_dir: held.dir,
        key_changes: held.changes,
    };
    crate::tui::run(book, path, engine, session)?;
    Ok(ExitCode::SUCCESS)
}

/// `qqchat demo`: the chat on loopback, with a bot contact answering from this process.
/// Nothing is kept: the demo's history lives in a temporary directory, and both sides get
/// fresh keys, so the demo also shows a Noise-encrypted conversation.
pub fn demo(common: &Common) -> Result<ExitCode> {
    if common.contacts.is_some() || common.data_dir.is_some() {
        bail!(
            "the demo reads no contacts file and keeps no history; \
             drop --contacts and --data-dir, or run qqchat without demo to use them"
        );
    }
    if common.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        bail!("--name must not be empty");
    }
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let you_listen = match &common.bind {
        Some(bind) => resolve(bind).with_context(|| format!("--bind {bind}"))?,
        None => loopback,
    };
    let your_name = common.name.clone().unwrap_or_else(|| "you".into());
    // The bot lives where you do, so the two can always reach each other.
    let bot_listen = match you_listen.ip() {
        ip if ip.is_unspecified() => loopback,
        ip => SocketAddr::new(ip, 0),
    };
    let (bot_keys, your_keys) = (Keypair::generate()?, Keypair::generate()?);
    // Everything the demo keeps, files included, is under this, removed when it ends
    // (also if it ends in a panic).
    let dir = std::env::temp_dir().join(format!("qqchat-demo-{}", std::process::id()));
    let _remove = RemoveOnDrop(dir.clone());
    let files_in = |sub: &str| -> Option<Box<dyn engine::FileStore>> {
        Some(Box::new(engine::DiskFiles::new(FilesSetup {
            downloads: Some(dir.join(sub)),
            ..FilesSetup::default()
        })))
    };
    let mut bot_options = Options::new(engine::default_config());
    bot_options.protocol.identity = Some(bot_keys.clone());
    // The bot takes your files (you are its trusted contact), so Ctrl-O can be tried.
    bot_options.files = files_in("bot");
    let bot_engine = start_engine(bot_listen, bot_options)?;
    let me = Me {
        name: your_name.clone(),
        listen: you_listen,
        bell: true,
        require_keys: false,
        keepalive: 25,
        stun: Vec::new(),
        relay: None,
        downloads: None,
        max_file_size: None,
        notify: crate::contacts::Notify::All,
        notify_preview: true,
        mouse: true,
        notify_command: None,
        on_message: None,
        strangers: crate::contacts::Strangers::Requests,
        dht: false,
        dht_bootstrap: None,
    };
    let mut book = ContactBook::empty(me);
    book.contacts.push(Contact {
        name: "bot".into(),
        addrs: vec![bot_engine.local_addr],
        plain: false,
        key: Some(bot_keys.public),
        ipmsg: false,
        encoding: None,
        accept_files: false,
        mute: false,
    });
    let history = History::open(&dir)?;
    let mut options = Options::new(engine::default_config());
    options.protocol.identity = Some(your_keys.clone());
    options.name = book.me.name.clone();
    options.contacts = book.contacts.clone();
    options.history = Some(history);
    options.queue_failed = true;
    options.files = files_in("downloads");
    let engine = start_engine(you_listen, options)?;
    let you = Contact {
        name: your_name,
        addrs: vec![match engine.local_addr {
            a if a.ip().is_unspecified() => SocketAddr::new(bot_listen.ip(), a.port()),
            a => a,
        }],
        plain: false,
        key: Some(your_keys.public),
        ipmsg: false,
        encoding: None,
        accept_files: true,
        mute: false,
    };
    let you_peer = you.peer_id();
    let _ = bot_engine.commands.send(Command::SetContacts(vec![you]));
    std::thread::Builder::new()
        .name("qqchat-demo-bot".into())
        .spawn(move || {
            bot::greet(
                &bot_engine,
                you_peer,
                include_str!("../../assets/demo-greeting.txt"),
            );
            // Nothing printed: the chat owns this terminal.
            bot::serve(&bot_engine, Reply::Upper, "bot", &[], |_| {});
        })?;
    book.me.listen = engine.local_addr;
    let session = crate::tui::Session {
        history: Some(History::open_read(&dir)?),
        public_key: Some(your_keys.public),
        data_dir: Some(dir.clone()),
        on_lan: false,
        downloads: Some(dir.join("downloads")),
        trust: store::TrustBook::default(),
        trust_dir: None,
        key_changes: Vec::new(),
    };
    let result = crate::tui::run(book, None, engine, session);
    drop(_remove);
    result?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod dht_tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn with(me: &Me) -> Option<crate::dht::DhtConfig> {
        let mut options = Options::new(engine::default_config());
        options.protocol.identity = Some(Keypair::generate().expect("a key pair"));
        dht_config(&options, me)
    }

    fn me(listen: &str, dht: bool, bootstrap: Option<&str>) -> Me {
        Me {
            listen: listen.parse().expect("an address"),
            dht,
            dht_bootstrap: bootstrap.map(|b| vec![b.to_owned()]),
            ..Me::default()
        }
    }

    #[test]
    fn off_unless_asked() {
        assert!(with(&me("0.0.0.0:9001", false, None)).is_none());
        let on = with(&me("0.0.0.0:9001", true, None)).expect("on");
        assert_eq!(on.bootstrap, None);
        assert_eq!(on.bind, Ipv4Addr::UNSPECIFIED);
        let bound = with(&me("192.168.1.5:9001", true, None)).expect("on");
        assert_eq!(bound.bind, Ipv4Addr::new(192, 168, 1, 5));
    }

    #[test]
    fn a_loopback_qqchat_never_reaches_a_public_node() {
        assert!(with(&me("127.0.0.1:9001", true, None)).is_none());
        let on = with(&me("127.0.0.1:9001", true, Some("127.0.0.1:6881"))).expect("on");
        assert_eq!(on.bind, Ipv4Addr::LOCALHOST);
        assert_eq!(on.bootstrap, Some(vec!["127.0.0.1:6881".to_owned()]));
    }
}
