//! The bottom line: who and where this qqchat is, and the keys that matter right now, or
//! news (an error) until the next key press.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::{App, Focus, Mark, Notice};

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
    match app.notice() {
        Some(Notice::Error(text)) => {
            spans.push(Span::styled(
                text.clone(),
                Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            ));
        }
        Some(Notice::Info(text)) => spans.push(Span::raw(text.clone())),
        None => {
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
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The few keys worth a reminder right now, most useful first.
fn hints(app: &App) -> &'static [(&'static str, &'static str)] {
    if app.help_open() {
        return &[("any key", "closes help")];
    }
    if let Some(prompt) = app.prompt() {
        return if prompt.is_confirm() {
            &[("y", "yes"), ("n Esc", "no")]
        } else {
            &[("Enter", "confirm"), ("Esc", "cancel")]
        };
    }
    match app.focus() {
        Focus::Contacts => match app.peers().get(app.selected()) {
            Some(peer) if !peer.is_listed() => &[
                ("↑↓", "move"),
                ("Enter", "open"),
                ("a", "add to contacts"),
                ("?", "help"),
                ("q", "quit"),
            ],
            Some(_) => &[
                ("↑↓", "move"),
                ("Enter", "open"),
                ("n", "rename"),
                ("d", "remove"),
                ("?", "help"),
                ("q", "quit"),
            ],
            None => &[("F5", "reload contacts"), ("?", "help"), ("q", "quit")],
        },
        Focus::Conversation => match app.chosen_message().and_then(|m| m.mark()) {
            Some(Mark::Queued) => &[
                ("↑↓", "pick"),
                ("r", "send now"),
                ("x", "cancel"),
                ("Esc", "back"),
            ],
            Some(Mark::Failed) => &[("↑↓", "pick"), ("r", "retry"), ("Esc", "back")],
            _ => &[
                ("↑↓", "pick"),
                ("r", "retry"),
                ("PgUp/PgDn", "scroll"),
                ("Esc", "back"),
            ],
        },
        Focus::Input => {
            if app.open_peer().is_some_and(|p| p.has_retryable()) {
                &[
                    ("Enter", "send"),
                    ("Ctrl-R", "retry/send queued"),
                    ("Esc", "back"),
                    ("F1", "help"),
                ]
            } else {
                &[
                    ("Enter", "send"),
                    ("Alt+Enter", "new line"),
                    ("Esc", "back"),
                    ("F1", "help"),
                ]
            }
        }
    }
}
