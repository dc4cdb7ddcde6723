//! Drawing the TUI. Every function here only reads the [`App`] and writes into the frame.
//!
//! ```text
//! ╭ Contacts ───╮╭ alice · 127.0.0.1:4001 · online · rtt 0.4 ms · loss 0% ╮
//! │▸ ● alice  2 ││ 14:02 me    ✓ hi                                      │
//! │  ○ bob ?    ││ 14:03 alice   hello                                   │
//! │             │╰───────────────────────────────────────────────────────╯
//! │             │╭ Message to alice ─────────────────────────────────────╮
//! ╰─────────────╯╰───────────────────────────────────────────────────────╯
//!  me  0.0.0.0:4000   Enter send · F1 help
//! ```
//!
//! `?` marks a peer without a key: unverified. Prompts (add, rename, remove a contact, paste
//! a contact string) and the help are drawn over the panes.

use std::time::Duration;

use jiff::Timestamp;
use ratatui::Frame;
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, BorderType};

use crate::app::{App, Focus, Overlay};
use crate::layout::areas;

pub mod card;
pub mod contacts;
pub mod conversation;
pub mod group;
pub mod help;
pub mod input;
mod lines;
pub mod prompt;
pub mod safety;
pub mod search;
pub mod status;
pub mod transfers;

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, app: &App) {
    let areas = areas(frame.area(), app.input().lines().len());
    contacts::draw(frame, app, areas.contacts);
    match app.open_group() {
        Some(group) => group::draw(frame, app, group, areas.conversation),
        None => conversation::draw(frame, app, areas.conversation),
    }
    input::draw(frame, app, areas.input);
    status::draw(frame, app, areas.status);
    match app.overlay() {
        Overlay::None => {}
        Overlay::Help { .. } => help::draw(frame, app, frame.area()),
        Overlay::Prompt(prompt) => prompt::draw(frame, app, prompt, frame.area()),
        Overlay::Card(card) => card::draw(frame, card, frame.area()),
        Overlay::Safety { .. } => safety::draw(frame, app, frame.area()),
        Overlay::Transfers { .. } => transfers::draw(frame, app, frame.area()),
        Overlay::Group(dialog) => group::draw_dialog(frame, app, dialog, frame.area()),
        Overlay::Results(results) => search::draw(frame, app, results, frame.area()),
    }
}

/// When a contact was last heard from, in the App's time zone: `14:02` today; another day
/// `3 Nov` (short) or `3 Nov 14:02` (long). Today is the front end's last clock reading;
/// without one every day counts as today.
fn seen_label(app: &App, seen: Timestamp, long: bool) -> String {
    let at = app.tz().to_datetime(seen);
    let time = format!("{:02}:{:02}", at.hour(), at.minute());
    let today = app
        .now()
        .is_none_or(|now| app.tz().to_datetime(now).date() == at.date());
    if today {
        return time;
    }
    let day = at.date().strftime("%-d %b").to_string();
    if long { format!("{day} {time}") } else { day }
}

/// A round trip at a useful precision: `0.4 ms`, `38 ms`, `1.2 s`.
fn rtt_label(rtt: Duration) -> String {
    let ms = rtt.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

/// Whether `focus` is the pane that has the keys (no overlay took them).
fn focused(app: &App, focus: Focus) -> bool {
    app.focus() == focus && matches!(app.overlay(), Overlay::None)
}

/// What a pane's title starts with: a marker on the focused pane, so that where keys go
/// shows without colour too (and on a monochrome terminal).
fn title_lead(app: &App, focus: Focus) -> &'static str {
    if focused(app, focus) { " ▸ " } else { " " }
}

/// A pane's frame. The focused one has a double, bright border and a marked title; the
/// others are thin and grey, so one look tells where the keys go.
fn pane(app: &App, focus: Focus) -> Block<'static> {
    let (kind, border, title) = if focused(app, focus) {
        (
            BorderType::Double,
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        )
    } else {
        (
            BorderType::Rounded,
            Style::new().fg(Color::DarkGray),
            Style::new(),
        )
    };
    Block::bordered()
        .border_type(kind)
        .border_style(border)
        .title_style(title)
}

/// `text` cut or padded to exactly `width` cells; a cut ends in `…`.
fn fit(text: &str, width: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    let full = crate::text::width(text);
    if full <= width {
        return format!("{text}{}", " ".repeat(width - full));
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        out.push('…');
        used += 1;
    }
    out.push_str(&" ".repeat(width.saturating_sub(used)));
    out
}

#[cfg(test)]
mod tests {
    use super::{fit, rtt_label};
    use std::time::Duration;

    #[test]
    fn rtt_is_shown_at_a_useful_precision() {
        assert_eq!(rtt_label(Duration::from_micros(420)), "0.4 ms");
        assert_eq!(rtt_label(Duration::from_micros(38_400)), "38 ms");
        assert_eq!(rtt_label(Duration::from_millis(1_230)), "1.2 s");
    }

    #[test]
    fn fit_pads_and_cuts_at_true_width() {
        assert_eq!(fit("bob", 5), "bob  ");
        assert_eq!(fit("alexandra", 5), "alex…");
        assert_eq!(fit("你好世界", 5), "你好…");
        assert_eq!(fit("你好世界", 4), "你… ");
        assert_eq!(fit("abc", 0), "");
    }
}
