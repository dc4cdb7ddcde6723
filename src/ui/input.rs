//! The message being written. Editing, wide-character cursor and soft wrapping come from
//! ratatui-textarea; this only frames it.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui::widgets::{Padding, Paragraph};

use super::pane;
use crate::app::{App, Focus};

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let title = match app.open_peer() {
        Some(peer) => format!(" Message to {} ", peer.name()),
        None => " Message ".to_string(),
    };
    let block = pane(app, Focus::Input)
        .title(title)
        .padding(Padding::horizontal(1));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if app.open().is_none() && app.input().is_empty() {
        let hint = Line::styled(
            "Open a conversation to write.",
            Style::new().fg(Color::DarkGray),
        );
        frame.render_widget(Paragraph::new(hint), inner);
        return;
    }
    frame.render_widget(app.input(), inner);
    if app.focus() == Focus::Input && !app.help_open() {
        // Put the terminal's own cursor on the textarea's, so input methods (CJK) place
        // their candidate window where the text goes.
        let cursor = app.input().screen_cursor();
        let (top, _) = app.input().scroll_offset();
        let row = cursor.row.saturating_sub(top as usize);
        let x = inner
            .x
            .saturating_add(u16::try_from(cursor.col).unwrap_or(u16::MAX));
        let y = inner
            .y
            .saturating_add(u16::try_from(row).unwrap_or(u16::MAX));
        if x < inner.right() && y < inner.bottom() {
            frame.set_cursor_position(Position::new(x, y));
        }
    }
}
