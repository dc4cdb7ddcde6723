//! The help: opening and closing it, and the last error shown whole in it.

use crossterm::event::KeyCode;
use insta::assert_snapshot;
use qqchat::engine::EngineEvent;

use crate::support::{app, app_sized, draw, open, press, screen, trust_app};

#[test]
fn help_opens_with_f1_or_question_mark_and_any_key_closes_it() {
    let mut app = app();
    press(&mut app, KeyCode::Char('?'));
    assert!(app.help_open());
    // The closing key does nothing else: `q` here must not quit.
    assert!(press(&mut app, KeyCode::Char('q')).is_empty());
    assert!(!app.help_open());

    open(&mut app, 0);
    press(&mut app, KeyCode::Char('?'));
    assert!(!app.help_open(), "? is text while typing");
    assert_eq!(app.input_text(), "?");
    press(&mut app, KeyCode::F(1));
    assert!(app.help_open());
    press(&mut app, KeyCode::Enter);
    assert!(!app.help_open());
    assert_eq!(app.input_text(), "?", "the closing Enter did not send");
}

#[test]
fn a_long_error_is_cut_in_the_status_line_and_whole_in_the_help() {
    let mut app = trust_app(false, 80, 30);
    let refusal = "REFUSED: 127.0.0.1:4002 claimed to be bob with another key (AAAA), not the \
                   one in your contacts (BBBB). If bob really made a new identity, put the new \
                   key in contacts.toml; if not, someone is impersonating bob.";
    app.on_engine(EngineEvent::Error(refusal.into()));
    let text = screen(&app, 80, 30);
    // Each line of the backend's text is quoted.
    let status = text.lines().last().unwrap().trim_matches('"');
    assert!(
        status.contains("REFUSED: 127.0.0.1:4002 claimed"),
        "{status}"
    );
    assert!(status.trim_end().ends_with("… F1 shows all"), "{status}");
    press(&mut app, KeyCode::F(1));
    assert!(app.help_open());
    let help = screen(&app, 80, 30);
    assert!(help.contains("Last error"), "{help}");
    assert!(help.contains("impersonating bob."), "{help}");
    // A short one fits as it is.
    press(&mut app, KeyCode::Esc);
    app.on_engine(EngineEvent::Error("disk full".into()));
    let status = screen(&app, 80, 30).lines().last().unwrap().to_string();
    assert!(!status.contains("F1 shows all"), "{status}");
}

#[test]
fn snapshot_help_with_last_error() {
    let mut app = app_sized(80, 34);
    app.on_engine(EngineEvent::Error(
        "refused a handshake from 127.0.0.1:4999: its key AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
         is in none of your contacts (add it with qqchat add)"
            .into(),
    ));
    press(&mut app, KeyCode::F(1));
    assert_snapshot!(draw(&app, 80, 34).backend());
}
