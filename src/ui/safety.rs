//! The safety number screen (v): both keys, the number both people compare, whether the
//! contact is verified, and, loudly, a new key the contacts file names for it.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Clear, Padding, Paragraph};

use crate::app::App;
use crate::identity::encode_key;
use crate::text::wrap;

/// Widest the box gets: a key is 44 columns, with its label some 60.
const SAFETY_WIDTH: u16 = 72;

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let Some(screen) = app.safety_screen() else {
        return;
    };
    let width = SAFETY_WIDTH.min(area.width);
    let text_width = usize::from(width.saturating_sub(4)).max(1);
    let dim = Style::new().fg(Color::DarkGray);
    let strong = Style::new().fg(Color::Green).add_modifier(Modifier::BOLD);
    let alarm = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
    let mut lines: Vec<Line> = Vec::new();
    let say = |text: &str, style: Style, lines: &mut Vec<Line>| {
        lines.extend(
            wrap(text, text_width)
                .into_iter()
                .map(|l| Line::styled(l, style)),
        );
    };
    if let Some(own) = &screen.own_key {
        say(&format!("your key:  {}", encode_key(own)), dim, &mut lines);
    }
    say(
        &format!("their key: {}", encode_key(&screen.key)),
        dim,
        &mut lines,
    );
    lines.push(Line::raw(""));
    say(
        &format!(
            "Safety number ({} sees the same one: v in their chat, or qqchat verify):",
            screen.name
        ),
        Style::new(),
        &mut lines,
    );
    for line in &screen.number {
        lines.push(Line::styled(format!("  {line}"), strong));
    }
    lines.push(Line::raw(""));
    match &screen.change {
        Some((offered, number)) => {
            let what = match offered {
                Some(key) => format!(
                    "⚠ The contacts file names a NEW key for {}: {}. Nothing is sent to it \
                     until you accept it. Compare this number with {} (in person, by a \
                     call), then press a:",
                    screen.name,
                    encode_key(key),
                    screen.name
                ),
                None => format!(
                    "⚠ The contacts file names NO key for {}: the trusted key is still used. \
                     Press a to talk to {} without a key.",
                    screen.name, screen.name
                ),
            };
            say(&what, alarm, &mut lines);
            for line in number {
                lines.push(Line::styled(format!("  {line}"), alarm));
            }
        }
        None if screen.verified => say(
            &format!(
                "✓ {} is verified: you compared this number. m: unmark",
                screen.name
            ),
            strong,
            &mut lines,
        ),
        None => say(
            &format!(
                "Not verified. When {} reads you the same number, press m to mark them \
                 verified.",
                screen.name
            ),
            Style::new(),
            &mut lines,
        ),
    }
    let height = u16::try_from(lines.len() + 2)
        .unwrap_or(u16::MAX)
        .min(area.height);
    let popup = area.centered(Constraint::Length(width), Constraint::Length(height));
    let border = if screen.change.is_some() {
        Color::Red
    } else {
        Color::Cyan
    };
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(border))
        .title(format!(" Safety number · {} ", screen.name))
        .title_bottom(Line::raw(" Esc closes ").right_aligned())
        .padding(Padding::horizontal(1));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
