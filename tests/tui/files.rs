//! Files in the chat: Ctrl-O and its Tab completion, offers answered with y (and a folder)
//! or n, pause, resume and cancel, the list of transfers, and how each state looks.

use std::path::{Path, PathBuf};

use crossterm::event::{KeyCode, KeyModifiers};
use insta::assert_snapshot;
use qqchat::app::{App, Context, Effect, FileState};
use qqchat::engine::{Command, EngineEvent, FileAction, FileProgress};
use qqchat::proto::PeerId;

use crate::support::{
    ALICE, BOB, STRANGER, app_sized, at, draw, open, peer, press, press_mod, screen, type_text,
};

const MIB: u64 = 1 << 20;

/// A fresh folder for one test, removed at the end.
struct Dir(PathBuf);

impl Dir {
    fn new(label: &str) -> Dir {
        let path = std::env::temp_dir().join(format!("qqchat-tui-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Dir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn text(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An App whose clock says a minute past the tests' start, as the front end sets it.
fn app() -> App {
    let mut app = app_sized(80, 20);
    app.set_now(at(1));
    app
}

fn ctrl(app: &mut App, c: char) -> Vec<Effect> {
    press_mod(app, KeyCode::Char(c), KeyModifiers::CONTROL)
}

/// Ctrl-O, the path typed, Enter: the ids of the files the App hands out to hash and offer.
fn send_path(app: &mut App, path: &str) -> Vec<u64> {
    assert!(ctrl(app, 'o').is_empty());
    type_text(app, path, at(0));
    let effects = press(app, KeyCode::Enter);
    match effects.as_slice() {
        [Effect::PrepareFiles { files, .. }] => files.iter().map(|(id, _)| *id).collect(),
        other => panic!("expected files to prepare, got {other:?}"),
    }
}

/// Alice's conversation open, with `report.pdf` (10 MiB on the wire) sent to her.
fn sending(label: &str) -> (App, Dir, u64) {
    let dir = Dir::new(label);
    std::fs::write(dir.path().join("report.pdf"), b"pdf").unwrap();
    let mut app = app();
    open(&mut app, 0);
    let ids = send_path(&mut app, &format!("{}/report.pdf", dir.text()));
    (app, dir, ids[0])
}

fn progress(
    from: &str,
    id: u64,
    outgoing: bool,
    done: u64,
    rate: f64,
    paused: bool,
) -> EngineEvent {
    EngineEvent::FileProgress(FileProgress {
        peer: peer(from),
        id,
        outgoing,
        name: "report.pdf".into(),
        size: 10 * MIB,
        done,
        rate,
        paused,
    })
}

fn offered(from: &str, id: u64, name: &str, size: u64) -> EngineEvent {
    EngineEvent::FileOffered {
        from: peer(from),
        id,
        name: name.into(),
        size,
        saving_to: None,
    }
}

fn file_action(effects: &[Effect]) -> Vec<(u64, bool, FileAction)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send(Command::FileAction {
                id,
                outgoing,
                action,
                ..
            }) => Some((*id, *outgoing, *action)),
            _ => None,
        })
        .collect()
}

/// Alice's conversation open with the keys in it (not in the input).
fn in_conversation(app: &mut App) {
    press(app, KeyCode::BackTab);
    assert_eq!(app.context(), Context::Conversation);
}

#[test]
fn ctrl_o_completes_paths_with_tab_and_offers_a_folder_as_its_tree() {
    let dir = Dir::new("complete");
    std::fs::write(dir.path().join("report-2025.pdf"), b"a").unwrap();
    std::fs::write(dir.path().join("report-2026.pdf"), b"b").unwrap();
    std::fs::create_dir_all(dir.path().join("photos/summer")).unwrap();
    std::fs::write(dir.path().join("photos/a.jpg"), b"jpg").unwrap();
    std::fs::write(dir.path().join("photos/summer/b.jpg"), b"jpg2").unwrap();
    let mut app = app();
    open(&mut app, 0);
    ctrl(&mut app, 'o');
    assert!(app.prompt().unwrap().is_path());

    type_text(&mut app, &format!("{}/rep", dir.text()), at(0));
    press(&mut app, KeyCode::Tab);
    let prompt = app.prompt().unwrap();
    assert_eq!(prompt.text(), format!("{}/report-202", dir.text()));
    let (names, current) = prompt.completions().unwrap();
    assert_eq!(names, ["report-2025.pdf", "report-2026.pdf"]);
    assert_eq!(current, None);
    // Tab again cycles through the names, and round.
    press(&mut app, KeyCode::Tab);
    assert_eq!(
        app.prompt().unwrap().text(),
        format!("{}/report-2025.pdf", dir.text())
    );
    press(&mut app, KeyCode::Tab);
    assert_eq!(
        app.prompt().unwrap().text(),
        format!("{}/report-2026.pdf", dir.text())
    );
    press(&mut app, KeyCode::Tab);
    assert_eq!(
        app.prompt().unwrap().text(),
        format!("{}/report-2025.pdf", dir.text())
    );

    // A folder gets its slash.
    ctrl(&mut app, 'u');
    type_text(&mut app, &format!("{}/ph", dir.text()), at(0));
    press(&mut app, KeyCode::Tab);
    assert_eq!(
        app.prompt().unwrap().text(),
        format!("{}/photos/", dir.text())
    );

    let effects = press(&mut app, KeyCode::Enter);
    let [Effect::PrepareFiles { to, files }] = effects.as_slice() else {
        panic!("expected the files to prepare, got {effects:?}");
    };
    assert_eq!(*to, peer(ALICE));
    let names: Vec<&str> = files.iter().map(|(_, f)| f.name.as_str()).collect();
    assert_eq!(names, ["photos/a.jpg", "photos/summer/b.jpg"]);
    assert!(app.prompt().is_none());
    // One item in the conversation for the folder, being read.
    let t = &app.transfers()[0];
    assert!(t.is_folder());
    assert_eq!(t.files().len(), 2);
    let text = app.peers()[0]
        .messages()
        .last()
        .unwrap()
        .display_text()
        .into_owned();
    assert!(text.starts_with("photos/ · 2 files"), "{text}");
    assert!(text.contains("preparing"), "{text}");
}

#[test]
fn a_path_that_cannot_be_sent_says_why_and_sends_nothing() {
    let mut app = app();
    open(&mut app, 0);
    ctrl(&mut app, 'o');
    type_text(&mut app, "/no/such/file.txt", at(0));
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    let error = app.prompt().unwrap().error().unwrap().to_owned();
    assert!(error.contains("/no/such/file.txt"), "{error}");
    assert!(app.transfers().is_empty());
    // Esc leaves it; nothing was sent.
    assert!(press(&mut app, KeyCode::Esc).is_empty());
    assert!(app.prompt().is_none());
}

#[test]
fn a_file_that_cannot_be_read_when_hashed_fails_with_the_reason() {
    let (mut app, _dir, id) = sending("unreadable");
    app.on_engine(EngineEvent::FileFailed {
        peer: peer(ALICE),
        id,
        outgoing: true,
        reason: "cannot read report.pdf: permission denied".into(),
    });
    let text = app.peers()[0]
        .messages()
        .last()
        .unwrap()
        .display_text()
        .into_owned();
    assert!(
        text.contains("✗ not sent: cannot read report.pdf: permission denied"),
        "{text}"
    );
}

#[test]
fn y_asks_where_to_save_and_enter_accepts_into_that_folder() {
    let mut app = app();
    app.set_downloads(Some(PathBuf::from("/home/me/Downloads")));
    open(&mut app, 0);
    app.on_engine(offered(ALICE, 7, "notes.txt", 1200));
    in_conversation(&mut app);
    assert!(press(&mut app, KeyCode::Char('y')).is_empty());
    let prompt = app.prompt().unwrap();
    assert!(prompt.is_path());
    assert_eq!(prompt.text(), "/home/me/Downloads");
    ctrl(&mut app, 'u');
    type_text(&mut app, "/srv/inbox", at(0));
    let effects = press(&mut app, KeyCode::Enter);
    let [Effect::Send(Command::AcceptFile { from, id, dir })] = effects.as_slice() else {
        panic!("expected the file accepted, got {effects:?}");
    };
    assert_eq!(
        (*from, *id, dir.as_path()),
        (peer(ALICE), 7, Path::new("/srv/inbox"))
    );
    let text = app.peers()[0]
        .messages()
        .last()
        .unwrap()
        .display_text()
        .into_owned();
    assert!(text.contains("saving to /srv/inbox"), "{text}");
    // Answered: y has nothing left to do.
    press(&mut app, KeyCode::Char('y'));
    assert!(app.prompt().is_none());
}

#[test]
fn typing_y_or_n_in_the_input_is_text_never_an_answer() {
    let mut app = app();
    open(&mut app, 0);
    app.on_engine(offered(ALICE, 7, "notes.txt", 1200));
    assert_eq!(app.context(), Context::Input);
    type_text(&mut app, "yes no", at(0));
    assert_eq!(app.input_text(), "yes no");
    assert!(app.transfers()[0].is_asking());
}

#[test]
fn n_declines_and_strangers_are_asked_too() {
    let mut app = app();
    app.on_engine(offered(STRANGER, 9, "free-money.exe", 5 * MIB));
    assert!(
        app.transfers()[0].is_asking(),
        "a stranger's offer waits for the user"
    );
    open(&mut app, 3);
    in_conversation(&mut app);
    let effects = press(&mut app, KeyCode::Char('n'));
    let [Effect::Send(Command::DeclineFile { from, id })] = effects.as_slice() else {
        panic!("expected a decline, got {effects:?}");
    };
    assert_eq!(
        (*from, *id),
        (PeerId::addr(crate::support::addr(STRANGER)), 9)
    );
    let text = app.peers()[3]
        .messages()
        .last()
        .unwrap()
        .display_text()
        .into_owned();
    assert!(text.contains("✗ not received: declined here"), "{text}");
}

#[test]
fn an_offer_rings_and_marks_its_contact_like_a_message() {
    let mut app = app();
    open(&mut app, 0);
    let effects = app.on_engine(offered(BOB, 3, "song.ogg", 3 * MIB));
    assert!(
        matches!(effects.as_slice(), [Effect::Bell, Effect::Notify { body, .. }] if body == "offers a file"),
        "{effects:?}"
    );
    assert_eq!(app.peers()[1].unread(), 1);
    assert_eq!(app.file_counts(app.peers()[1].id()), (1, 0));
    // An offer in the open conversation is said in the status line instead.
    let effects = app.on_engine(offered(ALICE, 4, "a.txt", 10));
    assert!(effects.is_empty());
    let shown = screen(&app, 80, 20);
    assert!(shown.contains("alice offers a.txt"), "{shown}");
    assert!(
        shown.contains(" 1 ⇣1 "),
        "bob's row counts the message and the offer: {shown}"
    );
}

#[test]
fn p_pauses_and_resumes_and_x_cancels_the_picked_file() {
    let (mut app, _dir, id) = sending("pause");
    app.on_engine(progress(ALICE, id, true, MIB, 1e6, false));
    in_conversation(&mut app);
    let effects = press(&mut app, KeyCode::Char('p'));
    assert_eq!(file_action(&effects), [(id, true, FileAction::Pause)]);
    app.on_engine(progress(ALICE, id, true, MIB, 0.0, true));
    assert_eq!(*app.transfers()[0].files()[0].state(), FileState::Paused);
    let effects = press(&mut app, KeyCode::Char('p'));
    assert_eq!(file_action(&effects), [(id, true, FileAction::Resume)]);

    press(&mut app, KeyCode::Up);
    let effects = press(&mut app, KeyCode::Char('x'));
    assert_eq!(file_action(&effects), [(id, true, FileAction::Cancel)]);
}

#[test]
fn the_list_of_transfers_answers_pauses_and_cancels_the_one_picked() {
    let (mut app, _dir, id) = sending("list");
    app.on_engine(progress(ALICE, id, true, MIB, 1e6, false));
    app.on_engine(offered(BOB, 5, "song.ogg", 3 * MIB));
    ctrl(&mut app, 't');
    assert_eq!(app.context(), Context::Transfers);
    // The cursor starts on the offer waiting for an answer.
    assert_eq!(app.transfers_selected(), Some(1));
    assert!(press(&mut app, KeyCode::Char('y')).is_empty());
    type_text(&mut app, "/srv/music", at(0));
    let effects = press(&mut app, KeyCode::Enter);
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::Send(Command::AcceptFile { id: 5, .. })]
        ),
        "{effects:?}"
    );
    assert_eq!(app.context(), Context::Transfers, "back to the list");
    press(&mut app, KeyCode::Up);
    let effects = press(&mut app, KeyCode::Char('p'));
    assert_eq!(file_action(&effects), [(id, true, FileAction::Pause)]);
    let effects = press(&mut app, KeyCode::Char('x'));
    assert_eq!(file_action(&effects), [(id, true, FileAction::Cancel)]);
    // Closing the list gives the keys back to the pane that had them.
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.context(), Context::Input);
}

#[test]
fn a_hostile_file_name_is_shown_safe_on_one_line() {
    let mut app = app();
    open(&mut app, 0);
    app.on_engine(offered(
        ALICE,
        1,
        "\u{1b}[2Jevil\u{202e}txt.exe\nrm -rf ~",
        66,
    ));
    let shown = screen(&app, 80, 20);
    assert!(!shown.contains('\u{1b}') && !shown.contains('\u{202e}'));
    assert!(
        shown.contains("^[[2Jevil\u{FFFD}txt.exe ↵ rm -rf ~"),
        "{shown}"
    );
    ctrl(&mut app, 't');
    let shown = screen(&app, 80, 20);
    assert!(!shown.contains('\u{1b}') && !shown.contains('\u{202e}'));
}

#[test]
fn an_offer_refused_over_the_size_limit_is_shown_with_why() {
    let mut app = app();
    open(&mut app, 0);
    app.on_engine(EngineEvent::FileFailed {
        peer: peer(ALICE),
        id: 12,
        outgoing: false,
        reason: "big.iso (8.0 GiB) refused: over [me] max_file_size (1.0 GiB)".into(),
    });
    let text = app.peers()[0]
        .messages()
        .last()
        .unwrap()
        .display_text()
        .into_owned();
    assert!(
        text.contains("✗ not received: big.iso (8.0 GiB) refused"),
        "{text}"
    );
}

// ---- how each state looks ----

#[test]
fn snapshot_file_sending_with_rate_and_time_left() {
    let (mut app, _dir, id) = sending("snap-run");
    app.on_engine(progress(
        ALICE,
        id,
        true,
        9 * MIB / 2,
        1.5 * MIB as f64,
        false,
    ));
    assert_snapshot!(draw(&app, 80, 14).backend());
}

#[test]
fn snapshot_file_verified() {
    let (mut app, _dir, id) = sending("snap-done");
    app.on_engine(progress(ALICE, id, true, 10 * MIB, 1.5 * MIB as f64, false));
    app.on_engine(EngineEvent::FileDone {
        peer: peer(ALICE),
        id,
        outgoing: true,
        path: None,
    });
    app.on_engine(offered(ALICE, 2, "photo.jpg", 2 * MIB));
    in_conversation(&mut app);
    press(&mut app, KeyCode::Char('y'));
    ctrl(&mut app, 'u');
    type_text(&mut app, "/home/me/Downloads", at(0));
    press(&mut app, KeyCode::Enter);
    app.on_engine(EngineEvent::FileDone {
        peer: peer(ALICE),
        id: 2,
        outgoing: false,
        path: Some(PathBuf::from("/home/me/Downloads/photo.jpg")),
    });
    assert_snapshot!(draw(&app, 80, 14).backend());
}

#[test]
fn snapshot_file_failed_with_the_reason() {
    let (mut app, _dir, id) = sending("snap-failed");
    app.on_engine(progress(ALICE, id, true, 3 * MIB, 1e6, false));
    app.on_engine(EngineEvent::FileFailed {
        peer: peer(ALICE),
        id,
        outgoing: true,
        reason: "no answer for 30 s".into(),
    });
    assert_snapshot!(draw(&app, 80, 14).backend());
}

#[test]
fn snapshot_file_paused() {
    let (mut app, _dir, id) = sending("snap-paused");
    app.on_engine(progress(ALICE, id, true, 6 * MIB, 0.0, true));
    assert_snapshot!(draw(&app, 80, 14).backend());
}

#[test]
fn snapshot_file_offered_waiting_for_an_answer() {
    let mut app = app();
    open(&mut app, 0);
    app.on_engine(offered(ALICE, 1, "holiday.mp4", 700 * MIB));
    in_conversation(&mut app);
    assert_snapshot!(draw(&app, 80, 14).backend());
}

#[test]
fn snapshot_transfers_list() {
    let (mut app, _dir, id) = sending("snap-list");
    app.on_engine(progress(
        ALICE,
        id,
        true,
        9 * MIB / 2,
        1.5 * MIB as f64,
        false,
    ));
    app.on_engine(offered(BOB, 5, "song.ogg", 3 * MIB));
    app.on_engine(offered(BOB, 6, "album/01.ogg", 4 * MIB));
    app.on_engine(offered(BOB, 7, "album/02.ogg", 5 * MIB));
    app.on_engine(EngineEvent::FileFailed {
        peer: peer(BOB),
        id: 5,
        outgoing: false,
        reason: "cancelled by the other side".into(),
    });
    ctrl(&mut app, 't');
    assert_snapshot!(draw(&app, 80, 20).backend());
}

#[test]
fn a_folder_offered_is_one_item_and_y_accepts_every_file_of_it() {
    let mut app = app();
    open(&mut app, 0);
    app.on_engine(offered(ALICE, 1, "album/01.ogg", 4 * MIB));
    app.on_engine(offered(ALICE, 2, "album/cd2/02.ogg", 5 * MIB));
    assert_eq!(app.transfers().len(), 1);
    assert_eq!(app.peers()[0].messages().len(), 1);
    in_conversation(&mut app);
    press(&mut app, KeyCode::Char('y'));
    type_text(&mut app, "/srv/music", at(0));
    let effects = press(&mut app, KeyCode::Enter);
    let ids: Vec<u64> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send(Command::AcceptFile { id, .. }) => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(ids, [1, 2]);
    for id in [1, 2] {
        app.on_engine(EngineEvent::FileDone {
            peer: peer(ALICE),
            id,
            outgoing: false,
            path: Some(PathBuf::from("/srv/music/album/x.ogg")),
        });
    }
    let text = app.peers()[0].messages()[0].display_text().into_owned();
    assert!(text.starts_with("album/ · 2 files · 9.0 MiB"), "{text}");
    assert!(
        text.contains("✓ verified · saved in /srv/music/album/"),
        "{text}"
    );
}
