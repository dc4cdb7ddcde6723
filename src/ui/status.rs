//! The bottom line: who and where this qqchat is, and the keys that matter right now.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::{App, Focus};

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
    for (i, (key, what)) in hints(app).iter().enumerate() {
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
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The few keys worth a reminder in the focused pane, most useful first.
fn hints(app: &App) -> &'static [(&'static str, &'static str)] {
    if app.help_open() {
        return &[("any key", "closes help")];
    }
    match app.focus() {
        Focus::Contacts => &[
            ("↑↓", "move"),
            ("Enter", "open"),
            ("?", "help"),
            ("q", "quit"),
        ],
        Focus::Conversation => &[
            ("↑↓", "pick"),
            ("r", "retry"),
            ("PgUp/PgDn", "scroll"),
            ("Esc", "back"),
        ],
        Focus::Input => &[
            ("Enter", "send"),
            ("Alt+Enter", "new line"),
            ("Esc", "back"),
            ("F1", "help"),
        ],
    }
}
