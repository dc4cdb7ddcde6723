//! The bottom line: who and where this qqchat is, and the keys that matter right now (the
//! hints of the bindings table in `app::keys`), or news (an error) until the next key press.
//! An error too long for the line shows its start; the help (F1) shows it whole.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::fit;
use crate::app::keys::{Hint, hints};
use crate::app::{App, Notice};
use crate::text::width;

/// Ends an error cut short, saying where the rest is.
const MORE: &str = " … F1 shows all";

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let mut spans = vec![
        Span::styled(
            format!(" {} ", app.me()),
            Style::new()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
        ),
        Span::styled(
            format!(" {} ", app.local_addr()),
            Style::new().fg(Color::DarkGray),
        ),
        Span::raw(" "),
    ];
    let room = (area.width as usize).saturating_sub(spans.iter().map(Span::width).sum());
    match app.notice() {
        Some(Notice::Error(text)) => {
            let style = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
            if width(text) <= room {
                spans.push(Span::styled(text.clone(), style));
            } else {
                let start = fit(text, room.saturating_sub(width(MORE)) + 1);
                // `fit` ended it with an ellipsis; MORE brings its own.
                let start = start.trim_end().trim_end_matches('…').trim_end();
                spans.push(Span::styled(start.to_owned(), style));
                spans.push(Span::styled(MORE, Style::new().fg(Color::DarkGray)));
            }
        }
        Some(Notice::Info(text)) => spans.push(Span::raw(fit(text, width(text).min(room)))),
        None => {
            for (i, hint) in fitting(hints(app, app.context()), room).iter().enumerate() {
                if i > 0 {
                    spans.push(Span::styled(" · ", Style::new().fg(Color::DarkGray)));
                }
                spans.push(Span::styled(
                    hint.key,
                    Style::new().add_modifier(Modifier::BOLD),
                ));
                spans.push(Span::raw(" "));
                spans.push(Span::styled(hint.text, Style::new().fg(Color::DarkGray)));
            }
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// Columns a hint takes, with the ` · ` before it.
fn hint_width(hint: &Hint) -> usize {
    width(hint.key) + 1 + width(hint.text) + 3
}

/// What of `hints` (pinned first, then by rank) goes in `room` columns: the pinned ones
/// always, since help lists the rest and quitting must never be a mystery; then the others,
/// most important first, each that still fits. Shown in rank order, the pinned ones last,
/// where the eye looks for them.
fn fitting(hints: Vec<&'static Hint>, room: usize) -> Vec<&'static Hint> {
    let (pinned, others): (Vec<&Hint>, Vec<&Hint>) = hints.into_iter().partition(|h| h.pinned);
    // Every hint is counted with a separator; the first has none, hence `room + 3`.
    let mut used: usize = pinned.iter().map(|h| hint_width(h)).sum();
    let mut shown = Vec::new();
    for hint in others {
        if used + hint_width(hint) <= room + 3 {
            used += hint_width(hint);
            shown.push(hint);
        }
    }
    shown.extend(pinned);
    shown
}
