//! The TUI without a terminal: `App` behaviour from keys and engine events, and snapshots of
//! each screen state drawn on a `TestBackend`, in modules by behaviour.
// Test data is written here by hand; a bad value should fail the test loudly.
#![allow(clippy::unwrap_used)]

mod support;

mod card;
mod contacts;
mod drafts;
mod editing;
mod files;
mod focus;
mod groups;
mod help;
mod hints;
mod history;
mod marks;
mod neighbours;
mod outbox;
mod paths;
mod presence;
mod prompts;
mod reading;
mod receiving;
mod reload;
mod scrolling;
mod search;
mod sending;
mod snapshots;
mod times;
mod tofu;
mod trust;
