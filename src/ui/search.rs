//! What a search found: the matches of every conversation as a list over the panes, and the
//! words highlighted wherever a searched conversation shows them.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Padding, Paragraph};

use super::fit;
use crate::app::{App, ResultRow, SearchResults};
use crate::text::{one_line, sanitize, width};

/// Widest the list gets.
const LIST_WIDTH: u16 = 100;

/// How a matched part of a text stands out: readable on dark and light themes.
fn found_style() -> Style {
    Style::new()
        .fg(Color::Black)
        .bg(Color::Yellow)
        .add_modifier(Modifier::BOLD)
}

/// Where the words are in `text`, in any case, as byte ranges in order, overlaps joined.
pub fn matches(text: &str, words: &[&str]) -> Vec<(usize, usize)> {
    let lower: Vec<(usize, char)> = text
        .char_indices()
        .map(|(i, c)| (i, c.to_lowercase().next().unwrap_or(c)))
        .collect();
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for word in words {
        let needle: Vec<char> = word
            .chars()
            .map(|c| c.to_lowercase().next().unwrap_or(c))
            .collect();
        if needle.is_empty() {
            continue;
        }
        for start in 0..lower.len() {
            let fits = lower.len() - start >= needle.len()
                && lower[start..start + needle.len()]
                    .iter()
                    .zip(&needle)
                    .all(|((_, a), b)| a == b);
            if fits {
                let end = lower
                    .get(start + needle.len())
                    .map_or(text.len(), |&(i, _)| i);
                ranges.push((lower[start].0, end));
            }
        }
    }
    ranges.sort_unstable();
    let mut joined: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match joined.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => joined.push((start, end)),
        }
    }
    joined
}

/// `text` as spans in `style`, the words in it highlighted.
pub fn highlight(text: &str, style: Style, words: &[&str]) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    let mut at = 0;
    for (start, end) in matches(text, words) {
        if start > at {
            spans.push(Span::styled(text[at..start].to_owned(), style));
        }
        spans.push(Span::styled(text[start..end].to_owned(), found_style()));
        at = end;
    }
    if at < text.len() || spans.is_empty() {
        spans.push(Span::styled(text[at..].to_owned(), style));
    }
    spans
}

/// The list of matches in every conversation: one line each, the conversation, when, and
/// the text around the first match.
pub fn draw(frame: &mut Frame, app: &App, results: &SearchResults, area: Rect) {
    let box_width = LIST_WIDTH.min(area.width);
    let room = usize::from(box_width.saturating_sub(4));
    let words = results.words();
    // Network text (names, messages) was made safe when it arrived or is made so here.
    let rows: Vec<(String, Option<jiff::Timestamp>, String)> = results
        .hits
        .iter()
        .map(|row| match row {
            ResultRow::Message(hit) => {
                // Who wrote it, where it was not the conversation's peer.
                let text = match hit.message.dir {
                    crate::store::Direction::Out => {
                        format!("{}: {}", app.me(), one_line(&hit.message.text))
                    }
                    crate::store::Direction::In => one_line(&hit.message.text),
                };
                (
                    one_line(&sanitize(hit.key.as_str())),
                    Some(hit.message.at),
                    text,
                )
            }
            ResultRow::Group {
                name,
                author,
                at,
                text,
                ..
            } => (
                format!("# {}", one_line(name)),
                *at,
                format!("{}: {}", one_line(author), one_line(text)),
            ),
        })
        .collect();
    let names: Vec<&String> = rows.iter().map(|r| &r.0).collect();
    let name_width = names.iter().map(|n| width(n)).max().unwrap_or(0).min(16);
    let most = usize::from(area.height.saturating_sub(4)).max(1);
    let top = results.selected.saturating_sub(most - 1);
    let mut lines = Vec::new();
    for (index, (name, at, text)) in rows.iter().enumerate().skip(top).take(most) {
        let when = at.map_or_else(String::new, |at| super::seen_label(app, at, true));
        let head = format!("{} {:>12}  ", fit(name, name_width), when);
        let text_room = room.saturating_sub(width(&head));
        let text = snippet(text, &words, text_room);
        let mut spans = vec![Span::styled(head, Style::new().fg(Color::DarkGray))];
        spans.extend(highlight(&text, Style::new(), &words));
        let mut line = Line::from(spans);
        if index == results.selected {
            let pad = room.saturating_sub(line.width());
            line.spans.push(Span::raw(" ".repeat(pad)));
            line = line.patch_style(Style::new().add_modifier(Modifier::REVERSED));
        }
        lines.push(line);
    }
    let height = u16::try_from(lines.len() + 2)
        .unwrap_or(u16::MAX)
        .min(area.height);
    let popup = area.centered(Constraint::Length(box_width), Constraint::Length(height));
    let count = results.hits.len();
    let title = format!(
        " “{}”: {count} match{} ",
        fit(
            &one_line(&sanitize(&results.query)),
            width(&results.query).min(30)
        )
        .trim_end(),
        if count == 1 { "" } else { "es" }
    );
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(Color::Cyan))
        .title(title)
        .title_style(Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD))
        .title_bottom(Line::raw(" Enter opens there · Esc closes ").right_aligned())
        .padding(Padding::horizontal(1));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}

/// At most `room` cells of `text`, starting a little before its first match so that the
/// match is seen on a long line.
fn snippet(text: &str, words: &[&str], room: usize) -> String {
    let first = matches(text, words).first().map_or(0, |m| m.0);
    let lead: usize = 12;
    let start = if width(&text[..first]) + lead < room {
        0
    } else {
        // Back from the match by about `lead` characters.
        text[..first]
            .char_indices()
            .rev()
            .nth(lead)
            .map_or(0, |(i, _)| i)
    };
    let cut = if start > 0 {
        format!("…{}", &text[start..])
    } else {
        text.to_owned()
    };
    fit(&cut, width(&cut).min(room)).trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_any_case_and_joins_overlaps() {
        assert_eq!(matches("Noon at NOON", &["noon"]), [(0, 4), (8, 12)]);
        assert_eq!(matches("abcdef", &["bcd", "cde"]), [(1, 5)]);
        assert_eq!(matches("你好世界", &["世界"]), [(6, 12)]);
        assert!(matches("abc", &["x"]).is_empty());
    }

    #[test]
    fn a_snippet_shows_the_first_match() {
        let text = format!("{} needle here", "x".repeat(200));
        let shown = snippet(&text, &["needle"], 40);
        assert!(
            shown.starts_with('…') && shown.contains("needle"),
            "{shown}"
        );
        assert_eq!(snippet("short needle", &["needle"], 40), "short needle");
    }
}
