//! The status line's news: the last notice until the next key, and the last error kept
//! after that, so the help can show it whole when the line had to cut it.

use crate::text::one_line;

/// A line for the status bar that stays until the next key press.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Error(String),
    Info(String),
}

#[derive(Default)]
pub struct StatusLine {
    notice: Option<Notice>,
    last_error: Option<String>,
}

impl StatusLine {
    pub fn notice(&self) -> Option<&Notice> {
        self.notice.as_ref()
    }

    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    pub(super) fn error(&mut self, text: &str) {
        let text = one_line(text);
        self.last_error = Some(text.clone());
        self.notice = Some(Notice::Error(text));
    }

    pub(super) fn info(&mut self, text: &str) {
        self.notice = Some(Notice::Info(one_line(text)));
    }

    /// A key was pressed: the notice has been read.
    pub(super) fn clear(&mut self) {
        self.notice = None;
    }
}
