//! The key reference, over everything else until any key closes it.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Padding, Paragraph};

use crate::app::App;

/// (keys, what they do); an empty key column starts a section titled by the text.
const KEYS: &[(&str, &str)] = &[
    ("", "Contacts"),
    ("↑ ↓  j k", "move"),
    ("Enter", "open the conversation"),
    ("q", "quit"),
    ("", "Conversation"),
    ("↑ ↓  j k", "pick one of your messages"),
    ("r", "retry the picked failed message"),
    ("PgUp PgDn", "scroll · End: newest"),
    ("", "Message"),
    ("Enter", "send"),
    ("Alt+Enter", "new line; Shift+Enter where supported"),
    ("Ctrl-R", "retry the latest failed message"),
    ("", "Anywhere"),
    ("Tab  Esc", "next pane · back to contacts"),
    ("F1  ?", "this help"),
    ("Ctrl-C", "quit"),
];

const MARKS: &[(&str, &str, Color)] = &[
    ("○", "pending", Color::DarkGray),
    ("✓", "delivered", Color::Green),
    ("→", "sent plain", Color::DarkGray),
    ("✗", "failed", Color::Red),
];

pub fn draw(frame: &mut Frame, _app: &App, area: Rect) {
    let key_style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
    let mut lines = Vec::new();
    for (keys, what) in KEYS {
        if keys.is_empty() {
            if !lines.is_empty() {
                lines.push(Line::raw(""));
            }
            lines.push(Line::styled(
                *what,
                Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            ));
        } else {
            lines.push(Line::from(vec![
                Span::styled(format!("  {keys:<11}"), key_style),
                Span::raw(*what),
            ]));
        }
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "Marks on your messages",
        Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
    ));
    let mut marks = vec![Span::raw("  ")];
    for (mark, what, color) in MARKS {
        marks.push(Span::styled(*mark, Style::new().fg(*color)));
        marks.push(Span::raw(format!(" {what}  ")));
    }
    lines.push(Line::from(marks));

    let width = 56.min(area.width);
    let height = u16::try_from(lines.len() + 2)
        .unwrap_or(u16::MAX)
        .min(area.height);
    let popup = area.centered(Constraint::Length(width), Constraint::Length(height));
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(Color::Cyan))
        .title(" Keys ")
        .title_bottom(Line::raw(" any key closes ").right_aligned())
        .padding(Padding::horizontal(1));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
