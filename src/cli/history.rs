//! `qqchat history`: print a conversation, for people and for scripts.

use std::process::ExitCode;

use anyhow::{Result, bail};
use jiff::tz::TimeZone;
use serde_json::json;

use super::{Common, Say, Terminal, ask_running, load_book, resolve};
use crate::contacts::ContactBook;
use crate::control::Request;
use crate::proto::PathKind;
use crate::store::{ConversationKey, Direction, History, MessageState, StoredMessage};

pub fn history(common: &Common, who: &str, json: bool) -> Result<ExitCode> {
    let (book, _) = load_book(common, false)?;
    let history = super::read_history(common)?;
    let keys = history.keys()?;
    let conversation = book.by_name(who).is_some() || keys.iter().any(|k| *k == *who);
    if !conversation && let Some(code) = super::groups::history(common, &book, who, json)? {
        return Ok(code);
    }
    let key = conversation_key(&book, &keys, who)?;
    let request = Request::History {
        key: key.to_string(),
        me: book.me.name.clone(),
        json,
    };
    if let Some(code) = ask_running(common, &request)? {
        return Ok(ExitCode::from(code));
    }
    Ok(ExitCode::from(print(
        &history,
        &key,
        &book.me.name,
        json,
        &mut Terminal,
    )?))
}

/// The conversation `who` names: a contact, a conversation in the history, or an address
/// (a contact's, or one that wrote); otherwise an error that lists the names there are.
pub(super) fn conversation_key(
    book: &ContactBook,
    keys: &[ConversationKey],
    who: &str,
) -> Result<ConversationKey> {
    if book.by_name(who).is_some() || keys.iter().any(|k| *k == *who) {
        return Ok(ConversationKey::new(who));
    }
    if let Ok(addr) = resolve(who) {
        let key = book.by_addr(addr).map_or_else(
            || ConversationKey::from_address(addr),
            |c| ConversationKey::contact(&c.name),
        );
        if !keys.contains(&key) && book.by_addr(addr).is_none() {
            bail!("no conversation with {who} in the history, and it is not a contact");
        }
        return Ok(key);
    }
    let mut known: Vec<&str> = book.contacts.iter().map(|c| c.name.as_str()).collect();
    known.extend(keys.iter().map(ConversationKey::as_str));
    known.sort_unstable();
    known.dedup();
    bail!(
        "no conversation with {who:?}; there are: {}",
        if known.is_empty() {
            "none yet".to_owned()
        } else {
            known.join(", ")
        }
    )
}

/// Prints the conversation `key` from `history` through `say`, one line a message (a JSON
/// object with `json`); `me` names own messages. The exit code.
pub(super) fn print(
    history: &History,
    key: &ConversationKey,
    me: &str,
    json: bool,
    say: &mut dyn Say,
) -> Result<u8> {
    let messages = history.load(key)?;
    if messages.is_empty() {
        say.err(format!("no messages with {key} yet"));
    }
    let tz = TimeZone::system();
    for m in &messages {
        let line = line(m, key, me, json, false, &tz);
        if !say.out(line) {
            break;
        }
    }
    Ok(0)
}

/// One message of conversation `key` as `history`, `search` and `export` print it: a JSON
/// object (with the conversation's name when `named`), or a line to read (the name in
/// brackets when `named`); `me` names own messages.
pub(super) fn line(
    m: &StoredMessage,
    key: &ConversationKey,
    me: &str,
    json: bool,
    named: bool,
    tz: &TimeZone,
) -> String {
    let from = match m.dir {
        Direction::Out => me.to_owned(),
        Direction::In => key.to_string(),
    };
    if json {
        let mut object = json!({
            "id": m.id,
            "dir": m.dir,
            "from": from,
            "peer": &*m.peer,
            // How a received message came (`relay`, `lan`...); null when not kept.
            "path": m.path.map(PathKind::name),
            "at": m.at.to_string(),
            "sent_at": m.sent_at.map(|t| t.to_string()),
            "text": m.text,
            "plain": m.plain,
            "state": m.state,
        });
        if named {
            object["conversation"] = json!(key.as_str());
        }
        return object.to_string();
    }
    let state = match m.state {
        MessageState::Received | MessageState::Delivered | MessageState::Sent => "",
        MessageState::Pending => "  (no receipt yet)",
        MessageState::Queued => "  (queued)",
        MessageState::Failed => "  (not delivered)",
        MessageState::Cancelled => "  (cancelled)",
    };
    let place = if named {
        format!(" ({})", crate::text::one_line(key.as_str()))
    } else {
        String::new()
    };
    format!(
        "[{}]{place} {}: {}{state}",
        m.at.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M:%S"),
        crate::text::one_line(&from),
        crate::text::one_line(&m.text),
    )
}
