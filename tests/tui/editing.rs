//! Line editing in the input and the prompts, as readline, irssi and weechat users expect.

use crossterm::event::{KeyCode, KeyModifiers};

use crate::support::{app, at, open, press, press_mod, prompt_text, send, type_text};

fn ctrl(app: &mut qqchat::app::App, c: char) {
    press_mod(app, KeyCode::Char(c), KeyModifiers::CONTROL);
}

#[test]
fn ctrl_keys_move_and_delete_as_in_readline() {
    let mut app = app();
    open(&mut app, 0);
    type_text(&mut app, "hello big world", at(0));
    ctrl(&mut app, 'w');
    assert_eq!(app.input_text(), "hello big ");
    ctrl(&mut app, 'a');
    type_text(&mut app, ">", at(0));
    assert_eq!(app.input_text(), ">hello big ");
    ctrl(&mut app, 'k');
    assert_eq!(app.input_text(), ">");
    type_text(&mut app, "one two", at(0));
    press(&mut app, KeyCode::Left);
    press(&mut app, KeyCode::Left);
    ctrl(&mut app, 'u');
    assert_eq!(
        app.input_text(),
        "wo",
        "Ctrl-U deletes to the start, not undo"
    );
    ctrl(&mut app, 'e');
    type_text(&mut app, "!", at(0));
    assert_eq!(app.input_text(), "wo!");
}

#[test]
fn up_in_an_empty_input_brings_back_the_last_message_sent_here() {
    let mut app = app();
    open(&mut app, 0);
    send(&mut app, "first", at(0));
    send(&mut app, "teh second", at(1));
    press(&mut app, KeyCode::Up);
    assert_eq!(app.input_text(), "teh second");
    // Not empty any more: ↑ moves the cursor rather than recalling again.
    press(&mut app, KeyCode::Up);
    assert_eq!(app.input_text(), "teh second");
    // Another conversation has its own last message: none yet.
    ctrl(&mut app, 'u');
    press(&mut app, KeyCode::Esc);
    open(&mut app, 1);
    press(&mut app, KeyCode::Up);
    assert_eq!(app.input_text(), "");
}

#[test]
fn the_rename_prompt_text_is_selected_so_typing_replaces_it() {
    let mut app = app();
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char('n'));
    assert_eq!(prompt_text(&app), "bob");
    type_text(&mut app, "robert", at(0));
    assert_eq!(prompt_text(&app), "robert");
    // An arrow first keeps the name and edits it.
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('n'));
    press(&mut app, KeyCode::End);
    type_text(&mut app, "by", at(0));
    assert_eq!(prompt_text(&app), "bobby");
    ctrl(&mut app, 'u');
    assert_eq!(prompt_text(&app), "");
}

#[test]
fn the_help_lists_the_editing_keys() {
    let mut app = crate::support::app_sized(80, 60);
    press(&mut app, KeyCode::F(1));
    let shown = crate::support::screen(&app, 80, 60);
    for keys in ["Ctrl-A/E", "Ctrl-U/K/W", "↑ (empty)"] {
        assert!(shown.contains(keys), "{keys} missing: {shown}");
    }
}
