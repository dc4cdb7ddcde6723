//! Desktop notifications through the terminal itself: escape sequences that terminals turn
//! into a notification (OSC 9: iTerm2, Windows Terminal, WezTerm, foot; OSC 777: urxvt,
//! foot, WezTerm, Ghostty; OSC 99: kitty). They travel over SSH like any output, so nothing
//! is needed on the remote side. Inside tmux they are wrapped for passthrough, which tmux
//! hands to the outer terminal (with `allow-passthrough on`).

/// The longest body sent, in characters: a notification is a glance, not the message.
const MAX_BODY: usize = 160;

/// The bytes that ask the terminal for a notification `title`: `body`. Text from the network
/// is made safe first: no control characters (which would end the sequence early or start
/// another), no `;` in OSC 777's fields, and cut to [`MAX_BODY`].
pub fn sequences(title: &str, body: &str, tmux: bool) -> Vec<u8> {
    let title = clean(title, 64);
    let body = clean(body, MAX_BODY);
    let both = if body.is_empty() {
        title.clone()
    } else {
        format!("{title}: {body}")
    };
    let parts = [
        format!("\x1b]9;{both}\x07"),
        format!(
            "\x1b]777;notify;{};{}\x07",
            title.replace(';', ","),
            body.replace(';', ",")
        ),
        // kitty: the title, then the body, as one notification (d=0 says more follows).
        format!("\x1b]99;i=qqchat:d=0:p=title;{title}\x1b\\"),
        format!("\x1b]99;i=qqchat:d=1:p=body;{body}\x1b\\"),
    ];
    let mut out = Vec::new();
    for part in parts {
        if tmux {
            // DCS passthrough: every ESC inside doubled, the whole ended by ST.
            out.extend_from_slice(b"\x1bPtmux;");
            out.extend_from_slice(part.replace('\x1b', "\x1b\x1b").as_bytes());
            out.extend_from_slice(b"\x1b\\");
        } else {
            out.extend_from_slice(part.as_bytes());
        }
    }
    out
}

/// `text` on one line, with no control characters, at most `max` characters.
fn clean(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if out.chars().count() > max {
        out = out.chars().take(max - 1).collect();
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_kinds_of_notification_in_one_write() {
        let bytes = sequences("bob", "lunch?", false);
        let text = String::from_utf8(bytes).expect("UTF-8");
        assert_eq!(
            text,
            "\x1b]9;bob: lunch?\x07\
             \x1b]777;notify;bob;lunch?\x07\
             \x1b]99;i=qqchat:d=0:p=title;bob\x1b\\\
             \x1b]99;i=qqchat:d=1:p=body;lunch?\x1b\\"
        );
    }

    #[test]
    fn inside_tmux_each_is_wrapped_for_passthrough() {
        let text = String::from_utf8(sequences("bob", "hi", true)).expect("UTF-8");
        assert!(
            text.starts_with("\x1bPtmux;\x1b\x1b]9;bob: hi\x07\x1b\\"),
            "{text:?}"
        );
        assert_eq!(text.matches("\x1bPtmux;").count(), 4);
        // No lone ESC inside a wrapper: each is doubled, so tmux passes it on whole.
        for wrapped in text.split("\x1bPtmux;").skip(1) {
            let inner = wrapped.strip_suffix("\x1b\\").expect("ended by ST");
            assert!(!inner.replace("\x1b\x1b", "").contains('\x1b'), "{inner:?}");
        }
    }

    #[test]
    fn text_from_the_network_cannot_end_the_sequence_or_start_another() {
        let hostile = "hi\x07\x1b]0;pwned\x07\x1b\\; rm -rf\nmore";
        let text = String::from_utf8(sequences("eve\x1b[2J", hostile, false)).expect("UTF-8");
        // Exactly the eight delimiters the four sequences have, no more.
        assert_eq!(text.matches('\x07').count(), 2);
        assert_eq!(text.matches('\x1b').count(), 6);
        assert!(!text.contains('\n'));
        assert!(text.contains("777;notify;eve [2J;hi ]0,pwned \\, rm -rf more"));
    }

    #[test]
    fn a_long_message_is_cut() {
        let long = "x".repeat(1000);
        let text = String::from_utf8(sequences("bob", &long, false)).expect("UTF-8");
        assert!(text.contains(&format!("{}…", "x".repeat(MAX_BODY - 1))));
        assert!(!text.contains(&"x".repeat(MAX_BODY + 1)));
    }
}
