//! The real terminal front end: raw mode, the input thread, and the loop that feeds the
//! [`App`] and draws it.
//!
//! Three sources wake the loop: terminal events (read by their own thread, because
//! `crossterm::event::read` blocks), engine events, and a change of the contacts file. There
//! is no tick: the screen is drawn when one of them changed something, so an idle qqchat
//! sleeps. The one periodic wake is the contacts file watcher's, on a thread of its own.
//!
//! The [`App`] does no I/O: this loop carries out its [`Effect`]s, including the edits of
//! the contacts file it asks for.

use std::cell::Cell;
use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, SystemTime};

use anyhow::{Context, anyhow, bail};
use crossbeam_channel::{Receiver, TrySendError, select};
use crossterm::event::{
    self, DisableBracketedPaste, DisableFocusChange, DisableMouseCapture, EnableBracketedPaste,
    EnableFocusChange, EnableMouseCapture, Event, KeyboardEnhancementFlags,
    PopKeyboardEnhancementFlags, PushKeyboardEnhancementFlags,
};
use crossterm::execute;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use ratatui::DefaultTerminal;

use std::path::PathBuf;

use crate::app::{App, Effect};
use crate::contacts::{self, ContactBook, ContactsError, EditError, KeyedAdd, Me};
use crate::engine::{Command, EngineEvent, EngineHandle, KeyChange};
use crate::proto::PublicKey;
use crate::store::{self, History};
use crate::ui;

mod clipboard;
mod hooks;
mod me;
mod notify;

use me::MeChanges;

/// Events taken in one go before drawing, so a burst draws once but keys still feel live.
const BATCH: usize = 256;

/// How often the contacts file's modification time is looked at.
const WATCH_INTERVAL: Duration = Duration::from_secs(2);

/// Said when the contacts cannot be changed because the chat runs without a file (the demo).
const NO_FILE: &str = "this chat has no contacts file, so contacts cannot be changed or reloaded";

/// What the status line says while there is no contacts file: who shows up anyway, and how
/// to add a friend elsewhere (the file is made then).
const FIRST_START: &str = "no contacts yet: people on this network appear by themselves; A adds a friend from their qqchat id";
/// The same without LAN discovery (`--no-lan`, `[lan]` off, or a loopback address).
const FIRST_START_OFF_LAN: &str =
    "no contacts yet: A adds a friend from their qqchat id (finding people on this network is off)";

/// The status line's word while there is no contacts file.
fn first_start(on_lan: bool) -> &'static str {
    if on_lan {
        FIRST_START
    } else {
        FIRST_START_OFF_LAN
    }
}

/// The terminal is in TUI mode and must be put back by whoever leaves first.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Keyboard enhancement flags were pushed and must be popped.
static ENHANCED: AtomicBool = AtomicBool::new(false);
/// The chat has the mouse (`[me] mouse`), and must give it back.
static MOUSE: AtomicBool = AtomicBool::new(false);
/// Held while writing to the terminal, so that a panicking worker thread never restores
/// the terminal in the middle of a frame, and no frame is drawn after it did.
static TERMINAL: Mutex<()> = Mutex::new(());

thread_local! {
    /// True on the thread that draws; it may hold [`TERMINAL`] when it panics.
    static DRAWS: Cell<bool> = const { Cell::new(false) };
}

fn lock_terminal() -> MutexGuard<'static, ()> {
    TERMINAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the chat knows of its user beyond the contacts file.
#[derive(Default)]
pub struct Session {
    /// The history, to read: older messages as they are scrolled to, and searches. The
    /// engine writes it; this reads beside it.
    pub history: Option<History>,
    /// This user's public key, for the contact string others paste.
    pub public_key: Option<PublicKey>,
    /// Where drafts are kept; `None` keeps them only while the chat runs.
    pub data_dir: Option<PathBuf>,
    /// Whether people on this network are found (discovery or IP Messenger is on).
    pub on_lan: bool,
    /// The folder offered when a file is accepted (`[me] downloads` or the system's).
    pub downloads: Option<PathBuf>,
    /// The key each contact was first trusted with (the book is already held to them).
    pub trust: store::TrustBook,
    /// The data directory, where the trusted keys are kept; `None` keeps them for the run.
    pub trust_dir: Option<PathBuf>,
    /// Contacts whose key the file changed, held to the trusted one.
    pub key_changes: Vec<KeyChange>,
}

/// Runs the TUI until the user quits. The terminal is restored on every way out.
pub fn run(
    book: ContactBook,
    contacts_file: Option<PathBuf>,
    engine: EngineHandle,
    session: Session,
) -> anyhow::Result<()> {
    let mut app = App::new(&book, engine.local_addr, TimeZone::system());
    app.set_public_key(session.public_key);
    app.set_downloads(session.downloads.clone());
    // The LAN address for the contact string when listening on every interface.
    let local = engine.local_addr;
    let lan = crate::net::outbound_ip(local).map(|ip| std::net::SocketAddr::new(ip, local.port()));
    app.set_own_addrs(vec![lan.unwrap_or(local)]);
    if let Some(history) = &session.history {
        // The last page of each conversation draws the first screen; older pages are read
        // as the view reaches them, so neither start-up nor memory grows with the history.
        match history.conversations(crate::app::HISTORY_PAGE) {
            Ok(recent) => app.load_recent(recent, crate::app::HISTORY_PAGE),
            Err(err) => app.show_error(&format!("the history could not be read: {err}")),
        }
    }
    // How far each conversation was read: the first run counts nothing before it as unread.
    let on_disk = session.data_dir.as_deref().map(store::load_read);
    let from_now = || store::ReadPoints {
        since: Some(Timestamp::now()),
        ..store::ReadPoints::default()
    };
    let loaded_read = match &on_disk {
        Some(Ok(Some(points))) => Some(points.clone()),
        Some(Ok(None)) => Some(from_now()),
        Some(Err(err)) => {
            app.show_error(&format!("unread counts not restored: {err}"));
            Some(from_now())
        }
        None => None,
    };
    if let Some(points) = loaded_read {
        app.set_read_points(points);
        // More unread than the first page holds is counted in the history.
        if let Some(history) = &session.history {
            let counts: Vec<_> = app
                .counts_wanted()
                .into_iter()
                .filter_map(|(key, after)| {
                    let n = history.count_received_after(&key, Some(after)).ok()?;
                    Some((key, usize::try_from(n).unwrap_or(usize::MAX)))
                })
                .collect();
            app.set_unread_counts(&counts);
        }
    }
    let drafts = session.data_dir.as_deref().map(store::load_drafts);
    match drafts {
        Some(Ok(drafts)) => app.set_drafts(drafts),
        Some(Err(err)) => app.show_error(&format!("drafts not restored: {err}")),
        None => {}
    }
    app.set_key_trust(session.key_changes.clone(), verified(&session.trust));
    app.open_if_only_contact();
    // Kept at once when opening marked something read, or when there was no file yet.
    let saved = on_disk.and_then(Result::ok).flatten();
    if let Some(dir) = session.data_dir.as_deref()
        && saved.as_ref() != Some(app.read_points())
        && let Err(err) = store::save_read(dir, app.read_points())
    {
        app.show_error(&format!("unread counts not kept: {err}"));
    }
    if contacts_file.as_deref().is_some_and(|p| !p.exists()) {
        app.show_info(first_start(session.on_lan));
    }
    // `[me]` as the file says, without the flags: a later edit is told from it.
    let file_me = contacts_file
        .as_deref()
        .and_then(|path| ContactBook::load(path).ok())
        .map_or_else(|| book.me.clone(), |file| file.me);
    let mut contacts = Contacts {
        path: contacts_file,
        book,
        file_me,
        broken: false,
        on_lan: session.on_lan,
        trust_dir: session.trust_dir.clone(),
        trust: session.trust.clone(),
    };
    let mut screen = Screen::enter().context("could not switch the terminal to the chat screen")?;
    set_mouse(contacts.book.me.mouse);
    let mut result = event_loop(
        &mut screen.terminal,
        &mut app,
        &engine,
        &mut contacts,
        &session,
    );
    // Whatever ended the loop, what was being written is kept.
    if let (Some(Effect::SaveDrafts(drafts)), Some(dir)) =
        (app.unsaved_drafts(), session.data_dir.as_deref())
        && let Err(err) = store::save_drafts(dir, &drafts)
    {
        result = result.and(Err(anyhow!("your drafts could not be kept: {err}")));
    }
    if let Some(dir) = session.data_dir.as_deref()
        && let Err(err) = store::save_read(dir, app.read_points())
    {
        result = result.and(Err(anyhow!("what was read could not be kept: {err}")));
    }
    drop(screen);
    // Says goodbye to the contacts; the engine may already be gone when it is the reason
    // for leaving.
    engine.shutdown();
    result
}

/// Owns the terminal while in TUI mode; dropping it restores the terminal.
struct Screen {
    terminal: DefaultTerminal,
}

impl Screen {
    fn enter() -> io::Result<Screen> {
        // Installs ratatui's hook that restores raw mode and the main screen on panic.
        let terminal = match ratatui::try_init() {
            Ok(terminal) => terminal,
            Err(err) => {
                ratatui::restore();
                return Err(err);
            }
        };
        install_panic_hook();
        DRAWS.set(true);
        ACTIVE.store(true, Ordering::SeqCst);
        let screen = Screen { terminal };
        execute!(io::stdout(), EnableBracketedPaste, EnableFocusChange)?;
        // Only terminals that speak the kitty keyboard protocol tell Shift+Enter from Enter.
        if crossterm::terminal::supports_keyboard_enhancement().unwrap_or(false) {
            execute!(
                io::stdout(),
                PushKeyboardEnhancementFlags(KeyboardEnhancementFlags::DISAMBIGUATE_ESCAPE_CODES)
            )?;
            ENHANCED.store(true, Ordering::SeqCst);
        }
        Ok(screen)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _terminal = lock_terminal();
        DRAWS.set(false);
        if ACTIVE.swap(false, Ordering::SeqCst) {
            undo_modes();
            // Not `restore`, which prints its failure: with the terminal gone (a hang-up),
            // printing fails too, and that would panic on the way out.
            let _ = ratatui::try_restore();
        }
    }
}

/// Turns off what qqchat turned on beyond raw mode and the alternate screen. Errors are
/// ignored: this runs while leaving, when nothing better can be done.
fn undo_modes() {
    let mut out = io::stdout();
    if ENHANCED.swap(false, Ordering::SeqCst) {
        let _ = execute!(out, PopKeyboardEnhancementFlags);
    }
    let _ = execute!(out, DisableBracketedPaste, DisableFocusChange);
    if MOUSE.load(Ordering::SeqCst) {
        let _ = execute!(out, DisableMouseCapture);
    }
}

/// Takes the mouse (wheel and clicks come to the chat) or gives it back to the terminal,
/// whose own selection then works without Shift. Failing is not worth stopping for.
fn set_mouse(on: bool) {
    let _terminal = lock_terminal();
    let done = if on {
        execute!(io::stdout(), EnableMouseCapture)
    } else {
        execute!(io::stdout(), DisableMouseCapture)
    };
    if done.is_ok() {
        MOUSE.store(on, Ordering::SeqCst);
    }
}

/// A panic in any thread, the UI's or a worker's, restores the terminal, prints the panic
/// and ends the process: a UI whose worker died would otherwise sit there, deaf.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if ACTIVE.load(Ordering::SeqCst) && !DRAWS.get() {
            // Wait out a frame being drawn, then keep the terminal until the process ends.
            std::mem::forget(lock_terminal());
        }
        let was_active = ACTIVE.swap(false, Ordering::SeqCst);
        if was_active {
            undo_modes();
        }
        // ratatui's hook: leaves raw mode and the alternate screen, then prints the panic.
        previous(info);
        if was_active {
            std::process::exit(101);
        }
    }));
}

/// Reads terminal events on a thread of its own, since `event::read` blocks.
///
/// The thread ends when the loop stops listening, at its next event; a read error is passed
/// on and ends it too.
fn spawn_input_thread() -> io::Result<Receiver<io::Result<Event>>> {
    let (tx, rx) = crossbeam_channel::unbounded();
    thread::Builder::new()
        .name("qqchat-input".into())
        .spawn(move || {
            loop {
                // While an editor has the terminal, its keys are its own: not even polled.
                if INPUT_PAUSED.load(Ordering::SeqCst) {
                    thread::sleep(INPUT_POLL);
                    continue;
                }
                match event::poll(INPUT_POLL) {
                    Ok(false) => continue,
                    Ok(true) => {}
                    Err(err) => {
                        let _ = tx.send(Err(err));
                        break;
                    }
                }
                let event = event::read();
                let failed = event.is_err();
                if tx.send(event).is_err() || failed {
                    break;
                }
            }
        })?;
    Ok(rx)
}

/// Set while the user's editor runs: the input thread leaves the terminal alone.
static INPUT_PAUSED: AtomicBool = AtomicBool::new(false);
/// How long the input thread waits for a key before it looks at [`INPUT_PAUSED`] again.
const INPUT_POLL: Duration = Duration::from_millis(50);

/// Runs `$VISUAL` (else `$EDITOR`, else `vi`) on the draft in a file of its own, with the
/// terminal given back to it, and returns what it saved; `None` if it could not run or
/// exited with an error (the draft stays as it was).
fn edit_draft(terminal: &mut DefaultTerminal, draft: &str) -> anyhow::Result<Option<String>> {
    let set = |name| {
        std::env::var(name)
            .ok()
            .filter(|v: &String| !v.trim().is_empty())
    };
    let editor = set("VISUAL")
        .or_else(|| set("EDITOR"))
        .unwrap_or_else(|| "vi".to_owned());
    let mut words = editor.split_whitespace();
    let Some(program) = words.next() else {
        return Ok(None);
    };
    let args: Vec<&str> = words.collect();
    let path = std::env::temp_dir().join(format!(
        "qqchat-draft-{}-{}.txt",
        std::process::id(),
        Timestamp::now().as_millisecond()
    ));
    std::fs::write(&path, draft).with_context(|| format!("write {}", path.display()))?;
    INPUT_PAUSED.store(true, Ordering::SeqCst);
    // Let the input thread leave a poll it was in.
    thread::sleep(INPUT_POLL * 2);
    let status = {
        let _terminal = lock_terminal();
        undo_modes();
        let _ = ratatui::try_restore();
        let status = std::process::Command::new(program)
            .args(&args)
            .arg(&path)
            .status();
        let mut out = io::stdout();
        let _ = crossterm::terminal::enable_raw_mode();
        let _ = execute!(
            out,
            crossterm::terminal::EnterAlternateScreen,
            EnableBracketedPaste,
            EnableFocusChange
        );
        if crossterm::terminal::supports_keyboard_enhancement().unwrap_or(false) {
            let flags = KeyboardEnhancementFlags::DISAMBIGUATE_ESCAPE_CODES;
            if execute!(out, PushKeyboardEnhancementFlags(flags)).is_ok() {
                ENHANCED.store(true, Ordering::SeqCst);
            }
        }
        if MOUSE.load(Ordering::SeqCst) {
            let _ = execute!(out, EnableMouseCapture);
        }
        status
    };
    INPUT_PAUSED.store(false, Ordering::SeqCst);
    terminal.clear()?;
    let text = match status {
        Ok(s) if s.success() => std::fs::read_to_string(&path).ok(),
        _ => None,
    };
    let _ = std::fs::remove_file(&path);
    Ok(text)
}

fn event_loop(
    terminal: &mut DefaultTerminal,
    app: &mut App,
    engine: &EngineHandle,
    contacts: &mut Contacts,
    session: &Session,
) -> anyhow::Result<()> {
    let size = terminal.size()?;
    app.on_resize(size.width, size.height);
    app.set_now(Timestamp::now());
    let inputs = spawn_input_thread().context("could not start reading the keyboard")?;
    let mut changes = match &contacts.path {
        Some(path) => spawn_watcher(path.clone()).unwrap_or_else(|err| {
            app.show_error(&format!("changes to the contacts file will need F5: {err}"));
            crossbeam_channel::never()
        }),
        None => crossbeam_channel::never(),
    };
    // Files that could not be read to be offered, said as the engine says a failed one.
    let (unreadable, unread_files) = crossbeam_channel::unbounded::<EngineEvent>();
    let mut hooks = Hooks::default();
    // The terminal closing (SIGHUP) or a `kill` (SIGTERM) leaves the way quitting does:
    // drafts kept, goodbye said, the demo's files removed.
    let quit = crate::signals::quit_signals().unwrap_or_else(|_| crossbeam_channel::never());
    draw(terminal, app)?;
    loop {
        hooks.follow(&contacts.file_me);
        let mut effects = Vec::new();
        select! {
            recv(inputs) -> event => effects.extend(terminal_event(app, event)?),
            recv(engine.events) -> event => {
                effects.extend(engine_event(app, &mut hooks, &contacts.book, event)?);
            }
            recv(quit) -> _ => return Ok(()),
            recv(unread_files) -> event => {
                if let Ok(event) = event {
                    effects.extend(app.on_engine(event));
                }
            }
            recv(changes) -> change => match change {
                Ok(()) => {
                    contacts.reload(app, engine, false)?;
                }
                // The watcher is gone; F5 still reloads.
                Err(_) => changes = crossbeam_channel::never(),
            },
        }
        for _ in 0..BATCH {
            if let Ok(event) = inputs.try_recv() {
                effects.extend(terminal_event(app, Ok(event))?);
            } else if let Ok(event) = engine.events.try_recv() {
                effects.extend(engine_event(app, &mut hooks, &contacts.book, Ok(event))?);
            } else {
                break;
            }
        }
        // How far conversations were read is written once a batch.
        if let Some(points) = app.unsaved_read()
            && let Some(dir) = &session.data_dir
            && let Err(err) = store::save_read(dir, &points)
        {
            app.show_error(&format!("unread counts not kept: {err}"));
        }
        for effect in effects {
            match effect {
                Effect::Send(command) => send(engine, command)?,
                Effect::Bell => ring_bell(),
                Effect::EditDraft(draft) => match edit_draft(terminal, &draft) {
                    Ok(Some(text)) => app.edited(&text),
                    Ok(None) => app.show_error("the editor did not save: the draft is as it was"),
                    Err(err) => app.show_error(&format!("the editor could not run: {err}")),
                },
                Effect::Notify { title, body } => {
                    notify_desktop(&title, &body);
                    hooks.notified(&title, &body);
                }
                Effect::Quit => return Ok(()),
                Effect::AddContact { name, addr, plain } => {
                    contacts.change(app, engine, |path| {
                        contacts::add_contact(path, &name, addr, plain)
                            .map(|()| format!("{name} added to contacts"))
                    })?
                }
                Effect::AddKeyedContact { name, addrs, key } => {
                    contacts.change(app, engine, |path| {
                        // Say what the edit did: a contact without a key may have got it.
                        let done = contacts::add_keyed_contact(path, &name, &addrs, &key)?;
                        Ok(keyed_notice(&name, done))
                    })?;
                }
                Effect::AddIpmsgContact { name, addr } => contacts.change(app, engine, |path| {
                    contacts::add_ipmsg_contact(path, &name, addr)
                        .map(|()| format!("{name} added to contacts (IP Messenger)"))
                })?,
                Effect::RenameContact { from, to } => {
                    // The trusted key goes with the name, first, so the reload finds it.
                    contacts.rename_trust(app, &from, &to);
                    let renamed = contacts.change(app, engine, |path| {
                        contacts::rename_contact(path, &from, &to)
                            .map(|()| format!("{from} renamed to {to}"))
                    });
                    if contacts.book.by_name(&to).is_none() {
                        contacts.rename_trust(app, &to, &from);
                    }
                    renamed?
                }
                Effect::RemoveContact { name } => contacts.change(app, engine, |path| {
                    contacts::remove_contact(path, &name)
                        .map(|()| format!("{name} removed from contacts"))
                })?,
                Effect::LearnAddrs { name, key, addrs } => {
                    contacts.change(app, engine, |path| {
                        contacts::learn_addrs(path, &name, &key, &addrs)
                            .map(|()| format!("{name} told its new addresses: kept"))
                    })?
                }
                Effect::ReloadContacts => {
                    contacts.reload(app, engine, true)?;
                }
                Effect::AcceptKey(change) => contacts.accept_key(app, engine, &change)?,
                Effect::SetVerified { name, verified } => {
                    contacts.set_verified(app, &name, verified);
                }
                Effect::Copy(text) => {
                    let _terminal = lock_terminal();
                    clipboard::copy(&text);
                }
                Effect::PrepareFiles { to, files } => {
                    if let Err(err) = prepare_files(engine, unreadable.clone(), to, files) {
                        app.show_error(&format!("files not sent: {err}"));
                    }
                }
                Effect::Search { scope, search } => {
                    let found = match &session.history {
                        Some(history) => history.search(&search).map_err(|e| e.to_string()),
                        None => Err("this chat keeps no history".to_owned()),
                    };
                    app.searched(scope, search.text, found);
                }
                Effect::SaveDrafts(drafts) => {
                    if let Some(dir) = &session.data_dir
                        && let Err(err) = store::save_drafts(dir, &drafts)
                    {
                        app.drafts_not_saved();
                        app.show_error(&format!("drafts not kept: {err}"));
                    }
                }
            }
        }
        read_older(app, session.history.as_ref());
        app.set_now(Timestamp::now());
        draw(terminal, app)?;
    }
}

/// Reads the older messages the open conversation has come to need, a few pages at most
/// per step so that a key held down never stalls the screen.
fn read_older(app: &mut App, history: Option<&History>) {
    let Some(history) = history else { return };
    for _ in 0..4 {
        let Some(want) = app.history_wanted() else {
            return;
        };
        let read = match want.since {
            Some(since) => history.load_between(&want.key, since, want.before),
            None => history.load_before(&want.key, want.before, crate::app::HISTORY_PAGE),
        };
        match read {
            Ok(older) => app.put_older(&want, older, crate::app::HISTORY_PAGE),
            Err(err) => {
                app.show_error(&format!("older messages could not be read: {err}"));
                // Not asked again on every key: the conversation shows what it has.
                app.put_older(&want, Vec::new(), crate::app::HISTORY_PAGE);
                return;
            }
        }
    }
}

/// Hashes `files` on a thread of their own (seconds for a large file, never on the thread
/// that draws), then offers them all at once, so that a folder arrives whole before its
/// receiver answers. A file that cannot be read is reported to `failed`.
fn prepare_files(
    engine: &EngineHandle,
    failed: crossbeam_channel::Sender<EngineEvent>,
    to: crate::proto::PeerId,
    files: Vec<(u64, crate::files::outgoing::ToSend)>,
) -> io::Result<()> {
    let commands = engine.commands.clone();
    thread::Builder::new()
        .name("qqchat-hash".into())
        .spawn(move || {
            let mut offers = Vec::with_capacity(files.len());
            for (id, file) in files {
                match crate::files::outgoing::manifest(&file.path, file.size) {
                    Ok(manifest) => offers.push(Command::SendFile {
                        to,
                        id,
                        path: file.path,
                        name: file.name,
                        manifest,
                    }),
                    Err(err) => {
                        let reason = format!("cannot read {}: {err}", file.path.display());
                        let _ = failed.send(EngineEvent::FileFailed {
                            peer: to,
                            id,
                            outgoing: true,
                            reason,
                        });
                    }
                }
            }
            for offer in offers {
                if commands.send(offer).is_err() {
                    break;
                }
            }
        })?;
    Ok(())
}

fn send(engine: &EngineHandle, command: Command) -> anyhow::Result<()> {
    engine
        .commands
        .send(command)
        .map_err(|_| anyhow!("the network engine stopped"))
}

/// The contacts file and what was last loaded from it.
struct Contacts {
    /// `None` when the chat runs without a file (the demo).
    path: Option<PathBuf>,
    book: ContactBook,
    /// `[me]` as the file last said, flags left out.
    file_me: Me,
    /// The last reload failed, so the next one that works says so even if nothing changed.
    broken: bool,
    /// People on this network are found (for what the status line says with no file).
    on_lan: bool,
    /// Where the trusted keys are kept; `None` keeps them only while the chat runs.
    trust_dir: Option<PathBuf>,
    /// The key each contact was first trusted with, as last read or written.
    trust: store::TrustBook,
}

impl Contacts {
    /// Edits the file with `edit`, then reloads it; what `edit` says it did is shown when
    /// that worked. A failure is shown in the status line and changes nothing.
    fn change(
        &mut self,
        app: &mut App,
        engine: &EngineHandle,
        edit: impl FnOnce(&Path) -> Result<String, EditError>,
    ) -> anyhow::Result<()> {
        let Some(path) = &self.path else {
            app.show_error(NO_FILE);
            return Ok(());
        };
        if !path.exists() {
            let me = &self.book.me;
            if let Err(err) = contacts::create_file(path, Some(&me.name), me.listen) {
                app.show_error(&format!("contacts not changed: {err}"));
                return Ok(());
            }
        }
        let done = match edit(path) {
            Ok(done) => done,
            Err(err) => {
                app.show_error(&format!("contacts not changed: {err}"));
                return Ok(());
            }
        };
        if self.reload(app, engine, false)? {
            app.show_info(&crate::text::sanitize(&done));
        }
        Ok(())
    }

    /// Reads the file again and hands the contacts to the engine and the App. A file that
    /// does not load keeps the old contacts, and says why. `asked`: the user pressed F5, so
    /// say something even when nothing changed. Returns whether the file loaded.
    fn reload(
        &mut self,
        app: &mut App,
        engine: &EngineHandle,
        asked: bool,
    ) -> anyhow::Result<bool> {
        let Some(path) = &self.path else {
            app.show_error(NO_FILE);
            return Ok(false);
        };
        if !path.exists() {
            app.show_info(first_start(self.on_lan));
            return Ok(false);
        }
        let mut book = match ContactBook::load(path) {
            Ok(book) => book,
            Err(err) => {
                app.show_error(&format!("old contacts kept: {}", describe(&err)));
                self.broken = true;
                return Ok(false);
            }
        };
        let changes = self.hold(app, engine, &mut book)?;
        let was_broken = std::mem::replace(&mut self.broken, false);
        let me = MeChanges::between(&self.file_me, &book.me);
        if me.name.is_some() || me.bell.is_some() {
            let name = me.name.as_deref().unwrap_or(&self.book.me.name).to_owned();
            self.book.me.name.clone_from(&name);
            self.book.me.bell = me.bell.unwrap_or(self.book.me.bell);
            app.set_me(&name, self.book.me.bell);
        }
        app.set_notify(book.me.notify, book.me.notify_preview);
        if let Some(mouse) = me.mouse {
            set_mouse(mouse);
        }
        self.file_me = book.me.clone();
        if book.contacts == self.book.contacts {
            if let Some(said) = me.said() {
                app.show_info(&format!("contacts reloaded: {said}"));
            } else if asked || was_broken {
                app.show_info("contacts reloaded: nothing changed");
            }
            return Ok(true);
        }
        // The history renames come first, so the engine writes under the new names at once.
        for effect in app.set_contacts(&book) {
            if let Effect::Send(command) = effect {
                send(engine, command)?;
            }
        }
        self.book.contacts = book.contacts;
        let count = self.book.contacts.len();
        let mut said = format!("{count} contact{}", if count == 1 { "" } else { "s" });
        if let Some(change) = changes.first() {
            // Louder than a reload: the conversation and the list say it too.
            app.show_error(&format!(
                "{}'s key changed in the contacts file: the old key is still used · v: safety number",
                crate::text::sanitize(&change.name)
            ));
            return Ok(true);
        }
        if let Some(me) = me.said() {
            said = format!("{said}; {me}");
        }
        app.show_info(&format!("contacts reloaded: {said}"));
        Ok(true)
    }
}

impl Contacts {
    /// Holds `book`'s contacts to their trusted keys, recording first keys, and tells the
    /// engine and the App. The record is read again first: `qqchat verify` may have
    /// changed it while the chat runs.
    fn hold(
        &mut self,
        app: &mut App,
        engine: &EngineHandle,
        book: &mut ContactBook,
    ) -> anyhow::Result<Vec<KeyChange>> {
        if let Some(dir) = &self.trust_dir {
            match store::load_trust(dir) {
                Ok(trust) => self.trust = trust,
                Err(err) => app.show_error(&format!("trusted keys not read again: {err}")),
            }
        }
        let before = self.trust.clone();
        let changes = crate::engine::hold_keys(&mut self.trust, &mut book.contacts);
        if self.trust != before {
            self.save_trust(app);
        }
        // The engine holds contacts to the same keys: these, trusted or accepted.
        for c in &book.contacts {
            if let Some(key) = c.key {
                send(
                    engine,
                    Command::TrustKey {
                        name: c.name.clone(),
                        key: Some(key),
                    },
                )?;
            }
        }
        app.set_key_trust(changes.clone(), verified(&self.trust));
        Ok(changes)
    }

    fn save_trust(&self, app: &mut App) -> bool {
        let Some(dir) = &self.trust_dir else {
            return true;
        };
        match store::save_trust(dir, &self.trust) {
            Ok(()) => true,
            Err(err) => {
                app.show_error(&format!("trusted keys not kept: {err}"));
                false
            }
        }
    }

    /// The user accepted the new key the file names for a contact (a, on the safety
    /// number screen).
    fn accept_key(
        &mut self,
        app: &mut App,
        engine: &EngineHandle,
        change: &KeyChange,
    ) -> anyhow::Result<()> {
        crate::engine::accept_change(&mut self.trust, change);
        if !self.save_trust(app) {
            return Ok(());
        }
        send(
            engine,
            Command::TrustKey {
                name: change.name.clone(),
                key: change.offered,
            },
        )?;
        if self.reload(app, engine, false)? {
            let name = crate::text::sanitize(&change.name);
            app.show_info(&match change.offered {
                Some(_) => format!("{name}'s new key is trusted now"),
                None => format!("{name} is spoken to without a key now"),
            });
        }
        Ok(())
    }

    /// The record of contact `from`'s key is `to`'s now.
    fn rename_trust(&mut self, app: &mut App, from: &str, to: &str) {
        if self.trust.rename(from, to) {
            self.save_trust(app);
        }
    }

    /// m on the safety number screen.
    fn set_verified(&mut self, app: &mut App, name: &str, verified_now: bool) {
        if self.trust.set_verified(name, verified_now) && self.save_trust(app) {
            let changes = app_changes(app, &self.book);
            app.set_key_trust(changes, verified(&self.trust));
            let name = crate::text::sanitize(name);
            app.show_info(&if verified_now {
                format!("{name} is marked verified")
            } else {
                format!("{name} is no longer marked verified")
            });
        }
    }
}

/// The contacts marked verified, by name in the file.
fn verified(trust: &store::TrustBook) -> std::collections::HashSet<String> {
    trust
        .iter()
        .filter(|(_, t)| t.verified)
        .map(|(name, _)| name.to_owned())
        .collect()
}

/// The key changes the App holds now, for the contacts still in `book`.
fn app_changes(app: &App, book: &ContactBook) -> Vec<KeyChange> {
    app.peers()
        .iter()
        .filter_map(|p| app.key_change(p))
        .filter(|c| book.by_name(&c.name).is_some())
        .cloned()
        .collect()
}

/// What the status line says after a contact string was taken: a contact without a key
/// was given one, or a contact was added.
fn keyed_notice(name: &str, done: KeyedAdd) -> String {
    match done {
        KeyedAdd::KeyGiven { name, .. } => format!("{name} now has a key"),
        KeyedAdd::New => format!("{name} added to contacts, with their key"),
    }
}

/// An error about the contacts file, short enough for the status line: the file's name
/// rather than its whole path, then the line and the problem.
fn describe(err: &ContactsError) -> String {
    match (err.path(), err.line(), err.problem()) {
        (Some(path), Some(line), Some(problem)) => {
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            format!("{name}:{line}: {problem}")
        }
        _ => err.to_string(),
    }
}

/// Watches the contacts file and says when it changed, so edits made by hand take effect
/// without a restart.
///
/// It looks at the file's modification time and size every [`WATCH_INTERVAL`]. This is the
/// only periodic wake of the chat, and it stays on this thread: the UI loop is woken only
/// when the file did change. A change that arrives while a reload is still waiting is
/// covered by that reload.
fn spawn_watcher(path: PathBuf) -> io::Result<Receiver<()>> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let mut last = file_stamp(&path);
    thread::Builder::new()
        .name("qqchat-contacts".into())
        .spawn(move || {
            loop {
                thread::sleep(WATCH_INTERVAL);
                let stamp = file_stamp(&path);
                if stamp == last {
                    continue;
                }
                last = stamp;
                if let Err(TrySendError::Disconnected(())) = tx.try_send(()) {
                    break;
                }
            }
        })?;
    Ok(rx)
}

/// What tells one version of a file from the next; `None` while it cannot be read.
fn file_stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

fn draw(terminal: &mut DefaultTerminal, app: &App) -> io::Result<()> {
    let _terminal = lock_terminal();
    terminal.draw(|frame| ui::draw(frame, app))?;
    Ok(())
}

fn terminal_event(
    app: &mut App,
    event: Result<io::Result<Event>, crossbeam_channel::RecvError>,
) -> anyhow::Result<Vec<Effect>> {
    let event = event
        .map_err(|_| anyhow!("the keyboard reader stopped"))?
        .context("reading the terminal failed")?;
    Ok(match event {
        Event::Key(key) => app.on_key(key, Timestamp::now()),
        Event::Mouse(mouse) => app.on_mouse(mouse),
        Event::Paste(text) => {
            app.on_paste(text);
            Vec::new()
        }
        Event::Resize(width, height) => {
            app.on_resize(width, height);
            Vec::new()
        }
        Event::FocusGained => {
            app.set_focused(true);
            Vec::new()
        }
        Event::FocusLost => {
            app.set_focused(false);
            Vec::new()
        }
    })
}

fn engine_event(
    app: &mut App,
    hooks: &mut Hooks,
    book: &ContactBook,
    event: Result<EngineEvent, crossbeam_channel::RecvError>,
) -> anyhow::Result<Vec<Effect>> {
    match event {
        Ok(event) => {
            if let EngineEvent::Received {
                from,
                path,
                text,
                received_at,
                ..
            } = &event
                && hooks.on_message.is_some()
            {
                let name = book
                    .by_peer(*from)
                    .map_or_else(|| path.to_string(), |c| c.name.clone());
                hooks.received(&name, None, text, *received_at);
            }
            // Group messages new to the chat, told once the App has them (names and all).
            let fresh = new_group_texts(app, &event);
            let effects = app.on_engine(event);
            if hooks.on_message.is_some() {
                for message in group_messages(app, fresh) {
                    let group = Some((message.group.as_str(), message.group_id.as_str()));
                    hooks.received(&message.from, group, &message.text, Timestamp::now());
                }
            }
            Ok(effects)
        }
        Err(_) => bail!("the network engine stopped unexpectedly"),
    }
}

/// `[me] notify_command` and `[me] on_message`, following the contacts file.
#[derive(Default)]
struct Hooks {
    notify: Option<(Vec<String>, hooks::Hook)>,
    on_message: Option<(Vec<String>, hooks::Hook)>,
}

impl Hooks {
    /// Takes the programs `me` names now (a changed one starts with a fresh limit).
    fn follow(&mut self, me: &Me) {
        fn keep(slot: &mut Option<(Vec<String>, hooks::Hook)>, argv: &Option<Vec<String>>) {
            if slot.as_ref().map(|(a, _)| a) != argv.as_ref() {
                *slot = argv.clone().map(|a| (a.clone(), hooks::Hook::new(a)));
            }
        }
        keep(&mut self.notify, &me.notify_command);
        keep(&mut self.on_message, &me.on_message);
    }

    fn notified(&mut self, title: &str, body: &str) {
        if let Some((_, hook)) = &mut self.notify {
            let env = [("QQCHAT_FROM", title), ("QQCHAT_TEXT", body)];
            hook.run(std::time::Instant::now(), &env, None);
        }
    }

    /// A message came: `group` is the group's (name, hex id) for a group message.
    fn received(&mut self, from: &str, group: Option<(&str, &str)>, text: &str, at: Timestamp) {
        if let Some((_, hook)) = &mut self.on_message {
            let line = hooks::message_json(from, group, text, at);
            hook.run(std::time::Instant::now(), &[], Some(line));
        }
    }
}

/// A group message for `[me] on_message`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct GroupMessage {
    from: String,
    group: String,
    group_id: String,
    text: String,
}

/// The items of a [`EngineEvent::GroupItems`] that are messages by others the chat does not
/// hold yet: (group, item id).
fn new_group_texts(
    app: &App,
    event: &EngineEvent,
) -> Vec<(crate::proto::group::GroupId, crate::proto::group::MsgRef)> {
    let EngineEvent::GroupItems { group, items } = event else {
        return Vec::new();
    };
    let held = app.groups().get(*group);
    items
        .iter()
        .filter(|i| i.visible && !i.mine && matches!(i.kind, crate::engine::GroupItemKind::Text(_)))
        .filter(|i| held.is_none_or(|g| g.items().iter().all(|h| h.id != i.id)))
        .map(|i| (*group, i.id))
        .collect()
}

/// What `[me] on_message` is told of the group messages `fresh`, now that the App has them:
/// the author as the chat shows them, the group's name and id, the text (made safe).
fn group_messages(
    app: &App,
    fresh: Vec<(crate::proto::group::GroupId, crate::proto::group::MsgRef)>,
) -> Vec<GroupMessage> {
    fresh
        .into_iter()
        .filter_map(|(id, item)| {
            let group = app.groups().get(id)?;
            let item = group.items().iter().find(|i| i.id == item)?;
            let crate::engine::GroupItemKind::Text(text) = &item.kind else {
                return None;
            };
            Some(GroupMessage {
                from: app.member_label(group, &item.author).0,
                group: group.name().to_owned(),
                group_id: id.to_hex(),
                text: text.clone(),
            })
        })
        .collect()
}

/// A desktop notification through the terminal (see [`notify`]); like the bell, losing one
/// is not worth stopping for.
fn notify_desktop(title: &str, body: &str) {
    let tmux = std::env::var_os("TMUX").is_some();
    let bytes = notify::sequences(title, body, tmux);
    let _terminal = lock_terminal();
    let mut out = io::stdout();
    let _ = out.write_all(&bytes);
    let _ = out.flush();
}

/// BEL on stdout. Losing a bell is not worth stopping for, so errors are ignored.
fn ring_bell() {
    let _terminal = lock_terminal();
    let mut out = io::stdout();
    let _ = out.write_all(b"\x07");
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::{KeyedAdd, keyed_notice};

    #[test]
    fn group_messages_new_to_the_chat_are_told_to_on_message_once() {
        use crate::app::App;
        use crate::contacts::{ContactBook, Me};
        use crate::engine::{EngineEvent, GroupItem, GroupItemKind, GroupView};
        use crate::proto::PublicKey;
        use crate::proto::group::{GroupId, MsgRef, Order};
        use crate::store::GroupStatus;

        let me = PublicKey::from_bytes([9; 32]);
        let dave = PublicKey::from_bytes([4; 32]);
        let team = GroupId([1; 16]);
        let book = ContactBook::empty(Me::default());
        let local = "127.0.0.1:4000".parse().expect("an address");
        let mut app = App::new(&book, local, jiff::tz::TimeZone::UTC);
        app.on_engine(EngineEvent::Group(GroupView {
            id: team,
            name: "team".into(),
            status: GroupStatus::Joined,
            creator: Some(me),
            members: vec![(me, "me".into()), (dave, "dave".into())],
            me,
            inviter: None,
        }));
        let text = |author: PublicKey, seq: u64, said: &str| GroupItem {
            id: MsgRef { author, seq },
            order: Order {
                lamport: seq,
                author,
                seq,
            },
            author,
            sent_at: None,
            kind: GroupItemKind::Text(said.into()),
            gap_before: false,
            mine: author == me,
            acked: Vec::new(),
            visible: true,
        };
        let event = EngineEvent::GroupItems {
            group: team,
            items: vec![text(dave, 1, "hello\u{1b}[2J"), text(me, 1, "mine")],
        };
        let fresh = super::new_group_texts(&app, &event);
        assert_eq!(fresh.len(), 1, "only others' messages");
        app.on_engine(event.clone());
        let told = super::group_messages(&app, fresh);
        assert_eq!(
            told,
            vec![super::GroupMessage {
                from: "dave".into(),
                group: "team".into(),
                group_id: team.to_hex(),
                text: crate::text::sanitize("hello\u{1b}[2J"),
            }]
        );
        assert!(
            super::new_group_texts(&app, &event).is_empty(),
            "a message the chat holds already is not told again"
        );
        let line = super::hooks::message_json(
            "dave",
            Some(("team", &team.to_hex())),
            "hi",
            jiff::Timestamp::UNIX_EPOCH,
        );
        let v: serde_json::Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(v["group"], "team");
        assert_eq!(v["group_id"], team.to_hex());
    }

    #[test]
    fn the_notice_says_whether_a_key_was_given_or_a_contact_added() {
        let given = KeyedAdd::KeyGiven {
            name: "bob".into(),
            addr_changed: false,
        };
        assert_eq!(keyed_notice("robert", given), "bob now has a key");
        assert_eq!(
            keyed_notice("alice", KeyedAdd::New),
            "alice added to contacts, with their key"
        );
    }
}
