//! This user's contact string, in a box over the panes: the line to give friends, whole
//! (wrapped, never cut), and what to do with it, or why there is none.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Clear, Padding, Paragraph};

use crate::app::Card;
use crate::text::wrap;

/// Widest the box gets: a contact string is some 80 columns.
const CARD_WIDTH: u16 = 90;

pub fn draw(frame: &mut Frame, card: &Card, area: Rect) {
    let width = CARD_WIDTH.min(area.width);
    let text_width = usize::from(width.saturating_sub(4)).max(1);
    let mut lines: Vec<Line> = Vec::new();
    if let Some(line) = &card.line {
        let strong = Style::new().fg(Color::Green).add_modifier(Modifier::BOLD);
        lines.extend(
            wrap(line, text_width)
                .into_iter()
                .map(|l| Line::styled(l, strong)),
        );
        lines.push(Line::raw(""));
    }
    lines.extend(wrap(&card.note, text_width).into_iter().map(Line::raw));
    let height = u16::try_from(lines.len() + 2)
        .unwrap_or(u16::MAX)
        .min(area.height);
    let popup = area.centered(Constraint::Length(width), Constraint::Length(height));
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(Color::Cyan))
        .title(" Your contact string ")
        .title_bottom(Line::raw(" any key closes ").right_aligned())
        .padding(Padding::horizontal(1));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
