//! Files sent and received in the chat. Each offer is one item of its conversation: a file,
//! or a folder as one item holding its files (the engine offers them one by one). The item
//! is a message whose text is rewritten as the transfer moves, so scrolling and drawing
//! measure it as any other message; its state is kept here.
//!
//! Names come from the network: they are made safe and cut to one line when they arrive,
//! and only that form is kept.

use std::path::Path;

use jiff::Timestamp;

use super::peer::{EntryId, Seq};
use crate::engine::FileProgress;
use crate::files::human_bytes;
use crate::proto::PeerId;
use crate::text::{bar, duration_words, one_line, short_name};

/// The widest a file or folder name is shown.
const NAME_WIDTH: usize = 60;

/// Cells of the progress bar in a conversation.
pub const BAR_WIDTH: usize = 10;

/// One file as the engine knows it: by peer, id and direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileRef {
    pub peer: PeerId,
    pub id: u64,
    pub outgoing: bool,
}

/// Where one file is.
#[derive(Debug, Clone, PartialEq)]
pub enum FileState {
    /// Being read to hash it; the offer goes when that is done.
    Preparing,
    /// Offered; nothing has moved yet (the other side has not answered).
    Offered,
    /// Offered to this user, who has not answered.
    Asking,
    /// Accepted and moving (or about to).
    Running,
    Paused,
    /// Whole, and its hash matched.
    Done,
    /// Ended without the file, and why (made safe).
    Failed(String),
}

impl FileState {
    /// Still under way or waiting: something can be done to it.
    pub fn is_active(&self) -> bool {
        !matches!(self, FileState::Done | FileState::Failed(_))
    }
}

/// One file of a [`Transfer`].
#[derive(Debug, Clone)]
pub struct FileItem {
    pub(super) key: FileRef,
    /// Its name as offered, safe to show.
    pub(super) name: String,
    pub(super) size: u64,
    pub(super) done: u64,
    pub(super) rate: f64,
    pub(super) state: FileState,
}

impl FileItem {
    pub(super) fn new(key: FileRef, name: &str, size: u64, state: FileState) -> FileItem {
        FileItem {
            key,
            name: short_name(name, NAME_WIDTH),
            size,
            done: 0,
            rate: 0.0,
            state,
        }
    }

    pub fn state(&self) -> &FileState {
        &self.state
    }

    /// Its name as offered (`folder/sub/file` in a folder), safe to show.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// What a whole transfer (every file of it) comes to.
#[derive(Debug, Clone, PartialEq)]
pub enum Summary {
    Preparing,
    Offered,
    Asking,
    Running,
    Paused,
    Done,
    /// `failed` of `of` files ended without arriving; `reason` is the first one's why.
    Failed {
        reason: String,
        failed: usize,
        of: usize,
    },
}

/// One item of a conversation: a file, or a folder and its files.
#[derive(Debug, Clone)]
pub struct Transfer {
    /// The conversation it is in, and its message there.
    pub(super) entry: EntryId,
    pub(super) seq: Seq,
    pub(super) peer: PeerId,
    pub(super) outgoing: bool,
    /// The file's name, or the folder's, safe to show.
    pub(super) title: String,
    pub(super) folder: bool,
    pub(super) files: Vec<FileItem>,
    /// An incoming one: the folder it is saved in, shown as the user gave it.
    pub(super) dir: Option<String>,
    /// A single incoming file once saved: where it is.
    pub(super) saved: Option<String>,
    pub(super) at: Timestamp,
}

impl Transfer {
    pub fn is_outgoing(&self) -> bool {
        self.outgoing
    }

    pub fn title(&self) -> &str {
        &self.title
    }

    pub fn is_folder(&self) -> bool {
        self.folder
    }

    pub fn files(&self) -> &[FileItem] {
        &self.files
    }

    pub fn entry(&self) -> EntryId {
        self.entry
    }

    pub fn at(&self) -> Timestamp {
        self.at
    }

    pub fn size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    pub fn done(&self) -> u64 {
        self.files.iter().map(|f| f.done.min(f.size)).sum()
    }

    /// Bytes a second, of the files moving now.
    pub fn rate(&self) -> f64 {
        self.files
            .iter()
            .filter(|f| f.state == FileState::Running)
            .map(|f| f.rate)
            .sum()
    }

    /// Where the transfer as a whole is: waiting on the user first, then anything under way.
    pub fn summary(&self) -> Summary {
        let any = |s: &FileState| self.files.iter().any(|f| f.state == *s);
        if any(&FileState::Asking) {
            return Summary::Asking;
        }
        if any(&FileState::Preparing) {
            return Summary::Preparing;
        }
        if any(&FileState::Running) {
            return Summary::Running;
        }
        if any(&FileState::Paused) {
            return Summary::Paused;
        }
        if any(&FileState::Offered) {
            return Summary::Offered;
        }
        let failed: Vec<&str> = self
            .files
            .iter()
            .filter_map(|f| match &f.state {
                FileState::Failed(why) => Some(why.as_str()),
                _ => None,
            })
            .collect();
        match failed.first() {
            None => Summary::Done,
            Some(reason) => Summary::Failed {
                reason: (*reason).to_owned(),
                failed: failed.len(),
                of: self.files.len(),
            },
        }
    }

    /// Waiting for this user's yes or no.
    pub fn is_asking(&self) -> bool {
        self.files.iter().any(|f| f.state == FileState::Asking)
    }

    /// Something is still under way or waiting.
    pub fn is_active(&self) -> bool {
        self.files.iter().any(|f| f.state.is_active())
    }

    /// Under way, so it can be paused, resumed or cancelled.
    pub fn is_moving(&self) -> bool {
        self.files.iter().any(|f| {
            matches!(
                f.state,
                FileState::Offered | FileState::Running | FileState::Paused | FileState::Preparing
            )
        })
    }

    /// `report.pdf · 1.2 MiB`, or `photos/ · 12 files · 34.0 MiB`.
    pub fn heading(&self) -> String {
        if self.folder {
            let n = self.files.len();
            format!(
                "{}/ · {n} file{} · {}",
                self.title,
                if n == 1 { "" } else { "s" },
                human_bytes(self.size())
            )
        } else {
            format!("{} · {}", self.title, human_bytes(self.size()))
        }
    }

    /// The bar with how far it is: `████▍░░░ 45% · 1.2 MiB/s · 8 s left`.
    pub fn progress_line(&self, width: usize) -> String {
        let (done, size) = (self.done(), self.size());
        let percent = match size {
            0 => 100,
            _ => (done as u128 * 100 / size as u128) as u64,
        };
        let mut line = format!("{} {percent}%", bar(done, size, width).replace(' ', "░"));
        if self.summary() == Summary::Paused {
            line.push_str(" · paused");
            return line;
        }
        let rate = self.rate();
        if rate > 1.0 {
            line.push_str(&format!(" · {}/s", human_bytes(rate as u64)));
            let left = size.saturating_sub(done) as f64 / rate;
            if left.is_finite() && left < 1e9 {
                let left = std::time::Duration::from_secs_f64(left.ceil());
                line.push_str(&format!(" · {} left", duration_words(left)));
            }
        }
        if self.folder {
            let whole = self
                .files
                .iter()
                .filter(|f| f.state == FileState::Done)
                .count();
            line.push_str(&format!(" · {whole} of {} files", self.files.len()));
        }
        line
    }

    /// What the conversation shows: the heading, then what became of it, and for one
    /// coming in, where it goes. `peer` is the other side's name.
    pub fn text(&self, peer: &str) -> String {
        let state = match self.summary() {
            Summary::Preparing => "preparing… (reading it to hash it)".to_owned(),
            Summary::Offered => format!("offered · waiting for {peer} to accept"),
            Summary::Asking => "offered to you · y accept · n decline".to_owned(),
            Summary::Running | Summary::Paused => self.progress_line(BAR_WIDTH),
            Summary::Done if self.outgoing => format!("✓ verified by {peer}"),
            Summary::Done => match (&self.saved, &self.dir) {
                (Some(path), _) => format!("✓ verified · saved as {path}"),
                (None, Some(dir)) if self.folder => {
                    format!("✓ verified · saved in {dir}/{}/", self.title)
                }
                _ => "✓ verified".to_owned(),
            },
            Summary::Failed { reason, failed, of } => {
                let what = if self.outgoing {
                    "not sent"
                } else {
                    "not received"
                };
                if of > 1 {
                    format!("✗ {failed} of {of} files {what}: {reason}")
                } else {
                    format!("✗ {what}: {reason}")
                }
            }
        };
        let mut text = format!("{}\n{state}", self.heading());
        if !self.outgoing
            && self.is_active()
            && !self.is_asking()
            && let Some(dir) = &self.dir
        {
            text.push_str(&format!("\nsaving to {dir}"));
        }
        text
    }
}

/// A path for the screen: on one line, made safe.
pub(super) fn shown_path(path: &Path) -> String {
    one_line(&path.to_string_lossy())
}

/// What the engine says of one file, onto it. Returns whether its state changed.
pub(super) fn apply_progress(file: &mut FileItem, p: &FileProgress) {
    file.size = p.size;
    file.done = p.done;
    file.rate = p.rate;
    let moved = p.done > 0 || p.rate > 0.0;
    file.state = match &file.state {
        // Cancelled here while still being read: whatever the engine says, it stays so.
        FileState::Failed(_) | FileState::Done => return,
        _ if p.paused => FileState::Paused,
        FileState::Preparing | FileState::Offered if !moved => FileState::Offered,
        // An offer answered elsewhere (the engine took it: a resumed file).
        _ => FileState::Running,
    };
}
