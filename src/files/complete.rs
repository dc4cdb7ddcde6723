//! Tab completion of a path typed by the user, as a shell does it: the names in the folder
//! typed so far that start with what follows the last `/`, extended as far as they agree;
//! a folder gets a trailing `/`, and `~` stands for the home folder.
//!
//! Only the folder the text points into is listed (one `read_dir`), so it is quick enough
//! to run on a key press.

use std::path::{Path, PathBuf};

/// What Tab does to the text typed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Completion {
    /// The text with as much added as every candidate agrees on.
    pub text: String,
    /// The text as typed up to its last `/`: candidates go after it.
    pub base: String,
    /// Every name that fits, sorted, folders ending in `/`; empty when none does.
    pub candidates: Vec<String>,
}

/// The user's home folder, where the system says there is one.
pub fn home() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf())
}

/// The path `text` names: `~` and `~/…` are the home folder, anything else is taken as it
/// is (relative to the working folder).
pub fn expand(text: &str) -> PathBuf {
    match (text.strip_prefix('~'), home()) {
        (Some(""), Some(home)) => home,
        (Some(rest), Some(home)) if rest.starts_with('/') => home.join(&rest[1..]),
        _ => PathBuf::from(text),
    }
}

/// Completes `text`. Names starting with `.` are offered only once a `.` is typed.
pub fn complete(text: &str) -> Completion {
    // `~` alone is the home folder: its `/` comes first.
    if text == "~" && home().is_some() {
        return Completion {
            text: "~/".to_owned(),
            base: "~/".to_owned(),
            candidates: Vec::new(),
        };
    }
    let (base, prefix) = match text.rfind('/') {
        Some(at) => text.split_at(at + 1),
        None => ("", text),
    };
    let dir = if base.is_empty() {
        PathBuf::from(".")
    } else {
        expand(base)
    };
    let mut candidates = names_in(&dir, prefix);
    candidates.sort();
    let text = match candidates.as_slice() {
        [] => text.to_owned(),
        [only] => format!("{base}{only}"),
        several => format!("{base}{}", common_prefix(several)),
    };
    Completion {
        text,
        base: base.to_owned(),
        candidates,
    }
}

/// The names in `dir` starting with `prefix`, folders with a `/` after them. Names that are
/// not UTF-8 cannot be typed back, so they are left out.
fn names_in(dir: &Path, prefix: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            if !name.starts_with(prefix) || (name.starts_with('.') && !prefix.starts_with('.')) {
                return None;
            }
            // A link to a folder completes as a folder: that is where it leads.
            let folder = std::fs::metadata(entry.path()).is_ok_and(|m| m.is_dir());
            Some(if folder { format!("{name}/") } else { name })
        })
        .collect()
}

/// The longest start every name shares, cut on a character boundary.
fn common_prefix(names: &[String]) -> String {
    let Some((first, rest)) = names.split_first() else {
        return String::new();
    };
    let mut end = first.len();
    for name in rest {
        end = first
            .char_indices()
            .zip(name.chars())
            .find(|((_, a), b)| a != b)
            .map_or(end.min(name.len()), |((at, _), _)| at.min(end));
    }
    first[..end].to_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::files::test_dir::TestDir;

    #[test]
    fn completes_what_agrees_and_lists_the_rest() {
        let dir = TestDir::new("complete");
        std::fs::write(dir.path().join("report-2025.pdf"), b"x").unwrap();
        std::fs::write(dir.path().join("report-2026.pdf"), b"x").unwrap();
        std::fs::create_dir(dir.path().join("photos")).unwrap();
        std::fs::write(dir.path().join(".hidden"), b"x").unwrap();
        let root = format!("{}/", dir.path().display());

        let c = complete(&format!("{root}rep"));
        assert_eq!(c.text, format!("{root}report-202"));
        assert_eq!(c.candidates, ["report-2025.pdf", "report-2026.pdf"]);
        assert_eq!(c.base, root);

        let c = complete(&format!("{root}ph"));
        assert_eq!(c.text, format!("{root}photos/"));

        let c = complete(&root);
        assert_eq!(
            c.candidates,
            ["photos/", "report-2025.pdf", "report-2026.pdf"]
        );
        assert_eq!(
            complete(&format!("{root}.h")).text,
            format!("{root}.hidden")
        );

        let c = complete(&format!("{root}zz"));
        assert_eq!(c.text, format!("{root}zz"));
        assert!(c.candidates.is_empty());
    }

    #[test]
    fn the_common_prefix_stops_between_characters() {
        let names = ["你好a".to_owned(), "你好b".to_owned(), "你们".to_owned()];
        assert_eq!(common_prefix(&names), "你");
        assert_eq!(common_prefix(&["ab".into(), "abc".into()]), "ab");
    }

    #[test]
    fn a_tilde_is_the_home_folder() {
        if let Some(home) = home() {
            assert_eq!(expand("~"), home);
            assert_eq!(expand("~/x"), home.join("x"));
            assert_eq!(complete("~").text, "~/");
        }
        assert_eq!(expand("~bob/x"), PathBuf::from("~bob/x"));
        assert_eq!(expand("/tmp"), PathBuf::from("/tmp"));
    }
}
