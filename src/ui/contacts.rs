//! The contact list: who there is to talk to, who wrote, who talks plain UDP.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{fit, focused, pane, seen_label, title_lead};
use crate::app::{App, Focus, Peer, Trust};
use crate::text::width;

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let title = format!("{}Contacts ", title_lead(app, Focus::Contacts));
    let block = pane(app, Focus::Contacts).title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let row_width = inner.width as usize;

    let mut rows = Vec::with_capacity(app.peers().len() + 1);
    let mut selected_row = 0;
    for (index, peer) in app.peers().iter().enumerate() {
        if !peer.is_listed() && (index == 0 || app.peers()[index - 1].is_listed()) {
            // Addresses that wrote unasked are kept apart from the book's contacts.
            rows.push(divider("not in contacts", row_width));
        }
        if index == app.selected() {
            selected_row = rows.len();
        }
        rows.push(row(app, index, peer, row_width));
    }

    // Scroll the list just enough to keep the cursor on screen.
    let height = inner.height as usize;
    let top = (selected_row + 1).saturating_sub(height);
    let visible: Vec<Line> = rows.into_iter().skip(top).take(height).collect();
    frame.render_widget(Paragraph::new(visible), inner);
}

/// `─ label ─────`, as wide as the list.
fn divider(label: &str, row_width: usize) -> Line<'static> {
    let text = format!("─ {label} ");
    let rule = "─".repeat(row_width.saturating_sub(width(&text)));
    Line::styled(
        fit(&format!("{text}{rule}"), row_width),
        Style::new().fg(Color::DarkGray),
    )
}

/// ` ● name ?  seen 14:02  3 `: presence dot (`→` for a plain peer), name, its
/// trust mark, then what else there is to know (when an offline contact was last seen, or
/// that it talks plain UDP) and the unread count. Entries not in contacts have no dot:
/// nobody watches their presence.
///
/// A peer without a key is marked `unverified`, or `?` where that does not fit; with
/// `require_keys` it is refused instead: `✗` for a dot, and `no key` where that fits. The
/// mark is never left out: the name is cut first.
fn row(app: &App, index: usize, peer: &Peer, row_width: usize) -> Line<'static> {
    let dim = Style::new().fg(Color::DarkGray);
    let trust = app.trust(peer);
    let count = (peer.unread() > 0).then(|| format!(" {} ", peer.unread()));
    let count_width = count.as_deref().map_or(0, |c| 1 + width(c));
    let dot = if trust == Trust::Refused {
        Some(Span::styled("✗ ", Style::new().fg(Color::Red)))
    } else if !peer.is_listed() {
        None
    } else if peer.is_plain() {
        // Plain peers never answer, so they have no presence: the arrow of a message "sent
        // plain" stands in for it.
        Some(Span::styled("→ ", dim))
    } else {
        Some(match peer.online() {
            Some(true) => Span::styled("● ", Style::new().fg(Color::Green)),
            Some(false) => Span::styled("○ ", dim),
            None => Span::styled("· ", dim),
        })
    };
    let lead = if dot.is_some() { 3 } else { 1 };
    let name = width(peer.name());
    // The name matters more than the tags: the conversation header says all of it too.
    let extra = if trust == Trust::Refused {
        None
    } else if peer.is_plain() {
        Some(" plain".to_string())
    } else if peer.is_listed() && peer.online() == Some(false) {
        peer.link()
            .and_then(|link| link.last_seen)
            .map(|seen| format!(" seen {}", seen_label(app, seen, false)))
    } else {
        // Which of several candidates answered: the same network, or across the internet.
        peer.path_kind().map(|kind| format!(" {}", kind.label()))
    };
    let (long, short) = trust_marks(trust);
    let mark_width = |mark: &Option<Span<'static>>| mark.as_ref().map_or(0, Span::width);
    // One blank column before the border, except after an unread count, whose box has room
    // of its own: a row that ends in one may fill the width.
    let blank_wanted = usize::from(count.is_none());
    // The fullest row that fits, trust mark first; else the short mark and a cut name.
    let (mark, extra) = [
        (long.clone(), extra.clone()),
        (short.clone(), extra.clone()),
        (long, None),
        (short.clone(), None),
    ]
    .into_iter()
    .find(|(mark, extra)| {
        let extra_width = extra.as_deref().map_or(0, width);
        lead + name + mark_width(mark) + extra_width + count_width + blank_wanted <= row_width
    })
    .unwrap_or((short, None));
    let extra_width = extra.as_deref().map_or(0, width);
    let used = lead + mark_width(&mark) + extra_width + count_width;
    let blank = usize::from(blank_wanted == 1 || used + name != row_width);
    let name_width = row_width.saturating_sub(used + blank);
    let shown = fit(peer.name(), name.min(name_width));
    let pad = name_width.saturating_sub(width(&shown));

    let open = app.open() == Some(index);
    let mut name_style = Style::new();
    if open || peer.unread() > 0 {
        name_style = name_style.add_modifier(Modifier::BOLD);
    }
    if !peer.is_listed() {
        name_style = name_style.add_modifier(Modifier::ITALIC);
    }
    let mut spans = vec![Span::raw(" ")];
    spans.extend(dot);
    spans.push(Span::styled(shown, name_style));
    spans.extend(mark);
    spans.push(Span::raw(" ".repeat(pad)));
    if let Some(extra) = extra {
        spans.push(Span::styled(extra, dim));
    }
    if let Some(count) = count {
        spans.push(Span::raw(" "));
        spans.push(Span::styled(
            count,
            Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        ));
    }
    spans.push(Span::raw(" ".repeat(blank)));
    let line = Line::from(spans);
    // One cursor: bright while the list has the keys; otherwise a quiet band on the same
    // row, which is then the open conversation (the cursor follows it out of the list).
    if index != app.selected() {
        line
    } else if focused(app, Focus::Contacts) {
        line.patch_style(Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD))
    } else {
        line.patch_style(Style::new().bg(Color::Indexed(238)))
    }
}

/// The mark after a name, long and short: none for a keyed contact.
fn trust_marks(trust: Trust) -> (Option<Span<'static>>, Option<Span<'static>>) {
    let warning = Style::new().fg(Color::Yellow);
    match trust {
        Trust::Keyed => (None, None),
        Trust::Unverified => (
            Some(Span::styled(
                " unverified",
                warning.add_modifier(Modifier::DIM),
            )),
            Some(Span::styled(" ?", warning.add_modifier(Modifier::BOLD))),
        ),
        // The ✗ in place of the dot says it already.
        Trust::Refused => (
            Some(Span::styled(" no key", Style::new().fg(Color::Red))),
            None,
        ),
    }
}
