//! The contact list: who there is to talk to, who wrote, who talks plain UDP, and who else
//! is on this network.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{fit, focused, pane, seen_label, title_lead};
use crate::app::{App, Focus, ListLine, Nearby, NearbyKind, Peer, Trust};
use crate::text::width;

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let title = format!("{}Contacts ", title_lead(app, Focus::Contacts));
    let block = pane(app, Focus::Contacts).title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let row_width = inner.width as usize;

    let list = app.list_lines();
    let height = inner.height as usize;
    // Scrolled as the App says, so that a click lands on the row drawn under it.
    let top = app.list_top(&list, height);
    let open_group = app.open_group().map(crate::app::Group::id);
    let mut said_unencrypted = false;
    let mut visible = Vec::with_capacity(height);
    for (at, line) in list.into_iter().enumerate() {
        if at >= top + height {
            break;
        }
        // Lines above the view are built too when they tell the next one something.
        let drawn = match line {
            ListLine::Divider(label) => divider(label, row_width),
            ListLine::Peer(index) => {
                let Some(peer) = app.peers().get(index) else {
                    continue;
                };
                let (row, unencrypted) = row(app, index, peer, row_width);
                said_unencrypted = unencrypted;
                row
            }
            ListLine::About(index) => {
                let Some(nearby) = app.peers().get(index).and_then(Peer::neighbour) else {
                    continue;
                };
                highlight(app, index, about(nearby, !said_unencrypted, row_width))
            }
            ListLine::Group(index) => {
                let Some(group) = app.groups().at(index - app.peers().len()) else {
                    continue;
                };
                let open = open_group == Some(group.id());
                highlight(app, index, super::group::row(app, group, row_width, open))
            }
        };
        if at >= top {
            visible.push(drawn);
        }
    }
    frame.render_widget(Paragraph::new(visible), inner);
}

/// `─ label ─────`, as wide as the list.
fn divider(label: &str, row_width: usize) -> Line<'static> {
    let text = format!("─ {label} ");
    let rule = "─".repeat(row_width.saturating_sub(width(&text)));
    Line::styled(
        fit(&format!("{text}{rule}"), row_width),
        Style::new().fg(Color::DarkGray),
    )
}

/// ` ● name ?  seen 14:02  3 `: presence dot (`→` for a plain peer), name, its
/// trust mark, then what else there is to know (when an offline contact was last seen, or
/// that it talks plain UDP) and the unread count. Entries not in contacts have no dot:
/// nobody watches their presence.
///
/// A peer without a key is marked `unverified`, or `?` where that does not fit; one spoken
/// to in IP Messenger `unencrypted`, which says more; with `require_keys` it is refused
/// instead: `✗` for a dot, and `no key` where that fits. The mark is never left out: the
/// name is cut first. Also returns whether the row said `unencrypted`.
///
/// Someone on this network has a dot too: discovery tells when they come and go.
fn row(app: &App, index: usize, peer: &Peer, row_width: usize) -> (Line<'static>, bool) {
    let dim = Style::new().fg(Color::DarkGray);
    let trust = app.trust(peer);
    // Unread messages, then files: `⇣2` offers waiting for an answer, `⇅` one under way.
    let (asking, moving) = app.file_counts(peer.id());
    let mut badges = Vec::new();
    if peer.unread() > 0 {
        badges.push(peer.unread().to_string());
    }
    if asking > 0 {
        badges.push(format!("⇣{asking}"));
    } else if moving > 0 {
        badges.push("⇅".to_owned());
    }
    let count = (!badges.is_empty()).then(|| format!(" {} ", badges.join(" ")));
    let count_width = count.as_deref().map_or(0, |c| 1 + width(c));
    let dot = if trust == Trust::Refused {
        Some(Span::styled("✗ ", Style::new().fg(Color::Red)))
    } else if !peer.is_listed() && peer.neighbour().is_none() {
        None
    } else if peer.is_plain() {
        // Plain peers never answer, so they have no presence: the arrow of a message "sent
        // plain" stands in for it.
        Some(Span::styled("→ ", dim))
    } else {
        Some(match peer.online() {
            Some(true) => Span::styled("● ", Style::new().fg(Color::Green)),
            _ if peer.reachable() => Span::styled("◐ ", Style::new().fg(Color::Yellow)),
            Some(false) => Span::styled("○ ", dim),
            None => Span::styled("· ", dim),
        })
    };
    let lead = if dot.is_some() { 3 } else { 1 };
    let name = width(peer.name());
    // The name matters more than the tags: the conversation header says all of it too.
    let extra = if trust == Trust::Refused {
        None
    } else if peer.is_plain() {
        Some(" plain".to_string())
    } else if peer.is_listed() && peer.online() == Some(false) && !peer.reachable() {
        peer.link()
            .and_then(|link| link.last_seen)
            .map(|seen| format!(" seen {}", seen_label(app, seen, false)))
    } else {
        // Which of several candidates answered: the same network, or across the internet.
        peer.path_kind().map(|kind| format!(" {}", kind.label()))
    };
    let (long, short) = trust_marks(trust, peer.is_ipmsg());
    let mark_width = |mark: &Option<Span<'static>>| mark.as_ref().map_or(0, Span::width);
    // One blank column before the border, except after an unread count, whose box has room
    // of its own: a row that ends in one may fill the width.
    let blank_wanted = usize::from(count.is_none());
    // The fullest row that fits, trust mark first; else the short mark and a cut name.
    let (mark, extra) = [
        (long.clone(), extra.clone()),
        (short.clone(), extra.clone()),
        (long, None),
        (short.clone(), None),
    ]
    .into_iter()
    .find(|(mark, extra)| {
        let extra_width = extra.as_deref().map_or(0, width);
        lead + name + mark_width(mark) + extra_width + count_width + blank_wanted <= row_width
    })
    .unwrap_or((short, None));
    let said_unencrypted = mark
        .as_ref()
        .is_some_and(|m| m.content.contains("unencrypted"));
    let extra_width = extra.as_deref().map_or(0, width);
    let used = lead + mark_width(&mark) + extra_width + count_width;
    let blank = usize::from(blank_wanted == 1 || used + name != row_width);
    let name_width = row_width.saturating_sub(used + blank);
    let shown = fit(peer.name(), name.min(name_width));
    let pad = name_width.saturating_sub(width(&shown));

    let open = app.open() == Some(index);
    let mut name_style = Style::new();
    if open || peer.unread() > 0 {
        name_style = name_style.add_modifier(Modifier::BOLD);
    }
    if !peer.is_listed() {
        name_style = name_style.add_modifier(Modifier::ITALIC);
    }
    let mut spans = vec![Span::raw(" ")];
    spans.extend(dot);
    spans.push(Span::styled(shown, name_style));
    spans.extend(mark);
    spans.push(Span::raw(" ".repeat(pad)));
    if let Some(extra) = extra {
        spans.push(Span::styled(extra, dim));
    }
    if let Some(count) = count {
        spans.extend(unread_badge(count));
    }
    spans.push(Span::raw(" ".repeat(blank)));
    (highlight(app, index, Line::from(spans)), said_unencrypted)
}

/// The unread count after a row's name, black on yellow, a space before it.
pub(super) fn unread_badge(count: String) -> [Span<'static>; 2] {
    let style = Style::new()
        .fg(Color::Black)
        .bg(Color::Yellow)
        .add_modifier(Modifier::BOLD);
    [Span::raw(" "), Span::styled(count, style)]
}

/// A row of entry `index`, marked if the cursor is on it.
fn highlight(app: &App, index: usize, line: Line<'static>) -> Line<'static> {
    // One cursor: bright while the list has the keys; otherwise a quiet band on the same
    // row, which is then the open conversation (the cursor follows it out of the list).
    if index != app.selected() {
        line
    } else if focused(app, Focus::Contacts) {
        line.patch_style(Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD))
    } else {
        line.patch_style(Style::new().bg(Color::Indexed(238)))
    }
}

/// The line under someone on this network, under the name: what was found of them.
/// `discovered` for a qqchat; for an IP Messenger user the client, `unencrypted` unless the
/// name's row said it already, the group and `away`. What does not fit goes, least needed
/// first: the group (cut before it goes), `away`, the client; `unencrypted` always stays.
fn about(nearby: &Nearby, unencrypted: bool, row_width: usize) -> Line<'static> {
    let dim = Style::new().fg(Color::DarkGray);
    let warning = Style::new().fg(Color::Yellow);
    // (text, style, how much it is needed: 0 always stays), in the order shown.
    let mut tags: Vec<(String, Style, u8)> = Vec::new();
    match nearby.kind() {
        NearbyKind::Qqchat { .. } => tags.push(("discovered".to_owned(), dim, 0)),
        NearbyKind::IpMsg {
            client,
            group,
            absent,
        } => {
            tags.push(((*client).to_owned(), dim, 1));
            if unencrypted {
                tags.push(("unencrypted".to_owned(), warning, 0));
            }
            if !group.is_empty() {
                tags.push((group.clone(), dim, GROUP));
            }
            if *absent {
                tags.push(("away".to_owned(), warning, 2));
            }
        }
    }
    // Under the name, and one blank column before the border.
    let room = row_width.saturating_sub(4);
    let used = |tags: &[(String, Style, u8)]| {
        tags.iter().map(|(t, _, _)| width(t)).sum::<usize>() + tags.len().saturating_sub(1)
    };
    while used(&tags) > room {
        let least = tags
            .iter()
            .enumerate()
            .filter(|(_, (_, _, need))| *need > 0)
            .max_by_key(|(_, (_, _, need))| *need)
            .map(|(i, _)| i);
        let Some(least) = least else { break };
        // The group may show cut, if a few letters of it fit.
        let over = used(&tags) - room;
        let left = width(&tags[least].0).saturating_sub(over);
        if tags[least].2 == GROUP && left >= 3 {
            tags[least].0 = fit(&tags[least].0, left).trim_end().to_owned();
            tags[least].2 = GROUP - 1;
            continue;
        }
        tags.remove(least);
    }
    let mut spans = vec![Span::raw("   ")];
    for (i, (text, style, _)) in tags.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(" "));
        }
        spans.push(Span::styled(text, style));
    }
    let shown: usize = spans.iter().map(Span::width).sum();
    if shown > row_width {
        // Narrower than the marks that always stay: cut, as a name is.
        let text: String = spans.iter().map(|s| s.content.as_ref()).collect();
        return Line::styled(fit(&text, row_width), warning);
    }
    spans.push(Span::raw(" ".repeat(row_width - shown)));
    Line::from(spans)
}

/// How much the group under someone on this network is needed: least of all.
const GROUP: u8 = 4;

/// The mark after a name, long and short: none for a keyed contact.
fn trust_marks(trust: Trust, unencrypted: bool) -> (Option<Span<'static>>, Option<Span<'static>>) {
    let warning = Style::new().fg(Color::Yellow);
    let alarm = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
    match trust {
        Trust::Keyed => (None, None),
        Trust::Verified => {
            let mark = Span::styled(" ✓", Style::new().fg(Color::Green));
            (Some(mark.clone()), Some(mark))
        }
        Trust::KeyChanged => (
            Some(Span::styled(" key changed!", alarm)),
            Some(Span::styled(" ⚠", alarm)),
        ),
        Trust::ClaimsContact => (
            Some(Span::styled(" not your contact!", alarm)),
            Some(Span::styled(" ⚠", alarm)),
        ),
        Trust::Unverified if unencrypted => (
            Some(Span::styled(" unencrypted", warning)),
            Some(Span::styled(" ?", warning.add_modifier(Modifier::BOLD))),
        ),
        Trust::Unverified => (
            Some(Span::styled(
                " unverified",
                warning.add_modifier(Modifier::DIM),
            )),
            Some(Span::styled(" ?", warning.add_modifier(Modifier::BOLD))),
        ),
        // The ✗ in place of the dot says it already.
        Trust::Refused => (
            Some(Span::styled(" no key", Style::new().fg(Color::Red))),
            None,
        ),
    }
}
