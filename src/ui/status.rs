//! The bottom line: who and where this qqchat is, and the keys that matter right now (the
//! hints of the bindings table in `app::keys`), or news (an error) until the next key press.
//! An error too long for the line shows its start; the help (F1) shows it whole.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::fit;
use crate::app::keys::hints;
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
            let hints = hints(app, app.context())
                .into_iter()
                .map(|hint| (hint.key, hint.text))
                .collect();
            for (i, (key, what)) in fitting(hints, room).iter().enumerate() {
                if i > 0 {
                    spans.push(Span::styled(" · ", Style::new().fg(Color::DarkGray)));
                }
                spans.push(Span::styled(
                    *key,
                    Style::new().add_modifier(Modifier::BOLD),
                ));
                spans.push(Span::raw(" "));
                spans.push(Span::styled(*what, Style::new().fg(Color::DarkGray)));
            }
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// As many of `hints` as fit in `room` columns: the last ones go first, but the help key
/// stays, since the help lists the rest.
fn fitting(
    mut kept: Vec<(&'static str, &'static str)>,
    room: usize,
) -> Vec<(&'static str, &'static str)> {
    let is_help = |key: &str| matches!(key, "?" | "F1");
    let total = |kept: &[(&str, &str)]| {
        kept.iter()
            .map(|(key, what)| width(key) + 1 + width(what))
            .sum::<usize>()
            + 3 * kept.len().saturating_sub(1)
    };
    while total(&kept) > room {
        match kept.iter().rposition(|(key, _)| !is_help(key)) {
            Some(last) => {
                kept.remove(last);
            }
            None => break,
        }
    }
    kept
}
