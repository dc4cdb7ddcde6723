//! The terminal's clipboard, by OSC 52: the contact string (F2) and a message the user
//! picked to copy (`y`). The text goes base64-encoded inside the sequence, so no text, from
//! the network or not, can end it early or write to the terminal.

use std::io::{self, Write};

use crate::identity::base64;

/// Puts `text` on the clipboard with OSC 52, which the terminal carries out (also over ssh);
/// the caller holds the terminal.
/// Inside tmux the sequence is wrapped to pass through to the outer terminal. A terminal
/// that does not support it ignores it; errors are ignored too: the text is on screen.
pub(super) fn copy(text: &str) {
    let mut out = io::stdout();
    let _ = out.write_all(osc52(text, std::env::var_os("TMUX").is_some()).as_bytes());
    let _ = out.flush();
}

/// The OSC 52 sequence that sets the clipboard to `text`, wrapped for tmux's passthrough
/// (each ESC doubled) when `tmux`.
fn osc52(text: &str, tmux: bool) -> String {
    let sequence = format!("\x1b]52;c;{}\x07", base64(text.as_bytes()));
    if tmux {
        format!("\x1bPtmux;{}\x1b\\", sequence.replace('\x1b', "\x1b\x1b"))
    } else {
        sequence
    }
}

#[cfg(test)]
mod tests {
    use super::osc52;
    use crate::identity::base64;

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn osc52_is_wrapped_for_tmux() {
        assert_eq!(osc52("hi", false), "\x1b]52;c;aGk=\x07");
        assert_eq!(osc52("hi", true), "\x1bPtmux;\x1b\x1b]52;c;aGk=\x07\x1b\\");
    }
}
