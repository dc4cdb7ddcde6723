//! The message being written. Editing, wide-character cursor and soft wrapping come from
//! ratatui-textarea; this only frames it.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::conversation::name_with_trust;
use super::{pane, title_lead};
use crate::app::{App, Focus, Trust};
use crate::text::width;

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let lead = title_lead(app, Focus::Input);
    let group = app.open_group();
    let title = match app.open_peer() {
        _ if app.replying().is_some() => {
            let quote = app.replying().map_or("", crate::app::Reply::shown);
            let to = format!("{lead}↳ replying to ");
            let tail = " · Esc cancels ";
            let room = usize::from(area.width).saturating_sub(3 + width(&to) + width(tail));
            Line::from(vec![
                Span::raw(to),
                Span::styled(
                    crate::ui::fit(quote, width(quote).min(room))
                        .trim_end()
                        .to_owned(),
                    Style::new().add_modifier(ratatui::style::Modifier::ITALIC),
                ),
                Span::styled(tail, Style::new().fg(Color::DarkGray)),
            ])
        }
        None if group.is_some() => {
            let name = group.map_or("", crate::app::Group::name);
            let to = format!("{lead}Message to # ");
            let room = usize::from(area.width).saturating_sub(3 + width(&to));
            Line::from(vec![
                Span::raw(to),
                Span::raw(
                    crate::ui::fit(name, width(name).min(room))
                        .trim_end()
                        .to_owned(),
                ),
                Span::raw(" "),
            ])
        }
        Some(peer) => {
            let to = format!("{lead}Message to ");
            // Inside the corners, the words before the name, a blank at the end.
            let room = usize::from(area.width).saturating_sub(3 + width(&to));
            let mut spans = vec![Span::raw(to)];
            spans.extend(name_with_trust(
                peer.name(),
                Style::new(),
                app.trust(peer),
                peer.is_ipmsg(),
                room,
            ));
            spans.push(Span::raw(" "));
            Line::from(spans)
        }
        None => Line::raw(format!("{lead}Message ")),
    };
    let block = pane(app, Focus::Input)
        .title(title)
        .padding(crate::layout::TEXT_PADDING);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if let Some(group) = group.filter(|g| !g.is_joined())
        && app.input().is_empty()
    {
        let text = if group.is_invitation() {
            "Answer the invitation first: y joins, n declines."
        } else {
            "You are no longer in this group."
        };
        let hint = Line::styled(text, Style::new().fg(Color::DarkGray));
        frame.render_widget(Paragraph::new(hint), inner);
        return;
    }
    if app.open().is_none() && group.is_none() && app.input().is_empty() {
        let hint = Line::styled(
            "Open a conversation to write.",
            Style::new().fg(Color::DarkGray),
        );
        frame.render_widget(Paragraph::new(hint), inner);
        return;
    }
    let refused = app
        .open_peer()
        .is_some_and(|peer| app.trust(peer) == Trust::Refused);
    if refused && app.input().is_empty() {
        // In place of the placeholder, which would offer to send.
        let hint = Line::styled(
            "No key, so require_keys refuses to send here.",
            Style::new().fg(Color::Red),
        );
        frame.render_widget(Paragraph::new(hint), inner);
    } else {
        frame.render_widget(app.input(), inner);
    }
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
