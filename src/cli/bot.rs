//! `qqchat bot`: a peer that answers every message, for demos and for testing a link.

use crate::proto::PeerId;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use anyhow::{Context, Result};
use clap::ValueEnum;

use super::{Common, engine_options, load_book, serve_control, start_engine};
use crate::engine::{Command, EngineEvent, EngineHandle, GroupItemKind, GroupView, new_message_id};
use crate::proto::group::{GroupId, MsgRef};
use crate::store::GroupStatus;
use std::collections::{HashMap, HashSet};

/// How the bot answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Reply {
    /// The text in capitals.
    Upper,
    /// The text as it came.
    Echo,
    /// The local time, formatted with the text as a strftime pattern.
    Time,
}

impl Reply {
    pub fn answer(self, text: &str, now: &jiff::Zoned) -> String {
        match self {
            Reply::Upper => text.to_uppercase(),
            Reply::Echo => text.to_owned(),
            Reply::Time => {
                let pattern = if text.trim().is_empty() {
                    "%Y-%m-%d %H:%M:%S"
                } else {
                    text
                };
                jiff::fmt::strtime::format(pattern, now)
                    .unwrap_or_else(|err| format!("cannot format the time with {pattern:?}: {err}"))
            }
        }
    }
}

pub fn bot(common: &Common, reply: Reply) -> Result<ExitCode> {
    let (book, _) = load_book(common, false)?;
    // The bot keeps no history: it would only fill the disk with its own echoes.
    let mut options = engine_options(&book, None, false)?;
    super::reach_options(&mut options, &book.me)?;
    super::lan_options(common, &book, &mut options, book.me.listen);
    let engine = start_engine(book.me.listen, options)?;
    let _control = serve_control(common, &engine, book.me.relay.is_some())?;
    // SIGTERM, SIGINT and SIGHUP stop the engine, which says goodbye (and on the LAN
    // withdraws the announcement); the answering loop then ends as the engine's events do.
    let stopped_by = Arc::new(AtomicI32::new(0));
    {
        let signals = crate::signals::quit_signals()?;
        let (commands, stopped_by) = (engine.commands.clone(), Arc::clone(&stopped_by));
        std::thread::Builder::new()
            .name("qqchat-bot-signals".into())
            .spawn(move || {
                if let Ok(signal) = signals.recv() {
                    stopped_by.store(signal, Ordering::Relaxed);
                    let _ = commands.send(Command::Shutdown);
                }
            })
            .context("start the signal thread")?;
    }
    eprintln!(
        "qqchat: bot ({reply:?}) answering on {}; Ctrl-C stops",
        engine.local_addr
    );
    let me = book.me.name.clone();
    serve(&engine, reply, &me, &book.contacts, |whom| {
        eprintln!("qqchat: answered {whom}");
    });
    match stopped_by.load(Ordering::Relaxed) {
        0 => Ok(ExitCode::SUCCESS),
        // As a shell reports a process a signal ended.
        signal => Ok(ExitCode::from(128u8.saturating_add(signal as u8))),
    }
}

/// Sends each non-empty line of `text` to `to` as its own message.
pub(super) fn greet(engine: &EngineHandle, to: PeerId, text: &str) {
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let _ = engine.commands.send(Command::Send {
            to,
            text: line.to_owned(),
            plain: false,
            id: new_message_id(),
        });
    }
}

/// The question in a group message addressed to `name` (`name: ...`, `name, ...` or
/// `@name ...`, in any case, or a reply to one of its messages), or `None` when it is not
/// addressed to it.
pub(crate) fn addressed<'a>(name: &str, text: &'a str) -> Option<&'a str> {
    let (quote, body) = crate::text::split_reply(text);
    if quote.is_some_and(|q| named(name, q).is_some()) {
        return Some(named(name, body).unwrap_or(body.trim()));
    }
    named(name, body)
}

/// What follows `name` at the start of `text`, as [`addressed`] takes it.
fn named<'a>(name: &str, text: &'a str) -> Option<&'a str> {
    let text = text.trim_start();
    let text = text.strip_prefix('@').unwrap_or(text);
    let head = text.get(..name.len())?;
    if name.is_empty() || head.to_lowercase() != name.to_lowercase() {
        return None;
    }
    let rest = &text[name.len()..];
    let rest = match rest.chars().next() {
        None => rest,
        Some(':' | ',') => &rest[1..],
        Some(c) if c.is_whitespace() => rest,
        Some(_) => return None,
    };
    Some(rest.trim())
}

/// Answers every message until the engine stops, in the sender's own format. In a group it
/// answers what is addressed to it by `name`, to the group; it joins every group a contact
/// invites it to (the engine keeps no one else's invitation). `answered` is told whom each
/// answer went to (`alice`, `alice in crew`), printable on one line.
pub(super) fn serve(
    engine: &EngineHandle,
    reply: Reply,
    name: &str,
    contacts: &[crate::contacts::Contact],
    mut answered: impl FnMut(&str),
) {
    let mut names: HashMap<GroupId, GroupView> = HashMap::new();
    let mut seen: HashSet<MsgRef> = HashSet::new();
    for event in &engine.events {
        match &event {
            EngineEvent::Group(view) => {
                if view.status == GroupStatus::Invited {
                    let _ = engine.commands.send(Command::GroupAnswer {
                        group: view.id,
                        accept: true,
                    });
                }
                names.insert(view.id, view.clone());
                continue;
            }
            EngineEvent::GroupItems { group, items } => {
                let Some(view) = names.get(group) else {
                    continue;
                };
                for item in items {
                    if item.mine || !item.visible || !seen.insert(item.id) {
                        continue;
                    }
                    let GroupItemKind::Text(text) = &item.kind else {
                        continue;
                    };
                    let Some(question) = addressed(name, text) else {
                        continue;
                    };
                    let author = contacts
                        .iter()
                        .find(|c| c.key == Some(item.author))
                        .map(|c| c.name.as_str())
                        .or_else(|| view.member_name(&item.author))
                        .map_or_else(String::new, crate::text::one_line);
                    let answer = reply.answer(question, &jiff::Zoned::now());
                    let text = if author.is_empty() {
                        answer
                    } else {
                        format!("{author}: {answer}")
                    };
                    let _ = engine.commands.send(Command::GroupSend {
                        group: *group,
                        text,
                        id: new_message_id(),
                    });
                    answered(&format!(
                        "{author} in {}",
                        crate::text::one_line(&view.name)
                    ));
                }
                continue;
            }
            _ => {}
        }
        if let EngineEvent::Received {
            from,
            path,
            text,
            plain,
            ..
        } = event
        {
            let text = reply.answer(&text, &jiff::Zoned::now());
            if engine
                .commands
                .send(Command::Send {
                    to: from,
                    text,
                    plain,
                    id: new_message_id(),
                })
                .is_err()
            {
                return;
            }
            let whom = contacts
                .iter()
                .find(|c| c.peer_id() == from)
                .map_or_else(|| path.to_string(), |c| c.name.clone());
            answered(&whom);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::addressed;

    #[test]
    fn a_group_message_is_for_the_bot_when_it_starts_with_its_name() {
        assert_eq!(addressed("bot", "bot: ping"), Some("ping"));
        assert_eq!(addressed("bot", "@bot ping"), Some("ping"));
        assert_eq!(addressed("bot", "Bot, what time"), Some("what time"));
        assert_eq!(addressed("bot", "  @BOT"), Some(""));
        assert_eq!(addressed("bot", "botany is fun"), None);
        assert_eq!(addressed("bot", "hello bot"), None);
        assert_eq!(addressed("bot", "bo"), None);
        assert_eq!(addressed("", "anything"), None);
        assert_eq!(
            addressed("bot", "> bot: you: PING\nand again?"),
            Some("and again?"),
            "a reply to the bot's message"
        );
        assert_eq!(addressed("bot", "> bot: hi\nbot: ping"), Some("ping"));
        assert_eq!(addressed("bot", "> alice: hi\nsure"), None);
    }
}
