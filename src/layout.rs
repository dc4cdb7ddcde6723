//! Sizes and wrapping, shared by the state and the drawing.
//!
//! Scrolling needs to know how tall each message is and how tall the view is; drawing needs
//! the same numbers to put the lines there. Both read them from here, so they cannot drift
//! apart, and neither has to ask the other. Nothing here knows the [`App`](crate::app::App)
//! or draws: it takes sizes and text, and gives sizes and lines of text.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Block, Padding};

use crate::text::{width, wrap};

/// Where each pane goes on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub contacts: Rect,
    pub conversation: Rect,
    pub input: Rect,
    pub status: Rect,
}

/// Lines of text the input shows before it scrolls.
const INPUT_MAX_LINES: u16 = 6;

/// Splits the terminal into panes. The input grows with the `input_lines` typed into it.
pub fn areas(area: Rect, input_lines: usize) -> Areas {
    let [main, status] = Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(area);
    // A quarter of the width for contacts, within reason (an address such as
    // `127.0.0.1:5555` with an unread count must fit); narrow terminals keep a third.
    let side = if area.width < 72 {
        area.width / 3
    } else {
        (area.width / 4).clamp(24, 32)
    };
    let [contacts, right] =
        Layout::horizontal([Constraint::Length(side), Constraint::Fill(1)]).areas(main);
    let lines = u16::try_from(input_lines).unwrap_or(u16::MAX);
    let input_height = lines.clamp(1, INPUT_MAX_LINES) + 2;
    let [conversation, input] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(input_height)]).areas(right);
    Areas {
        contacts,
        conversation,
        input,
        status,
    }
}

/// The frame of the conversation and input panes, without its looks: a border and a
/// column of padding each side. Titles sit on the border and take no room.
pub fn text_frame() -> Block<'static> {
    Block::bordered().padding(TEXT_PADDING)
}

/// The padding inside the conversation and input panes: scrolling measures with it and
/// drawing pads with it, so the two cannot drift apart.
pub const TEXT_PADDING: Padding = Padding::horizontal(1);

/// Where message text goes inside the conversation pane, for a terminal of size `area`.
pub fn conversation_text(area: Rect, input_lines: usize) -> Rect {
    text_frame().inner(areas(area, input_lines).conversation)
}

/// Lines a PgUp/PgDn moves in a view `height` lines tall: a screen, less two lines of
/// context.
pub fn page(height: u16) -> usize {
    usize::from(height).saturating_sub(2).max(1)
}

/// Narrower text than this moves below the time and name instead of beside them.
const MIN_TEXT_WIDTH: usize = 8;

/// Columns of a message line: time, name, mark, then the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    pub name: usize,
    /// Where the text starts; continuation lines are indented this far.
    pub indent: usize,
    /// The text beside the name (false: below it, on narrow panes).
    pub beside: bool,
    pub text: usize,
}

impl Columns {
    /// The columns for a conversation between `me` and `peer`, `width` cells wide.
    pub fn new(me: &str, peer: &str, width_: usize) -> Columns {
        let longest = width(me).max(width(peer));
        let name = longest.min((width_ / 4).clamp(3, 16));
        // "HH:MM " + name + " " + mark + " "
        let prefix = 6 + name + 3;
        if width_ >= prefix + MIN_TEXT_WIDTH {
            Columns {
                name,
                indent: prefix,
                beside: true,
                text: width_ - prefix,
            }
        } else {
            Columns {
                name,
                indent: 2,
                beside: false,
                text: width_.saturating_sub(2).max(1),
            }
        }
    }
}

/// The lines of a message's text, wrapped to its column.
pub fn body(columns: &Columns, text: &str) -> Vec<String> {
    wrap(text, columns.text)
}

/// Whether `hint` fits after a message's last line of text, `last` being that line.
pub fn hint_fits(columns: &Columns, last: &str, hint: &str, width_: usize) -> bool {
    columns.indent + width(last) + 2 + width(hint) <= width_
}

/// How many lines a message takes in a pane `width` cells wide: a day line if it starts
/// a day, the head line when the text goes below it, the text, and a line for `hint` if it
/// does not fit after the text. Counted without laying the lines out, because scrolling
/// counts every message it passes and shows only a few.
pub fn message_height(
    columns: &Columns,
    text: &str,
    new_day: bool,
    hint: Option<&str>,
    width_: usize,
) -> usize {
    let head = usize::from(new_day) + usize::from(!columns.beside);
    if let Some(hint) = hint {
        // Rare (failed, queued, cancelled): whether the hint fits is measured on the text.
        let body = body(columns, text);
        let last = body.last().map_or("", String::as_str);
        return head + body.len() + usize::from(!hint_fits(columns, last, hint, width_));
    }
    // Text on one line and no longer in bytes than the column is wide fits on one line: no
    // character takes more cells than it has bytes.
    let lines = if text.len() <= columns.text && !text.contains('\n') {
        1
    } else {
        body(columns, text).len()
    };
    head + lines
}

/// Widest the help box gets.
pub const HELP_WIDTH: u16 = 56;

/// What the help holds, in lines: its sections and their rows, and the legend's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HelpShape {
    pub sections: usize,
    pub rows: usize,
    pub legend: usize,
}

/// Columns a line of the last error gets in a help box `width` columns wide: inside the
/// border and the padding, indented as the keys are.
pub fn help_error_width(width_: u16) -> usize {
    usize::from(width_.saturating_sub(4)).saturating_sub(2)
}

/// Lines of the help, with (`spaced`) or without blank lines between sections.
pub fn help_len(shape: HelpShape, error: Option<&str>, spaced: bool, width_: u16) -> usize {
    let error_lines = error.map_or(0, |e| 1 + wrap(e, help_error_width(width_)).len());
    let blanks = if spaced {
        // Before each section but a first one at the top, and before the legend.
        shape.sections - usize::from(error.is_none() && shape.sections > 0) + 1
    } else {
        0
    };
    error_lines + blanks + shape.sections + shape.rows + 1 + shape.legend
}

/// Whether the help is spaced out on a screen of `area`: only if that fits.
pub fn help_spaced(shape: HelpShape, error: Option<&str>, area: Rect) -> bool {
    let width_ = HELP_WIDTH.min(area.width);
    help_len(shape, error, true, width_) + 2 <= usize::from(area.height)
}

/// How many lines the help can be scrolled on a screen of `area`; 0 when it all fits.
pub fn help_max_scroll(shape: HelpShape, error: Option<&str>, area: Rect) -> usize {
    let width_ = HELP_WIDTH.min(area.width);
    let spaced = help_spaced(shape, error, area);
    (help_len(shape, error, spaced, width_) + 2).saturating_sub(usize::from(area.height))
}
