//! `qqchat search` and `qqchat export`: the history read out for scripts, beside a running
//! chat if there is one.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::history::{conversation_key, line};
use super::{Common, load_book, read_history};
use crate::store::{ConversationKey, Order, Search};

/// How `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line, with the conversation's name.
    Jsonl,
    /// Lines to read, under a heading for each conversation.
    Txt,
}

/// `qqchat search QUERY`: newest matches first (best first with `rank`), at most `limit`.
pub fn search(
    common: &Common,
    query: &[String],
    contact: Option<&str>,
    since: Option<&str>,
    json: bool,
    limit: usize,
    rank: bool,
) -> Result<ExitCode> {
    let (book, _) = load_book(common, false)?;
    let history = read_history(common)?;
    let text = query.join(" ");
    if text.trim().is_empty() {
        bail!("nothing to search for: give one or more words");
    }
    let conversations = match contact {
        Some(who) => vec![conversation_key(&book, &history.keys()?, who)?],
        None => Vec::new(),
    };
    let since = since.map(parse_since).transpose()?;
    let one_to_one = contact.is_some();
    let search = Search {
        text,
        conversations,
        since,
        order: if rank { Order::Rank } else { Order::Newest },
        limit,
    };
    let hits = history.search(&search)?;
    let tz = TimeZone::system();
    let mut lines: Vec<String> = hits
        .iter()
        .map(|hit| line(&hit.message, &hit.key, &book.me.name, json, true, &tz))
        .collect();
    // Groups' messages are signed bytes in the history; they are read and matched here,
    // newest first, after the conversations'.
    if !one_to_one {
        let room = limit.saturating_sub(lines.len());
        lines.extend(
            group_lines(&book, &history, &search, json, &tz)?
                .into_iter()
                .take(room),
        );
    }
    if lines.is_empty() {
        eprintln!("nothing found");
        return Ok(ExitCode::from(1));
    }
    let mut out = std::io::stdout().lock();
    for text in lines {
        if writeln!(out, "{text}").is_err() {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The groups' messages that hold every word of `search`, newest first: `[time] (# team)
/// alice: text`, or JSON with `group` (`name`, `id`), `from` and `text`.
fn group_lines(
    book: &crate::contacts::ContactBook,
    history: &crate::store::History,
    search: &Search,
    json: bool,
    tz: &TimeZone,
) -> Result<Vec<String>> {
    let words = crate::store::search_words(&search.text);
    let me = super::load_identity()?.public;
    let mut found = Vec::new();
    for group in super::groups::load(history, me)? {
        for item in &group.items {
            let crate::engine::GroupItemKind::Text(text) = &item.kind else {
                continue;
            };
            let recent = search
                .since
                .is_none_or(|since| item.sent_at.is_some_and(|at| at >= since));
            if recent && crate::store::contains_words(text, &words) {
                let from = super::groups::author_name(book, &group.view, &item.author);
                found.push((item.sent_at, group.view.clone(), from, text.clone()));
            }
        }
    }
    found.sort_by_key(|(at, ..)| std::cmp::Reverse(*at));
    Ok(found
        .into_iter()
        .map(|(at, view, from, text)| {
            let name = crate::text::one_line(&view.name);
            if json {
                serde_json::json!({
                    "group": { "name": view.name, "id": view.id.to_hex() },
                    "from": from,
                    "sent_at": at.map(|t| t.to_string()),
                    "text": text,
                })
                .to_string()
            } else {
                let when = at.map_or_else(String::new, |t| {
                    t.to_zoned(tz.clone())
                        .strftime("%Y-%m-%d %H:%M:%S")
                        .to_string()
                });
                format!(
                    "[{when}] (# {name}) {from}: {}",
                    crate::text::one_line(&text)
                )
            }
        })
        .collect())
}

/// `qqchat export`: every message (of one conversation, since a date), oldest first within
/// each conversation; read and written one at a time, so memory stays flat.
pub fn export(
    common: &Common,
    contact: Option<&str>,
    since: Option<&str>,
    format: Format,
) -> Result<ExitCode> {
    let (book, _) = load_book(common, false)?;
    let history = read_history(common)?;
    let conversations = match contact {
        Some(who) => vec![conversation_key(&book, &history.keys()?, who)?],
        None => Vec::new(),
    };
    let since = since.map(parse_since).transpose()?;
    let tz = TimeZone::system();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut current: Option<ConversationKey> = None;
    let mut count = 0u64;
    history.export(&conversations, since, |key, message| -> Result<()> {
        let json = format == Format::Jsonl;
        if !json && current.as_ref() != Some(key) {
            if current.is_some() {
                writeln!(out)?;
            }
            writeln!(out, "== {} ==", crate::text::one_line(key.as_str()))?;
            current = Some(key.clone());
        }
        writeln!(
            out,
            "{}",
            line(&message, key, &book.me.name, json, json, &tz)
        )?;
        count += 1;
        Ok(())
    })?;
    out.flush().context("writing the export")?;
    if count == 0 {
        eprintln!("no messages to export");
    }
    Ok(ExitCode::SUCCESS)
}

/// `--since`: a date (`2026-11-30`, from its midnight here), a time (`2026-11-30 18:00`), an
/// RFC 3339 instant, or an age (`7d`, `12h`, `30m`).
pub fn parse_since(text: &str) -> Result<Timestamp> {
    let text = text.trim();
    let how = "write a date like 2026-11-30, a time like \"2026-11-30 18:00\", or an age like \
               7d, 12h or 30m";
    if let Some((number, unit)) = text
        .find(|c: char| !c.is_ascii_digit())
        .filter(|&i| i > 0)
        .map(|i| text.split_at(i))
        && let Ok(n) = number.parse::<i64>()
    {
        let secs = match unit {
            "d" => 86_400,
            "h" => 3_600,
            "m" => 60,
            _ => bail!("--since {text:?}: {how}"),
        };
        let age = jiff::SignedDuration::from_secs(n.saturating_mul(secs));
        return Timestamp::now()
            .checked_sub(age)
            .with_context(|| format!("--since {text:?} is too long ago"));
    }
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    let tz = TimeZone::system();
    if let Ok(dt) = text.replacen(' ', "T", 1).parse::<jiff::civil::DateTime>() {
        return Ok(dt.to_zoned(tz)?.timestamp());
    }
    if let Ok(date) = text.parse::<jiff::civil::Date>() {
        return Ok(date.to_zoned(tz)?.timestamp());
    }
    bail!("--since {text:?}: {how}")
}
