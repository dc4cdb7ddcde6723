//! Making message text safe to put on a terminal, and wrapping it at its true width.
//!
//! Text from the network is written into terminal cells, so an escape sequence or a bidi
//! override inside a message could otherwise move the cursor, retitle the window or make one
//! message look like another. [`sanitize`] makes every such character visible instead.
//! [`wrap`] measures with `unicode-width`, so CJK and emoji take the two cells they really use.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Columns between tab stops when a `\t` is expanded.
const TAB_STOP: usize = 4;

/// Stand-in for characters that have no printable caret form.
const REPLACEMENT: char = '\u{FFFD}';

/// Returns `text` with nothing left that a terminal would interpret.
///
/// - `\n` stays (it separates lines); `\r\n` becomes `\n`.
/// - `\t` becomes spaces up to the next tab stop.
/// - Other C0 controls and DEL become caret notation (`ESC` → `^[`, `BEL` → `^G`, DEL → `^?`),
///   as `cat -v` shows them.
/// - C1 controls (U+0080–U+009F) and the bidi embeddings, overrides and isolates
///   (U+202A–U+202E, U+2066–U+2069) become U+FFFD.
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // Display column within the current line, for tab stops.
    let mut column = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => {
                out.push('\n');
                column = 0;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\t' => {
                let spaces = TAB_STOP - column % TAB_STOP;
                out.extend(std::iter::repeat_n(' ', spaces));
                column += spaces;
            }
            '\0'..='\x1f' => {
                out.push('^');
                out.push(char::from(b'@' + c as u8));
                column += 2;
            }
            '\x7f' => {
                out.push_str("^?");
                column += 2;
            }
            '\u{80}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
                out.push(REPLACEMENT);
                column += 1;
            }
            c => {
                out.push(c);
                column += c.width().unwrap_or(0);
            }
        }
    }
    out
}

/// Display width of `text` in terminal cells.
pub fn width(text: &str) -> usize {
    text.width()
}

/// Splits `text` into lines no wider than `width` cells.
///
/// Each `\n` starts a new line. Lines break at spaces where they can; a word too long for a
/// line, and any run holding double-width characters (CJK has no spaces between words), is
/// broken between characters instead. A character is never split from the combining marks,
/// variation selectors or zero-width joins that follow it, and a double-width character never
/// straddles the edge. A single character wider than `width` gets a line of its own.
///
/// Expects text that went through [`sanitize`]; a `width` of 0 is treated as 1.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    for line in text.split('\n') {
        wrap_line(line, width, &mut lines);
    }
    lines
}

/// Wraps one line without `\n`, appending to `out`. Always appends at least one line.
fn wrap_line(line: &str, width: usize, out: &mut Vec<String>) {
    let mut current = String::new();
    let mut current_width = 0;
    for word in words(line) {
        if word.chars().all(|c| c == ' ') {
            // A space run: kept inside a line, dropped where the line breaks.
            let w = word.len();
            if current_width + w <= width {
                current.push_str(word);
                current_width += w;
            } else if current_width > 0 {
                push_line(out, &mut current, &mut current_width);
            }
            continue;
        }
        let w = word.width();
        if current_width + w <= width {
            current.push_str(word);
            current_width += w;
            continue;
        }
        let breakable = w > width || word.chars().any(|c| c.width() == Some(2));
        if !breakable {
            // Fits on a fresh line: move it there whole.
            push_line(out, &mut current, &mut current_width);
            current.push_str(word);
            current_width = w;
            continue;
        }
        for cluster in clusters(word) {
            let cw = cluster.width();
            if current_width + cw > width && current_width > 0 {
                push_line(out, &mut current, &mut current_width);
            }
            current.push_str(cluster);
            current_width += cw;
        }
    }
    let trimmed = current.trim_end_matches(' ').len();
    current.truncate(trimmed);
    out.push(current);
}

/// Ends the line being built (without its trailing spaces) and starts an empty one.
fn push_line(out: &mut Vec<String>, current: &mut String, current_width: &mut usize) {
    let trimmed = current.trim_end_matches(' ').len();
    current.truncate(trimmed);
    out.push(std::mem::take(current));
    *current_width = 0;
}

/// Splits a line into alternating runs of spaces and of everything else.
fn words(line: &str) -> impl Iterator<Item = &str> {
    let mut rest = line;
    std::iter::from_fn(move || {
        let first = rest.chars().next()?;
        let is_space = first == ' ';
        let end = rest
            .char_indices()
            .find(|&(_, c)| (c == ' ') != is_space)
            .map_or(rest.len(), |(i, _)| i);
        let (word, tail) = rest.split_at(end);
        rest = tail;
        Some(word)
    })
}

/// Splits a word into the smallest pieces that may be put on different lines: a character
/// with the zero-width characters after it, and a character joined to it by U+200D.
fn clusters(word: &str) -> impl Iterator<Item = &str> {
    let mut rest = word;
    std::iter::from_fn(move || {
        let mut chars = rest.char_indices();
        let (_, first) = chars.next()?;
        let mut joined = first == '\u{200d}';
        let mut end = rest.len();
        for (i, c) in chars {
            let zero_width = c.width().unwrap_or(0) == 0;
            if !(zero_width || joined) {
                end = i;
                break;
            }
            joined = c == '\u{200d}';
        }
        let (cluster, tail) = rest.split_at(end);
        rest = tail;
        Some(cluster)
    })
}

/// [`sanitize`] for text already owned: returned as it is, without copying, when nothing
/// in it needs replacing (nearly always), so a long history costs no second copy.
pub fn sanitize_owned(text: String) -> String {
    if is_clean(&text) {
        text
    } else {
        sanitize(&text)
    }
}

/// True when [`sanitize`] would return `text` unchanged.
pub fn is_clean(text: &str) -> bool {
    text.chars().all(|c| {
        c == '\n'
            || !(c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
    })
}

/// Sanitized text on one line, for `listen`, `history` and error messages: line breaks
/// become a visible `↵`.
pub fn one_line(text: &str) -> String {
    sanitize(text.trim_end_matches(['\n', '\r'])).replace('\n', " ↵ ")
}

/// [`one_line`], cut to about `max` characters with `…`, for echoing text a person already
/// has back to them: a megabyte of it helps nobody.
pub fn preview(text: &str, max: usize) -> String {
    let head: String = text.chars().take(max.saturating_add(1)).collect();
    let mut line = one_line(&head);
    if line.chars().count() > max || head.len() < text.len() {
        line = line.chars().take(max.saturating_sub(1)).collect();
        line.push('…');
    }
    line
}

/// Text from the network as a name on one line, at most `max` cells wide: made safe as
/// [`one_line`] does, trimmed, and cut with `…`. Only the start of a very long text is read.
pub fn short_name(text: &str, max: usize) -> String {
    // Every cell holds at least one character, so no more than this can be shown.
    let head: String = text.chars().take(max.saturating_mul(2) + 2).collect();
    let line = one_line(&head);
    let line = line.trim();
    if width(line) <= max && head.len() == text.len() {
        return line.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in line.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > max {
            break;
        }
        out.push(c);
        used += w;
    }
    let mut out = out.trim_end().to_owned();
    if max > 0 {
        out.push('…');
    }
    out
}

/// How a reply starts: a line quoting what it answers, then the reply. Clients that do not
/// know replies show the quote as text, as mail does.
pub const QUOTE_PREFIX: &str = "> ";

/// The widest the quoted line of a reply is, in cells, before it is cut with `…`.
pub const QUOTE_WIDTH: usize = 60;

/// A reply's quote and its own text: `Some(quote)` (without the `> `) when `text` starts
/// with a `> ` line and has more after it; otherwise `None` and the whole text. The quote
/// is only something to show: it proves nothing of what was said.
pub fn split_reply(text: &str) -> (Option<&str>, &str) {
    let Some(rest) = text.strip_prefix(QUOTE_PREFIX) else {
        return (None, text);
    };
    match rest.split_once('\n') {
        Some((quote, body)) if !body.trim().is_empty() => {
            (Some(quote.trim_end_matches('\r')), body)
        }
        _ => (None, text),
    }
}

/// The first line of a reply to `text` by `name`: `> name: its first line…`, cut to
/// [`QUOTE_WIDTH`], made safe, and without the quote `text` itself may start with.
pub fn reply_quote(name: &str, text: &str) -> String {
    let (_, body) = split_reply(text);
    let first = body.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let name = short_name(name, 32);
    format!(
        "{QUOTE_PREFIX}{name}: {}",
        short_name(first, QUOTE_WIDTH.saturating_sub(width(&name) + 2))
    )
}

/// A progress bar `width` cells wide, in eighths of a cell: `██████▍   `.
pub fn bar(done: u64, total: u64, width: usize) -> String {
    const PARTS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let eighths = if total == 0 {
        width * 8
    } else {
        ((done.min(total) as u128 * width as u128 * 8) / total as u128) as usize
    };
    let mut out = "█".repeat(eighths / 8);
    if eighths / 8 < width {
        out.push(PARTS[eighths % 8]);
        out.push_str(&" ".repeat(width - eighths / 8 - 1));
    }
    out
}

/// A time left as people say it: `8 s`, `3 min 20 s`, `2 h 5 min`.
pub fn duration_words(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_reply_is_its_quote_line_then_its_text() {
        let quote = reply_quote("alice", "> bob: earlier\nthe first line\nand more");
        assert_eq!(quote, "> alice: the first line");
        let sent = format!("{quote}\nyes indeed");
        assert_eq!(
            split_reply(&sent),
            (Some("alice: the first line"), "yes indeed")
        );
        assert_eq!(split_reply("> just a quote"), (None, "> just a quote"));
        assert_eq!(split_reply("> quote\n  "), (None, "> quote\n  "));
        assert_eq!(split_reply("no quote\n> x"), (None, "no quote\n> x"));
        let long = reply_quote("alice", &"word ".repeat(40));
        assert!(
            width(&long) <= QUOTE_WIDTH + 2 && long.ends_with('…'),
            "{long}"
        );
        let nasty = reply_quote("al\u{1b}[2Jice", "\u{202e}evil\u{7}");
        assert!(is_clean(&nasty), "{nasty:?}");
    }
    use super::*;

    #[test]
    fn short_name_is_one_safe_line_cut_at_its_width() {
        assert_eq!(short_name("  bob  ", 10), "bob");
        assert_eq!(short_name("a\x1b[2Jb\nc", 20), "a^[[2Jb ↵ c");
        assert_eq!(short_name("王小明王小明", 7), "王小明…");
        assert_eq!(short_name(&"x".repeat(10_000), 5), "xxxx…");
        assert!(width(&short_name(&"你".repeat(100), 9)) <= 9);
        assert_eq!(short_name("\u{202e}evil", 10), "\u{FFFD}evil");
    }

    #[test]
    fn sanitize_keeps_ordinary_text() {
        assert_eq!(sanitize("héllo, 你好 🚀\nbye"), "héllo, 你好 🚀\nbye");
    }

    #[test]
    fn sanitize_shows_c0_controls_and_del_in_caret_form() {
        assert_eq!(sanitize("a\x1b[2Jb"), "a^[[2Jb");
        assert_eq!(sanitize("\x07\x00\x7f"), "^G^@^?");
        assert_eq!(sanitize("x\ry"), "x^My");
    }

    #[test]
    fn sanitize_turns_crlf_into_newline() {
        assert_eq!(sanitize("one\r\ntwo"), "one\ntwo");
    }

    #[test]
    fn sanitize_replaces_c1_and_bidi_overrides() {
        assert_eq!(sanitize("a\u{9b}31mb"), "a\u{FFFD}31mb");
        assert_eq!(sanitize("\u{85}"), "\u{FFFD}");
        for c in ['\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}'] {
            assert_eq!(sanitize(&format!("x{c}y")), "x\u{FFFD}y", "{:x}", c as u32);
        }
        for c in ['\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}'] {
            assert_eq!(sanitize(&format!("x{c}y")), "x\u{FFFD}y", "{:x}", c as u32);
        }
    }

    #[test]
    fn sanitize_leaves_no_control_characters() {
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        let clean = sanitize(&all);
        assert!(
            clean
                .chars()
                .all(|c| c == '\n' || !(c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c)))
        );
    }

    #[test]
    fn sanitize_expands_tabs_to_tab_stops() {
        assert_eq!(sanitize("\tx"), "    x");
        assert_eq!(sanitize("ab\tx"), "ab  x");
        assert_eq!(sanitize("你\tx"), "你  x");
        assert_eq!(sanitize("abcd\n\tx"), "abcd\n    x");
    }

    #[test]
    fn wrap_breaks_at_spaces() {
        assert_eq!(
            wrap("the quick brown fox", 10),
            vec!["the quick", "brown fox"]
        );
    }

    #[test]
    fn wrap_keeps_newlines_and_empty_lines() {
        assert_eq!(wrap("a\n\nb", 10), vec!["a", "", "b"]);
        assert_eq!(wrap("", 10), vec![""]);
    }

    #[test]
    fn wrap_breaks_long_words() {
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
    }

    #[test]
    fn wrap_cjk_at_true_width() {
        let text = "你好，世界 🚀".repeat(3);
        for width in 1..20 {
            let lines = wrap(&text, width);
            for line in &lines {
                assert!(
                    line.width() <= width.max(2),
                    "{line:?} is wider than {width}"
                );
            }
            let joined: String = lines.concat().chars().filter(|&c| c != ' ').collect();
            let expected: String = text.chars().filter(|&c| c != ' ').collect();
            assert_eq!(joined, expected, "width {width}");
        }
        // Width 5 holds two double-width characters: the third would straddle the edge.
        assert_eq!(wrap("你好，世界", 5), vec!["你好", "，世", "界"]);
        assert_eq!(wrap("你好，世界 🚀", 13), vec!["你好，世界 🚀"]);
        assert_eq!(
            wrap("你好，世界 🚀你好，世界 🚀", 13),
            vec!["你好，世界 🚀", "你好，世界 🚀"]
        );
    }

    #[test]
    fn wrap_never_splits_a_character_from_its_marks() {
        // e + combining acute, and a family emoji joined with U+200D.
        let text = "e\u{301}e\u{301}e\u{301} 👨\u{200d}👩\u{200d}👧";
        let lines = wrap(text, 2);
        assert_eq!(lines[0], "e\u{301}e\u{301}");
        assert!(lines.contains(&"👨\u{200d}👩\u{200d}👧".to_string()));
    }

    #[test]
    fn wrap_handles_degenerate_widths() {
        assert_eq!(wrap("ab", 0), vec!["a", "b"]);
        assert_eq!(wrap("你", 1), vec!["你"]);
        assert_eq!(wrap("   ", 2), vec![""]);
    }

    proptest::proptest! {
        /// The fast path never lets through what `sanitize` would change.
        #[test]
        fn sanitize_owned_agrees_with_sanitize(text in "(?s).{0,40}") {
            proptest::prop_assert_eq!(sanitize_owned(text.clone()), sanitize(&text));
        }
    }

    #[test]
    fn bars_fill_in_eighths_and_keep_their_width() {
        assert_eq!(bar(0, 100, 4), "    ");
        assert_eq!(bar(50, 100, 4), "██  ");
        assert_eq!(bar(100, 100, 4), "████");
        assert_eq!(bar(1, 32, 4), "▏   ");
        assert_eq!(bar(5, 0, 3), "███");
        assert_eq!(bar(200, 100, 3), "███");
        for done in 0..=64 {
            assert_eq!(bar(done, 64, 5).chars().count(), 5);
        }
    }

    #[test]
    fn time_left_reads_as_words() {
        use std::time::Duration;
        assert_eq!(duration_words(Duration::from_secs(8)), "8 s");
        assert_eq!(duration_words(Duration::from_secs(200)), "3 min 20 s");
        assert_eq!(duration_words(Duration::from_secs(7500)), "2 h 5 min");
    }
}
