//! The list of every file sent and received in this run (Ctrl-T), over the panes: who, what,
//! and how far, one transfer (a file, or a folder) to two lines, newest at the bottom.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Padding, Paragraph};

use super::fit;
use crate::app::{App, Summary, Transfer};
use crate::text::width;

/// Widest the box gets.
const LIST_WIDTH: u16 = 90;

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let box_width = LIST_WIDTH.min(area.width);
    let room = usize::from(box_width.saturating_sub(4));
    let selected = app.transfers_selected();
    let mut lines: Vec<Line> = Vec::new();
    let mut selected_end = 0;
    for (index, t) in app.transfers().iter().enumerate() {
        let picked = selected == Some(index);
        let mut rows = rows(app, t, room);
        if picked {
            let style = Style::new().add_modifier(Modifier::REVERSED);
            for row in &mut rows {
                let pad = room.saturating_sub(row.width());
                row.spans.push(Span::raw(" ".repeat(pad)));
                *row = std::mem::take(row).patch_style(style);
            }
        }
        lines.extend(rows);
        if picked {
            selected_end = lines.len();
        }
    }
    let most = usize::from(area.height.saturating_sub(2)).max(1);
    let shown = lines.len().min(most);
    let top = selected_end.saturating_sub(shown);
    let visible: Vec<Line> = lines.into_iter().skip(top).take(shown).collect();
    let height = u16::try_from(visible.len() + 2)
        .unwrap_or(u16::MAX)
        .min(area.height);
    let popup = area.centered(Constraint::Length(box_width), Constraint::Length(height));
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(Color::Cyan))
        .title(" Files ")
        .title_style(Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD))
        .title_bottom(Line::raw(" Esc closes ").right_aligned())
        .padding(Padding::horizontal(1));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(visible).block(block), popup);
}

/// A transfer's two lines: `↑ to bob · report.pdf · 1.2 MiB`, then how it is doing.
fn rows(app: &App, t: &Transfer, room: usize) -> Vec<Line<'static>> {
    let peer = app
        .roster()
        .get(t.entry())
        .map_or_else(String::new, |p| p.name().to_owned());
    let (arrow, color) = mark(t);
    let way = if t.is_outgoing() { "to" } else { "from" };
    let head = format!("{way} {peer} · {}", t.heading());
    let head = fit(&head, width(&head).min(room.saturating_sub(2)));
    let text = t.text(&peer);
    let state: Vec<&str> = text.lines().skip(1).collect();
    let state = state.join(" · ");
    let state = fit(&state, width(&state).min(room.saturating_sub(2)));
    let state_style = match t.summary() {
        Summary::Done => Style::new().fg(Color::Green),
        Summary::Failed { .. } => Style::new().fg(Color::Red),
        Summary::Asking => Style::new().fg(Color::Yellow),
        _ => Style::new().fg(Color::DarkGray),
    };
    vec![
        Line::from(vec![
            Span::styled(format!("{arrow} "), Style::new().fg(color)),
            Span::styled(head, Style::new().add_modifier(Modifier::BOLD)),
        ]),
        Line::from(vec![Span::raw("  "), Span::styled(state, state_style)]),
    ]
}

/// The mark a transfer has in a conversation and in the list, and its colour: `↑` sending,
/// `↓` receiving, `?` waiting for this user, `‖` paused, `✓` verified, `✗` failed.
pub fn mark(t: &Transfer) -> (&'static str, Color) {
    match t.summary() {
        Summary::Asking => ("?", Color::Yellow),
        Summary::Paused => ("‖", Color::Yellow),
        Summary::Done => ("✓", Color::Green),
        Summary::Failed { .. } => ("✗", Color::Red),
        _ if t.is_outgoing() => ("↑", Color::Cyan),
        _ => ("↓", Color::Cyan),
    }
}
