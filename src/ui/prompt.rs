//! A small box in the middle of the screen asking for a name, or for yes or no.

use ratatui::Frame;
use ratatui::layout::{Constraint, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Clear, Padding, Paragraph};

use crate::app::{Prompt, PromptKind};
use crate::text::width;

pub fn draw(frame: &mut Frame, prompt: &Prompt, area: Rect) {
    let title = match prompt.kind() {
        PromptKind::Add { .. } => " Add contact ",
        PromptKind::Rename { .. } => " Rename contact ",
        PromptKind::Remove { .. } => " Remove contact ",
    };
    let keys = if prompt.is_confirm() {
        " y yes · n no "
    } else {
        " Enter confirm · Esc cancel "
    };
    // Question, typed name, and a line for what is wrong with it.
    let lines: u16 = if prompt.is_confirm() { 1 } else { 3 };
    let wanted = width(prompt.question()).max(width(keys) + 2).max(36) + 4;
    let popup_width = u16::try_from(wanted).unwrap_or(u16::MAX).min(area.width);
    let popup = area.centered(
        Constraint::Length(popup_width),
        Constraint::Length((lines + 2).min(area.height)),
    );
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(Color::Cyan))
        .title(title)
        .title_style(Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD))
        .title_bottom(Line::raw(keys).right_aligned())
        .padding(Padding::horizontal(1));
    let inner = block.inner(popup);
    frame.render_widget(Clear, popup);
    frame.render_widget(block, popup);
    let mut row = inner;
    row.height = row.height.min(1);
    frame.render_widget(Paragraph::new(prompt.question()), row);
    if prompt.is_confirm() || inner.height < 2 {
        return;
    }
    let field = Rect::new(inner.x, inner.y + 1, inner.width, 1);
    frame.render_widget(prompt.input(), field);
    // The terminal's own cursor goes where the name is typed, for input methods (CJK).
    let cursor = prompt.input().screen_cursor();
    let (_, left) = prompt.input().scroll_offset();
    let col = cursor.col.saturating_sub(left as usize);
    let x = field
        .x
        .saturating_add(u16::try_from(col).unwrap_or(u16::MAX));
    if x < field.right() {
        frame.set_cursor_position(Position::new(x, field.y));
    }
    if let Some(error) = prompt.error()
        && inner.height >= 3
    {
        let line = Line::styled(error.to_string(), Style::new().fg(Color::Red));
        frame.render_widget(
            Paragraph::new(line),
            Rect::new(inner.x, inner.y + 2, inner.width, 1),
        );
    }
}
