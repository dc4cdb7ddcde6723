//! The key reference, over everything else until a key closes it. It lists every key, so
//! on a short terminal the blank lines between sections go first, and then ↑/↓ scroll it.
//! Above the keys it shows the last error whole, as the status line may have cut it.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Padding, Paragraph};

use crate::app::App;
use crate::text::wrap;

/// (keys, what they do); an empty key column starts a section titled by the text.
pub const KEYS: &[(&str, &str)] = &[
    ("", "Contacts"),
    ("↑ ↓  j k", "move · g G or Home End: first, last"),
    ("Enter", "open the conversation"),
    ("a", "add an address to contacts"),
    ("A", "paste a contact string (qqchat id)"),
    ("n  d", "rename · remove the contact"),
    ("", "Conversation"),
    ("↑ ↓  j k", "pick one of your messages"),
    ("r", "retry failed · send queued now"),
    ("x", "cancel the picked queued message"),
    ("PgUp PgDn", "scroll · End: newest"),
    ("Enter  i", "write a message"),
    ("", "Message"),
    ("Enter", "send"),
    ("Alt+Enter", "new line; Shift+Enter where supported"),
    ("Ctrl-R", "r on the newest failed or queued"),
    ("", "Anywhere"),
    ("Tab  Esc", "next pane · back to contacts"),
    ("Shift+Tab", "previous pane"),
    ("F5", "reload the contacts file"),
    ("F1  ?", "this help"),
    ("q  Ctrl-C", "quit (q in the contact list)"),
];

const fn fg(color: Color) -> Style {
    Style::new().fg(color)
}

/// (mark, what it means, style), one row of the legend per slice: the contact list's dots
/// and trust marks, the marks on own messages, then how senders' names look.
pub const MARKS: &[&[(&str, &str, Style)]] = &[
    &[
        ("●", "online", fg(Color::Green)),
        ("○", "offline", fg(Color::DarkGray)),
        ("·", "not known yet", fg(Color::DarkGray)),
        ("→", "plain UDP", fg(Color::DarkGray)),
    ],
    &[
        (
            "?",
            "unverified: no key",
            fg(Color::Yellow).add_modifier(Modifier::BOLD),
        ),
        ("✗", "no key, refused", fg(Color::Red)),
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

/// Widest the box gets.
const WIDTH: u16 = 56;

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
        // Inside the border and the padding, indented as the keys are.
        let text_width = usize::from(width.saturating_sub(4)).saturating_sub(2);
        for line in wrap(error, text_width) {
            lines.push(Line::raw(format!("  {line}")));
        }
    }
    for (keys, what) in KEYS {
        if keys.is_empty() {
            if spaced && !lines.is_empty() {
                lines.push(Line::raw(""));
            }
            lines.push(Line::styled(*what, heading));
        } else {
            lines.push(Line::from(vec![
                Span::styled(format!("  {keys:<11}"), key_style),
                Span::raw(*what),
            ]));
        }
    }
    if spaced {
        lines.push(Line::raw(""));
    }
    lines.push(Line::styled(
        "Marks: contacts, your messages, senders",
        heading,
    ));
    for row in MARKS {
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
    let width = WIDTH.min(area.width);
    let spaced = lines(app, true, width);
    if spaced.len() + 2 <= area.height as usize {
        spaced
    } else {
        lines(app, false, width)
    }
}

/// How many lines the help can be scrolled on a screen of `area`; 0 when it all fits.
pub fn max_scroll(app: &App, area: Rect) -> usize {
    (fitted(app, area).len() + 2).saturating_sub(area.height as usize)
}

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let lines = fitted(app, area);
    let overflow = (lines.len() + 2).saturating_sub(area.height as usize);
    let scroll = app.help_scroll().min(overflow);
    let width = WIDTH.min(area.width);
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
