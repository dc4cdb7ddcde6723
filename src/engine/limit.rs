//! The message size limit, said the way a person reads it. Front ends check it before
//! anything is stored, so a refused message keeps its draft; the engine checks again.

/// Why a message of `text` cannot be sent when messages may have at most `max` bytes;
/// `None` when it fits.
pub fn too_long(text: &str, max: usize) -> Option<String> {
    (text.len() > max).then(|| {
        format!(
            "it is {} bytes, and a message can be at most {} bytes ({} KiB): split it",
            grouped(text.len()),
            grouped(max),
            max / 1024
        )
    })
}

/// `1048576` as `1,048,576`.
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
