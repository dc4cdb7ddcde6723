//! A receiver killed with SIGKILL in the middle of a file resumes from what it persisted: the
//! test runs itself again as the receiver, kills it while it writes, and reopens the `.part`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use qqchat::files::{Partial, Verified, safe_name};

const CHILD: &str = "QQCHAT_PARTIAL_KILL_DIR";
const SIZE: u64 = 4 << 20;
const CHUNK: usize = 64 << 10;
const PERSISTED: u64 = 1 << 20;

fn byte(at: u64) -> u8 {
    (at % 251) as u8
}

fn pattern(offset: u64, len: usize) -> Vec<u8> {
    (offset..offset + len as u64).map(byte).collect()
}

/// The receiver: persists the first MiB, says so, then writes on without persisting until
/// it is killed.
fn receive_until_killed(dir: &Path) {
    let name = safe_name(b"movie.mkv").expect("a safe name");
    let mut part = Partial::create(dir, &name, SIZE, "offer-1").expect("created");
    let mut at = 0;
    while at < PERSISTED {
        part.write_at(at, &pattern(at, CHUNK)).expect("written");
        at += CHUNK as u64;
    }
    part.persist().expect("persisted");
    println!("persisted");
    loop {
        if at < SIZE {
            part.write_at(at, &pattern(at, CHUNK)).expect("written");
            at += CHUNK as u64;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn test_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("qqchat-partial-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("made");
    dir
}

#[test]
fn a_killed_receiver_resumes_from_what_it_persisted() {
    if let Some(dir) = std::env::var_os(CHILD) {
        receive_until_killed(Path::new(&dir));
        return;
    }
    let dir = test_dir();
    let mut child = Command::new(std::env::current_exe().expect("this test's binary"))
        .args([
            "--exact",
            "a_killed_receiver_resumes_from_what_it_persisted",
            "--nocapture",
        ])
        .env(CHILD, &dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("started the receiver");
    let stdout = child.stdout.take().expect("its output");
    let said = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line == "persisted");
    assert!(said, "the receiver persisted");
    // Let it write past what it persisted, then kill it (SIGKILL on Unix).
    std::thread::sleep(Duration::from_millis(50));
    child.kill().expect("killed");
    child.wait().expect("reaped");

    let found = Partial::find(&dir, "offer-1").expect("listed");
    assert_eq!(found.len(), 1, "one partial file for the offer");
    let mut part = Partial::open(&found[0]).expect("reopened");
    assert_eq!(
        part.held().as_slice(),
        [(0, PERSISTED)],
        "exactly what was persisted, not what was written after"
    );
    let mut buf = vec![0; PERSISTED as usize];
    assert_eq!(part.read_at(0, &mut buf).expect("read"), buf.len());
    assert_eq!(
        buf,
        pattern(0, buf.len()),
        "the persisted bytes are on disk"
    );

    for (start, end) in part.missing() {
        let mut at = start;
        while at < end {
            let len = CHUNK.min((end - at) as usize);
            part.write_at(at, &pattern(at, len)).expect("written");
            at += len as u64;
        }
    }
    part.persist().expect("persisted");
    let path = part.finish(Verified::HashMatched).expect("finished");
    assert_eq!(path, dir.join("movie.mkv"));
    let data = std::fs::read(&path).expect("read");
    assert!(
        data == pattern(0, SIZE as usize),
        "bit-exact after resuming"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
