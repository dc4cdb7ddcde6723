//! `qqchat unread`: how many messages wait to be read in each conversation, for a status bar
//! (tmux, polybar). Reads the history and how far the chat read each conversation; changes
//! nothing, so it may run as often as a status bar likes, while the chat runs too.

use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;

use super::{Common, Say, Terminal, read_history};
use crate::engine::GroupItemKind;
use crate::identity;
use crate::store::{ConversationKey, History, ReadPoints, load_read};

/// One conversation with something unread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Count {
    pub name: String,
    pub group: bool,
    pub unread: usize,
}

pub fn unread(common: &Common, json: bool) -> Result<ExitCode> {
    let history = read_history(common)?;
    let read = load_read(history.dir())?.unwrap_or_default();
    let mut counts = conversations(&history, &read)?;
    counts.extend(groups(&history, &read)?);
    print(&counts, json, &mut Terminal);
    Ok(ExitCode::SUCCESS)
}

/// The name a conversation is shown under: a contact's name, or the address it is kept by.
fn shown(key: &ConversationKey) -> String {
    match key.address() {
        Some(addr) => crate::proto::canonical(addr).to_string(),
        None => key.as_str().to_owned(),
    }
}

/// The 1:1 conversations with unread messages, in the history's order: counted by the
/// database, without reading the messages.
fn conversations(history: &History, read: &ReadPoints) -> Result<Vec<Count>> {
    let mut counts = Vec::new();
    for key in history.keys()? {
        let Some(after) = read.unread_after(&key) else {
            continue;
        };
        let unread =
            usize::try_from(history.count_received_after(&key, Some(after))?).unwrap_or(usize::MAX);
        if unread > 0 {
            counts.push(Count {
                name: shown(&key),
                group: false,
                unread,
            });
        }
    }
    Ok(counts)
}

/// The groups with unread messages. Without an identity there are no groups to read.
fn groups(history: &History, read: &ReadPoints) -> Result<Vec<Count>> {
    let path = identity::identity_path()?;
    if !path.exists() {
        return Ok(Vec::new());
    }
    let me = identity::load_or_create(&path)?.public;
    let mut counts = Vec::new();
    for snapshot in super::groups::load(history, me)? {
        let id = snapshot.view.id;
        let unread = snapshot
            .items
            .iter()
            .filter(|i| i.visible && !i.mine && matches!(i.kind, GroupItemKind::Text(_)))
            .filter(|i| read.is_group_unread(&id, &i.id.author, i.id.seq, i.sent_at))
            .count();
        if unread > 0 {
            counts.push(Count {
                name: snapshot.view.name.clone(),
                group: true,
                unread,
            });
        }
    }
    Ok(counts)
}

/// `bob 3` lines then `total 4`, or one JSON object.
pub(super) fn print(counts: &[Count], json: bool, say: &mut dyn Say) {
    let total: usize = counts.iter().map(|c| c.unread).sum();
    if json {
        let conversations: Vec<_> = counts
            .iter()
            .map(|c| {
                let name = crate::text::one_line(&c.name);
                json!({"name": name, "group": c.group, "unread": c.unread})
            })
            .collect();
        say.out(json!({"total": total, "conversations": conversations}).to_string());
        return;
    }
    for c in counts {
        let name = crate::text::one_line(&c.name);
        let name = if c.group { format!("#{name}") } else { name };
        if !say.out(format!("{name} {}", c.unread)) {
            return;
        }
    }
    say.out(format!("total {total}"));
}
