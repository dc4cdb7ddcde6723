//! Editing contacts from the UI: add, rename, remove.

use crossterm::event::{KeyCode, KeyModifiers};
use insta::assert_snapshot;
use qqchat::app::{Effect, Focus, Notice, PromptKind};

use crate::support::{
    STRANGER, addr, app, app_with_stranger, at, draw, open, press, press_mod, prompt_text,
    type_text,
};

#[test]
fn snapshot_add_contact_prompt() {
    let mut app = app_with_stranger();
    press(&mut app, KeyCode::Char('a'));
    type_text(&mut app, "carol", at(0));
    assert_snapshot!(draw(&app, 80, 14).backend());
}

#[test]
fn a_on_a_stranger_asks_for_a_name_and_adds_it() {
    let mut app = app_with_stranger();
    press(&mut app, KeyCode::Char('a'));
    let prompt = app.prompt().unwrap();
    assert_eq!(prompt.question(), "Name for 127.0.0.1:5555:");
    assert_eq!(
        prompt.kind(),
        &PromptKind::Add {
            addr: addr(STRANGER)
        }
    );
    assert_eq!(prompt_text(&app), "");
    // Keys go to the prompt: q is a letter here, not quit.
    type_text(&mut app, "caqx", at(0));
    press(&mut app, KeyCode::Backspace);
    press(&mut app, KeyCode::Backspace);
    type_text(&mut app, "rol", at(0));
    assert_eq!(prompt_text(&app), "carol");
    let effects = press(&mut app, KeyCode::Enter);
    let [
        Effect::AddContact {
            name,
            addr: to,
            plain,
        },
    ] = effects.as_slice()
    else {
        panic!("expected an add, got {effects:?}");
    };
    assert_eq!(
        (name.as_str(), *to, *plain),
        ("carol", addr(STRANGER), true)
    );
    assert!(app.prompt().is_none());
}

#[test]
fn esc_cancels_a_prompt_and_enter_needs_a_free_name() {
    let mut app = app_with_stranger();
    press(&mut app, KeyCode::Char('a'));
    type_text(&mut app, "x", at(0));
    assert!(press(&mut app, KeyCode::Esc).is_empty());
    assert!(app.prompt().is_none());
    assert_eq!(app.focus(), Focus::Contacts);

    press(&mut app, KeyCode::Char('a'));
    assert!(press(&mut app, KeyCode::Enter).is_empty(), "an empty name");
    assert!(app.prompt().unwrap().error().is_some());
    type_text(&mut app, "  bob ", at(0));
    assert!(press(&mut app, KeyCode::Enter).is_empty(), "bob is taken");
    assert_eq!(app.prompt().unwrap().error(), Some("bob is already taken."));
    type_text(&mut app, "b", at(0));
    assert_eq!(
        app.prompt().unwrap().error(),
        None,
        "typing clears the complaint"
    );
    app.on_paste("\x1b[31maddr-x\nsecond line".into());
    assert_eq!(
        prompt_text(&app),
        "  bob b[31maddr-x",
        "one line, no controls"
    );
    for _ in 0..prompt_text(&app).chars().count() {
        press(&mut app, KeyCode::Backspace);
    }
    type_text(&mut app, "addr-1", at(0));
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    assert!(app.prompt().unwrap().error().unwrap().contains("addr-"));
}

#[test]
fn prompts_take_cjk_names() {
    let mut app = app_with_stranger();
    press(&mut app, KeyCode::Char('a'));
    type_text(&mut app, "小明明", at(0));
    press(&mut app, KeyCode::Backspace);
    assert_eq!(prompt_text(&app), "小明");
    let screen = format!("{}", draw(&app, 80, 14).backend());
    assert!(screen.contains("小明"), "{screen}");
    let effects = press(&mut app, KeyCode::Enter);
    assert!(
        matches!(effects.as_slice(), [Effect::AddContact { name, .. }] if name == "小明"),
        "{effects:?}"
    );
}

#[test]
fn alt_enter_in_a_prompt_confirms_instead_of_adding_a_line() {
    let mut app = app_with_stranger();
    press(&mut app, KeyCode::Char('a'));
    type_text(&mut app, "carol", at(0));
    press_mod(&mut app, KeyCode::Char('m'), KeyModifiers::CONTROL);
    assert_eq!(prompt_text(&app), "carol");
    assert_eq!(app.prompt().unwrap().input().lines().len(), 1);
    let effects = press_mod(&mut app, KeyCode::Enter, KeyModifiers::ALT);
    assert!(matches!(effects.as_slice(), [Effect::AddContact { .. }]));
}

#[test]
fn n_renames_a_contact_starting_from_its_name() {
    let mut app = app();
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char('n'));
    assert_eq!(app.prompt().unwrap().question(), "Rename bob to:");
    assert_eq!(prompt_text(&app), "bob");
    assert!(
        press(&mut app, KeyCode::Enter).is_empty(),
        "same name: nothing to do"
    );
    assert!(app.prompt().is_none());

    press(&mut app, KeyCode::Char('n'));
    for _ in 0..3 {
        press(&mut app, KeyCode::Backspace);
    }
    type_text(&mut app, "鲍勃", at(0));
    let effects = press(&mut app, KeyCode::Enter);
    let [Effect::RenameContact { from, to }] = effects.as_slice() else {
        panic!("expected a rename, got {effects:?}");
    };
    assert_eq!((from.as_str(), to.as_str()), ("bob", "鲍勃"));
}

#[test]
fn d_asks_before_removing_a_contact() {
    let mut app = app();
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char('d'));
    assert_eq!(
        app.prompt().unwrap().question(),
        "Remove bob from contacts? y/n"
    );
    assert!(
        press(&mut app, KeyCode::Char('q')).is_empty(),
        "other keys wait"
    );
    assert!(app.prompt().is_some());
    assert!(press(&mut app, KeyCode::Char('n')).is_empty());
    assert!(app.prompt().is_none());
    press(&mut app, KeyCode::Char('d'));
    assert!(press(&mut app, KeyCode::Esc).is_empty());
    assert!(app.prompt().is_none());
    press(&mut app, KeyCode::Char('d'));
    let effects = press(&mut app, KeyCode::Char('y'));
    assert!(
        matches!(effects.as_slice(), [Effect::RemoveContact { name }] if name == "bob"),
        "{effects:?}"
    );
}

#[test]
fn contact_keys_say_why_they_do_nothing() {
    let mut app = app();
    press(&mut app, KeyCode::Char('a'));
    assert!(app.prompt().is_none());
    assert!(matches!(app.notice(), Some(Notice::Info(t)) if t.contains("already in contacts")));
    let mut app = app_with_stranger();
    // n on a stranger names it, as a does.
    press(&mut app, KeyCode::Char('n'));
    assert!(matches!(
        app.prompt().unwrap().kind(),
        PromptKind::Add { .. }
    ));
}

#[test]
fn f5_asks_for_a_reload() {
    let mut app = app();
    assert!(matches!(
        press(&mut app, KeyCode::F(5)).as_slice(),
        [Effect::ReloadContacts]
    ));
    open(&mut app, 0);
    assert!(matches!(
        press(&mut app, KeyCode::F(5)).as_slice(),
        [Effect::ReloadContacts]
    ));
    assert_eq!(app.input_text(), "");
}

#[test]
fn d_on_a_stranger_takes_it_off_the_list_and_keeps_its_history() {
    let mut app = app_with_stranger();
    open(&mut app, 3);
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('d'));
    let prompt = app.prompt().unwrap();
    assert!(prompt.is_confirm());
    assert!(
        prompt.question().contains("history is kept"),
        "{}",
        prompt.question()
    );
    assert_snapshot!(crate::support::draw(&app, 80, 14).backend());
    let effects = press(&mut app, KeyCode::Char('y'));
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::RemoveContact { .. })),
        "the contacts file is not touched: {effects:?}"
    );
    assert_eq!(app.peers().len(), 3, "the entry is gone");
    assert_eq!(app.open(), None);
    assert_eq!(app.selected(), 2, "the cursor stays in the list");
    assert!(matches!(app.notice(), Some(Notice::Info(t)) if t.contains("history is kept")));
    // It writes again: back it comes.
    app.on_engine(crate::support::received_plain(STRANGER, "me again", 5));
    assert_eq!(app.peers().len(), 4);
}
