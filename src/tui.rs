//! The real terminal front end: raw mode, the input thread, and the loop that feeds the
//! [`App`] and draws it.
//!
//! Two sources wake the loop: terminal events (read by their own thread, because
//! `crossterm::event::read` blocks) and engine events. There is no tick: the screen is drawn
//! when one of them changed something, so an idle qqchat sleeps.

use std::cell::Cell;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;

use anyhow::{Context, anyhow, bail};
use crossbeam_channel::{Receiver, select};
use crossterm::event::{
    self, DisableBracketedPaste, EnableBracketedPaste, Event, KeyboardEnhancementFlags,
    PopKeyboardEnhancementFlags, PushKeyboardEnhancementFlags,
};
use crossterm::execute;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use ratatui::DefaultTerminal;

use std::path::PathBuf;

use crate::app::{App, Effect};
use crate::cli::Conversation;
use crate::contacts::ContactBook;
use crate::engine::{EngineEvent, EngineHandle};
use crate::ui;

/// Events taken in one go before drawing, so a burst draws once but keys still feel live.
const BATCH: usize = 256;

/// The terminal is in TUI mode and must be put back by whoever leaves first.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Keyboard enhancement flags were pushed and must be popped.
static ENHANCED: AtomicBool = AtomicBool::new(false);
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

/// Runs the TUI until the user quits. The terminal is restored on every way out.
pub fn run(
    book: ContactBook,
    _contacts_file: Option<PathBuf>,
    history: Vec<Conversation>,
    engine: EngineHandle,
) -> anyhow::Result<()> {
    let mut app = App::new(&book, engine.local_addr, TimeZone::system());
    app.load_history(history);
    let mut screen = Screen::enter().context("could not switch the terminal to the chat screen")?;
    let result = event_loop(&mut screen.terminal, &mut app, &engine);
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
        execute!(io::stdout(), EnableBracketedPaste)?;
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
            ratatui::restore();
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
    let _ = execute!(out, DisableBracketedPaste);
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
                let event = event::read();
                let failed = event.is_err();
                if tx.send(event).is_err() || failed {
                    break;
                }
            }
        })?;
    Ok(rx)
}

fn event_loop(
    terminal: &mut DefaultTerminal,
    app: &mut App,
    engine: &EngineHandle,
) -> anyhow::Result<()> {
    let size = terminal.size()?;
    app.on_resize(size.width, size.height);
    let inputs = spawn_input_thread().context("could not start reading the keyboard")?;
    draw(terminal, app)?;
    loop {
        let mut effects = Vec::new();
        select! {
            recv(inputs) -> event => effects.extend(terminal_event(app, event)?),
            recv(engine.events) -> event => effects.extend(engine_event(app, event)?),
        }
        for _ in 0..BATCH {
            if let Ok(event) = inputs.try_recv() {
                effects.extend(terminal_event(app, Ok(event))?);
            } else if let Ok(event) = engine.events.try_recv() {
                effects.extend(engine_event(app, Ok(event))?);
            } else {
                break;
            }
        }
        for effect in effects {
            match effect {
                Effect::Send(command) => engine
                    .commands
                    .send(command)
                    .map_err(|_| anyhow!("the network engine stopped"))?,
                Effect::Bell => ring_bell(),
                Effect::Quit => return Ok(()),
            }
        }
        draw(terminal, app)?;
    }
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
        Event::Paste(text) => {
            app.on_paste(text);
            Vec::new()
        }
        Event::Resize(width, height) => {
            app.on_resize(width, height);
            Vec::new()
        }
        _ => Vec::new(),
    })
}

fn engine_event(
    app: &mut App,
    event: Result<EngineEvent, crossbeam_channel::RecvError>,
) -> anyhow::Result<Vec<Effect>> {
    match event {
        Ok(event) => Ok(app.on_engine(event)),
        Err(_) => bail!("the network engine stopped unexpectedly"),
    }
}

/// BEL on stdout. Losing a bell is not worth stopping for, so errors are ignored.
fn ring_bell() {
    let _terminal = lock_terminal();
    let mut out = io::stdout();
    let _ = out.write_all(b"\x07");
    let _ = out.flush();
}
