//! The message being written: a ratatui-textarea editor, which brings multi-line editing,
//! the wide-character cursor and soft wrapping.
//!
//! The editor is a widget that carries its own cursor and placeholder looks, and it must
//! be drawn from this one instance (it keeps its scroll position between frames), so those
//! few looks are set here rather than in `ui/`.

use crossterm::event::KeyEvent;
use ratatui::style::{Modifier, Style};
use ratatui_textarea::{CursorMove, TextArea, WrapMode};

/// A readline editing key, for the input and the prompts alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    LineStart,
    LineEnd,
    /// Ctrl-U: from the cursor back to the start of the line.
    DeleteToStart,
    /// Ctrl-K: from the cursor to the end of the line.
    DeleteToEnd,
    /// Ctrl-W: the word before the cursor.
    DeleteWordBack,
}

/// Carries out `edit` in `input`. The editor has most of these under other keys (its
/// Ctrl-U is undo), so they are named here and bound in the one table.
pub(super) fn apply_edit(input: &mut TextArea<'static>, edit: Edit) {
    match edit {
        Edit::LineStart => input.move_cursor(CursorMove::Head),
        Edit::LineEnd => input.move_cursor(CursorMove::End),
        Edit::DeleteToStart => {
            input.delete_line_by_head();
        }
        Edit::DeleteToEnd => {
            input.delete_line_by_end();
        }
        Edit::DeleteWordBack => {
            input.delete_word();
        }
    }
}

pub struct Composer {
    input: TextArea<'static>,
}

impl Composer {
    pub(super) fn new(focused: bool) -> Composer {
        let mut input = TextArea::default();
        input.set_wrap_mode(WrapMode::WordOrGlyph);
        input.set_cursor_line_style(Style::new());
        input.set_placeholder_text("Type a message · Enter sends · Alt+Enter new line");
        input.set_placeholder_style(Style::new().add_modifier(Modifier::DIM));
        let mut composer = Composer { input };
        composer.set_focused(focused);
        composer
    }

    /// An input holding `text` (a draft), the cursor at its end.
    pub(super) fn with_text(text: &str, focused: bool) -> Composer {
        let mut composer = Composer::new(focused);
        composer.input.insert_str(text);
        composer
    }

    /// Only the focused input shows a cursor, so the eye finds where typing goes.
    pub(super) fn set_focused(&mut self, focused: bool) {
        let cursor = if focused {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new()
        };
        self.input.set_cursor_style(cursor);
    }

    pub fn textarea(&self) -> &TextArea<'static> {
        &self.input
    }

    /// The text as it would be sent.
    pub fn text(&self) -> String {
        self.input.lines().join("\n")
    }

    pub(super) fn edit(&mut self, edit: Edit) {
        apply_edit(&mut self.input, edit);
    }

    pub(super) fn is_empty(&self) -> bool {
        self.input.is_empty()
    }

    pub(super) fn insert_str(&mut self, text: &str) {
        self.input.insert_str(text);
    }

    pub(super) fn insert_newline(&mut self) {
        self.input.insert_newline();
    }

    /// A key the editor handles itself: characters, cursor movement, deleting.
    pub(super) fn key(&mut self, key: KeyEvent) {
        self.input.input(key);
    }
}

/// A one-line input holding `text`, its cursor at the end, for the prompts.
/// `selected`: the text is selected, so that typing replaces it (a rename).
pub(super) fn name_input(text: &str, selected: bool) -> TextArea<'static> {
    let mut input = TextArea::default();
    input.set_cursor_line_style(Style::new());
    input.set_cursor_style(Style::new().add_modifier(Modifier::REVERSED));
    input.set_selection_style(Style::new().add_modifier(Modifier::REVERSED));
    input.insert_str(text);
    if selected && !text.is_empty() {
        input.select_all();
    }
    input
}
