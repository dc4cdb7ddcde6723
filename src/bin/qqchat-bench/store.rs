//! `qqchat-bench store`: the history with a million messages in it (100,000 with `--quick`).
//!
//! Build: the messages are written with `History::open`, `append` and `commit`, 10,000 to a
//! commit, over 20 conversations, one of which holds 60 % of them; texts of 20 to 120
//! characters of words drawn from a fixed vocabulary, English and Chinese, common words more
//! often than rare ones; times spread over two years.
//!
//! First frame: a fresh process does what the chat does before its first frame (open the
//! history to read, the last page of each conversation, the big conversation opened) and
//! draws it into a 200×60 test terminal; timed from its start, with its memory from
//! `/proc/self/status`, then paged up ten pages as the chat does on PageUp. The same with
//! 10,000 messages shows whether it grows with the history.
//!
//! Search: queries of one or two words of three characters or more (FTS5 trigrams), some in
//! one conversation only, in both orders, on a reader of the history; two-character Chinese
//! words, which are matched by scanning every message, apart.
//!
//! Acked: keyed messages acked per second between two engines that each write a history of
//! their own, beside the same pair with no history and raw UDP, in the same run.
//! `--only-acked` measures only that, to repeat it quickly.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent};
use jiff::{SignedDuration, Timestamp};
use qqchat::app::{App, HISTORY_PAGE};
use qqchat::contacts::{Contact, ContactBook, Me};
use qqchat::store::{
    Conversation, ConversationKey, DB_FILE, Direction, History, MessageState, Order, Record, Search,
};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::{Value, json};

use super::{MESSAGE, Percentiles, Rate, datagram_size, pair_with, rate_of, raw_blast};

/// Conversations in the history, the first the big one.
const PEOPLE: [&str; 20] = [
    "bob", "alice", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "小明",
];
/// The big conversation's share of the messages.
const BIG_SHARE: f64 = 0.6;
/// Messages written in one commit while building.
const BATCH: usize = 10_000;
/// Results asked of each search.
const LIMIT: usize = 50;
/// Pages read going up the big conversation after the first frame.
const PAGES: usize = 10;

/// Words the texts are made of, the most common first.
const ENGLISH: &[&str] = &[
    "the",
    "you",
    "and",
    "to",
    "is",
    "it",
    "that",
    "for",
    "on",
    "are",
    "have",
    "with",
    "this",
    "be",
    "not",
    "was",
    "but",
    "what",
    "can",
    "just",
    "all",
    "so",
    "we",
    "will",
    "get",
    "like",
    "ok",
    "yes",
    "no",
    "now",
    "time",
    "there",
    "see",
    "know",
    "going",
    "think",
    "good",
    "today",
    "tomorrow",
    "meeting",
    "lunch",
    "dinner",
    "home",
    "work",
    "later",
    "thanks",
    "sorry",
    "maybe",
    "tonight",
    "weekend",
    "coffee",
    "morning",
    "night",
    "call",
    "back",
    "soon",
    "train",
    "station",
    "office",
    "project",
    "release",
    "build",
    "tests",
    "review",
    "please",
    "sure",
    "great",
    "nice",
    "movie",
    "ticket",
    "weather",
    "rain",
    "sunny",
    "birthday",
    "party",
    "present",
    "holiday",
    "flight",
    "airport",
    "hotel",
    "address",
    "phone",
    "battery",
    "laptop",
    "screen",
    "keyboard",
    "server",
    "database",
    "network",
    "router",
    "printer",
    "garden",
    "kitchen",
    "bicycle",
    "library",
    "museum",
    "concert",
    "guitar",
    "piano",
    "football",
    "tennis",
    "swimming",
    "doctor",
    "dentist",
    "pharmacy",
    "bakery",
    "market",
    "groceries",
    "apples",
    "oranges",
    "noodles",
    "dumplings",
    "tea",
    "chocolate",
    "umbrella",
    "jacket",
    "shoes",
    "photos",
    "camera",
    "mountain",
    "river",
    "beach",
    "island",
    "village",
    "midnight",
    "deadline",
    "invoice",
    "budget",
    "schedule",
    "calendar",
    "password",
    "upgrade",
    "version",
    "kernel",
    "compiler",
    "terminal",
    "message",
    "history",
    "search",
    "backup",
];
const CHINESE: &[&str] = &[
    "你好",
    "谢谢",
    "好的",
    "今天",
    "明天",
    "晚上",
    "吃饭",
    "朋友",
    "工作",
    "世界",
    "周末",
    "电影",
    "时间",
    "学校",
    "天气",
    "咖啡",
    "北京",
    "上海",
    "老师",
    "手机",
    "开会",
    "我们",
    "明天见",
    "没问题",
    "下班了",
    "怎么样",
    "生日快乐",
    "不好意思",
    "火车站",
    "图书馆",
];

pub fn run(quick: bool, only_acked: bool, json_path: &str) -> Result<(), String> {
    let mut rows = Vec::new();
    let mut out = json!({ "machine": super::machine() });
    let acked_n = if quick { 20_000 } else { 100_000 };
    if !only_acked {
        let total = if quick { 100_000 } else { 1_000_000 };
        let root = temp_dir("store");
        let result = history_figures(&root, total, &mut rows, &mut out);
        let _ = std::fs::remove_dir_all(&root);
        result?;
    }
    acked(acked_n, &mut rows, &mut out)?;
    println!("{}", rows.join("\n"));
    if let Ok(text) = serde_json::to_string_pretty(&out) {
        match std::fs::write(json_path, text + "\n") {
            Ok(()) => eprintln!("wrote {json_path}"),
            Err(e) => eprintln!("could not write {json_path}: {e}"),
        }
    }
    Ok(())
}

fn temp_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("qqchat-bench-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Builds the history, then measures the first frame and searches on it.
fn history_figures(
    root: &Path,
    total: usize,
    rows: &mut Vec<String>,
    out: &mut Value,
) -> Result<(), String> {
    let big = root.join("big");
    eprintln!("building a history of {total} messages");
    let built = build(&big, total)?;
    rows.push(format!(
        "history of {} messages in {} conversations ({} in \"{}\"), texts {:.0} characters on average",
        thousands(total),
        PEOPLE.len(),
        thousands(built.in_big),
        PEOPLE[0],
        built.chars as f64 / total as f64
    ));
    rows.push(format!(
        "  {:<40} {:>9.1} s   {:>8.0} msgs/s, {BATCH} to a commit",
        "build",
        built.seconds,
        total as f64 / built.seconds
    ));
    rows.push(format!(
        "  {:<40} {:>9.1} MB   ({:.1} MB of text; {:.1} MB after the writer closed)",
        "history.db + -wal",
        built.bytes_open as f64 / 1e6,
        built.text_bytes as f64 / 1e6,
        built.bytes_closed as f64 / 1e6
    ));
    out["build"] = json!({
        "messages": total,
        "conversations": PEOPLE.len(),
        "in_big_conversation": built.in_big,
        "seconds": built.seconds,
        "msgs_per_s": total as f64 / built.seconds,
        "db_and_wal_bytes": built.bytes_open,
        "db_bytes_closed": built.bytes_closed,
        "text_bytes": built.text_bytes,
        "mean_chars": built.chars as f64 / total as f64,
    });

    let small = root.join("small");
    let small_n = 10_000;
    build(&small, small_n)?;
    rows.push(format!(
        "first frame, 200×60, \"{}\" open (fresh process; memory from /proc/self/status)",
        PEOPLE[0]
    ));
    let mut frames = Vec::new();
    for (dir, n) in [(&big, total), (&small, small_n)] {
        eprintln!("first frame with {n} messages");
        let f = first_frame(dir)?;
        rows.push(format!(
            "  {:<40} {:>9.1} ms   RSS {:>5.1} MB  peak {:>5.1} MB",
            format!("{} messages in history", thousands(n)),
            f.first_frame_ms,
            f.rss_mb,
            f.hwm_mb
        ));
        rows.push(format!(
            "  {:<40} {:>9.1} ms   RSS {:>5.1} MB  peak {:>5.1} MB   {} messages held",
            format!("  then {PAGES} × PageUp, older pages read"),
            f.pages_ms,
            f.rss_after_mb,
            f.hwm_after_mb,
            f.held
        ));
        frames.push(json!({
            "messages": n,
            "first_frame_ms": f.first_frame_ms,
            "rss_mb": f.rss_mb,
            "peak_rss_mb": f.hwm_mb,
            "page_ups": PAGES,
            "page_ups_ms": f.pages_ms,
            "rss_after_mb": f.rss_after_mb,
            "peak_rss_after_mb": f.hwm_after_mb,
            "messages_held_after": f.held,
        }));
    }
    out["first_frame"] = Value::Array(frames);

    eprintln!("searching");
    let reader = History::open_read(&big).map_err(|e| e.to_string())?;
    let queries = if total >= 1_000_000 { 200 } else { 100 };
    rows.push(format!(
        "search, {LIMIT} results at most, {} messages (ms: p50 / p99 / max, mean hits)",
        thousands(total)
    ));
    let mut searches = Vec::new();
    for order in [Order::Rank, Order::Newest] {
        let how = if order == Order::Rank {
            "rank"
        } else {
            "newest"
        };
        let words = searches_of(&reader, Kind::Mixed, order, queries)?;
        let short = searches_of(&reader, Kind::Short, order, queries / 5)?;
        for (label, kind) in [
            ("3+ char words, all", None),
            ("  one word", Some(Kind::One)),
            ("  two words", Some(Kind::Two)),
            ("  one word, one conversation", Some(Kind::Scoped)),
            ("2-char Chinese word (scan)", Some(Kind::Short)),
        ] {
            let of = if kind == Some(Kind::Short) {
                &short
            } else {
                &words
            };
            let picked: Vec<&Searched> = of
                .iter()
                .filter(|q| kind.is_none_or(|k| q.kind == k))
                .collect();
            let count = picked.len();
            let mut times = Percentiles::of(picked.iter().map(|q| q.took).collect());
            for v in [&mut times.p50, &mut times.p99, &mut times.max] {
                *v /= 1e3;
            }
            let hits = picked.iter().map(|q| q.hits).sum::<usize>() as f64 / count.max(1) as f64;
            let name = format!("{label}, {how}");
            rows.push(format!(
                "  {:<40} {:>7.2} / {:>7.2} / {:>7.2} ms   {:>4.1} hits  ({count} queries)",
                name, times.p50, times.p99, times.max, hits
            ));
            searches.push(json!({
                "what": name.trim(),
                "queries": count,
                "ms": { "p50": times.p50, "p99": times.p99, "max": times.max },
                "mean_hits": hits,
            }));
        }
    }
    out["search"] = Value::Array(searches);
    Ok(())
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A small, fixed random sequence (xorshift64*), so every run writes the same history.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// In `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// In `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// An index of `words`, the first more often than the last (about as 1 / rank).
    fn common(&mut self, cumulative: &[f64]) -> usize {
        let total = cumulative.last().copied().unwrap_or(0.0);
        let x = self.unit() * total;
        cumulative
            .partition_point(|&c| c <= x)
            .min(cumulative.len() - 1)
    }
}

fn zipf(len: usize) -> Vec<f64> {
    let mut sum = 0.0;
    (0..len)
        .map(|r| {
            sum += 1.0 / (r as f64 + 1.0);
            sum
        })
        .collect()
}

/// A text of 20 to 120 characters: English, Chinese, or both.
fn text(rng: &mut Rng, en: &[f64], zh: &[f64]) -> String {
    let want = 20 + rng.below(101);
    let style = rng.below(20);
    let mut out = String::new();
    let mut chars = 0;
    loop {
        let chinese = match style {
            0..=2 => true,
            3 => rng.below(2) == 0,
            _ => false,
        };
        let word = if chinese {
            CHINESE[rng.common(zh)]
        } else {
            ENGLISH[rng.common(en)]
        };
        let n = word.chars().count();
        if chars + n + 1 > want && chars >= 20 {
            break;
        }
        // Chinese is written without spaces; a mixed text has them between its words.
        let spaced = !chinese || style >= 3;
        if spaced && !out.is_empty() {
            out.push(' ');
            chars += 1;
        }
        out.push_str(word);
        chars += n;
        if chars >= want {
            break;
        }
    }
    if style >= 4 && rng.below(3) == 0 {
        out.push(['.', '?', '!'][rng.below(3)]);
    }
    out
}

struct Built {
    seconds: f64,
    bytes_open: u64,
    bytes_closed: u64,
    text_bytes: u64,
    chars: u64,
    in_big: usize,
}

fn db_bytes(dir: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .filter_map(|s| std::fs::metadata(dir.join(format!("{DB_FILE}{s}"))).ok())
        .map(|m| m.len())
        .sum()
}

/// Writes a history of `total` messages into the data directory `dir`.
fn build(dir: &Path, total: usize) -> Result<Built, String> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (en, zh) = (zipf(ENGLISH.len()), zipf(CHINESE.len()));
    let keys: Vec<ConversationKey> = PEOPLE.iter().map(|p| ConversationKey::contact(p)).collect();
    let peers: Vec<String> = (0..PEOPLE.len())
        .map(|i| format!("192.0.2.{}:9000", i + 10))
        .collect();
    let span = SignedDuration::from_hours(2 * 365 * 24);
    let start_at = Timestamp::now() - span;
    let step_ns = span.as_nanos() / total.max(1) as i128;
    let t0 = Instant::now();
    let mut history = History::open(dir).map_err(|e| e.to_string())?;
    let (mut text_bytes, mut chars, mut in_big) = (0u64, 0u64, 0usize);
    for i in 0..total {
        let c = if rng.unit() < BIG_SHARE {
            0
        } else {
            1 + rng.below(PEOPLE.len() - 1)
        };
        in_big += usize::from(c == 0);
        let jitter = rng.below(usize::try_from(step_ns).unwrap_or(1).max(1)) as i128;
        let at = start_at
            + SignedDuration::from_nanos(
                i64::try_from(step_ns * i as i128 + jitter / 2).unwrap_or(i64::MAX),
            );
        let out = rng.below(2) == 0;
        let text = text(&mut rng, &en, &zh);
        text_bytes += text.len() as u64;
        chars += text.chars().count() as u64;
        history.append(
            &keys[c],
            &Record::Msg {
                id: i as u64 + 1,
                dir: if out { Direction::Out } else { Direction::In },
                peer: peers[c].clone(),
                path: None,
                at,
                sent_at: (!out).then_some(at),
                text,
                plain: false,
                state: if out {
                    MessageState::Delivered
                } else {
                    MessageState::Received
                },
            },
        );
        if (i + 1) % BATCH == 0 || i + 1 == total {
            history.commit().map_err(|e| e.to_string())?;
        }
    }
    let seconds = t0.elapsed().as_secs_f64();
    let bytes_open = db_bytes(dir);
    drop(history);
    Ok(Built {
        seconds,
        bytes_open,
        bytes_closed: db_bytes(dir),
        text_bytes,
        chars,
        in_big,
    })
}

struct FirstFrame {
    first_frame_ms: f64,
    rss_mb: f64,
    hwm_mb: f64,
    pages_ms: f64,
    rss_after_mb: f64,
    hwm_after_mb: f64,
    held: u64,
}

/// Runs [`measure_first_frame`] in a fresh process on the history in `dir`.
fn first_frame(dir: &Path) -> Result<FirstFrame, String> {
    let exe = std::env::current_exe().map_err(|e| format!("the bench binary: {e}"))?;
    let t0 = Instant::now();
    let child = std::process::Command::new(exe)
        .args(["--measure-first-frame", &dir.display().to_string()])
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("the first-frame measurement: {e}"))?;
    let total = t0.elapsed();
    let report: Value = serde_json::from_slice(&child.stdout)
        .map_err(|e| format!("the first-frame measurement said nothing readable: {e}"))?;
    let f = |k: &str| report[k].as_f64().unwrap_or(f64::NAN);
    // The child's clock starts in its main(); add what exec and loading the binary took
    // (and its exit, which is short).
    let exec_ms = (total.as_secs_f64() * 1e3 - f("exit_ms")).max(0.0);
    Ok(FirstFrame {
        first_frame_ms: f("first_frame_ms") + exec_ms,
        rss_mb: f("rss_mb"),
        hwm_mb: f("hwm_mb"),
        pages_ms: f("pages_ms"),
        rss_after_mb: f("rss_after_mb"),
        hwm_after_mb: f("hwm_after_mb"),
        held: report["held"].as_u64().unwrap_or(0),
    })
}

/// VmRSS and VmHWM of this process, in MB.
fn memory_mb() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |field: &str| {
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    (kb("VmRSS:") / 1024.0, kb("VmHWM:") / 1024.0)
}

fn contact(name: &str, i: usize) -> Contact {
    Contact {
        name: name.into(),
        addrs: vec![
            format!("192.0.2.{}:9000", i + 10)
                .parse()
                .expect("an address"),
        ],
        plain: false,
        key: None,
        ipmsg: false,
        encoding: None,
        accept_files: false,
        mute: false,
    }
}

/// In a fresh process, `--measure-first-frame DIR`: the chat's way to its first frame on
/// the history in `DIR`, with the big conversation open, drawn into a 200×60 test terminal;
/// then PageUp ten times, reading older pages as the chat does. Prints JSON.
pub fn measure_first_frame(args: &[String]) {
    let t0 = Instant::now();
    let dir = Path::new(args.first().map_or(".", String::as_str));
    let mut book = ContactBook::empty(Me::default());
    book.contacts = PEOPLE
        .iter()
        .enumerate()
        .map(|(i, p)| contact(p, i))
        .collect();
    let history = History::open_read(dir).expect("the history");
    let recent = history
        .conversations(HISTORY_PAGE)
        .expect("the recent history");
    let mut app = App::new(
        &book,
        "127.0.0.1:9001".parse().expect("addr"),
        jiff::tz::TimeZone::UTC,
    );
    app.load_recent(recent, HISTORY_PAGE);
    app.on_resize(200, 60);
    let now = Timestamp::now();
    let big = app
        .peers()
        .iter()
        .position(|p| p.name() == PEOPLE[0])
        .expect("the big conversation in the list");
    for _ in 0..app.peers().len() {
        if app.selected() == big {
            break;
        }
        let _ = app.on_key(KeyEvent::from(KeyCode::Down), now);
    }
    let _ = app.on_key(KeyEvent::from(KeyCode::Enter), now);
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("terminal");
    let _ = terminal.draw(|f| qqchat::ui::draw(f, &app));
    let first_frame = t0.elapsed();
    let (rss, hwm) = memory_mb();
    assert_eq!(app.open(), Some(big), "the big conversation is open");

    let t1 = Instant::now();
    for _ in 0..PAGES {
        let _ = app.on_key(KeyEvent::from(KeyCode::PageUp), now);
        read_older(&mut app, &history);
        let _ = terminal.draw(|f| qqchat::ui::draw(f, &app));
    }
    let pages = t1.elapsed();
    let (rss_after, hwm_after) = memory_mb();
    let held = app.open_peer().map_or(0, |p| p.messages().len());
    let report = json!({
        "first_frame_ms": first_frame.as_secs_f64() * 1e3,
        "rss_mb": rss,
        "hwm_mb": hwm,
        "pages_ms": pages.as_secs_f64() * 1e3,
        "rss_after_mb": rss_after,
        "hwm_after_mb": hwm_after,
        "held": held,
        "exit_ms": t0.elapsed().as_secs_f64() * 1e3,
    });
    println!("{report}");
}

/// What the chat does after each key: the older pages the view has come to need.
fn read_older(app: &mut App, history: &History) {
    for _ in 0..4 {
        let Some(want) = app.history_wanted() else {
            return;
        };
        let older = history
            .load_before(&want.key, want.before, HISTORY_PAGE)
            .expect("older messages");
        app.put_older(&want, older, HISTORY_PAGE);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// One word, one word, two words, one word in one conversation, over and over.
    Mixed,
    One,
    Two,
    Scoped,
    /// A two-character Chinese word, which trigrams cannot match.
    Short,
}

/// One query: what it was, how long it took, how many it found.
struct Searched {
    kind: Kind,
    took: Duration,
    hits: usize,
}

/// `count` queries of `kind`, the same ones for either order.
fn searches_of(
    history: &History,
    kind: Kind,
    order: Order,
    count: usize,
) -> Result<Vec<Searched>, String> {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03 ^ kind as u64);
    let long: Vec<&str> = ENGLISH
        .iter()
        .chain(CHINESE)
        .copied()
        .filter(|w| w.chars().count() >= 3)
        .collect();
    let short: Vec<&str> = CHINESE
        .iter()
        .copied()
        .filter(|w| w.chars().count() == 2)
        .collect();
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let kind = match kind {
            Kind::Mixed => [Kind::One, Kind::One, Kind::Two, Kind::Scoped][i % 4],
            k => k,
        };
        let mut search = Search {
            order,
            limit: LIMIT,
            ..Search::default()
        };
        search.text = match kind {
            Kind::Two => format!(
                "{} {}",
                long[rng.below(long.len())],
                long[rng.below(long.len())]
            ),
            Kind::Short => short[rng.below(short.len())].to_owned(),
            _ => long[rng.below(long.len())].to_owned(),
        };
        if kind == Kind::Scoped {
            search.conversations = vec![ConversationKey::contact(PEOPLE[rng.below(PEOPLE.len())])];
        }
        let t = Instant::now();
        let found = history.search(&search).map_err(|e| e.to_string())?;
        out.push(Searched {
            kind,
            took: t.elapsed(),
            hits: found.len(),
        });
    }
    Ok(out)
}

/// Keyed messages acked per second with each engine writing a history of its own, beside the
/// same pair without one and raw UDP, in the same run.
fn acked(n: usize, rows: &mut Vec<String>, out: &mut Value) -> Result<(), String> {
    let size = datagram_size();
    eprintln!("acked: {n} keyed messages of {MESSAGE} bytes, with and without a history");
    let raw = raw_blast(size, n * 2);
    let bare = rate_of(pair_with(true, None, None), n);
    // Every commit waits for the disk: fewer messages, so a slow disk still ends the run.
    let stored_n = n / 5;
    let stored = stored_rate(stored_n)?;
    rows.push(format!(
        "acked, keyed, {} messages of {MESSAGE} bytes on loopback",
        thousands(n)
    ));
    rows.push(format!(
        "  {:<40} {:>9.0} datagrams/s",
        "raw UDP, one way", raw
    ));
    rows.push(format!(
        "  {:<40} {:>9.0} msgs/s   {:>5.2} × raw",
        "qqchat, no history",
        bare.per_second,
        bare.per_second / raw
    ));
    rows.push(format!(
        "  {:<40} {:>9.0} msgs/s   {:>5.2} × raw  {:>5.2} × no history",
        format!(
            "qqchat, both writing their history ({})",
            thousands(stored_n)
        ),
        stored.per_second,
        stored.per_second / raw,
        stored.per_second / bare.per_second
    ));
    out["acked"] = json!({
        "messages": n,
        "message_bytes": MESSAGE,
        "raw_datagrams_per_s": raw,
        "no_history_msgs_per_s": bare.per_second,
        "history_messages": stored_n,
        "history_msgs_per_s": stored.per_second,
        "history_to_no_history": stored.per_second / bare.per_second,
        "history_seconds": stored.seconds,
    });
    Ok(())
}

/// [`rate_of`] a keyed pair, each engine with a history in a data directory of its own.
fn stored_rate(n: usize) -> Result<Rate, String> {
    let root = temp_dir("acked");
    let (da, db) = (root.join("a"), root.join("b"));
    let opened = History::open(&da).and_then(|a| Ok((a, History::open(&db)?)));
    let rate = opened.map(|histories| rate_of(pair_with(true, None, Some(histories)), n));
    // Both engines have stopped (and closed their histories) when `rate_of` returns.
    std::thread::sleep(Duration::from_millis(50));
    let _ = std::fs::remove_dir_all(&root);
    rate.map_err(|e| e.to_string())
}

pub struct Startup {
    pub first_frame_ms: f64,
    pub full_ms: f64,
    pub peak_mb: f64,
    pub rss_mb: f64,
    pub frame_us: f64,
}

/// The main bench's start-up figure: writes a history of `n` messages and times a fresh process starting the chat on it.
pub fn startup(n: u64) -> Startup {
    let dir = std::env::temp_dir().join(format!("qqchat-bench-startup-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    if let Ok(mut h) = History::open(&dir) {
        let at = jiff::Timestamp::now();
        for id in 0..n {
            let out = id % 2 == 0;
            h.append(
                &ConversationKey::contact("bob"),
                &Record::Msg {
                    id,
                    dir: if out { Direction::Out } else { Direction::In },
                    peer: "127.0.0.1:9002".into(),
                    path: None,
                    at,
                    sent_at: None,
                    text: format!("message number {id}, with a little text to make it typical"),
                    plain: false,
                    state: if out {
                        MessageState::Delivered
                    } else {
                        MessageState::Received
                    },
                },
            );
        }
        let _ = h.commit();
    }
    let exe = std::env::current_exe().expect("the bench binary");
    let t0 = Instant::now();
    let child = std::process::Command::new(exe)
        .args(["--measure-startup", &dir.display().to_string()])
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("run the start-up measurement");
    let total = t0.elapsed();
    let _ = std::fs::remove_dir_all(&dir);
    let report: Value = serde_json::from_slice(&child.stdout).unwrap_or(Value::Null);
    let f = |k: &str| report[k].as_f64().unwrap_or(f64::NAN);
    // The child's clock starts in its main(); add what exec and loading the binary took.
    let exec_ms = total.as_secs_f64() * 1e3 - f("exit_ms");
    Startup {
        first_frame_ms: f("first_frame_ms") + exec_ms.max(0.0),
        full_ms: f("full_ms") + exec_ms.max(0.0),
        peak_mb: f("peak_mb"),
        rss_mb: f("rss_mb"),
        frame_us: f("frame_us"),
    }
}

/// In a fresh process: what `qqchat` does before its first frame, on the history in `dir`,
/// drawn into a 200×60 test terminal; then the whole history put in place.
pub fn measure_startup(dir: &str) {
    let t0 = Instant::now();
    let mut book = ContactBook::empty(Me::default());
    book.contacts.push(Contact {
        name: "bob".into(),
        addrs: vec!["127.0.0.1:9002".parse().expect("addr")],
        plain: false,
        key: None,
        ipmsg: false,
        encoding: None,
        accept_files: false,
        mute: false,
    });
    let history = History::open_read(std::path::Path::new(dir)).expect("history");
    let page = HISTORY_PAGE;
    let recent = history.conversations(page).expect("recent history");
    let mut app = App::new(
        &book,
        "127.0.0.1:9001".parse().expect("addr"),
        jiff::tz::TimeZone::UTC,
    );
    app.load_recent(recent, page);
    app.on_resize(200, 60);
    let _ = app.on_key(
        crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Enter),
        jiff::Timestamp::now(),
    );
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("terminal");
    let _ = terminal.draw(|f| qqchat::ui::draw(f, &app));
    let first_frame = t0.elapsed();
    let full = history
        .load(&ConversationKey::contact("bob"))
        .expect("whole history");
    app.load_history(vec![Conversation {
        key: ConversationKey::contact("bob"),
        messages: full,
    }]);
    let _ = terminal.draw(|f| qqchat::ui::draw(f, &app));
    let full_ms = t0.elapsed();
    let frames = 200;
    let t1 = Instant::now();
    for _ in 0..frames {
        let _ = terminal.draw(|f| qqchat::ui::draw(f, &app));
    }
    let frame = t1.elapsed() / frames;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |field: &str| {
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    let report = json!({
        "first_frame_ms": first_frame.as_secs_f64() * 1e3,
        "full_ms": full_ms.as_secs_f64() * 1e3,
        "frame_us": frame.as_secs_f64() * 1e6,
        "peak_mb": kb("VmHWM:") / 1024.0,
        "rss_mb": kb("VmRSS:") / 1024.0,
        "exit_ms": t0.elapsed().as_secs_f64() * 1e3,
    });
    println!("{report}");
}
