//! Putting lines of a conversation on screen, fast: what a `Paragraph` without wrapping
//! does, with a short cut for printable ASCII.

use ratatui::buffer::{Buffer, CellWidth};
use ratatui::layout::{Alignment, Rect};
use ratatui::text::Line;

/// Puts lines into `area` one per row, as a `Paragraph` without wrapping does (a line too
/// long is cut at the edge, a character wider than the area is left out, centred and
/// right-aligned lines are placed the same way), with a short cut for runs of printable
/// ASCII, where every byte is one cell. Most of a conversation is such runs, and splitting
/// them into grapheme clusters was most of the cost of a frame.
pub(super) fn render_lines(lines: &[Line<'_>], area: Rect, buf: &mut Buffer) {
    let area = area.intersection(buf.area);
    let max = area.width;
    for (line, y) in lines.iter().zip(area.top()..area.bottom()) {
        let x = match line.alignment {
            None | Some(Alignment::Left) => 0,
            Some(Alignment::Center) => (max / 2).saturating_sub(kept_width(line, max) / 2),
            Some(Alignment::Right) => max.saturating_sub(kept_width(line, max)),
        };
        put_line(line, area.x + x, y, max, buf);
    }
}

/// Whether each byte of `text` is a printable ASCII character: one grapheme of one cell.
fn printable_ascii(text: &str) -> bool {
    text.bytes().all(|b| (b' '..=b'~').contains(&b))
}

/// The cells of `line` that fit in `max`: up to the first grapheme that does not fit,
/// leaving out any wider than `max` on its own.
fn kept_width(line: &Line<'_>, max: u16) -> u16 {
    let mut used: u16 = 0;
    for span in &line.spans {
        if printable_ascii(&span.content) {
            let w = u16::try_from(span.content.len()).unwrap_or(u16::MAX);
            if used.saturating_add(w) > max {
                return max;
            }
            used += w;
            continue;
        }
        for grapheme in span.styled_graphemes(line.style) {
            let w = grapheme.symbol.cell_width();
            if w > max {
                continue;
            }
            if used + w > max {
                return used;
            }
            used += w;
        }
    }
    used
}

/// Writes `line` from column `x` of row `y`, in at most `max` cells.
fn put_line(line: &Line<'_>, mut x: u16, y: u16, max: u16, buf: &mut Buffer) {
    let mut room = max;
    for span in &line.spans {
        let style = line.style.patch(span.style);
        if printable_ascii(&span.content) {
            for c in span.content.chars() {
                if room == 0 {
                    return;
                }
                buf[(x, y)].set_char(c).set_style(style);
                x += 1;
                room -= 1;
            }
            continue;
        }
        for grapheme in span.styled_graphemes(line.style) {
            let w = grapheme.symbol.cell_width();
            if w > max {
                continue;
            }
            if w > room {
                return;
            }
            if w == 0 {
                continue;
            }
            buf[(x, y)]
                .set_symbol(grapheme.symbol)
                .set_style(grapheme.style);
            x += w;
            room -= w;
        }
    }
}
