//! The status line's key hints: help and quit always, then the most important that fit.

use crossterm::event::KeyCode;

use jiff::tz::TimeZone;
use qqchat::app::App;

use crate::support::{addr, app_sized, app_with_stranger, book, open, press, screen};

/// The status line (the last row) of the screen drawn at `width` columns.
fn status(app: &qqchat::app::App, width: u16) -> String {
    let shown = screen(app, width, 20);
    shown.lines().last().unwrap_or_default().to_owned()
}

#[test]
fn help_and_quit_show_at_every_width() {
    let mut app = app_sized(60, 20);
    for width in [60, 80, 100] {
        let line = status(&app, width);
        assert!(line.contains("? help") && line.contains("q quit"), "{line}");
    }
    open(&mut app, 0);
    for width in [60, 80] {
        let line = status(&app, width);
        assert!(
            line.contains("F1 help") && line.contains("Ctrl-C quit"),
            "{line}"
        );
        assert!(
            line.contains("Enter send"),
            "the most important hint first: {line}"
        );
    }
    press(&mut app, KeyCode::BackTab);
    let line = status(&app, 80);
    assert!(
        line.contains("? help") && line.contains("Ctrl-C quit"),
        "{line}"
    );
}

#[test]
fn at_100_columns_the_contact_keys_all_show() {
    let mut app = app_with_stranger();
    let line = status(&app, 100);
    assert!(line.contains("a add to contacts"), "{line}");
    press(&mut app, KeyCode::Home);
    let line = status(&app, 100);
    assert!(line.contains("A paste id"), "{line}");
    assert!(
        line.contains("n rename") && line.contains("d remove"),
        "{line}"
    );
    // With an address as long as a real one (the demo's), too.
    let mut long = App::new(&book(true), addr("127.0.0.1:54013"), TimeZone::UTC);
    long.on_resize(100, 20);
    let line = status(&long, 100);
    assert!(
        line.contains("A paste id") && line.contains("q quit"),
        "{line}"
    );
}

#[test]
fn hints_that_do_not_fit_go_by_rank() {
    let app = app_sized(60, 20);
    let line = status(&app, 60);
    // Moving and opening matter more than renaming.
    assert!(
        line.contains("↑↓ move") && line.contains("Enter open"),
        "{line}"
    );
    assert!(!line.contains("A paste id"), "{line}");
}
