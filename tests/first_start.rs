//! The real chat on a real terminal (tmux) for a new user: no contacts file at all.
//! It starts, says how to add a friend, and writes the file when the first one is added.

use qqchat_testkit::{TempDir, Tmux, free_port, qqchat, qqchat_line, text};

#[test]
fn a_first_start_without_a_contacts_file_chats_and_makes_the_file_on_the_first_add() {
    let dir = TempDir::new("first-start");
    let port = free_port();
    let Some(tmux) = Tmux::start(
        "first",
        &qqchat_line(dir.path(), &format!("--bind 127.0.0.1:{port}")),
    ) else {
        return;
    };
    let screen = tmux
        .wait_for("no contacts yet")
        .unwrap_or_else(|s| panic!("no first-start hint:\n{s}"));
    // On loopback nobody on the LAN could reach it, so the hint does not promise them.
    assert!(screen.contains("A adds a friend"), "{screen}");
    assert!(!screen.contains("appear by themselves"), "{screen}");
    let file = dir
        .path()
        .join("config")
        .join("qqchat")
        .join("contacts.toml");
    assert!(
        !file.exists(),
        "nothing is written before a contact is added"
    );

    // A friend's contact string, pasted with A.
    let key = "sd/1lfzxMpdqCdXuWHG0Tn/zjWTXuXkudTOWMLOTmHw=";
    tmux.keys(&["A"]);
    tmux.wait_for("contact string")
        .unwrap_or_else(|s| panic!("no prompt for the contact string:\n{s}"));
    tmux.keys(&["-l", &format!("qqchat:bob@127.0.0.1:9302?key={key}")]);
    tmux.keys(&["Enter"]);
    let screen = tmux
        .wait_for("bob added")
        .unwrap_or_else(|s| panic!("bob was not added:\n{s}"));
    assert!(screen.contains("bob"), "{screen}");
    let written = std::fs::read_to_string(&file).expect("the contacts file was made");
    assert!(written.contains(key), "{written}");
    assert!(
        written.contains(&format!("listen = \"127.0.0.1:{port}\"")),
        "{written}"
    );
    assert!(
        written.contains("# [lan]"),
        "commented like the example: {written}"
    );
    // The file loads as qqchat reads it.
    qqchat::contacts::ContactBook::load(&file).expect("the file written loads");
}

#[test]
fn naming_a_contacts_file_that_is_missing_still_stops_the_chat() {
    let dir = TempDir::new("first-missing");
    let out = qqchat(dir.path())
        .args(["--contacts", "nope.toml"])
        .output()
        .expect("run qqchat");
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("nope.toml"), "{err}");
}

#[test]
fn the_demo_bot_takes_a_file_sent_with_ctrl_o() {
    let dir = TempDir::new("demo-file");
    let file = dir.write("notes.txt", "for the bot");
    let Some(tmux) = Tmux::start("demo-file", &qqchat_line(dir.path(), "demo")) else {
        return;
    };
    tmux.wait_for("I answer it in capitals")
        .unwrap_or_else(|s| panic!("no greeting:\n{s}"));
    tmux.keys(&["C-o"]);
    tmux.wait_for("Tab complete")
        .unwrap_or_else(|s| panic!("no path prompt:\n{s}"));
    tmux.keys(&["-l", &file.display().to_string()]);
    tmux.keys(&["Enter"]);
    let screen = tmux
        .wait_for("verified by bot")
        .unwrap_or_else(|s| panic!("the bot did not take the file:\n{s}"));
    assert!(screen.contains("notes.txt"), "{screen}");
    assert!(!screen.contains("keeps no files"), "{screen}");
}

#[test]
fn ctrl_x_writes_the_draft_in_the_editor_and_it_waits_in_the_input_until_enter() {
    let dir = TempDir::new("demo-editor");
    // An "editor" that appends a line to what it is given, as a person would type it.
    let editor = dir.write(
        "editor.sh",
        "#!/bin/sh\nprintf 'and a second line\\n' >> \"$1\"\n",
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755))
            .expect("executable");
    }
    let line = format!(
        "export EDITOR='{}' VISUAL=''; {}",
        editor.display(),
        qqchat_line(dir.path(), "demo")
    );
    let Some(tmux) = Tmux::start("demo-editor", &line) else {
        return;
    };
    tmux.wait_for("I answer it in capitals")
        .unwrap_or_else(|s| panic!("no greeting:\n{s}"));
    tmux.keys(&["-l", "first line"]);
    tmux.keys(&["C-x"]);
    let screen = tmux
        .wait_for("and a second line")
        .unwrap_or_else(|s| panic!("the edit did not come back:\n{s}"));
    // Back in the input, not sent: the bot has not answered it.
    assert!(screen.contains("first line"), "{screen}");
    assert!(!screen.contains("AND A SECOND LINE"), "{screen}");
    tmux.keys(&["Enter"]);
    tmux.wait_for("AND A SECOND LINE")
        .unwrap_or_else(|s| panic!("Enter did not send it:\n{s}"));
}

#[test]
fn the_demo_closed_with_its_terminal_removes_its_files() {
    let dir = TempDir::new("demo-hangup");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).expect("a temporary directory");
    // Its own temporary directory, so what the demo leaves there is its alone.
    let line = format!(
        "export TMPDIR='{}'; {}",
        tmp.display(),
        qqchat_line(dir.path(), "demo")
    );
    let Some(tmux) = Tmux::start("demo-hangup", &line) else {
        return;
    };
    tmux.wait_for("I answer it in capitals")
        .unwrap_or_else(|s| panic!("no greeting:\n{s}"));
    let made = std::fs::read_dir(&tmp).expect("read").count();
    assert_eq!(made, 1, "the demo keeps its files in one directory");
    // The terminal goes away: tmux hangs up on what runs in it (SIGHUP).
    drop(tmux);
    let mut left = made;
    for _ in 0..200 {
        left = std::fs::read_dir(&tmp).expect("read").count();
        if left == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(left, 0, "the demo's directory was left behind after SIGHUP");
}

#[test]
fn the_demo_bot_answers_in_a_group_without_writing_over_the_chat() {
    let dir = TempDir::new("demo-group");
    let Some(tmux) = Tmux::start("demo-group", &qqchat_line(dir.path(), "demo")) else {
        return;
    };
    tmux.wait_for("I answer it in capitals")
        .unwrap_or_else(|s| panic!("no greeting:\n{s}"));
    tmux.keys(&["C-g"]);
    tmux.wait_for("New group")
        .unwrap_or_else(|s| panic!("no dialog:\n{s}"));
    tmux.keys(&["-l", "crew"]);
    tmux.keys(&["Tab"]);
    tmux.keys(&["Space"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("2 members")
        .unwrap_or_else(|s| panic!("no group:\n{s}"));
    tmux.keys(&["-l", "bot: are you in?"]);
    tmux.keys(&["Enter"]);
    let screen = tmux
        .wait_for("you: ARE YOU IN?")
        .unwrap_or_else(|s| panic!("the bot did not answer in the group:\n{s}"));
    // The bot in the same process prints nothing: the chat owns the terminal.
    assert!(!screen.contains("qqchat: answered"), "{screen}");
}
