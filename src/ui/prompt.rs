//! A small box in the middle of the screen asking for a name, a contact string, or for yes
//! or no.

use ratatui::Frame;
use ratatui::layout::{Constraint, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
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
        PromptKind::SendFile { .. } => " Send a file ",
        PromptKind::SaveFile { .. } => " Accept a file ",
        PromptKind::LeaveGroup { .. } => " Leave the group ",
        PromptKind::Search { .. } => " Search ",
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
    } else if prompt.is_path() {
        // Paths are long too.
        (64, area.width.saturating_sub(4))
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
    let listed = match (&error, prompt.completions()) {
        (None, Some((candidates, current))) => {
            Some(candidate_lines(candidates, current, text_width))
        }
        _ => None,
    };
    let lines = if prompt.is_confirm() {
        1
    } else {
        2 + error
            .as_ref()
            .map(Vec::len)
            .or(listed.as_ref().map(Vec::len))
            .unwrap_or(1)
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
    } else if let Some(listed) = listed
        && inner.height >= 3
    {
        let room = Rect::new(inner.x, inner.y + 2, inner.width, inner.height - 2);
        frame.render_widget(Paragraph::new(listed), room);
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

/// Lines the completions take at most before the rest is cut.
const CANDIDATE_LINES: usize = 6;

/// The names Tab found, side by side as `ls` puts them, the one in the text reversed; what
/// does not fit in [`CANDIDATE_LINES`] ends in `… and N more`.
fn candidate_lines(
    candidates: &[String],
    current: Option<usize>,
    room: usize,
) -> Vec<Line<'static>> {
    let dim = Style::new().fg(Color::DarkGray);
    let mut lines: Vec<Line> = Vec::new();
    let mut line: Vec<Span> = Vec::new();
    let mut used = 0;
    for (i, name) in candidates.iter().enumerate() {
        let shown = fit(name, width(name).min(room));
        let w = width(&shown);
        if used > 0 && used + 2 + w > room {
            lines.push(Line::from(std::mem::take(&mut line)));
            used = 0;
            if lines.len() == CANDIDATE_LINES - 1 {
                let more = candidates.len() - i;
                lines.push(Line::styled(format!("… and {more} more"), dim));
                return lines;
            }
        }
        if used > 0 {
            line.push(Span::raw("  "));
            used += 2;
        }
        let style = if current == Some(i) {
            Style::new().add_modifier(Modifier::REVERSED)
        } else if name.ends_with('/') {
            Style::new().fg(Color::Blue).add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        line.push(Span::styled(shown, style));
        used += w;
    }
    if !line.is_empty() {
        lines.push(Line::from(line));
    }
    lines
}
