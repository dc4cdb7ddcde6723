//! A plain TCP copy on the same path as qqchat, for comparison: `tcp-sink` and `tcp-source`,
//! modes of this binary that the bench runs (in the namespaces when on the link).
//!
//! `qqchat-bench tcp-sink BIND OUT`: takes one connection, writes what arrives to OUT (like
//! qqchat's receiver writes its file), prints `ready ADDR` on stderr once listening, `bytes N`
//! on stdout every 100 ms, and `done N SECS` at the end (from accept to end of stream).
//! `qqchat-bench tcp-source ADDR FILE [--forever]`: sends FILE (again and again with
//! `--forever`, until killed).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

const CHUNK: usize = 1 << 20;

pub fn sink(args: &[String]) -> Result<(), String> {
    let [bind, out] = args else {
        return Err("usage: tcp-sink BIND OUT".into());
    };
    let listener = TcpListener::bind(bind.as_str()).map_err(|e| format!("bind {bind}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!("ready {addr}");
    let (mut stream, _) = listener.accept().map_err(|e| e.to_string())?;
    let start = Instant::now();
    let mut file = std::fs::File::create(out).map_err(|e| format!("{out}: {e}"))?;
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    let mut said = start;
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.to_string()),
        };
        file.write_all(&buf[..n]).map_err(|e| e.to_string())?;
        total += n as u64;
        if said.elapsed() >= Duration::from_millis(100) {
            said = Instant::now();
            println!("bytes {total}");
        }
    }
    println!("done {total} {}", start.elapsed().as_secs_f64());
    Ok(())
}

pub fn source(args: &[String]) -> Result<(), String> {
    let (addr, path, forever) = match args {
        [addr, path] => (addr, path, false),
        [addr, path, flag] if flag == "--forever" => (addr, path, true),
        _ => return Err("usage: tcp-source ADDR FILE [--forever]".into()),
    };
    // The sink may still be starting: a few tries, bounded.
    let mut stream = None;
    for _ in 0..100 {
        if let Ok(s) = TcpStream::connect(addr.as_str()) {
            stream = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut stream = stream.ok_or_else(|| format!("cannot connect to {addr}"))?;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let mut file = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
        loop {
            let n = file.read(&mut buf).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            stream.write_all(&buf[..n]).map_err(|e| e.to_string())?;
        }
        if !forever {
            return Ok(());
        }
    }
}
