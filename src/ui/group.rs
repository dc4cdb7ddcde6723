//! A group's conversation: who wrote each message (a contact by their name, anyone else by
//! the name they were added under, marked unverified), membership changes as dim lines, a
//! line where earlier messages are missing, and how far each own message got (`✓ 2/3`).
//! An invitation shows who sent it and who is in the group, to answer with y or n. Also
//! the dialogs that make a group and add or remove its members.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Padding, Paragraph};

use super::{fit, pane, title_lead};
use crate::app::{App, DialogKind, Focus, Group, GroupDialog};
use crate::engine::{GroupItem, GroupItemKind};
use crate::layout::{Columns, body, hint_fits};
use crate::store::GroupStatus;
use crate::text::width as text_width;

/// The line before an item whose predecessors have not all arrived.
pub const GAP: &str = "┄ earlier messages missing ┄";

const fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

/// The pane's frame, titled `# name · 3 members`, and what became of this user in it.
fn block(app: &App, group: &Group) -> Block<'static> {
    let lead = title_lead(app, Focus::Conversation);
    let mut title = vec![
        Span::raw(lead),
        Span::styled(
            format!("# {}", group.name()),
            Style::new().add_modifier(Modifier::BOLD),
        ),
    ];
    let count = group.members().len();
    let members = if count == 1 { "member" } else { "members" };
    title.push(Span::styled(format!(" · {count} {members}"), dim()));
    let state = match group.status() {
        GroupStatus::Invited => Some(" · invitation"),
        GroupStatus::Left => Some(" · you left"),
        GroupStatus::Removed => Some(" · you were removed"),
        GroupStatus::Declined => Some(" · declined"),
        GroupStatus::Joined => None,
    };
    if let Some(state) = state {
        title.push(Span::styled(state, Style::new().fg(Color::Yellow)));
    }
    title.push(Span::raw(" "));
    pane(app, Focus::Conversation)
        .padding(crate::layout::TEXT_PADDING)
        .title(Line::from(title))
}

pub fn draw(frame: &mut Frame, app: &App, group: &Group, area: Rect) {
    let block = block(app, group);
    let inner = block.inner(area);
    if group.is_invitation() {
        frame.render_widget(block, area);
        frame.render_widget(Paragraph::new(invitation(app, group)), inner);
        return;
    }
    let count = group.shown_len();
    if count == 0 {
        frame.render_widget(block, area);
        let hint = Line::styled("No messages yet. Say hello!", dim());
        frame.render_widget(Paragraph::new(hint), inner);
        return;
    }
    let height = usize::from(inner.height);
    let columns = app.group_columns(group, usize::from(inner.width));
    let chosen = app
        .group_chosen()
        .filter(|_| app.focus() == Focus::Conversation);
    // Walk back from the newest item until the view and the lines below it are full.
    let wanted = app.scroll() + height;
    let mut walked: Vec<(usize, Vec<Line>)> = Vec::new();
    let mut total = 0;
    for index in (0..count).rev() {
        let lines = item_lines(
            app,
            group,
            &columns,
            index,
            inner.width,
            chosen == Some(index),
        );
        total += lines.len();
        walked.push((index, lines));
        if total >= wanted {
            break;
        }
    }
    let scroll = app.scroll().min(total.saturating_sub(height));
    let bottom = total - scroll;
    let top = bottom.saturating_sub(height);
    let mut lines = Vec::with_capacity(height);
    let mut picked = Vec::with_capacity(height);
    let mut start = 0;
    for (index, laid_out) in walked.into_iter().rev() {
        let end = start + laid_out.len();
        if end > top {
            let skip = top.saturating_sub(start);
            let take = end.min(bottom) - start.max(top);
            lines.extend(laid_out.into_iter().skip(skip).take(take));
            picked.resize(lines.len(), chosen == Some(index));
        }
        if end >= bottom {
            break;
        }
        start = end;
    }
    super::conversation::draw_lines(frame, block, area, &lines, &picked, scroll);
}

/// How an author's name looks: this user, a contact (keyed), or a name only the member
/// who added them gave (unverified, marked `?`).
fn author(app: &App, group: &Group, item: &GroupItem) -> (String, Style) {
    if item.mine {
        return (
            app.me().to_owned(),
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        );
    }
    let (name, verified) = app.member_label(group, &item.author);
    if verified {
        (
            name,
            Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
        )
    } else {
        (
            format!("{name}?"),
            Style::new()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
        )
    }
}

/// The lines item `index` of those shown takes in a pane `width` wide: the gap line and
/// the day line where they go, then the item. As many as [`App::group_item_height`] counts.
pub fn item_lines(
    app: &App,
    group: &Group,
    columns: &Columns,
    index: usize,
    width: u16,
    picked: bool,
) -> Vec<Line<'static>> {
    let width = usize::from(width);
    let Some(item) = group.shown_at(index) else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    if item.gap_before {
        lines.push(Line::styled(GAP, Style::new().fg(Color::Yellow)).alignment(Alignment::Center));
    }
    if app.group_starts_day(group, index)
        && let Some(at) = item.sent_at
    {
        lines.push(super::conversation::day_line(
            app.tz().to_datetime(at).date(),
        ));
    }
    if app.group_unread_marker() == Some(index) {
        lines.push(super::conversation::new_line(width));
    }
    let first = lines.len();
    let time = app.group_time(item.sent_at);
    let (name, name_style) = author(app, group, item);
    let text = match &item.kind {
        GroupItemKind::Text(text) => text,
        kind => {
            let said = match kind {
                GroupItemKind::Created { name: group_name } => {
                    format!("{name} made the group # {group_name}")
                }
                GroupItemKind::Added { key, name: added } => {
                    let (shown, verified) = app.member_label(group, key);
                    let shown = if verified { shown } else { added.clone() };
                    format!("{name} invited {shown}")
                }
                GroupItemKind::Removed { key } => {
                    let (shown, _) = app.member_label(group, key);
                    format!("{name} removed {shown}")
                }
                GroupItemKind::Left => format!("{name} left"),
                GroupItemKind::Text(_) => String::new(),
            };
            let line = format!("{time} · {said}");
            lines.push(Line::styled(
                fit(&line, text_width(&line).min(width)),
                dim(),
            ));
            if picked {
                super::conversation::band(&mut lines[first..], width);
            }
            return lines;
        }
    };
    let shown = fit(&name, text_width(&name).min(columns.name));
    let pad = columns.name.saturating_sub(text_width(&shown));
    let head = vec![
        Span::styled(time, dim()),
        Span::raw(" "),
        Span::styled(shown, name_style),
        Span::raw(" ".repeat(pad + 3)),
    ];
    let (quote, text) = crate::text::split_reply(text);
    if let Some(quote) = quote {
        lines.push(super::conversation::quote_line(
            quote,
            columns.indent,
            width,
        ));
    }
    let mut body = body(columns, text);
    let last_text = body.last().cloned().unwrap_or_default();
    let indent = " ".repeat(columns.indent);
    // The words of a search under way in this group stand out.
    let words = app
        .conversation_search()
        .map(crate::app::ConversationSearch::words)
        .unwrap_or_default();
    let text_spans = |line: String| super::search::highlight(&line, Style::new(), &words);
    if columns.beside {
        let mut spans = head;
        spans.extend(text_spans(body.remove(0)));
        lines.push(Line::from(spans));
    } else {
        lines.push(Line::from(head));
    }
    for rest in body {
        let mut spans = vec![Span::raw(indent.clone())];
        spans.extend(text_spans(rest));
        lines.push(Line::from(spans));
    }
    if let Some(tail) = app.delivery_tail(group, item) {
        let (have, lack) = group.delivery(item);
        let style = if lack.is_empty() {
            Style::new().fg(Color::Green)
        } else if have.is_empty() {
            dim()
        } else {
            Style::new().fg(Color::Yellow)
        };
        let fits = hint_fits(columns, &last_text, &tail, width);
        let tail = Span::styled(tail, style);
        if fits {
            if let Some(last) = lines.last_mut() {
                last.spans.push(Span::raw("  "));
                last.spans.push(tail);
            }
        } else {
            lines.push(Line::from(vec![Span::raw(indent), tail]));
        }
    }
    if picked {
        super::conversation::band(&mut lines[first..], width);
    }
    lines
}

/// What an invitation says: who sent it, who is in the group, and how to answer.
fn invitation(app: &App, group: &Group) -> Vec<Line<'static>> {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let inviter = group.view().inviter.map(|k| app.member_label(group, &k));
    let mut lines = vec![Line::raw("")];
    let mut head = Vec::new();
    match inviter {
        Some((name, verified)) => {
            let style = if verified {
                Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD)
            } else {
                Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
            };
            head.push(Span::styled(name, style));
            head.push(Span::raw(" invites you to "));
        }
        None => head.push(Span::raw("You are invited to ")),
    }
    head.push(Span::styled(format!("# {}", group.name()), bold));
    lines.push(Line::from(head));
    lines.push(Line::raw(""));
    lines.push(Line::styled("Members", bold));
    for (key, _) in group.members() {
        let (name, verified) = app.member_label(group, key);
        let mut spans = vec![Span::raw("  "), Span::raw(name)];
        if *key == group.view().me {
            spans.push(Span::styled(" (you)", dim()));
        } else if !verified {
            spans.push(Span::styled(
                " unverified: not your contact",
                Style::new().fg(Color::Yellow),
            ));
        }
        if group.view().creator == Some(*key) {
            spans.push(Span::styled(" · made the group", dim()));
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::raw(""));
    let key = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
    lines.push(Line::from(vec![
        Span::styled("y", key),
        Span::raw(" join · "),
        Span::styled("n", key),
        Span::raw(" decline"),
    ]));
    lines
}

/// A group's row in the contact list: `# team  3` with its unread count, or `✉ team
/// invited` for an invitation; a group left is dim.
pub fn row(app: &App, group: &Group, row_width: usize, open: bool) -> Line<'static> {
    let (lead, lead_style) = if group.is_invitation() {
        (
            "✉ ",
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        )
    } else {
        ("# ", dim())
    };
    let extra = match group.status() {
        GroupStatus::Invited => " invited".to_owned(),
        GroupStatus::Left => " left".to_owned(),
        GroupStatus::Removed => " removed".to_owned(),
        GroupStatus::Joined | GroupStatus::Declined => {
            // The member count where it fits beside the whole name.
            let count = format!(" {} members", group.members().len());
            let badge = if group.unread() > 0 { 5 } else { 1 };
            let short = format!(" ({})", group.members().len());
            if 3 + text_width(group.name()) + text_width(&count) + badge <= row_width {
                count
            } else {
                // Not a bare number, which would read as an unread count.
                short
            }
        }
    };
    let extra_style = if group.is_invitation() {
        Style::new().fg(Color::Yellow)
    } else {
        dim()
    };
    let count = (group.unread() > 0).then(|| format!(" {} ", group.unread()));
    let count_width = count.as_deref().map_or(0, |c| 1 + text_width(c));
    let blank = usize::from(count.is_none());
    let used = 3 + text_width(&extra) + count_width + blank;
    let name_width = row_width.saturating_sub(used);
    let shown = fit(group.name(), text_width(group.name()).min(name_width));
    let pad = name_width.saturating_sub(text_width(&shown));
    let mut name_style = Style::new();
    if open || group.unread() > 0 || group.is_invitation() {
        name_style = name_style.add_modifier(Modifier::BOLD);
    }
    if matches!(group.status(), GroupStatus::Left | GroupStatus::Removed) {
        name_style = name_style.fg(Color::DarkGray);
    }
    let _ = app;
    let mut spans = vec![
        Span::raw(" "),
        Span::styled(lead, lead_style),
        Span::styled(shown, name_style),
        Span::raw(" ".repeat(pad)),
        Span::styled(extra, extra_style),
    ];
    if let Some(count) = count {
        spans.extend(super::contacts::unread_badge(count));
    }
    spans.push(Span::raw(" ".repeat(blank)));
    Line::from(spans)
}

/// The dialog of a new group (a name and a checklist), or of a member to add or remove.
pub fn draw_dialog(frame: &mut Frame, app: &App, dialog: &GroupDialog, area: Rect) {
    let group_name = |id| app.groups().get(id).map_or("", Group::name).to_owned();
    let (title, keys) = match dialog.kind {
        DialogKind::NewGroup => (
            " New group ".to_owned(),
            " Space tick · Tab name/list · Enter create · Esc cancel ",
        ),
        DialogKind::AddMember(id) => (
            format!(" Add to # {} ", group_name(id)),
            " ↑↓ pick · Enter invite · Esc cancel ",
        ),
        DialogKind::RemoveMember(id) => (
            format!(" Remove from # {} ", group_name(id)),
            " ↑↓ pick · Enter remove · Esc cancel ",
        ),
    };
    let cyan = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
    let mut lines: Vec<Line> = Vec::new();
    let mut name_row = None;
    if dialog.name().is_some() {
        name_row = Some(lines.len());
        lines.push(Line::raw(""));
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            "Members (contacts with a key):",
            Style::new().add_modifier(Modifier::BOLD),
        ));
    } else {
        let what = match dialog.kind {
            DialogKind::RemoveMember(_) => "Who leaves the group:",
            _ => "Whom to invite (contacts with a key):",
        };
        lines.push(Line::styled(
            what,
            Style::new().add_modifier(Modifier::BOLD),
        ));
    }
    let list_top = lines.len();
    for (i, choice) in dialog.choices.iter().enumerate() {
        let here = i == dialog.cursor && !dialog.on_name();
        let mark = match dialog.kind {
            DialogKind::NewGroup if choice.ticked => "[x] ",
            DialogKind::NewGroup => "[ ] ",
            _ => "",
        };
        let mut line = Line::from(vec![
            Span::styled(if here { "▸ " } else { "  " }, cyan),
            Span::raw(mark),
            Span::raw(choice.name.clone()),
        ]);
        if here {
            line = line.patch_style(Style::new().add_modifier(Modifier::REVERSED));
        }
        lines.push(line);
    }
    if let Some(error) = dialog.error() {
        lines.push(Line::styled(error.to_owned(), Style::new().fg(Color::Red)));
    }
    let widest = lines
        .iter()
        .map(Line::width)
        .chain([text_width(&title), text_width(keys)])
        .max()
        .unwrap_or(0);
    let popup_width = u16::try_from(widest.max(36) + 6)
        .unwrap_or(u16::MAX)
        .min(area.width);
    let height = u16::try_from(lines.len() + 2)
        .unwrap_or(u16::MAX)
        .min(area.height);
    let popup = area.centered(Constraint::Length(popup_width), Constraint::Length(height));
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(Color::Cyan))
        .title(title)
        .title_style(cyan)
        .title_bottom(Line::raw(keys).right_aligned())
        .padding(Padding::horizontal(1));
    let inner = block.inner(popup);
    frame.render_widget(Clear, popup);
    frame.render_widget(block, popup);
    // Keep the cursor's row in view on a short screen.
    let skip = (list_top + dialog.cursor + 1).saturating_sub(usize::from(inner.height));
    let skip = if dialog.on_name() { 0 } else { skip };
    let visible: Vec<Line> = lines.into_iter().skip(skip).collect();
    frame.render_widget(Paragraph::new(visible), inner);
    if let (Some(row), Some(name), 0) = (name_row, dialog.name(), skip) {
        let label = "Name: ";
        let y = inner.y + u16::try_from(row).unwrap_or(0);
        if y < inner.bottom() {
            let style = if dialog.on_name() {
                cyan
            } else {
                Style::new().add_modifier(Modifier::BOLD)
            };
            frame.render_widget(
                Paragraph::new(Span::styled(label, style)),
                Rect::new(inner.x, y, inner.width, 1),
            );
            let x = inner.x + 6;
            let field = Rect::new(x, y, inner.width.saturating_sub(6), 1);
            frame.render_widget(name, field);
            if dialog.on_name() {
                let cursor = name.screen_cursor();
                let (_, left) = name.scroll_offset();
                let col = cursor.col.saturating_sub(left as usize);
                let cx = field
                    .x
                    .saturating_add(u16::try_from(col).unwrap_or(u16::MAX));
                if cx < field.right() {
                    frame.set_cursor_position(Position::new(cx, y));
                }
            }
        }
    }
}
