//! `qqchat listen`: print each message as it arrives, for people and for scripts.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use jiff::tz::TimeZone;
use serde_json::json;

use super::{Common, engine_options, load_book, open_history, serve_control, start_engine};
use std::net::SocketAddr;

use crate::contacts::{Contact, ContactBook};
use crate::engine::{
    Command, EngineEvent, GroupItem, GroupItemKind, GroupSnapshot, GroupView, Neighbour,
    NeighbourKind,
};
use crate::identity;
use crate::proto::PeerId;
use crate::proto::group::{GroupId, MsgRef};
use crate::store::GroupStatus;
use signal_hook::consts::SIGTERM;
use std::collections::{HashMap, HashSet};

/// What the listening loop waits for next.
enum Next {
    Engine(EngineEvent),
    /// SIGINT or SIGTERM, by number.
    Quit(i32),
    Stopped,
}

pub fn listen(
    common: &Common,
    json: bool,
    accept_files: Option<PathBuf>,
    accept_groups: bool,
) -> Result<ExitCode> {
    let (book, path) = load_book(common, false)?;
    let history = open_history(common)?;
    // Like the chat, a running `listen` delivers the outbox when a contact is heard from.
    let mut options = engine_options(&book, Some(history), true)?;
    super::reach_options(&mut options, &book.me)?;
    super::lan_options(common, &book, &mut options, book.me.listen);
    let mut setup = super::files_setup(common, &book.me);
    if let Some(dir) = &accept_files {
        setup.downloads = Some(dir.clone());
    }
    options.files = Some(Box::new(crate::engine::DiskFiles::new(setup)));
    let engine = start_engine(book.me.listen, options)?;
    let _control = serve_control(common, &engine, book.me.relay.is_some())?;
    // Caught, so that the engine stops in order: the LAN announcement withdrawn, IP Messenger
    // told goodbye, the history and the control socket closed.
    let quit = crate::signals::quit_signals()?;
    // IP Messenger peers, to say `"via": "ipmsg"` of their messages.
    let mut ipmsg_peers: HashSet<PeerId> = HashSet::new();
    let mut neighbours: HashMap<PeerId, String> = HashMap::new();
    // Files offered, by transfer id, to name them when they end.
    let mut file_names: HashMap<u64, String> = HashMap::new();
    let mut continuing: HashSet<u64> = HashSet::new();
    let book = Arc::new(Mutex::new(book));
    if let Some(path) = path.clone() {
        let data_dir = crate::store::data_dir(common.data_dir.clone());
        follow(path, data_dir, Arc::clone(&book), engine.commands.clone())?;
    }
    let book = || book.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let name = book().me.name;
    eprintln!(
        "qqchat: listening on {} as {}; Ctrl-C stops",
        engine.local_addr, name
    );
    let tz = TimeZone::system();
    let stdout = std::io::stdout();
    // A failing relay is retried every minute: its reason is said once, not every time.
    let mut relay_said = None;
    let mut groups = GroupLines::default();
    loop {
        let next = crossbeam_channel::select! {
            recv(engine.events) -> event => event.map_or(Next::Stopped, Next::Engine),
            recv(quit) -> signal => Next::Quit(signal.unwrap_or(SIGTERM)),
        };
        let event = match next {
            Next::Engine(event) => event,
            Next::Quit(signal) => {
                engine.shutdown();
                // As a shell reports a process a signal ended.
                return Ok(ExitCode::from(128u8.saturating_add(signal as u8)));
            }
            Next::Stopped => break,
        };
        let line = match event {
            EngineEvent::Received {
                from,
                path,
                kind,
                text,
                sent_at,
                received_at,
                plain,
                ..
            } => {
                let contact = book().by_peer(from).cloned();
                let via = if plain {
                    "plain"
                } else if ipmsg_peers.contains(&from) || contact.as_ref().is_some_and(|c| c.ipmsg) {
                    "ipmsg"
                } else {
                    "qqchat"
                };
                let name = contact
                    .map(|c| c.name)
                    .or_else(|| neighbours.get(&from).cloned());
                if json {
                    json!({
                        "from": name,
                        "addr": path.to_string(),
                        "via": via,
                        "path": kind.name(),
                        "text": text,
                        "plain": plain,
                        "sent_at": sent_at.map(|t| t.to_string()),
                        "received_at": received_at.to_string(),
                    })
                    .to_string()
                } else {
                    format!(
                        "[{}] {}: {}",
                        received_at.to_zoned(tz.clone()).strftime("%H:%M:%S"),
                        crate::text::one_line(&name.unwrap_or_else(|| path.to_string())),
                        crate::text::one_line(&text),
                    )
                }
            }
            EngineEvent::Relay(report) => {
                if let Some(line) = report.describe()
                    && relay_said.as_ref() != Some(&line)
                {
                    eprintln!("qqchat: {line}");
                    relay_said = Some(line);
                }
                continue;
            }
            EngineEvent::Candidates { peer, addrs } => {
                if let (Some(file), Some(c)) = (&path, book().by_peer(peer)) {
                    learned(file, c, &addrs);
                }
                continue;
            }
            EngineEvent::FileOffered {
                from,
                id,
                name,
                size,
                saving_to,
            } => {
                let who = sender_name(&book(), &neighbours, from);
                let contact = book().by_peer(from).is_some();
                if saving_to.is_some() {
                    continuing.insert(id);
                }
                file_names.insert(id, crate::text::one_line(&name));
                match (&saving_to, &accept_files) {
                    (Some(dir), _) => eprintln!(
                        "qqchat: {who} sends {} ({size} bytes): saving it in {}",
                        crate::text::one_line(&name),
                        dir.display()
                    ),
                    // Strangers' files are never taken without asking, and nobody is asked.
                    (None, Some(dir)) if contact => {
                        eprintln!(
                            "qqchat: {who} sends {} ({size} bytes): taking it into {}",
                            crate::text::one_line(&name),
                            dir.display()
                        );
                        let _ = engine.commands.send(Command::AcceptFile {
                            from,
                            id,
                            dir: dir.clone(),
                        });
                    }
                    (None, _) => {
                        eprintln!(
                            "qqchat: {who} offers {} ({size} bytes): declined{}",
                            crate::text::one_line(&name),
                            if accept_files.is_some() {
                                " (not a contact)"
                            } else {
                                " (listen takes files only with --accept-files DIR)"
                            }
                        );
                        let _ = engine.commands.send(Command::DeclineFile { from, id });
                    }
                }
                continue;
            }
            EngineEvent::FileDone {
                peer,
                id,
                outgoing: false,
                path: Some(file),
            } => {
                file_names.remove(&id);
                let who = sender_name(&book(), &neighbours, peer);
                let size = tree_size(&file);
                // IP Messenger has no hash: its files are only as whole as their size says.
                let hashed =
                    !(ipmsg_peers.contains(&peer) || book().by_peer(peer).is_some_and(|c| c.ipmsg));
                if json {
                    json!({
                        "from": who,
                        "file": file.display().to_string(),
                        "size": size,
                        "verified": hashed,
                    })
                    .to_string()
                } else {
                    format!(
                        "[{}] {}: sent a file, {}: {} ({size} bytes)",
                        jiff::Zoned::now()
                            .with_time_zone(tz.clone())
                            .strftime("%H:%M:%S"),
                        crate::text::one_line(&who),
                        if hashed { "verified" } else { "size checked" },
                        file.display()
                    )
                }
            }
            EngineEvent::FileProgress(p) if !p.outgoing => {
                // A file taken up again after a restart: say how much was already here.
                if continuing.remove(&p.id) && p.done > 0 {
                    eprintln!(
                        "qqchat: {}: {} of {} already here, continuing",
                        crate::text::one_line(&p.name),
                        crate::files::human_bytes(p.done),
                        crate::files::human_bytes(p.size)
                    );
                }
                continue;
            }
            EngineEvent::FileFailed {
                id,
                reason,
                outgoing: false,
                ..
            } => {
                match file_names.remove(&id) {
                    Some(name) => eprintln!("qqchat: {name} did not arrive: {reason}"),
                    None => eprintln!("qqchat: a file did not arrive: {reason}"),
                }
                continue;
            }
            EngineEvent::Neighbour(n) => {
                if n.is_ipmsg() {
                    ipmsg_peers.insert(n.peer);
                }
                let name = crate::text::one_line(&n.name);
                if neighbours.insert(n.peer, name.clone()).is_none() {
                    eprintln!("qqchat: {}", describe(&n, &name));
                }
                continue;
            }
            EngineEvent::NeighbourGone { peer } => {
                if let Some(name) = neighbours.remove(&peer) {
                    eprintln!("qqchat: gone from this network: {name}");
                }
                continue;
            }
            EngineEvent::Error(err) | EngineEvent::Trouble { text: err, .. } => {
                eprintln!("qqchat: {err}");
                continue;
            }
            EngineEvent::Groups(snapshots) => {
                for s in snapshots {
                    let lines = groups.known(&book(), s, json, accept_groups, &engine.commands);
                    if !print_lines(&stdout, &lines) {
                        engine.shutdown();
                        return Ok(ExitCode::SUCCESS);
                    }
                }
                continue;
            }
            EngineEvent::Group(view) => {
                let lines = groups.changed(&book(), view, json, accept_groups, &engine.commands);
                if !print_lines(&stdout, &lines) {
                    engine.shutdown();
                    return Ok(ExitCode::SUCCESS);
                }
                continue;
            }
            EngineEvent::GroupItems { group, items } => {
                let lines = groups.items(&book(), group, items, json);
                if !print_lines(&stdout, &lines) {
                    engine.shutdown();
                    return Ok(ExitCode::SUCCESS);
                }
                continue;
            }
            _ => continue,
        };
        // A closed pipe (`qqchat listen | head`) ends listening quietly.
        if !print_lines(&stdout, &[line]) {
            engine.shutdown();
            return Ok(ExitCode::SUCCESS);
        }
    }
    bail!("the engine stopped")
}

/// Writes lines to standard output; false once nobody reads it.
fn print_lines(stdout: &std::io::Stdout, lines: &[String]) -> bool {
    if lines.is_empty() {
        return true;
    }
    let mut out = stdout.lock();
    lines
        .iter()
        .try_for_each(|line| writeln!(out, "{line}"))
        .and_then(|()| out.flush())
        .is_ok()
}

/// What `listen` knows of groups, to print each group message once, and nothing of a group
/// until it is joined.
#[derive(Default)]
struct GroupLines {
    views: HashMap<GroupId, GroupView>,
    /// Items already printed (or read at start), by group.
    seen: HashSet<(GroupId, MsgRef)>,
    /// Items of groups invited to, printed once joined.
    waiting: HashMap<GroupId, Vec<GroupItem>>,
}

impl GroupLines {
    /// A group read at start: its items were there before, so none is printed; an
    /// invitation still open is said (or accepted).
    fn known(
        &mut self,
        book: &ContactBook,
        snapshot: GroupSnapshot,
        json: bool,
        accept: bool,
        commands: &crossbeam_channel::Sender<Command>,
    ) -> Vec<String> {
        let id = snapshot.view.id;
        for item in &snapshot.items {
            self.seen.insert((id, item.id));
        }
        self.changed(book, snapshot.view, json, accept, commands)
    }

    fn changed(
        &mut self,
        book: &ContactBook,
        view: GroupView,
        json: bool,
        accept: bool,
        commands: &crossbeam_channel::Sender<Command>,
    ) -> Vec<String> {
        let id = view.id;
        let before = self.views.insert(id, view.clone()).map(|v| v.status);
        let mut lines = Vec::new();
        let name = crate::text::one_line(&view.name);
        let short = super::groups::short_id(&id);
        match view.status {
            GroupStatus::Invited if before != Some(GroupStatus::Invited) => {
                let from = view
                    .inviter
                    .map(|k| super::groups::author_name(book, &view, &k));
                if accept {
                    eprintln!(
                        "qqchat: {} invited you to the group {name} ({short}): accepting",
                        from.as_deref().unwrap_or("a contact")
                    );
                    let _ = commands.send(Command::GroupAnswer {
                        group: id,
                        accept: true,
                    });
                } else if json {
                    lines.push(
                        json!({
                            "invitation": {"name": view.name, "id": id.to_hex()},
                            "from": from,
                            "accept": format!("qqchat group accept {short}"),
                            "decline": format!("qqchat group decline {short}"),
                        })
                        .to_string(),
                    );
                } else {
                    lines.push(format!(
                        "[{name}] {} invites you to the group {name}; to join: qqchat group \
                         accept {short} (or: qqchat group decline {short})",
                        from.as_deref().unwrap_or("a contact")
                    ));
                }
            }
            GroupStatus::Joined => {
                if before == Some(GroupStatus::Invited) {
                    eprintln!("qqchat: joined the group {name} ({short})");
                }
                let waiting = self.waiting.remove(&id).unwrap_or_default();
                lines.extend(self.print(book, id, waiting, json));
            }
            GroupStatus::Removed if before == Some(GroupStatus::Joined) => {
                eprintln!("qqchat: you were removed from the group {name} ({short})");
            }
            _ => {}
        }
        lines
    }

    fn items(
        &mut self,
        book: &ContactBook,
        id: GroupId,
        mut items: Vec<GroupItem>,
        json: bool,
    ) -> Vec<String> {
        items.sort_by_key(|a| a.order);
        items.retain(|i| self.seen.insert((id, i.id)));
        match self.views.get(&id).map(|v| v.status) {
            Some(GroupStatus::Joined) => self.print(book, id, items, json),
            Some(GroupStatus::Invited) => {
                self.waiting.entry(id).or_default().extend(items);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// Lines for new items of a joined group: messages by others on standard output,
    /// membership changes on standard error.
    fn print(
        &self,
        book: &ContactBook,
        id: GroupId,
        items: Vec<GroupItem>,
        json: bool,
    ) -> Vec<String> {
        let Some(view) = self.views.get(&id) else {
            return Vec::new();
        };
        let name = crate::text::one_line(&view.name);
        let now = jiff::Timestamp::now();
        let mut lines = Vec::new();
        for item in items.into_iter().filter(|i| i.visible && !i.mine) {
            let from = super::groups::author_name(book, view, &item.author);
            let GroupItemKind::Text(text) = &item.kind else {
                let (_, what) = super::groups::describe(book, view, &item.kind);
                eprintln!("qqchat: [{name}] {from} {what}");
                continue;
            };
            if json {
                lines.push(
                    json!({
                        "group": {"name": view.name, "id": id.to_hex()},
                        "from": from,
                        "from_key": identity::encode_key(&item.author),
                        "contact": book.contacts.iter().any(|c| c.key == Some(item.author)),
                        "text": text,
                        "sent_at": item.sent_at.map(|t| t.to_string()),
                        "received_at": now.to_string(),
                        "gap_before": item.gap_before,
                    })
                    .to_string(),
                );
            } else {
                if item.gap_before {
                    lines.push(format!("[{name}] [earlier messages missing]"));
                }
                lines.push(format!(
                    "[{}] [{name}] {from}: {}",
                    now.to_zoned(TimeZone::system()).strftime("%H:%M:%S"),
                    crate::text::one_line(text)
                ));
            }
        }
        lines
    }
}

/// The bytes of a received file, or of every file in a received folder (links not followed).
fn tree_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|entries| entries.flatten().map(|e| tree_size(&e.path())).sum())
        .unwrap_or(0)
}

/// The line `listen` prints on stderr for someone found on this network; `name` is the
/// neighbour's name made safe to print.
fn describe(n: &Neighbour, name: &str) -> String {
    match &n.kind {
        NeighbourKind::Qqchat { key, version } => {
            let key = key.map_or_else(
                || "no key".to_owned(),
                |k| format!("key {}", identity::encode_key(&k)),
            );
            let version = if version.is_empty() {
                String::new()
            } else {
                format!(", qqchat {}", crate::text::one_line(version))
            };
            format!("on this network: {name} at {} ({key}{version})", n.addr)
        }
        NeighbourKind::IpMsg {
            client,
            group,
            host,
            ..
        } => {
            let group = if group.is_empty() {
                String::new()
            } else {
                format!(", group {}", crate::text::one_line(group))
            };
            format!(
                "on this network: {name} at {} ({client} on {}{group}; unencrypted)",
                n.addr,
                crate::text::one_line(host)
            )
        }
    }
}

/// Keeps the addresses a keyed contact told in the contacts file (which [`follow`] then
/// reads back), and says so.
fn learned(file: &std::path::Path, contact: &Contact, addrs: &[SocketAddr]) {
    let Some(key) = &contact.key else {
        return;
    };
    let list: Vec<String> = addrs.iter().map(ToString::to_string).collect();
    match crate::contacts::learn_addrs(file, &contact.name, key, addrs) {
        Ok(()) => eprintln!(
            "qqchat: {} told its addresses ({}): kept in {}",
            crate::text::one_line(&contact.name),
            list.join(", "),
            file.display()
        ),
        Err(err) => eprintln!("qqchat: {}'s new addresses not kept: {err}", contact.name),
    }
}

/// How often a running `listen` looks at its contacts file.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

/// Follows edits of the contacts file, as the chat does: a friend's new address (a relayed
/// one, say) takes effect without a restart, which would lose the relay allocation. A file
/// that does not parse keeps the old contacts, and says why.
fn follow(
    path: PathBuf,
    data_dir: Option<PathBuf>,
    book: Arc<Mutex<ContactBook>>,
    commands: crossbeam_channel::Sender<Command>,
) -> Result<()> {
    let stamp = |path: &PathBuf| -> Option<(SystemTime, u64)> {
        let meta = std::fs::metadata(path).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    };
    let mut last = stamp(&path);
    std::thread::Builder::new()
        .name("qqchat-listen-contacts".into())
        .spawn(move || {
            loop {
                std::thread::sleep(FOLLOW_EVERY);
                let now = stamp(&path);
                if now == last {
                    continue;
                }
                last = now;
                let mut new = match ContactBook::load(&path) {
                    Ok(new) => new,
                    Err(err) => {
                        eprintln!("qqchat: old contacts kept: {err}");
                        continue;
                    }
                };
                // Held to the trusted keys, which `qqchat verify` may have changed since.
                let held = match super::trust::hold_in(data_dir.clone(), &mut new) {
                    Ok(held) => held,
                    Err(err) => {
                        eprintln!("qqchat: old contacts kept: {err:#}");
                        continue;
                    }
                };
                let mut kept = book.lock().unwrap_or_else(PoisonError::into_inner);
                if new.contacts != kept.contacts {
                    super::trust::warn(&held.changes);
                    kept.contacts.clone_from(&new.contacts);
                    let trusted = new.contacts.iter().filter_map(|c| {
                        c.key.map(|key| Command::TrustKey {
                            name: c.name.clone(),
                            key: Some(key),
                        })
                    });
                    for command in trusted.collect::<Vec<_>>() {
                        if commands.send(command).is_err() {
                            return;
                        }
                    }
                    if commands.send(Command::SetContacts(new.contacts)).is_err() {
                        break;
                    }
                    eprintln!("qqchat: contacts reloaded");
                }
            }
        })
        .context("start following the contacts file")?;
    Ok(())
}

/// Who `peer` is, for a line about it: its contact's name, the name it gave on the LAN, or
/// its address.
fn sender_name(book: &ContactBook, neighbours: &HashMap<PeerId, String>, peer: PeerId) -> String {
    book.by_peer(peer)
        .map(|c| c.name.clone())
        .or_else(|| neighbours.get(&peer).cloned())
        .unwrap_or_else(|| match peer {
            PeerId::Addr(addr) => addr.to_string(),
            PeerId::Key(key) => identity::encode_key(&key),
        })
}
