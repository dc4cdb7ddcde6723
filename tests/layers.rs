//! The layers of the `qqchat` crate point one way: a module may use only modules below it, so
//! state never asks the view, and the engine never knows the front ends. Checked on the source
//! text, since Rust itself only forbids cycles between crates.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// From the bottom up; modules on one line are at the same height and may not use each other.
const LAYERS: &[&[&str]] = &[
    &["text", "proto"],
    &["identity", "net", "layout", "signals"],
    &["store", "contacts", "lan", "dht", "files"],
    &["engine"],
    &["app", "control"],
    &["ui"],
    &["tui"],
    &["cli"],
];

fn height(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read the source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The crate modules a line of code names through `crate::`, including `crate::{a, b}`.
fn uses(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in line.match_indices("crate::") {
        let rest = &line[at + "crate::".len()..];
        let names = match rest.strip_prefix('{') {
            Some(group) => group.split('}').next().unwrap_or("").to_owned(),
            None => rest.to_owned(),
        };
        for name in names.split(',') {
            let name: String = name
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.push(name);
            }
        }
    }
    found
}

#[test]
fn no_module_uses_one_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut wrong = BTreeSet::new();
    let mut checked = 0;
    for file in &files {
        let relative = file.strip_prefix(&src).expect("under src");
        let first = relative.components().next().expect("a path");
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        // The binaries and the crate root sit above every layer.
        if ["main", "bin", "lib"].contains(&module.as_str()) {
            continue;
        }
        let own = height(&module)
            .unwrap_or_else(|| panic!("src/{module} is in no layer: add it to LAYERS"));
        let text = fs::read_to_string(file).expect("read a source file");
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for used in uses(line) {
                if used == module {
                    continue;
                }
                checked += 1;
                let Some(theirs) = height(&used) else {
                    continue;
                };
                if theirs >= own {
                    wrong.insert(format!(
                        "{}:{}: {module} uses {used}, which is not below it",
                        relative.display(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} uses found: is the parser broken?"
    );
    assert!(
        wrong.is_empty(),
        "layers broken:\n{}",
        Vec::from_iter(wrong).join("\n")
    );
}

#[test]
fn the_checker_sees_a_use_from_below() {
    assert_eq!(uses("use crate::ui::draw;"), ["ui"]);
    assert_eq!(
        uses("use crate::{app, engine::Command};"),
        ["app", "engine"]
    );
    assert!(height("app") < height("ui"));
}
