//! The message being written: a ratatui-textarea editor, which brings multi-line editing,
//! the wide-character cursor and soft wrapping.
//!
//! The editor is a widget that carries its own cursor and placeholder looks, and it must
//! be drawn from this one instance (it keeps its scroll position between frames), so those
//! few looks are set here rather than in `ui/`.

use crossterm::event::KeyEvent;
use ratatui::style::{Modifier, Style};
use ratatui_textarea::{TextArea, WrapMode};

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
pub(super) fn name_input(text: &str) -> TextArea<'static> {
    let mut input = TextArea::default();
    input.set_cursor_line_style(Style::new());
    input.set_cursor_style(Style::new().add_modifier(Modifier::REVERSED));
    input.insert_str(text);
    input
}
