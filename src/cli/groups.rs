//! `qqchat group ...`, `send` and `history` to a group: groups read from the data directory,
//! named by name or by a prefix of their id, and the work done by the running qqchat's engine
//! or by one started for the command.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Result, bail};
use crossbeam_channel::RecvTimeoutError;
use jiff::tz::TimeZone;
use serde_json::json;

use super::{
    Common, EngineLink, Say, Terminal, ask_running, engine_options, load_identity, one_off_book,
    open_history, read_history, start_engine,
};
use crate::contacts::ContactBook;
use crate::control::{GroupAction, GroupWork, Request};
use crate::engine::{
    Command, EngineEvent, GroupItem, GroupItemKind, GroupSnapshot, GroupView, new_message_id,
};
use crate::identity;
use crate::proto::group::{Group, GroupId, GroupMsg, MsgRef};
use crate::proto::{PeerId, PublicKey};
use crate::store::{GroupStatus, History};

/// How many hex digits of a group's id are shown, and the fewest taken as a prefix.
pub(super) const SHORT_ID: usize = 8;
const MIN_PREFIX: usize = 4;

/// The short form of a group's id, as `group list` shows it.
pub(crate) fn short_id(id: &GroupId) -> String {
    id.to_hex()[..SHORT_ID].to_owned()
}

/// Every group in the history's directory, as the engine would read it, for this member.
pub(super) fn load(history: &History, me: PublicKey) -> Result<Vec<GroupSnapshot>> {
    let mut out = Vec::new();
    for stored in history.groups()? {
        let mut group = Group::new(stored.id);
        for (bytes, _) in &stored.msgs {
            if let Ok(msg) = GroupMsg::decode(bytes) {
                let _ = group.insert(msg, None);
            }
        }
        if group.is_empty() {
            continue;
        }
        let items = group
            .shown()
            .map(|m| {
                let acked = stored
                    .acks
                    .get(&m.content.seq)
                    .filter(|_| m.content.author == me)
                    .map(|s| s.iter().copied().collect())
                    .unwrap_or_default();
                GroupItem::new(&group, m, &me, acked)
            })
            .collect();
        out.push(GroupSnapshot {
            view: GroupView::new(&group, stored.status, me, None),
            items,
        });
    }
    Ok(out)
}

/// How `to` names a group, when it does: `Ok(None)` when nothing looks like it.
#[derive(Debug, PartialEq)]
pub(crate) enum Found {
    One(GroupId),
    /// Several groups have this name (or id prefix): the message lists their ids.
    Ambiguous(String),
}

/// The group named `query`: by its exact name (of the groups one takes part in, when a
/// name was used more than once), else by a prefix of its hex id.
pub(crate) fn find(groups: &[GroupView], query: &str) -> Option<Found> {
    let named: Vec<&GroupView> = groups.iter().filter(|g| g.name == query).collect();
    let candidates = match named.len() {
        0 => {
            let q = query.to_ascii_lowercase();
            let hex = q.len() >= MIN_PREFIX && q.chars().all(|c| c.is_ascii_hexdigit());
            if !hex {
                return None;
            }
            let by_id: Vec<&GroupView> = groups
                .iter()
                .filter(|g| g.id.to_hex().starts_with(&q))
                .collect();
            if by_id.is_empty() {
                return None;
            }
            by_id
        }
        1 => named,
        _ => {
            let active: Vec<&GroupView> = named
                .iter()
                .copied()
                .filter(|g| g.status.active())
                .collect();
            if active.len() == 1 { active } else { named }
        }
    };
    if let [one] = candidates.as_slice() {
        return Some(Found::One(one.id));
    }
    let list: Vec<String> = candidates
        .iter()
        .map(|g| format!("{} ({}, {})", g.id.to_hex(), g.name, status_word(g.status)))
        .collect();
    Some(Found::Ambiguous(format!(
        "{query:?} names {} groups; name one by a prefix of its id: {}",
        candidates.len(),
        list.join(", ")
    )))
}

/// The group `query` names, or an error that says which groups there are.
pub(crate) fn resolve(groups: &[GroupView], query: &str) -> Result<GroupId> {
    match find(groups, query) {
        Some(Found::One(id)) => Ok(id),
        Some(Found::Ambiguous(why)) => bail!("{why}"),
        None if groups.is_empty() => bail!("there is no group {query:?}: you are in no group"),
        None => {
            let list: Vec<String> = groups
                .iter()
                .map(|g| format!("{} ({})", g.name, short_id(&g.id)))
                .collect();
            bail!("there is no group {query:?}; groups: {}", list.join(", "))
        }
    }
}

/// The member `who` names in `view`: a contact's name (if that contact is a member), else
/// the name a member was added under.
pub(crate) fn resolve_member(book: &ContactBook, view: &GroupView, who: &str) -> Result<PublicKey> {
    let is_member = |k: &PublicKey| view.members.iter().any(|(m, _)| m == k);
    if let Some(key) = book.by_name(who).and_then(|c| c.key)
        && is_member(&key)
    {
        return Ok(key);
    }
    let named: Vec<PublicKey> = view
        .members
        .iter()
        .filter(|(_, n)| n == who)
        .map(|(k, _)| *k)
        .collect();
    match named.as_slice() {
        [one] => Ok(*one),
        [] => bail!(
            "{who:?} is not a member of {}; members: {}",
            view.name,
            view.members
                .iter()
                .map(|(k, n)| member_label(book, view.me, k, n))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        many => bail!(
            "{} members of {} were added as {who:?}: give the contact's name instead",
            many.len(),
            view.name
        ),
    }
}

fn status_word(status: GroupStatus) -> &'static str {
    match status {
        GroupStatus::Invited => "invited",
        GroupStatus::Joined => "joined",
        GroupStatus::Declined => "declined",
        GroupStatus::Left => "left",
        GroupStatus::Removed => "removed",
    }
}

/// How a member is shown: `you`, the contact's name, or the name they were added under
/// with `unverified` (nobody here vouched for that name).
pub(crate) fn member_label(
    book: &ContactBook,
    me: PublicKey,
    key: &PublicKey,
    name: &str,
) -> String {
    if *key == me {
        return "you".to_owned();
    }
    match book.contacts.iter().find(|c| c.key.as_ref() == Some(key)) {
        Some(c) => crate::text::one_line(&c.name),
        None => format!("{} (unverified)", crate::text::one_line(name)),
    }
}

/// A member's name to print: the contact's, else the one they were added under.
pub(crate) fn author_name(book: &ContactBook, view: &GroupView, key: &PublicKey) -> String {
    if let Some(c) = book.contacts.iter().find(|c| c.key.as_ref() == Some(key)) {
        return crate::text::one_line(&c.name);
    }
    if *key == view.me {
        return "you".to_owned();
    }
    view.member_name(key)
        .map_or_else(|| identity::encode_key(key), crate::text::one_line)
}

/// `qqchat group list`.
pub fn list(common: &Common) -> Result<ExitCode> {
    let (book, _) = super::load_book(common, false)?;
    let me = load_identity()?.public;
    let groups = load(&read_history(common)?, me)?;
    if groups.is_empty() {
        eprintln!("no groups yet (qqchat group create NAME CONTACT...)");
        return Ok(ExitCode::SUCCESS);
    }
    let mut say = Terminal;
    for g in &groups {
        let v = &g.view;
        let members: Vec<String> = v
            .members
            .iter()
            .map(|(k, n)| member_label(&book, me, k, n))
            .collect();
        let count = g
            .items
            .iter()
            .filter(|i| i.visible && matches!(i.kind, GroupItemKind::Text(_)))
            .count();
        let mut line = format!(
            "{}  {}  {}  {count} message{}  members: {}",
            crate::text::one_line(&v.name),
            short_id(&v.id),
            status_word(v.status),
            if count == 1 { "" } else { "s" },
            members.join(", ")
        );
        if v.status == GroupStatus::Invited {
            line.push_str(&format!(
                "  (to join: qqchat group accept {})",
                short_id(&v.id)
            ));
        }
        if !say.out(line) {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `qqchat history GROUP`: the group's messages in its order, from the files.
pub(super) fn print_history(
    book: &ContactBook,
    snapshot: &GroupSnapshot,
    json: bool,
    say: &mut dyn Say,
) -> u8 {
    let v = &snapshot.view;
    let tz = TimeZone::system();
    let mut any = false;
    for item in snapshot.items.iter().filter(|i| i.visible) {
        let from = author_name(book, v, &item.author);
        let at = item.sent_at.map(|t| t.to_string());
        if item.gap_before && !json && !say.out("[earlier messages missing]".to_owned()) {
            return 0;
        }
        let line = if json {
            let (kind, text) = describe(book, v, &item.kind);
            json!({
                "group": {"name": v.name, "id": v.id.to_hex()},
                "from": from,
                "kind": kind,
                "text": text,
                "sent_at": at,
                "gap_before": item.gap_before,
            })
            .to_string()
        } else {
            let when = item.sent_at.map_or_else(
                || "?".to_owned(),
                |t| {
                    t.to_zoned(tz.clone())
                        .strftime("%Y-%m-%d %H:%M:%S")
                        .to_string()
                },
            );
            match &item.kind {
                GroupItemKind::Text(text) => {
                    format!("[{when}] {from}: {}", crate::text::one_line(text))
                }
                other => format!("[{when}] * {from} {}", describe(book, v, other).1),
            }
        };
        any = true;
        if !say.out(line) {
            break;
        }
    }
    if !any {
        say.err(format!("no messages in {} yet", v.name));
    }
    0
}

/// An item's kind and its words: the text, or what a membership change did.
pub(crate) fn describe(
    book: &ContactBook,
    view: &GroupView,
    kind: &GroupItemKind,
) -> (&'static str, String) {
    match kind {
        GroupItemKind::Text(t) => ("text", t.clone()),
        GroupItemKind::Created { name } => (
            "created",
            format!("created the group {}", crate::text::one_line(name)),
        ),
        GroupItemKind::Added { key, name } => (
            "added",
            format!("added {}", member_label(book, view.me, key, name)),
        ),
        GroupItemKind::Removed { key } => (
            "removed",
            format!(
                "removed {}",
                member_label(book, view.me, key, view.member_name(key).unwrap_or("?"))
            ),
        ),
        GroupItemKind::Left => ("left", "left the group".to_owned()),
    }
}

/// Which group command, as the command line gave it.
pub enum GroupCmd {
    Create { name: String, members: Vec<String> },
    Add { group: String, member: String },
    Remove { group: String, member: String },
    Leave { group: String },
    Answer { group: String, accept: bool },
}

/// `qqchat group create|add|remove|leave|accept|decline`.
pub fn group(common: &Common, cmd: GroupCmd, timeout: f64) -> Result<ExitCode> {
    let book = one_off_book(common)?;
    let me = load_identity()?.public;
    let groups = load(&read_history(common)?, me)?;
    let views: Vec<GroupView> = groups.iter().map(|g| g.view.clone()).collect();
    let view_of = |id: GroupId| {
        groups
            .iter()
            .find(|g| g.view.id == id)
            .map(|g| g.view.clone())
            .expect("a group found among these")
    };
    let keyed = |name: &str| -> Result<(PublicKey, String)> {
        let Some(c) = book.by_name(name) else {
            let known: Vec<&str> = book.contacts.iter().map(|c| c.name.as_str()).collect();
            bail!(
                "{name:?} is not a contact{}",
                if known.is_empty() {
                    String::new()
                } else {
                    format!("; contacts: {}", known.join(", "))
                }
            )
        };
        let Some(key) = c.key else {
            bail!(
                "{name} has no key: every member of a group needs one (add them with qqchat add)"
            );
        };
        if c.plain || c.ipmsg {
            bail!("{name} does not speak qqchat: it cannot be in a group");
        }
        Ok((key, c.name.clone()))
    };
    let (action, expect, indirect) = match cmd {
        GroupCmd::Create { name, members } => {
            if name.trim().is_empty() {
                bail!("a group needs a name");
            }
            let mut keys = Vec::new();
            let mut expect = Vec::new();
            for m in &members {
                let (key, name) = keyed(m)?;
                if key != me && !keys.contains(&identity::encode_key(&key)) {
                    keys.push(identity::encode_key(&key));
                    expect.push((identity::encode_key(&key), name));
                }
            }
            if keys.is_empty() {
                bail!("a group needs at least one contact besides you");
            }
            (
                GroupAction::Create {
                    name,
                    members: keys,
                },
                expect,
                Vec::new(),
            )
        }
        GroupCmd::Add { group, member } => {
            let id = resolve(&views, &group)?;
            let view = view_of(id);
            let (key, _) = keyed(&member)?;
            if view.members.iter().any(|(k, _)| *k == key) {
                bail!("{member} is already a member of {}", view.name);
            }
            let (mut expect, indirect) = recipients(&book, &view);
            expect.push((identity::encode_key(&key), member.clone()));
            let action = GroupAction::Add {
                group: id.to_hex(),
                member: identity::encode_key(&key),
            };
            (action, expect, indirect)
        }
        GroupCmd::Remove { group, member } => {
            let id = resolve(&views, &group)?;
            let view = view_of(id);
            if !view.is_creator() {
                bail!("only the creator of {} can remove members", view.name);
            }
            let key = resolve_member(&book, &view, &member)?;
            if key == me {
                bail!("to leave the group yourself: qqchat group leave {group}");
            }
            let (expect, indirect) = recipients(&book, &view);
            let action = GroupAction::Remove {
                group: id.to_hex(),
                member: identity::encode_key(&key),
            };
            (action, expect, indirect)
        }
        GroupCmd::Leave { group } => {
            let id = resolve(&views, &group)?;
            let (expect, indirect) = recipients(&book, &view_of(id));
            (GroupAction::Leave { group: id.to_hex() }, expect, indirect)
        }
        GroupCmd::Answer { group, accept } => {
            let id = resolve(&views, &group)?;
            let view = view_of(id);
            if view.status != GroupStatus::Invited {
                bail!(
                    "there is no invitation to answer for {}: you {} it",
                    view.name,
                    match view.status {
                        GroupStatus::Joined => "already joined",
                        GroupStatus::Declined => "declined",
                        GroupStatus::Left => "left",
                        GroupStatus::Removed | GroupStatus::Invited => "were removed from",
                    }
                );
            }
            let (expect, indirect) = if accept {
                (Vec::new(), Vec::new())
            } else {
                recipients(&book, &view)
            };
            let action = GroupAction::Answer {
                group: id.to_hex(),
                accept,
            };
            (action, expect, indirect)
        }
    };
    run(common, &book, action, expect, indirect, timeout)
}

/// The members other than this one: those it reaches itself (key and name), and the names
/// of those it does not.
fn recipients(book: &ContactBook, view: &GroupView) -> (Vec<(String, String)>, Vec<String>) {
    let mut expect = Vec::new();
    let mut indirect = Vec::new();
    for (key, name) in &view.members {
        if *key == view.me {
            continue;
        }
        match book
            .contacts
            .iter()
            .find(|c| c.key.as_ref() == Some(key) && !c.plain && !c.ipmsg)
        {
            Some(c) => expect.push((identity::encode_key(key), c.name.clone())),
            None => indirect.push(crate::text::one_line(name)),
        }
    }
    (expect, indirect)
}

/// `qqchat send GROUP TEXT...`, once `to` was found to name group `id`.
pub(super) fn send(
    common: &Common,
    book: &ContactBook,
    view: &GroupView,
    texts: Vec<String>,
    timeout: f64,
) -> Result<ExitCode> {
    let (expect, indirect) = recipients(book, view);
    let action = GroupAction::Send {
        group: view.id.to_hex(),
        texts,
    };
    run(common, book, action, expect, indirect, timeout)
}

/// Does `action` through the running qqchat, or through an engine started for it (which
/// writes the history, so only once no qqchat runs).
fn run(
    common: &Common,
    book: &ContactBook,
    action: GroupAction,
    expect: Vec<(String, String)>,
    indirect: Vec<String>,
    timeout: f64,
) -> Result<ExitCode> {
    let Some(timeout_secs) = super::seconds(timeout) else {
        bail!("--timeout must be a positive number of seconds, at most a year");
    };
    let work = GroupWork {
        action,
        expect,
        indirect,
        timeout_secs: timeout_secs.as_secs_f64(),
    };
    if let Some(code) = ask_running(common, &Request::Group(work.clone()))? {
        return Ok(ExitCode::from(code));
    }
    let mut options = engine_options(book, Some(open_history(common)?), false)?;
    options.load_history = false;
    options.watch = false;
    options.protocol.give_up = timeout_secs;
    let engine = start_engine(book.me.listen, options)?;
    let code = carry_out(&EngineLink::of(&engine), &mut Terminal, &work);
    engine.shutdown();
    Ok(ExitCode::from(code))
}

/// Asks the engine for `work` and waits until the members it reaches have what it wrote
/// (or the time is up); reports through `say`. The exit code.
pub(crate) fn carry_out(engine: &EngineLink<'_>, say: &mut dyn Say, work: &GroupWork) -> u8 {
    let Some(timeout) = super::seconds(work.timeout_secs) else {
        say.err("qqchat: the timeout is out of range".into());
        return 2;
    };
    let deadline = Instant::now() + timeout;
    let parse = |hex: &str| GroupId::from_hex(hex);
    let key = |b64: &str| identity::decode_key(b64);
    let expect: Vec<(PublicKey, String)> = work
        .expect
        .iter()
        .filter_map(|(k, n)| key(k).map(|k| (k, n.clone())))
        .collect();
    // What to send, and how to recognise this member's message(s) it writes.
    let mut commands = Vec::new();
    let mut gid = None;
    let mut create_id = None;
    let mut wanted: Vec<GroupItemKind> = Vec::new();
    match &work.action {
        GroupAction::Create { name, members } => {
            let id = new_message_id();
            create_id = Some(id);
            let members = members.iter().filter_map(|k| key(k)).map(PeerId::Key);
            commands.push(Command::GroupCreate {
                id,
                name: name.clone(),
                members: members.collect(),
            });
            wanted.push(GroupItemKind::Created { name: name.clone() });
        }
        other => {
            let (hex, cmds, kinds) = match other {
                GroupAction::Send { group, texts } => {
                    let g = parse(group);
                    let cmds = texts
                        .iter()
                        .filter_map(|t| {
                            g.map(|group| Command::GroupSend {
                                group,
                                text: t.clone(),
                                id: new_message_id(),
                            })
                        })
                        .collect();
                    let kinds = texts.iter().cloned().map(GroupItemKind::Text).collect();
                    (group, cmds, kinds)
                }
                GroupAction::Add { group, member } => {
                    let (g, k) = (parse(group), key(member));
                    let cmds = g
                        .zip(k)
                        .map(|(group, k)| Command::GroupAdd {
                            group,
                            member: PeerId::Key(k),
                        })
                        .into_iter()
                        .collect();
                    let kinds = k
                        .map(|key| GroupItemKind::Added {
                            key,
                            name: String::new(),
                        })
                        .into_iter()
                        .collect();
                    (group, cmds, kinds)
                }
                GroupAction::Remove { group, member } => {
                    let (g, k) = (parse(group), key(member));
                    let cmds = g
                        .zip(k)
                        .map(|(group, member)| Command::GroupRemove { group, member })
                        .into_iter()
                        .collect();
                    let kinds = k
                        .map(|key| GroupItemKind::Removed { key })
                        .into_iter()
                        .collect();
                    (group, cmds, kinds)
                }
                GroupAction::Leave { group } => {
                    let cmds = parse(group)
                        .map(|group| Command::GroupLeave { group })
                        .into_iter()
                        .collect();
                    (group, cmds, vec![GroupItemKind::Left])
                }
                GroupAction::Answer { group, accept } => {
                    let cmds = parse(group)
                        .map(|group| Command::GroupAnswer {
                            group,
                            accept: *accept,
                        })
                        .into_iter()
                        .collect();
                    let kinds = if *accept {
                        Vec::new()
                    } else {
                        vec![GroupItemKind::Left]
                    };
                    (group, cmds, kinds)
                }
                GroupAction::Create { .. } => unreachable!("handled above"),
            };
            let Some(g) = parse(hex) else {
                say.err(format!("qqchat: {hex:?} is not a group id"));
                return 2;
            };
            gid = Some(g);
            commands = cmds;
            wanted = kinds;
        }
    }
    if commands.is_empty() {
        say.err("qqchat: the request named no member or group that could be read".into());
        return 2;
    }
    for c in commands {
        if engine.commands.send(c).is_err() {
            say.err("qqchat: the engine stopped".into());
            return 1;
        }
    }
    let accept = matches!(work.action, GroupAction::Answer { accept: true, .. });
    // This member's messages written for the command, and who has each.
    let mut mine: BTreeMap<MsgRef, BTreeSet<PublicKey>> = BTreeMap::new();
    let mut joined = false;
    loop {
        let posted = mine.len() >= wanted.len() && gid.is_some();
        let everyone = posted
            && mine
                .values()
                .all(|by| expect.iter().all(|(k, _)| by.contains(k)));
        if (accept && joined) || (!accept && everyone) {
            break;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match engine.events.recv_timeout(left) {
            Ok(EngineEvent::GroupCreated { id, group }) if Some(id) == create_id => {
                gid = Some(group);
            }
            Ok(EngineEvent::GroupRefused { group, reason }) if group.is_none() || group == gid => {
                say.err(format!("qqchat: {reason}"));
                return 1;
            }
            Ok(EngineEvent::Group(view)) if Some(view.id) == gid || gid.is_none() => {
                if accept && view.status == GroupStatus::Joined {
                    joined = true;
                }
            }
            Ok(EngineEvent::GroupItems { group, items }) => {
                // Before `GroupCreated`, the new group's id is not known yet: its first item
                // says it.
                if gid.is_some() && Some(group) != gid {
                    continue;
                }
                for item in items.into_iter().filter(|i| i.mine) {
                    let ours = mine.contains_key(&item.id)
                        || (mine.len() < wanted.len()
                            && wanted.iter().any(|k| same_kind(k, &item.kind)));
                    if ours {
                        mine.insert(item.id, item.acked.into_iter().collect());
                    }
                }
            }
            Ok(_) => {}
            Err(RecvTimeoutError::Timeout) => break,
            Err(RecvTimeoutError::Disconnected) => {
                say.err("qqchat: the engine stopped".into());
                return 1;
            }
        }
    }
    report(say, work, &expect, gid, &mine, accept, joined)
}

/// Whether an item is the kind of message a command writes: the same text, the same member
/// added or removed.
fn same_kind(wanted: &GroupItemKind, got: &GroupItemKind) -> bool {
    match (wanted, got) {
        (GroupItemKind::Added { key: a, .. }, GroupItemKind::Added { key: b, .. }) => a == b,
        (GroupItemKind::Created { .. }, GroupItemKind::Created { .. }) => true,
        _ => wanted == got,
    }
}

fn report(
    say: &mut dyn Say,
    work: &GroupWork,
    expect: &[(PublicKey, String)],
    gid: Option<GroupId>,
    mine: &BTreeMap<MsgRef, BTreeSet<PublicKey>>,
    accept: bool,
    joined: bool,
) -> u8 {
    if accept {
        if joined {
            say.err("qqchat: joined; messages come as the members are heard from".into());
            return 0;
        }
        say.err("qqchat: the invitation was not answered in time".into());
        return 1;
    }
    let Some(gid) = gid else {
        say.err("qqchat: the group was not created in time".into());
        return 1;
    };
    let what = match &work.action {
        GroupAction::Create { name, .. } => {
            say.out(format!(
                "created group {} (id {}); to write to it: qqchat send {} TEXT",
                crate::text::one_line(name),
                gid.to_hex(),
                short_id(&gid)
            ));
            "invitation"
        }
        GroupAction::Send { texts, .. } if texts.len() > 1 => "messages",
        GroupAction::Send { .. } => "message",
        GroupAction::Add { .. } => "invitation",
        GroupAction::Remove { .. } => "removal",
        GroupAction::Leave { .. } | GroupAction::Answer { .. } => "goodbye",
    };
    // Leaving is done here whoever hears of it: the others are told when they are back.
    let done_here = matches!(
        work.action,
        GroupAction::Leave { .. } | GroupAction::Answer { .. }
    );
    let total = expect.len() + work.indirect.len();
    if total == 0 {
        say.err("qqchat: you are the only member of this group".into());
        return 0;
    }
    let got: Vec<&str> = expect
        .iter()
        .filter(|(k, _)| !mine.is_empty() && mine.values().all(|by| by.contains(k)))
        .map(|(_, n)| n.as_str())
        .collect();
    let missing: Vec<&str> = expect
        .iter()
        .filter(|(_, n)| !got.contains(&n.as_str()))
        .map(|(_, n)| n.as_str())
        .collect();
    let mut line = format!(
        "qqchat: {what} delivered to {}/{total} member{}",
        got.len(),
        if total == 1 { "" } else { "s" }
    );
    if !missing.is_empty() {
        line.push_str(&format!(
            "; {} will get it when back online",
            missing.join(", ")
        ));
    }
    if !work.indirect.is_empty() {
        line.push_str(&format!(
            "; {} (not your contact{}) get{} it through the others",
            work.indirect.join(", "),
            if work.indirect.len() == 1 { "" } else { "s" },
            if work.indirect.len() == 1 { "s" } else { "" }
        ));
    }
    say.err(line);
    if mine.is_empty() {
        say.err("qqchat: the engine did not confirm it was written".into());
        return 1;
    }
    if got.is_empty() {
        say.err(
            "qqchat: nobody has it yet: it is kept here, and goes out when a member is \
             online while qqchat runs here (the chat or listen)"
                .into(),
        );
        return u8::from(!done_here);
    }
    0
}

/// `qqchat history GROUP`, from the files: `None` when `query` names no group.
pub(super) fn history(
    common: &Common,
    book: &ContactBook,
    query: &str,
    json: bool,
) -> Result<Option<ExitCode>> {
    let me = load_identity()?.public;
    let groups = load(&read_history(common)?, me)?;
    let views: Vec<GroupView> = groups.iter().map(|g| g.view.clone()).collect();
    match find(&views, query) {
        None => Ok(None),
        Some(Found::Ambiguous(why)) => bail!("{why}"),
        Some(Found::One(id)) => {
            let snap = groups
                .iter()
                .find(|g| g.view.id == id)
                .expect("found among these");
            Ok(Some(ExitCode::from(print_history(
                book,
                snap,
                json,
                &mut Terminal,
            ))))
        }
    }
}

/// The short ids of the groups called exactly `name` (`a1b2c3d4` or `a1b2c3d4|e5f6a7b8`),
/// when there are any.
pub(super) fn ids_named(history: &History, name: &str) -> Option<String> {
    let me = load_identity().ok()?.public;
    let ids: Vec<String> = load(history, me)
        .ok()?
        .iter()
        .filter(|g| g.view.name == name)
        .map(|g| short_id(&g.view.id))
        .collect();
    (!ids.is_empty()).then(|| ids.join("|"))
}

/// The group `to` names, for `send`, when it names one: its view, read from the files.
pub(super) fn for_send(history: &History, to: &str) -> Result<Option<GroupView>> {
    let me = load_identity()?.public;
    let views: Vec<GroupView> = load(history, me)?.into_iter().map(|g| g.view).collect();
    match find(&views, to) {
        None => Ok(None),
        Some(Found::Ambiguous(why)) => bail!("{why}"),
        Some(Found::One(id)) => Ok(views.into_iter().find(|v| v.id == id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> PublicKey {
        PublicKey::from_bytes([n; 32])
    }

    fn view(id: u8, name: &str, status: GroupStatus) -> GroupView {
        let mut bytes = [0u8; 16];
        bytes[0] = id;
        bytes[1] = 0xab;
        GroupView {
            id: GroupId(bytes),
            name: name.to_owned(),
            status,
            creator: Some(key(1)),
            members: vec![(key(1), "me".into()), (key(2), "bob".into())],
            me: key(1),
            inviter: None,
        }
    }

    #[test]
    fn a_group_is_found_by_its_name() {
        let groups = [
            view(0x10, "team", GroupStatus::Joined),
            view(0x20, "family", GroupStatus::Joined),
        ];
        assert_eq!(find(&groups, "family"), Some(Found::One(groups[1].id)));
        assert_eq!(find(&groups, "nobody"), None);
        assert!(resolve(&groups, "nobody").is_err());
    }

    #[test]
    fn a_group_is_found_by_a_prefix_of_its_id() {
        let groups = [
            view(0x10, "team", GroupStatus::Joined),
            view(0x20, "family", GroupStatus::Joined),
        ];
        assert_eq!(find(&groups, "10ab"), Some(Found::One(groups[0].id)));
        // Either case, and the whole id.
        assert_eq!(find(&groups, "20AB"), Some(Found::One(groups[1].id)));
        let whole = groups[1].id.to_hex();
        assert_eq!(find(&groups, &whole), Some(Found::One(groups[1].id)));
        // Too short to be taken as a prefix.
        assert_eq!(find(&groups, "10a"), None);
    }

    #[test]
    fn an_ambiguous_name_lists_the_ids() {
        let groups = [
            view(0x10, "team", GroupStatus::Joined),
            view(0x11, "team", GroupStatus::Joined),
        ];
        let Some(Found::Ambiguous(why)) = find(&groups, "team") else {
            panic!("two groups named team are ambiguous");
        };
        assert!(why.contains(&groups[0].id.to_hex()), "{why}");
        assert!(why.contains(&groups[1].id.to_hex()), "{why}");
        let err = resolve(&groups, "team").expect_err("ambiguous").to_string();
        assert!(err.contains("prefix of its id"), "{err}");
    }

    #[test]
    fn of_groups_sharing_a_name_the_one_taken_part_in_wins() {
        let groups = [
            view(0x10, "team", GroupStatus::Left),
            view(0x11, "team", GroupStatus::Joined),
        ];
        assert_eq!(find(&groups, "team"), Some(Found::One(groups[1].id)));
    }

    #[test]
    fn an_ambiguous_id_prefix_lists_the_ids() {
        let mut a = view(0x10, "a", GroupStatus::Joined);
        let mut b = view(0x10, "b", GroupStatus::Joined);
        a.id.0[2] = 1;
        b.id.0[2] = 2;
        let groups = [a, b];
        assert!(matches!(find(&groups, "10ab"), Some(Found::Ambiguous(_))));
        assert_eq!(find(&groups, "10ab01"), Some(Found::One(groups[0].id)));
    }

    #[test]
    fn a_name_wins_over_an_id_prefix() {
        let groups = [
            view(0x10, "team", GroupStatus::Joined),
            view(0x20, "10ab", GroupStatus::Joined),
        ];
        assert_eq!(find(&groups, "10ab"), Some(Found::One(groups[1].id)));
    }

    #[test]
    fn a_member_is_named_by_contact_or_by_the_name_they_were_added_under() {
        let mut book = ContactBook::empty(crate::contacts::Me::default());
        book.contacts.push(crate::contacts::Contact {
            name: "bobby".into(),
            addrs: vec!["127.0.0.1:9".parse().expect("an address")],
            plain: false,
            key: Some(key(2)),
            ipmsg: false,
            encoding: None,
            accept_files: false,
            mute: false,
        });
        let v = view(0x10, "team", GroupStatus::Joined);
        assert_eq!(
            resolve_member(&book, &v, "bobby").expect("by contact"),
            key(2)
        );
        assert_eq!(
            resolve_member(&book, &v, "bob").expect("by the name added under"),
            key(2)
        );
        let err = resolve_member(&book, &v, "carol")
            .expect_err("no such member")
            .to_string();
        assert!(err.contains("not a member"), "{err}");
    }
}
