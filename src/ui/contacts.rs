//! The contact list: who there is to talk to, who wrote, who talks plain UDP.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{fit, pane, seen_label};
use crate::app::{App, Focus, Peer};
use crate::text::width;

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let block = pane(app, Focus::Contacts).title(" Contacts ");
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

/// `▸ ● name  seen 14:02  3 `: open marker, presence dot (`→` for a plain peer), name, then
/// what else there is to know (when an offline contact was last seen, or that it talks plain
/// UDP) and the unread count. Entries not in contacts have no dot: nobody watches their
/// presence.
fn row(app: &App, index: usize, peer: &Peer, row_width: usize) -> Line<'static> {
    let dim = Style::new().fg(Color::DarkGray);
    let count = (peer.unread() > 0).then(|| format!(" {} ", peer.unread()));
    let count_width = count.as_deref().map_or(0, |c| 1 + width(c));
    let dot = if !peer.is_listed() {
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
    let lead = if dot.is_some() { 4 } else { 2 };
    // One blank column before the border.
    let mut tail_width = 1 + count_width;
    let mut tail = Vec::new();
    // The name matters more than the tags: the conversation header says all of it too.
    let name = width(peer.name());
    let extra = if peer.is_plain() {
        Some(" plain".to_string())
    } else if peer.is_listed() && peer.online() == Some(false) {
        peer.link()
            .and_then(|link| link.last_seen)
            .map(|seen| format!(" seen {}", seen_label(app, seen, false)))
    } else {
        None
    };
    if let Some(extra) = extra
        && lead + name + width(&extra) + tail_width <= row_width
    {
        tail_width += width(&extra);
        tail.push(Span::styled(extra, dim));
    }
    if let Some(count) = count {
        tail.push(Span::raw(" "));
        tail.push(Span::styled(
            count,
            Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        ));
    }
    let open = app.open() == Some(index);
    let marker = if open { "▸ " } else { "  " };
    let name_width = row_width.saturating_sub(lead + tail_width);
    let mut name_style = Style::new();
    if open || peer.unread() > 0 {
        name_style = name_style.add_modifier(Modifier::BOLD);
    }
    if !peer.is_listed() {
        name_style = name_style.add_modifier(Modifier::ITALIC);
    }
    let mut spans = vec![Span::styled(marker, Style::new().fg(Color::Cyan))];
    spans.extend(dot);
    spans.push(Span::styled(fit(peer.name(), name_width), name_style));
    spans.extend(tail);
    spans.push(Span::raw(" "));
    let line = Line::from(spans);
    if index == app.selected() && app.focus() == Focus::Contacts && !app.peers().is_empty() {
        line.patch_style(Style::new().add_modifier(Modifier::REVERSED))
    } else {
        line
    }
}
