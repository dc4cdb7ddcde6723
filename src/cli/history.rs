//! `qqchat history`: print a conversation, for people and for scripts.

use std::process::ExitCode;

use anyhow::{Result, bail};
use jiff::tz::TimeZone;
use serde_json::json;

use super::{Common, Say, Terminal, ask_running, load_book, open_history, resolve};
use crate::control::Request;
use crate::proto::PathKind;
use crate::store::{ConversationKey, Direction, History, MessageState};

pub fn history(common: &Common, who: &str, json: bool) -> Result<ExitCode> {
    let (book, _) = load_book(common, false)?;
    let history = open_history(common)?;
    let keys = history.keys()?;
    let conversation = book.by_name(who).is_some() || keys.iter().any(|k| *k == *who);
    if !conversation && let Some(code) = super::groups::history(common, &book, who, json)? {
        return Ok(code);
    }
    let key = if conversation {
        ConversationKey::new(who)
    } else if let Ok(addr) = resolve(who) {
        let key = book.by_addr(addr).map_or_else(
            || ConversationKey::from_address(addr),
            |c| ConversationKey::contact(&c.name),
        );
        if !keys.contains(&key) && book.by_addr(addr).is_none() {
            bail!("no conversation with {who} in the history, and it is not a contact");
        }
        key
    } else {
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
    };
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
        let from = match m.dir {
            Direction::Out => me.to_owned(),
            Direction::In => key.to_string(),
        };
        let line = if json {
            json!({
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
            })
            .to_string()
        } else {
            let state = match m.state {
                MessageState::Received | MessageState::Delivered | MessageState::Sent => "",
                MessageState::Pending => "  (no receipt yet)",
                MessageState::Queued => "  (queued)",
                MessageState::Failed => "  (not delivered)",
                MessageState::Cancelled => "  (cancelled)",
            };
            format!(
                "[{}] {}: {}{state}",
                m.at.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M:%S"),
                crate::text::one_line(&from),
                crate::text::one_line(&m.text),
            )
        };
        if !say.out(line) {
            break;
        }
    }
    Ok(0)
}
