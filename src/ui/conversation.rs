//! The open conversation: a header with the peer, then its messages, newest at the bottom.
//!
//! Only the messages that reach the screen are wrapped: drawing walks back from the newest
//! message until the view is full, so a history of any length draws in the same time.

use jiff::civil::Date;
use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Padding, Paragraph};

use super::{fit, pane, rtt_label, seen_label};
use crate::app::{App, Focus, Mark, Peer, Trust};
use crate::text::{width, wrap};

/// Shown after a failed message.
const FAILED_HINT: &str = "failed — r to retry";
/// Shown after a queued message.
const QUEUED_HINT: &str = "⏳ queued · r send now · x cancel";
/// Shown after a cancelled message.
const CANCELLED_HINT: &str = "cancelled";

/// Narrower text than this moves below the time and name instead of beside them.
const MIN_TEXT_WIDTH: usize = 8;

/// The pane's frame, `width` columns wide, titled with the open peer. What does not fit is
/// cut from the end, except the trust label: the name is cut for it.
pub fn block(app: &App, width: u16) -> Block<'static> {
    let block = pane(app, Focus::Conversation).padding(Padding::horizontal(1));
    let Some(peer) = app.open_peer() else {
        return block.title(" Conversation ");
    };
    let dim = Style::new().fg(Color::DarkGray);
    let mut title = vec![Span::raw(" ")];
    // Inside the corners, and a blank at each end.
    let room = usize::from(width).saturating_sub(4);
    title.extend(name_with_trust(
        peer.name(),
        Style::new().add_modifier(Modifier::BOLD),
        app.trust(peer),
        room,
    ));
    if peer.is_listed() {
        title.push(Span::styled(format!(" · {}", peer.addr()), dim));
    } else {
        title.push(Span::styled(" · not in contacts", dim));
    }
    if peer.is_plain() {
        title.push(Span::styled(" · plain UDP, no receipts", dim));
    } else if peer.is_listed() {
        title.extend(presence(app, peer));
    }
    title.push(Span::raw(" "));
    block.title(Line::from(title))
}

/// A name in a title, followed by what is known of who it is: ` (unverified)` for a peer
/// without a key, ` (no key: refused)` under `require_keys`, nothing for a keyed contact.
/// Within `room` columns the label stays: the name is cut for it, down to a few characters,
/// and then the label shrinks to ` ?` or ` ✗`.
pub fn name_with_trust(name: &str, style: Style, trust: Trust, room: usize) -> Vec<Span<'static>> {
    let refused = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
    let (long, short) = match trust {
        Trust::Keyed => return vec![Span::styled(fit(name, width(name).min(room)), style)],
        Trust::Unverified => (
            Span::styled(" (unverified)", unverified_style()),
            Span::styled(" ?", unverified_style()),
        ),
        Trust::Refused => (
            Span::styled(" (no key: refused)", refused),
            Span::styled(" ✗", refused),
        ),
    };
    let full = width(name);
    // The shortest a cut name gets before the label is shortened instead.
    let least = full.min(4);
    let label = if least + long.width() <= room {
        long
    } else {
        short
    };
    let shown = full.min(room.saturating_sub(label.width()));
    vec![
        Span::styled(fit(name, shown).trim_end().to_owned(), style),
        label,
    ]
}

/// A warning: what this peer says may come from anyone.
fn unverified_style() -> Style {
    Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
}

/// ` · online · rtt 0.4 ms · loss 2%` or ` · offline · seen 14:02`, from what the engine
/// last reported; nothing while it is not known.
fn presence(app: &App, peer: &Peer) -> Vec<Span<'static>> {
    let dim = Style::new().fg(Color::DarkGray);
    let Some(link) = peer.link() else {
        return Vec::new();
    };
    let mut spans = Vec::new();
    match link.online {
        Some(true) => {
            spans.push(Span::styled(" · ", dim));
            spans.push(Span::styled("online", Style::new().fg(Color::Green)));
            if let Some(rtt) = link.rtt {
                spans.push(Span::styled(format!(" · rtt {}", rtt_label(rtt)), dim));
                let loss = (f64::from(link.loss) * 100.0).round();
                spans.push(Span::styled(format!(" · loss {loss:.0}%"), dim));
            }
        }
        Some(false) => {
            spans.push(Span::styled(" · offline", dim));
            if let Some(seen) = link.last_seen {
                spans.push(Span::styled(
                    format!(" · seen {}", seen_label(app, seen, true)),
                    dim,
                ));
            }
        }
        None => {}
    }
    spans
}

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let mut block = block(app, area.width);
    let inner = block.inner(area);
    let Some(peer) = app.open_peer() else {
        frame.render_widget(block, area);
        frame.render_widget(placeholder(app, inner.height), inner);
        return;
    };
    if peer.messages().is_empty() {
        frame.render_widget(block, area);
        let hint = Line::styled(
            "No messages yet. Say hello!",
            Style::new().fg(Color::DarkGray),
        );
        frame.render_widget(Paragraph::new(hint), inner);
        return;
    }
    let height = inner.height as usize;
    // Walk back from the newest message until the lines above the scroll offset fill the view.
    let wanted = app.scroll() + height;
    let mut chunks = Vec::new();
    let mut total = 0;
    for index in (0..peer.messages().len()).rev() {
        let lines = message_lines(app, peer, index, inner.width);
        total += lines.len();
        chunks.push(lines);
        if total >= wanted {
            break;
        }
    }
    let lines: Vec<Line> = chunks.into_iter().rev().flatten().collect();
    let scroll = app.scroll().min(lines.len().saturating_sub(height));
    let end = lines.len() - scroll;
    let start = end.saturating_sub(height);
    if scroll > 0 {
        block = block.title_bottom(
            Line::styled(
                format!(" ↓ {scroll} more lines · PgDn "),
                Style::new().fg(Color::Yellow),
            )
            .alignment(Alignment::Right),
        );
    }
    frame.render_widget(block, area);
    frame.render_widget(Paragraph::new(lines[start..end].to_vec()), inner);
}

/// What the pane says while no conversation is open.
fn placeholder(app: &App, height: u16) -> Paragraph<'static> {
    let dim = Style::new().fg(Color::DarkGray);
    let mut lines = vec![Line::styled(
        "qqchat",
        Style::new().add_modifier(Modifier::BOLD),
    )];
    lines.push(Line::raw(""));
    if app.peers().is_empty() {
        lines.push(Line::styled("No contacts yet.", dim));
        lines.push(Line::styled(
            "Add some to contacts.toml, or wait for a message.",
            dim,
        ));
        lines.push(Line::styled(
            "A pastes a contact string from qqchat id.",
            dim,
        ));
    } else {
        lines.push(Line::styled("Pick a contact with ↑/↓, then Enter.", dim));
        lines.push(Line::styled("F1 or ? lists every key.", dim));
    }
    let top = (height as usize).saturating_sub(lines.len()) / 2;
    let mut padded = vec![Line::raw(""); top];
    padded.extend(lines);
    Paragraph::new(padded).alignment(Alignment::Center)
}

/// Columns of a message line: time, name, mark, then the text.
struct Columns {
    name: usize,
    /// Where the text starts; continuation lines are indented this far.
    indent: usize,
    /// The text beside the name (false: below it, on narrow panes).
    beside: bool,
    text: usize,
}

impl Columns {
    fn new(app: &App, peer: &Peer, width: usize) -> Columns {
        let longest = width_of_name(app.me()).max(width_of_name(peer.name()));
        let name = longest.min((width / 4).clamp(3, 16));
        // "HH:MM " + name + " " + mark + " "
        let prefix = 6 + name + 3;
        if width >= prefix + MIN_TEXT_WIDTH {
            Columns {
                name,
                indent: prefix,
                beside: true,
                text: width - prefix,
            }
        } else {
            Columns {
                name,
                indent: 2,
                beside: false,
                text: width.saturating_sub(2).max(1),
            }
        }
    }
}

fn width_of_name(name: &str) -> usize {
    width(name)
}

/// The lines message `index` of `peer` takes in a pane `width` cells wide, a day
/// separator included when the message starts a new day.
pub fn message_lines(app: &App, peer: &Peer, index: usize, width: u16) -> Vec<Line<'static>> {
    let width = width as usize;
    let messages = peer.messages();
    let Some(message) = messages.get(index) else {
        return Vec::new();
    };
    let tz = app.tz();
    let at = tz.to_datetime(message.at());
    let mut lines = Vec::new();
    let new_day = match index.checked_sub(1).and_then(|i| messages.get(i)) {
        Some(previous) => tz.to_datetime(previous.at()).date() != at.date(),
        None => true,
    };
    if new_day {
        lines.push(day_line(at.date()));
    }

    let columns = Columns::new(app, peer, width);
    let dim = Style::new().fg(Color::DarkGray);
    let (name, name_style) = if message.is_own() {
        (
            app.me(),
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        )
    } else if app.trust(peer) == Trust::Keyed {
        (
            peer.name(),
            Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
        )
    } else {
        // Anyone could have sent it: the name is a claim, shown as a warning.
        (
            peer.name(),
            unverified_style().add_modifier(Modifier::UNDERLINED),
        )
    };
    let mark = match message.mark() {
        None => Span::raw(" "),
        Some(Mark::Pending) => Span::styled("○", dim),
        Some(Mark::Delivered) => Span::styled("✓", Style::new().fg(Color::Green)),
        Some(Mark::Sent) => Span::styled("→", dim),
        Some(Mark::Queued) => Span::styled("◷", Style::new().fg(Color::Yellow)),
        Some(Mark::Failed) => Span::styled("✗", Style::new().fg(Color::Red)),
        Some(Mark::Cancelled) => Span::styled("✗", dim),
    };
    // The padding is not underlined, only the name.
    let shown = fit(name, width_of_name(name).min(columns.name));
    let pad = columns.name.saturating_sub(width_of_name(&shown));
    let head = vec![
        Span::styled(format!("{:02}:{:02}", at.hour(), at.minute()), dim),
        Span::raw(" "),
        Span::styled(shown, name_style),
        Span::raw(" ".repeat(pad + 1)),
        mark,
        Span::raw(" "),
    ];

    let text = message.display_text();
    let mut body = wrap(&text, columns.text);
    let indent = " ".repeat(columns.indent);
    let first = lines.len();
    if columns.beside {
        let mut spans = head;
        spans.push(Span::raw(body.remove(0)));
        lines.push(Line::from(spans));
    } else {
        lines.push(Line::from(head));
    }
    for rest in body {
        lines.push(Line::from(vec![Span::raw(indent.clone()), Span::raw(rest)]));
    }

    let hint = match message.mark() {
        Some(Mark::Failed) => Some((FAILED_HINT, Style::new().fg(Color::Red))),
        Some(Mark::Queued) => Some((QUEUED_HINT, Style::new().fg(Color::Yellow))),
        Some(Mark::Cancelled) => Some((CANCELLED_HINT, dim)),
        _ => None,
    };
    if let Some((hint, style)) = hint {
        let hint_width = width_of_name(hint);
        let hint = Span::styled(hint, style);
        let last_width = lines.last().map_or(0, Line::width);
        if last_width + 2 + hint_width <= width {
            if let Some(last) = lines.last_mut() {
                last.spans.push(Span::raw("  "));
                last.spans.push(hint);
            }
        } else {
            lines.push(Line::from(vec![Span::raw(indent), hint]));
        }
    }

    if app.chosen() == Some(index) && app.focus() == Focus::Conversation {
        // A dark band rather than DarkGray, which would hide the grey time stamp.
        let picked = Style::new().bg(Color::Indexed(236));
        for line in &mut lines[first..] {
            let pad = width.saturating_sub(line.width());
            line.spans.push(Span::raw(" ".repeat(pad)));
            *line = std::mem::take(line).patch_style(picked);
        }
    }
    lines
}

/// `── Sat 21 Nov 2026 ──`, centred, before the first message of each day.
fn day_line(date: Date) -> Line<'static> {
    let label = format!("── {} ──", date.strftime("%a %-d %b %Y"));
    Line::styled(label, Style::new().fg(Color::DarkGray)).alignment(Alignment::Center)
}
