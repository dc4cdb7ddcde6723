//! The open conversation: a header with the peer, then its messages, newest at the bottom.
//!
//! Only the messages that reach the screen are laid out: drawing walks back from the newest
//! message, counting the lines of each, until the view is full, so a history of any length
//! draws in the same time. Scrolled back, the messages below the view are counted too (not
//! laid out), so the cost grows with how far back the view is, not with the history.

use jiff::civil::Date;
use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::lines::render_lines;
use super::{fit, pane, rtt_label, seen_label, title_lead};
use crate::app::{App, Focus, Mark, Nearby, NearbyKind, Peer, Trust};
use crate::layout::{Columns, body};
use crate::text::width as text_width;

/// The pane's frame, `width` columns wide, titled with the open peer. What does not fit is
/// cut from the end, except the trust label: the name is cut for it.
pub fn block(app: &App, width: u16) -> Block<'static> {
    let block = pane(app, Focus::Conversation).padding(crate::layout::TEXT_PADDING);
    let lead = title_lead(app, Focus::Conversation);
    let Some(peer) = app.open_peer() else {
        return block.title(format!("{lead}Conversation "));
    };
    let dim = Style::new().fg(Color::DarkGray);
    let mut title = vec![Span::raw(lead)];
    // Inside the corners, the lead and a blank at the end.
    let room = usize::from(width).saturating_sub(3 + text_width(lead));
    title.extend(name_with_trust(
        peer.name(),
        Style::new().add_modifier(Modifier::BOLD),
        app.trust(peer),
        peer.is_ipmsg(),
        room,
    ));
    if peer.is_listed() {
        title.push(Span::styled(format!(" · {}", peer.addr()), dim));
    } else if let Some(nearby) = peer.neighbour() {
        title.extend(found(nearby));
    } else {
        title.push(Span::styled(" · not in contacts", dim));
    }
    if peer.is_plain() {
        title.push(Span::styled(" · plain UDP, no receipts", dim));
    } else if peer.is_listed() {
        title.extend(presence(app, peer));
    }
    title.push(Span::raw(" "));
    let block = block.title(Line::from(title));
    match app.trust_warning(peer) {
        // Loud, on the frame under the messages, until the user settles it.
        Some(warning) => {
            let room = usize::from(width).saturating_sub(4);
            let text = format!("{} ", fit(&format!(" {warning}"), room).trim_end());
            block.title_bottom(Line::styled(
                text,
                Style::new()
                    .fg(Color::White)
                    .bg(Color::Red)
                    .add_modifier(Modifier::BOLD),
            ))
        }
        None => block,
    }
}

/// A name in a title, followed by what is known of who it is: ` (unverified)` for a peer
/// without a key (` (unencrypted)` for one spoken to in IP Messenger, which says more),
/// ` (no key: refused)` under `require_keys`, nothing for a keyed contact. Within `room`
/// columns the label stays: the name is cut for it, down to a few characters, and then the
/// label shrinks to ` ?` or ` ✗`.
pub fn name_with_trust(
    name: &str,
    style: Style,
    trust: Trust,
    unencrypted: bool,
    room: usize,
) -> Vec<Span<'static>> {
    let refused = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
    let (long, short) = match trust {
        Trust::Keyed => return vec![Span::styled(fit(name, text_width(name).min(room)), style)],
        Trust::Verified => {
            let mark = Span::styled(" ✓", Style::new().fg(Color::Green));
            let shown = text_width(name).min(room.saturating_sub(2));
            return vec![
                Span::styled(fit(name, shown).trim_end().to_owned(), style),
                mark,
            ];
        }
        Trust::KeyChanged => (
            Span::styled(" (KEY CHANGED)", refused),
            Span::styled(" ⚠", refused),
        ),
        Trust::ClaimsContact => (
            Span::styled(" (not your contact!)", refused),
            Span::styled(" ⚠", refused),
        ),
        Trust::Unverified if unencrypted => (
            Span::styled(" (unencrypted)", unverified_style()),
            Span::styled(" ?", unverified_style()),
        ),
        Trust::Unverified => (
            Span::styled(" (unverified)", unverified_style()),
            Span::styled(" ?", unverified_style()),
        ),
        Trust::Refused => (
            Span::styled(" (no key: refused)", refused),
            Span::styled(" ✗", refused),
        ),
    };
    let full = text_width(name);
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

/// What discovery found of someone on this network, after the name and its label (which
/// says `unencrypted` for IP Messenger): ` · iptux · 研发部 · away · 192.168.1.30:2425`, or
/// ` · discovered on this network · 192.168.1.20:9001`; ` · left` first once it said goodbye.
fn found(nearby: &Nearby) -> Vec<Span<'static>> {
    let dim = Style::new().fg(Color::DarkGray);
    let mut spans = Vec::new();
    if !nearby.is_here() {
        spans.push(Span::styled(" · left", dim));
    }
    match nearby.kind() {
        NearbyKind::Qqchat { .. } => {
            spans.push(Span::styled(" · discovered on this network", dim));
        }
        NearbyKind::IpMsg {
            client,
            group,
            absent,
        } => {
            spans.push(Span::styled(format!(" · {client}"), dim));
            if !group.is_empty() {
                spans.push(Span::styled(format!(" · {group}"), dim));
            }
            if *absent {
                spans.push(Span::styled(" · away", Style::new().fg(Color::Yellow)));
            }
        }
    }
    spans.push(Span::styled(
        format!(" · {}", crate::proto::canonical(nearby.addr())),
        dim,
    ));
    spans
}

/// A warning: what this peer says may come from anyone.
fn unverified_style() -> Style {
    Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
}

/// ` · online · rtt 0.4 ms · loss 2%`, ` · reachable` (not confirmed online yet) or
/// ` · offline · seen 14:02`, from what the engine
/// last reported; nothing while it is not known. A contact with several candidates also
/// says which kind of path it is reached on: ` · online · LAN · rtt …`.
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
            if let Some(kind) = peer.path_kind() {
                spans.push(Span::styled(format!(" · {}", kind.label()), dim));
            }
            if peer.found_via_dht() {
                spans.push(Span::styled(" · found via DHT", dim));
            }
            if let Some(rtt) = link.rtt {
                spans.push(Span::styled(format!(" · rtt {}", rtt_label(rtt)), dim));
                let loss = (f64::from(link.loss) * 100.0).round();
                spans.push(Span::styled(format!(" · loss {loss:.0}%"), dim));
            }
        }
        _ if peer.reachable() => {
            spans.push(Span::styled(" · ", dim));
            spans.push(Span::styled("reachable", Style::new().fg(Color::Yellow)));
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
    let block = block(app, area.width);
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
    let messages = peer.messages();
    // Walk back from the newest message until the lines above the scroll offset fill the
    // view. Messages below the view are only counted; those in it are laid out.
    let wanted = app.scroll() + height;
    let mut walked: Vec<(usize, Option<Vec<Line>>)> = Vec::new();
    let mut total = 0;
    for index in (0..messages.len()).rev() {
        // `total` lines lie below this message. If it ends within the scroll offset it is
        // below the view and only counted; otherwise it reaches into the view.
        let counted = (total < app.scroll()).then(|| app.message_height(peer, index, inner.width));
        let entry = match counted {
            Some(count) if total + count <= app.scroll() => (count, None),
            _ => {
                let lines = message_lines(app, peer, index, inner.width);
                (lines.len(), Some(lines))
            }
        };
        total += entry.0;
        walked.push(entry);
        if total >= wanted {
            break;
        }
    }
    let scroll = app.scroll().min(total.saturating_sub(height));
    // The view, in lines counted from the top of the oldest message walked over.
    let bottom = total - scroll;
    let top = bottom.saturating_sub(height);
    let mut lines = Vec::with_capacity(bottom - top);
    // Which of those lines belong to the picked message, to mark in the gutter.
    let mut picked = Vec::with_capacity(bottom - top);
    let chosen = app.chosen().filter(|_| app.focus() == Focus::Conversation);
    let mut start = 0;
    for (index, (count, laid_out)) in
        (messages.len() - walked.len()..).zip(walked.into_iter().rev())
    {
        let end = start + count;
        if end > top {
            let skip = top.saturating_sub(start);
            let take = end.min(bottom) - start.max(top);
            // Near the first message the view stops short of the scroll offset, and shows
            // messages that were only counted.
            let shown = laid_out.unwrap_or_else(|| message_lines(app, peer, index, inner.width));
            lines.extend(shown.into_iter().skip(skip).take(take));
            picked.resize(lines.len(), chosen == Some(index));
        }
        if end >= bottom {
            break;
        }
        start = end;
    }
    draw_lines(frame, block, area, &lines, &picked, scroll);
}

/// Draws the pane's block with the lines of the messages in view, "↓ N more lines" when it
/// is scrolled up, and a bar in the padding left of the picked message: seen even where the
/// band's colour is not (a monochrome terminal, a theme close to it).
pub(super) fn draw_lines(
    frame: &mut Frame,
    mut block: Block,
    area: Rect,
    lines: &[Line],
    picked: &[bool],
    scroll: usize,
) {
    let inner = block.inner(area);
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
    render_lines(lines, inner, frame.buffer_mut());
    if inner.x > area.x {
        let bar = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
        let rows = (inner.y..inner.bottom()).zip(picked);
        for (y, _) in rows.filter(|(_, picked)| **picked) {
            frame.buffer_mut()[(inner.x - 1, y)]
                .set_symbol("▌")
                .set_style(bar);
        }
    }
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

/// The lines message `index` of `peer` takes in a pane `width` cells wide, a day
/// separator included when the message starts a new day.
pub fn message_lines(app: &App, peer: &Peer, index: usize, width: u16) -> Vec<Line<'static>> {
    let width = width as usize;
    let messages = peer.messages();
    let Some(message) = messages.get(index) else {
        return Vec::new();
    };
    let tz = app.tz();
    let at = tz.to_datetime(message.shown_at());
    let mut lines = Vec::new();
    if peer.starts_day(tz, index) {
        lines.push(day_line(at.date()));
    }
    if app.unread_marker() == Some(index) {
        lines.push(new_line(width));
    }

    let columns = Columns::new(app.me(), peer.name(), width);
    let dim = Style::new().fg(Color::DarkGray);
    let (name, name_style) = if message.is_from_me() {
        (
            app.me(),
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        )
    } else if app.trust(peer).is_keyed() {
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
    let transfer = message.transfer().and_then(|i| app.transfer(i));
    let mark = match message.mark() {
        None if transfer.is_some() => {
            let (mark, color) = transfer.map_or((" ", Color::Reset), super::transfers::mark);
            Span::styled(mark, Style::new().fg(color).add_modifier(Modifier::BOLD))
        }
        None => Span::raw(" "),
        Some(Mark::Pending) => Span::styled("○", dim),
        Some(Mark::Delivered) => Span::styled("✓", Style::new().fg(Color::Green)),
        Some(Mark::Sent) => Span::styled("→", dim),
        Some(Mark::Queued) => Span::styled("◷", Style::new().fg(Color::Yellow)),
        Some(Mark::Failed) => Span::styled("✗", Style::new().fg(Color::Red)),
        Some(Mark::Cancelled) => Span::styled("✗", dim),
    };
    // The padding is not underlined, only the name.
    let shown = fit(name, text_width(name).min(columns.name));
    let pad = columns.name.saturating_sub(text_width(&shown));
    let head = vec![
        Span::styled(format!("{:02}:{:02}", at.hour(), at.minute()), dim),
        Span::raw(" "),
        Span::styled(shown, name_style),
        Span::raw(" ".repeat(pad + 1)),
        mark,
        Span::raw(" "),
    ];

    let text = message.display_text();
    let (quote, text) = crate::text::split_reply(&text);
    let mut body = body(&columns, text);
    let indent = " ".repeat(columns.indent);
    let first = lines.len();
    if let Some(quote) = quote {
        lines.push(quote_line(quote, columns.indent, width));
    }
    // A file's name stands out; what became of it has its mark's colour.
    let style_of = |line: &str, first_line: bool| match transfer {
        Some(_) if first_line => Style::new().add_modifier(Modifier::BOLD),
        Some(_) if line.starts_with('✓') => Style::new().fg(Color::Green),
        Some(_) if line.starts_with('✗') => Style::new().fg(Color::Red),
        Some(t) if t.is_asking() => Style::new().fg(Color::Yellow),
        _ => Style::new(),
    };
    // The words of a search under way in this conversation stand out.
    let words = app
        .conversation_search()
        .map(crate::app::ConversationSearch::words)
        .unwrap_or_default();
    let text_spans = |line: String, style: Style| -> Vec<Span<'static>> {
        if words.is_empty() {
            vec![Span::styled(line, style)]
        } else {
            super::search::highlight(&line, style, &words)
        }
    };
    if columns.beside {
        let mut spans = head;
        let line = body.remove(0);
        let style = style_of(&line, true);
        spans.extend(text_spans(line, style));
        lines.push(Line::from(spans));
    } else {
        lines.push(Line::from(head));
    }
    for (i, rest) in body.into_iter().enumerate() {
        let style = style_of(&rest, i == 0 && !columns.beside);
        let mut spans = vec![Span::raw(indent.clone())];
        spans.extend(text_spans(rest, style));
        lines.push(Line::from(spans));
    }

    // Whether the hint fits after the text is measured on the lines laid out, so that the
    // count in `layout::message_height` is checked against them (see the tests).
    if let Some(hint) = message.mark().and_then(Mark::hint) {
        let style = match message.mark() {
            Some(Mark::Failed) => Style::new().fg(Color::Red),
            Some(Mark::Queued) => Style::new().fg(Color::Yellow),
            _ => dim,
        };
        let hint_width = text_width(hint);
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
        band(&mut lines[first..], width);
    }
    lines
}

/// The picked message's lines on a blue band, bold: plain to see on dark and light themes
/// alike; the grey time stamp stays readable on it.
pub(super) fn band(lines: &mut [Line<'static>], width: usize) {
    let picked = Style::new().bg(Color::Blue).add_modifier(Modifier::BOLD);
    for line in lines {
        let pad = width.saturating_sub(line.width());
        line.spans.push(Span::raw(" ".repeat(pad)));
        *line = std::mem::take(line).patch_style(picked);
    }
}

/// The "new" line, across the pane, above the first message that was unread when the
/// conversation was opened.
pub(super) fn new_line(width: usize) -> Line<'static> {
    const LABEL: &str = " new ";
    let text = if width < LABEL.len() {
        "─".repeat(width)
    } else {
        let rule = width - LABEL.len();
        let left = rule / 2;
        format!("{}{LABEL}{}", "─".repeat(left), "─".repeat(rule - left))
    };
    Line::styled(text, Style::new().fg(Color::LightRed))
}

/// The quote a reply starts with, on one line at the text's column: `↳ alice: the first…`.
/// It is what the sender says they answer, shown dim; nothing checks it.
pub(super) fn quote_line(quote: &str, indent: usize, width: usize) -> Line<'static> {
    let indent = indent.min(width);
    let room = width - indent;
    let text = format!("↳ {quote}");
    let shown = fit(&text, text_width(&text).min(room))
        .trim_end()
        .to_owned();
    Line::from(vec![
        Span::raw(" ".repeat(indent)),
        Span::styled(
            shown,
            Style::new()
                .fg(Color::DarkGray)
                .add_modifier(Modifier::ITALIC),
        ),
    ])
}

/// `── Sat 21 Nov 2026 ──`, centred, before the first message of each day.
pub(super) fn day_line(date: Date) -> Line<'static> {
    let label = format!("── {} ──", date.strftime("%a %-d %b %Y"));
    Line::styled(label, Style::new().fg(Color::DarkGray)).alignment(Alignment::Center)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use jiff::Timestamp;
    use jiff::tz::TimeZone;
    use proptest::prelude::*;
    use ratatui::buffer::Buffer;
    use ratatui::widgets::Widget;

    use super::*;
    use crate::contacts::{Contact, ContactBook, Me};
    use crate::store::Conversation;
    use crate::store::{Direction, MessageState, StoredMessage};

    /// Pieces of message text that wrapping and drawing treat differently.
    const PIECES: &[&str] = &[
        "word",
        "a",
        " ",
        "   ",
        "\n",
        "\t",
        "你好世界",
        "e\u{301}",
        "👍🏽",
        "👨\u{200d}👩\u{200d}👧",
        "\u{1b}[2J",
        "\u{202e}",
        "\u{85}",
        "ｶﾞ",
        "supercalifragilisticexpialidocious",
        "❤\u{fe0f}",
    ];

    const STATES: &[MessageState] = &[
        MessageState::Received,
        MessageState::Pending,
        MessageState::Delivered,
        MessageState::Sent,
        MessageState::Queued,
        MessageState::Failed,
        MessageState::Cancelled,
    ];

    /// A chat with one contact, `name`, holding `messages` as (own, minutes, state, text).
    fn app(name: &str, messages: &[(bool, i64, usize, String)]) -> App {
        let addr = "127.0.0.1:4001".parse().unwrap();
        let book = ContactBook {
            me: Me {
                name: "me".into(),
                listen: "0.0.0.0:4000".parse().unwrap(),
                bell: false,
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
            },
            contacts: vec![Contact::at(name, addr)],
            lan: Default::default(),
        };
        let mut app = App::new(&book, "0.0.0.0:4000".parse().unwrap(), TimeZone::UTC);
        let stored = messages
            .iter()
            .enumerate()
            .map(|(id, (own, minutes, state, text))| StoredMessage {
                id: id as u64,
                dir: if *own { Direction::Out } else { Direction::In },
                peer: addr.to_string().into(),
                path: None,
                at: Timestamp::from_second(1_700_000_000 + minutes * 60).unwrap(),
                sent_at: None,
                text: text.clone(),
                plain: false,
                state: if *own {
                    STATES[*state]
                } else {
                    MessageState::Received
                },
            })
            .collect();
        app.load_history(vec![Conversation {
            key: crate::store::ConversationKey::contact(name),
            messages: stored,
        }]);
        app
    }

    fn message() -> impl Strategy<Value = (bool, i64, usize, String)> {
        (
            any::<bool>(),
            0..3000i64,
            0..STATES.len(),
            prop::collection::vec(prop::sample::select(PIECES), 0..12),
        )
            .prop_map(|(own, minutes, state, pieces)| (own, minutes, state, pieces.concat()))
    }

    proptest! {
        #[test]
        fn height_is_the_number_of_lines(
            mut messages in prop::collection::vec(message(), 1..8),
            name in prop::sample::select(&["bob", "你好你好你好你好你好", "a-rather-long-name"][..]),
            width in 0u16..70,
        ) {
            messages.sort_by_key(|m| m.1);
            let app = app(name, &messages);
            let peer = &app.peers()[0];
            for index in 0..messages.len() {
                prop_assert_eq!(
                    app.message_height(peer, index, width),
                    message_lines(&app, peer, index, width).len(),
                    "message {} at width {}", index, width
                );
            }
        }
    }

    /// Lines that reach every case of a `Paragraph`: styles on lines and spans, wide and
    /// zero-width characters at the edges, alignments, and lines too long for the area.
    fn lines() -> Vec<Line<'static>> {
        let red = Style::new().fg(Color::Red);
        let bold = Style::new().add_modifier(Modifier::BOLD);
        let mut lines = vec![
            Line::raw("plain ascii text that runs on for a while"),
            Line::from(vec![
                Span::styled("14:02", red),
                Span::raw(" "),
                Span::styled("你好", bold),
                Span::raw(" ✓ "),
                Span::raw("e\u{301}t\u{301}e\u{301}"),
            ]),
            Line::from(vec![Span::raw("\u{301}starts with a mark"), Span::raw("x")]),
            Line::from(vec![Span::raw("ab"), Span::raw("你"), Span::raw("cd")]),
            Line::styled("── Sat 21 Nov 2026 ──", red).alignment(Alignment::Center),
            Line::raw("centred, and much too long to fit in a narrow area")
                .alignment(Alignment::Center),
            Line::raw("right 你好").alignment(Alignment::Right),
            Line::from(vec![Span::styled("odd", bold), Span::raw("👍🏽👨\u{200d}👩")])
                .style(Style::new().bg(Color::Indexed(236))),
            Line::raw(""),
            Line::raw("ｶﾞｷﾞ and ❤\u{fe0f}"),
        ];
        let app = app(
            "alice",
            &[
                (true, 0, 5, "a failed message, wrapped".into()),
                (false, 1, 0, "你好世界 ".repeat(6)),
            ],
        );
        let peer = &app.peers()[0];
        for index in 0..2 {
            lines.extend(message_lines(&app, peer, index, 24));
        }
        lines
    }

    #[test]
    fn lines_are_put_exactly_as_a_paragraph_puts_them() {
        let lines = lines();
        for width in 0..48 {
            let area = Rect::new(2, 1, width, lines.len() as u16 - 1);
            let outer = Rect::new(0, 0, width + 4, lines.len() as u16 + 2);
            let mut want = Buffer::empty(outer);
            Paragraph::new(lines.clone()).render(area, &mut want);
            let mut got = Buffer::empty(outer);
            render_lines(&lines, area, &mut got);
            assert_eq!(got, want, "width {width}");
        }
    }
}
