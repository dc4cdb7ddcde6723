//! A small box in the middle of the screen asking for a name, a contact string, or for yes
//! or no.

use ratatui::Frame;
use ratatui::layout::{Constraint, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Clear, Padding, Paragraph};

use super::fit;
use crate::app::{App, KeyedPreview, Prompt, PromptKind};
use crate::text::{width, wrap};

/// Lines an error in the prompt may take before it is cut.
const ERROR_LINES: usize = 4;

pub fn draw(frame: &mut Frame, app: &App, prompt: &Prompt, area: Rect) {
    let title = match prompt.kind() {
        PromptKind::Add { .. }
        | PromptKind::AddNeighbour { .. }
        | PromptKind::AddKeyed
        | PromptKind::NameKeyed { .. } => " Add contact ",
        PromptKind::Rename { .. } => " Rename contact ",
        PromptKind::Remove { .. } => " Remove contact ",
        PromptKind::Forget { .. } => " Remove from the list ",
    };
    let keys = if prompt.is_confirm() {
        " y yes · n no "
    } else {
        " Enter confirm · Esc cancel "
    };
    // A contact string is long: give it room to show whole where the screen allows, and
    // leave a column of the panes on each side.
    let (least, most) = if matches!(prompt.kind(), PromptKind::AddKeyed) {
        (84, area.width.saturating_sub(4))
    } else {
        (36, area.width)
    };
    let wanted = width(prompt.question()).max(width(keys) + 2).max(least) + 4;
    let popup_width = u16::try_from(wanted)
        .unwrap_or(u16::MAX)
        .min(most.max(1))
        .min(area.width);
    // Question, typed text, and what is wrong with it (wrapped, as errors can be long).
    let text_width = usize::from(popup_width.saturating_sub(4));
    let error = prompt.error().map(|e| {
        let mut lines = wrap(e, text_width);
        if lines.len() > ERROR_LINES {
            // The rest joins the last line, which `fit` then cuts with an ellipsis.
            let rest = lines.split_off(ERROR_LINES - 1).join(" ");
            lines.push(fit(&rest, text_width).trim_end().to_owned());
        }
        lines
    });
    let lines = if prompt.is_confirm() {
        1
    } else {
        2 + error.as_ref().map_or(1, Vec::len)
    };
    let height = u16::try_from(lines + 2).unwrap_or(u16::MAX);
    let popup = area.centered(
        Constraint::Length(popup_width),
        Constraint::Length(height.min(area.height)),
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
    if let Some(error) = error
        && inner.height >= 3
    {
        let room = Rect::new(inner.x, inner.y + 2, inner.width, inner.height - 2);
        let lines: Vec<Line> = error
            .into_iter()
            .map(|l| Line::styled(l, Style::new().fg(Color::Red)))
            .collect();
        frame.render_widget(Paragraph::new(lines), room);
    } else if let Some(preview) = app.keyed_preview()
        && inner.height >= 3
    {
        // The start of a long string scrolls out of the field: say what Enter will do with
        // it, exactly as it will (an unkeyed contact gets the key rather than a twin).
        let (text, color) = match preview {
            KeyedPreview::GivesKey { name, key } => {
                (format!("→ gives {name} its key {key}…"), Color::Green)
            }
            KeyedPreview::Adds { name, addrs, key } => (
                format!("→ adds {name} at {addrs} · key {key}…"),
                Color::Green,
            ),
            KeyedPreview::Refused(why) => (format!("✗ {why}"), Color::Yellow),
        };
        let line = Line::styled(
            fit(&text, width(&text).min(text_width)),
            Style::new().fg(color),
        );
        frame.render_widget(
            Paragraph::new(line),
            Rect::new(inner.x, inner.y + 2, inner.width, 1),
        );
    }
}
