//! What the tests of the `accesslog` binary share: the command with the operator's
//! environment cleared, its output as text, and a running server (or gate) that is killed
//! when dropped. Each test binary uses part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// `accesslog`, with none of the settings an operator's shell may have exported.
pub fn accesslog() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_accesslog"));
    cmd.env_remove("ACCESSLOG_SITE")
        .env_remove("ACCESSLOG_BIND")
        .env_remove("ACCESSLOG_DATABASE_URL")
        .env_remove("ACCESSLOG_FRAPPE_API_KEY");
    cmd
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The output of a command that must have succeeded: its stdout and stderr.
pub fn ok(out: Output) -> (String, String) {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    (text(&out.stdout), text(&out.stderr))
}

/// The stderr of a command that must have failed.
pub fn failed(out: Output) -> String {
    assert!(
        !out.status.success(),
        "should have failed: {}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stderr)
}

/// A running `accesslog` that is killed when dropped.
pub struct Running {
    pub child: Child,
    pub url: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `accesslog ARGS` and waits (up to two minutes) for it to print the URL it
/// listens at: the first URL on a line.
pub fn start(args: &[&str]) -> Running {
    let mut child = accesslog()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let mut running = Running {
        child,
        url: String::new(),
    };
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(120)) {
        if let Some(i) = line.find("http://") {
            running.url = line[i..]
                .split_whitespace()
                .next()
                .unwrap()
                .trim_end_matches('/')
                .to_owned();
            // Keep draining so the child never blocks on a full pipe.
            std::thread::spawn(move || while rx.recv().is_ok() {});
            return running;
        }
        seen.push(line);
    }
    panic!("accesslog never printed its URL; it printed: {seen:?}");
}
