//! The key reference, over everything else until a key closes it. It lists every key, so
//! on a short terminal the blank lines between sections go first, and then ↑/↓ scroll it.
//! Above the keys it shows the last error whole, as the status line may have cut it.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Padding, Paragraph};

use crate::app::App;
use crate::app::keys::{LEGEND_ROWS, Section, help_rows, help_shape};
use crate::layout::{HELP_WIDTH, help_error_width, help_max_scroll, help_spaced};
use crate::text::wrap;

const fn fg(color: Color) -> Style {
    Style::new().fg(color)
}

/// (mark, what it means, style), one row of the legend per slice: the contact list's dots
/// and trust marks, the marks on own messages, then how senders' names look.
pub const MARKS: &[&[(&str, &str, Style)]; LEGEND_ROWS] = &[
    &[
        ("●", "online", fg(Color::Green)),
        ("◐", "reachable", fg(Color::Yellow)),
        ("○", "offline", fg(Color::DarkGray)),
        ("·", "not known yet", fg(Color::DarkGray)),
    ],
    &[
        ("→", "plain UDP", fg(Color::DarkGray)),
        ("✗", "no key, refused", fg(Color::Red)),
        ("✓", "verified key", fg(Color::Green)),
    ],
    &[
        (
            "?",
            "unverified: no key",
            fg(Color::Yellow).add_modifier(Modifier::BOLD),
        ),
        (
            "⚠",
            "key changed",
            fg(Color::Red).add_modifier(Modifier::BOLD),
        ),
    ],
    &[
        ("○", "pending", fg(Color::DarkGray)),
        ("✓", "delivered", fg(Color::Green)),
        ("→", "sent plain", fg(Color::DarkGray)),
    ],
    &[
        ("◷", "queued", fg(Color::Yellow)),
        ("✗", "failed", fg(Color::Red)),
        ("✗", "cancelled", fg(Color::DarkGray)),
    ],
    &[
        ("↑", "sending", fg(Color::Cyan)),
        ("↓", "receiving", fg(Color::Cyan)),
        ("?", "offered", fg(Color::Yellow)),
        ("✓", "verified", fg(Color::Green)),
    ],
    &[
        (
            "name",
            "keyed sender",
            fg(Color::Magenta).add_modifier(Modifier::BOLD),
        ),
        (
            "name",
            "unverified sender",
            fg(Color::Yellow)
                .add_modifier(Modifier::BOLD)
                .add_modifier(Modifier::UNDERLINED),
        ),
    ],
];

/// The text of the help, with or without blank lines between sections, for a box `width`
/// columns wide.
fn lines(app: &App, spaced: bool, width: u16) -> Vec<Line<'static>> {
    let key_style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
    let heading = Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
    let mut lines = Vec::new();
    if let Some(error) = app.last_error() {
        lines.push(Line::styled(
            "Last error",
            heading.fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
        for line in wrap(error, help_error_width(width)) {
            lines.push(Line::raw(format!("  {line}")));
        }
    }
    for section in Section::ALL {
        if spaced && !lines.is_empty() {
            lines.push(Line::raw(""));
        }
        lines.push(Line::styled(section.title(), heading));
        for row in help_rows(section) {
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<11}", row.keys), key_style),
                Span::raw(row.text),
            ]));
        }
    }
    if spaced {
        lines.push(Line::raw(""));
    }
    lines.push(Line::styled(
        "Marks: contacts, your messages, files, senders",
        heading,
    ));
    for row in MARKS.iter() {
        let mut marks = vec![Span::raw("  ")];
        for (mark, what, style) in *row {
            marks.push(Span::styled(*mark, *style));
            marks.push(Span::raw(format!(" {what}  ")));
        }
        lines.push(Line::from(marks));
    }
    lines
}

/// The help's lines for a screen of `area`: spaced out if that fits.
fn fitted(app: &App, area: Rect) -> Vec<Line<'static>> {
    let width = HELP_WIDTH.min(area.width);
    let spaced = help_spaced(help_shape(LEGEND_ROWS), app.last_error(), area);
    lines(app, spaced, width)
}

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let lines = fitted(app, area);
    let overflow = help_max_scroll(help_shape(LEGEND_ROWS), app.last_error(), area);
    let scroll = app.help_scroll().min(overflow);
    let width = HELP_WIDTH.min(area.width);
    let height = u16::try_from(lines.len() + 2)
        .unwrap_or(u16::MAX)
        .min(area.height);
    let popup = area.centered(Constraint::Length(width), Constraint::Length(height));
    let closes = if overflow > 0 {
        " ↑↓ scroll · other keys close "
    } else {
        " any key closes "
    };
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(Color::Cyan))
        .title(" Keys ")
        .title_bottom(Line::raw(closes).right_aligned())
        .padding(Padding::horizontal(1));
    frame.render_widget(Clear, popup);
    let visible: Vec<Line> = lines.into_iter().skip(scroll).collect();
    frame.render_widget(Paragraph::new(visible).block(block), popup);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use jiff::tz::TimeZone;

    use super::*;
    use crate::contacts::{ContactBook, Me};
    use crate::layout::help_len;

    /// The state scrolls the help by the count in `layout`; it must be the lines drawn.
    #[test]
    fn the_help_is_as_long_as_layout_counts() {
        let book = ContactBook::empty(Me::default());
        let mut app = App::new(&book, "127.0.0.1:4000".parse().unwrap(), TimeZone::UTC);
        for error in [None, Some("short"), Some(&*"a long error, ".repeat(20))] {
            if let Some(error) = error {
                app.show_error(error);
            }
            for width in [20, 40, HELP_WIDTH] {
                for spaced in [false, true] {
                    assert_eq!(
                        lines(&app, spaced, width).len(),
                        help_len(help_shape(LEGEND_ROWS), app.last_error(), spaced, width),
                    );
                }
            }
        }
    }
}
