//! Retention end to end (issue 19), as an operator and an auditor run it, on both
//! backends: `accesslog prune` archives old entries to bundles and removes their payloads,
//! `verify` still proves the log, `archive verify` proves each bundle offline against a
//! checkpoint kept elsewhere (and names the line of a changed or dropped entry), `archive
//! restore` puts the payloads back; legal holds keep entries whole, `redact` erases one
//! person's entries; and a prune killed (SIGKILL) at any moment loses nothing.

mod common;

use common::{accesslog, failed, ok, text};

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use accesslog_core::{Clock, SystemClock, Timestamp};
use accesslog_testkit::{Backend, TestDb};
use sha2::{Digest, Sha256};

fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    accesslog().args(args).output().unwrap()
}

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// `t` plus `days`, in RFC 3339 as `prune --now` takes it.
fn days_after(t: Timestamp, days: i64) -> String {
    Timestamp::from_micros(t.as_micros() + days * MICROS_PER_DAY).to_rfc3339()
}

/// `days` from now, as `prune --now` takes it: entries are recorded at the real time.
fn days_from_now(days: i64) -> String {
    days_after(SystemClock.now(), days)
}

fn bundle_name(first: u64, last: u64) -> String {
    format!("access-log-{first:012}-{last:012}.jsonl.zst")
}

/// `(first, last)` from a bundle's file name.
fn bundle_range(path: &Path) -> (u64, u64) {
    let name = path.file_name().unwrap().to_str().unwrap();
    let range = name
        .strip_prefix("access-log-")
        .and_then(|r| r.strip_suffix(".jsonl.zst"))
        .unwrap_or_else(|| panic!("{name} is not a bundle's name"));
    let (first, last) = range.split_once('-').unwrap();
    (first.parse().unwrap(), last.parse().unwrap())
}

fn sha256_of(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// A bundle's decompressed lines (the header is the first).
fn bundle_lines(path: &Path) -> Vec<String> {
    let bytes = zstd::decode_all(std::fs::File::open(path).unwrap()).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    text.strip_suffix('\n')
        .unwrap()
        .split('\n')
        .map(str::to_owned)
        .collect()
}

fn write_bundle(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, zstd::encode_all(text.as_bytes(), 3).unwrap()).unwrap();
}

/// What `verify` said.
#[derive(Debug, PartialEq, Eq)]
struct Verified {
    entries: u64,
    /// From the line "N entries were pruned or redacted" (0 when there is none).
    pruned: u64,
}

/// A site folder made by `new-site`, on the test's database.
struct Site {
    tmp: tempfile::TempDir,
    dir: PathBuf,
    url: String,
}

impl Site {
    fn new(db: &TestDb) -> Site {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("site");
        ok(accesslog().arg("new-site").arg(&dir).output().unwrap());
        Site {
            tmp,
            dir,
            url: db.url.clone(),
        }
    }

    /// `cmd` with `--site DIR --database URL` after it.
    fn args(&self, cmd: &[&str]) -> Vec<String> {
        let mut a: Vec<String> = cmd.iter().map(|s| (*s).to_owned()).collect();
        a.extend([
            "--site".into(),
            self.dir.display().to_string(),
            "--database".into(),
            self.url.clone(),
        ]);
        a
    }

    fn run(&self, cmd: &[&str]) -> Output {
        run(&self.args(cmd))
    }

    fn ok(&self, cmd: &[&str]) -> (String, String) {
        ok(self.run(cmd))
    }

    fn failed(&self, cmd: &[&str]) -> String {
        failed(self.run(cmd))
    }

    /// A path in the test's temporary folder, outside the site.
    fn outside(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn key(&self) -> String {
        self.dir.join("keys/log.pub").display().to_string()
    }

    fn archive(&self) -> PathBuf {
        self.dir.join("archive")
    }

    /// Appends `[log.retention]` with `settings` to site.toml.
    fn set_retention(&self, settings: &str) {
        let path = self.dir.join("site.toml");
        let mut toml = std::fs::read_to_string(&path).unwrap();
        assert!(!toml.contains("[log.retention]"), "{toml}");
        toml.push_str("\n[log.retention]\n");
        toml.push_str(settings);
        std::fs::write(path, toml).unwrap();
    }

    /// `count` entries by each of `writers` users, `{tag}-{w}@example.com`.
    fn load(&self, count: u64, writers: u64, tag: &str) {
        self.ok(&[
            "record-load",
            "--count",
            &count.to_string(),
            "--writers",
            &writers.to_string(),
            "--tag",
            tag,
        ]);
    }

    /// Every file in the archive folder, by name.
    fn archive_files(&self) -> Vec<String> {
        let Ok(dir) = std::fs::read_dir(self.archive()) else {
            return Vec::new();
        };
        let mut names: Vec<String> = dir
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// The bundles (`*.jsonl.zst`) in the archive folder, in seq order.
    fn bundles(&self) -> Vec<PathBuf> {
        self.archive_files()
            .iter()
            .filter(|n| n.ends_with(".jsonl.zst"))
            .map(|n| self.archive().join(n))
            .collect()
    }

    fn verify(&self) -> Verified {
        let (out, _) = self.ok(&["verify"]);
        let entries = out
            .lines()
            .find_map(|l| l.strip_prefix("OK: "))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no OK line: {out}"))
            .parse()
            .unwrap();
        let pruned = out
            .lines()
            .find(|l| l.contains("were pruned or redacted"))
            .map_or(0, |l| l.split_whitespace().next().unwrap().parse().unwrap());
        Verified { entries, pruned }
    }

    /// `archive verify BUNDLE --key keys/log.pub [--checkpoint FILE]`, which must pass;
    /// its output.
    fn archive_verify(&self, bundle: &Path, checkpoint: Option<&Path>) -> String {
        let mut args = vec![
            "archive".to_owned(),
            "verify".to_owned(),
            bundle.display().to_string(),
            "--key".to_owned(),
            self.key(),
        ];
        if let Some(c) = checkpoint {
            args.extend(["--checkpoint".to_owned(), c.display().to_string()]);
        }
        let (out, _) = ok(run(&args));
        assert!(out.starts_with("OK: "), "{out}");
        out
    }

    /// `archive verify` of a bundle that must be refused; what it said.
    fn archive_refused(&self, bundle: &Path, checkpoint: &Path) -> String {
        failed(run(&[
            "archive".to_owned(),
            "verify".to_owned(),
            bundle.display().to_string(),
            "--checkpoint".to_owned(),
            checkpoint.display().to_string(),
            "--key".to_owned(),
            self.key(),
        ]))
    }

    fn restore(&self, bundle: &Path) -> String {
        self.ok(&["archive", "restore", &bundle.display().to_string()])
            .1
    }
}

/// A number from a query of one row (cast to text in the SQL).
async fn count(db: &TestDb, sql: &str) -> u64 {
    db.query_text(sql).await[0].parse().unwrap()
}

// ---------------------------------------------------------------------------------------
// 1. Prune, verify, check the bundles offline, refuse tampered ones, restore.

async fn prune_then_verify_and_archive_verify(db: &TestDb) {
    let site = Site::new(db);
    site.load(150, 2, "load");
    assert_eq!(
        site.verify(),
        Verified {
            entries: 300,
            pruned: 0
        }
    );
    // The auditor keeps the checkpoint of today's log outside the site.
    let kept = site.outside("kept-checkpoint");
    site.ok(&["checkpoint", "--out", kept.to_str().unwrap()]);
    let note = std::fs::read_to_string(&kept).unwrap();
    assert_eq!(note.lines().nth(1), Some("300"), "{note}");

    site.set_retention("export = 30\nbundle_max_entries = 100\n");
    let later = days_from_now(60);

    // A dry run says what would happen and changes nothing.
    let (_, said) = site.ok(&["prune", "--dry-run", "--now", &later]);
    assert!(
        said.contains(
            "300 entries due under the checkpoint of 300; would prune 300; 0 kept by legal holds."
        ),
        "{said}"
    );
    assert!(!said.contains("Archived"), "{said}");
    assert_eq!(
        site.verify(),
        Verified {
            entries: 300,
            pruned: 0
        }
    );
    assert_eq!(site.archive_files(), Vec::<String>::new());

    // Now for real: three bundles of 100, named, then the payloads go.
    let (_, said) = site.ok(&["prune", "--now", &later]);
    let ranges = [(1, 100), (101, 200), (201, 300)];
    for (first, last) in ranges {
        assert!(
            said.contains(&format!(
                "Archived entries {first}..={last} to {} (",
                bundle_name(first, last)
            )),
            "{said}"
        );
    }
    assert!(
        said.contains(
            "300 entries due under the checkpoint of 300; pruned 300; 0 kept by legal holds. Recorded as entry 301."
        ),
        "{said}"
    );
    // Only the three bundles, no leftover .partial.
    assert_eq!(
        site.archive_files(),
        ranges.map(|(f, l)| bundle_name(f, l)).to_vec()
    );
    let bundles = site.bundles();
    assert_eq!(
        site.verify(),
        Verified {
            entries: 301,
            pruned: 300
        }
    );
    // The pruned log still extends the checkpoint kept before the prune.
    let (out, _) = site.ok(&["verify", "--checkpoint", kept.to_str().unwrap()]);
    assert!(
        out.contains("The log extends the external checkpoint of 300 entries."),
        "{out}"
    );

    // The auditor checks each bundle with nothing but it, the kept checkpoint and the key.
    for (b, (first, last)) in bundles.iter().zip(ranges) {
        let out = site.archive_verify(b, Some(&kept));
        assert!(
            out.contains(&format!(
                "holds entries {first}..={last} (100 entries, 0 without their payload)"
            )) && out.contains("lead to the root signed for 300 entries by the checkpoint given"),
            "{out}"
        );
        assert!(out.contains(&sha256_of(b)), "{out}");
    }
    // A copy of the site's checkpoints.log serves as well: the note of 300 entries is used.
    let log_copy = site.outside("checkpoints.log");
    std::fs::copy(site.dir.join("checkpoints.log"), &log_copy).unwrap();
    for b in &bundles {
        let out = site.archive_verify(b, Some(&log_copy));
        assert!(out.contains("by the checkpoint given"), "{out}");
    }
    // A checkpoint of another size cannot vouch for a bundle; the refusal says which to use.
    let newer = site.outside("newer-checkpoint");
    site.ok(&["checkpoint", "--out", newer.to_str().unwrap()]);
    let err = site.archive_refused(&bundles[0], &newer);
    assert!(err.contains("give the checkpoint of 300 entries"), "{err}");

    // One character changed inside an entry's fields on line 5 (entry 104).
    let lines = bundle_lines(&bundles[1]);
    assert_eq!(lines.len(), 101);
    let mut changed = lines.clone();
    let at = changed[4].find("\"fields\":[").unwrap();
    let inside = changed[4][at..].find("example.com").unwrap() + at;
    changed[4].replace_range(inside..inside + 3, "exb");
    assert_ne!(changed[4], lines[4]);
    let tampered = site.outside("tampered.jsonl.zst");
    write_bundle(&tampered, &changed);
    let err = site.archive_refused(&tampered, &kept);
    assert!(
        err.contains("line 5 (entry 104): the entry does not hash to its leaf"),
        "{err}"
    );
    // Line 5 dropped.
    let mut dropped = lines.clone();
    dropped.remove(4);
    let short = site.outside("dropped.jsonl.zst");
    write_bundle(&short, &dropped);
    let err = site.archive_refused(&short, &kept);
    assert!(err.contains("line 5: entry 104 is missing"), "{err}");
    // The same change with the line's leaf made to match: the entry checks on its own
    // line, but the leaves no longer lead to the signed root.
    let mut line: serde_json::Value = serde_json::from_str(&changed[4]).unwrap();
    let fields: [Option<String>; 24] = serde_json::from_value(line["fields"].clone()).unwrap();
    line["leaf"] = hex::encode(accesslog_archive::leaf_of_fields(&fields)).into();
    let mut releafed = changed.clone();
    releafed[4] = line.to_string();
    let forged = site.outside("forged.jsonl.zst");
    write_bundle(&forged, &releafed);
    let err = site.archive_refused(&forged, &kept);
    assert!(
        err.contains("the leaves do not lead to the signed root"),
        "{err}"
    );
    // The untouched lines, recompressed, still check: the refusals are about the changes.
    let copy = site.outside("copy.jsonl.zst");
    write_bundle(&copy, &lines);
    site.archive_verify(&copy, Some(&kept));
    // A restore refuses the tampered copy and puts nothing back.
    let err = site.failed(&["archive", "restore", tampered.to_str().unwrap()]);
    assert!(err.contains("line 5"), "{err}");
    assert_eq!(site.verify().pruned, 300);

    // Another site cannot take these payloads: the bundle is not signed with its key.
    let other = site.outside("other-site");
    ok(accesslog().arg("new-site").arg(&other).output().unwrap());
    let err = failed(run(&[
        "archive".to_owned(),
        "restore".to_owned(),
        bundles[0].display().to_string(),
        "--site".to_owned(),
        other.display().to_string(),
    ]));
    assert!(err.contains("does not verify under the key"), "{err}");

    // Every payload back: verify has nothing it can check only by leaf.
    for b in &bundles {
        let said = site.restore(b);
        assert!(
            said.contains("Restored 100 entries from")
                && said.contains("; 0 stay redacted; 0 were not pruned."),
            "{said}"
        );
    }
    assert_eq!(
        site.verify(),
        Verified {
            entries: 304,
            pruned: 0
        }
    );
    // A second restore of the same bundle changes nothing (it is recorded all the same).
    let said = site.restore(&bundles[0]);
    assert!(
        said.contains("Restored 0 entries") && said.contains("100 were not pruned"),
        "{said}"
    );
    assert_eq!(
        site.verify(),
        Verified {
            entries: 305,
            pruned: 0
        }
    );

    // Pruned again, the entries go to the bundles already written: none is rewritten.
    let before: Vec<String> = bundles.iter().map(|b| sha256_of(b)).collect();
    let (_, said) = site.ok(&["prune", "--now", &later]);
    assert!(!said.contains("Archived"), "{said}");
    assert!(
        said.contains("300 entries due") && said.contains("; pruned 300; 0 kept by legal holds."),
        "{said}"
    );
    assert_eq!(site.bundles(), bundles);
    let after: Vec<String> = bundles.iter().map(|b| sha256_of(b)).collect();
    assert_eq!(after, before);
    assert_eq!(
        site.verify(),
        Verified {
            entries: 306,
            pruned: 300
        }
    );
    for b in &bundles {
        site.archive_verify(b, Some(&kept));
    }
}

// ---------------------------------------------------------------------------------------
// 2. Legal holds keep entries whole; a redaction erases one person's entries.

async fn holds_and_redaction(db: &TestDb) {
    let site = Site::new(db);
    // old-0 and old-1: entries 1..=80, before `cut`; new-0 and new-1: 81..=160, after it.
    site.load(40, 2, "old");
    std::thread::sleep(Duration::from_millis(20));
    let cut = SystemClock.now();
    std::thread::sleep(Duration::from_millis(20));
    site.load(40, 2, "new");
    let user = |tag: &str, w: u64| format!("{tag}-{w}@example.com");

    let (_, said) = site.ok(&[
        "hold",
        "add",
        "--user",
        &user("old", 0),
        "--reason",
        "Matter 2026-114",
        "--owner",
        "legal@example.com",
    ]);
    assert!(
        said.contains("Legal hold 1 added over user old-0@example.com; recorded as entry 161."),
        "{said}"
    );
    let (out, _) = site.ok(&["hold", "list"]);
    let hold = out.lines().find(|l| l.starts_with("1\t")).unwrap();
    assert!(
        hold.contains("\tactive\tuser old-0@example.com\towner legal@example.com\tsince ")
            && hold.ends_with("\tMatter 2026-114"),
        "{out}"
    );

    // Entries before `cut` are 30 days old as of `at`; those after it are not yet.
    site.set_retention("export = 30\n");
    let at = days_after(cut, 30);
    let (_, said) = site.ok(&["prune", "--dry-run", "--now", &at]);
    assert!(
        said.contains(
            "40 entries due under the checkpoint of 161; would prune 40; 40 kept by legal holds."
        ),
        "{said}"
    );
    let (_, said) = site.ok(&["prune", "--now", &at]);
    assert!(
        said.contains("40 entries due under the checkpoint of 161; pruned 40; 40 kept by legal holds. Recorded as entry 162."),
        "{said}"
    );
    assert_eq!(
        site.verify(),
        Verified {
            entries: 162,
            pruned: 40
        }
    );
    // Exactly old-1's entries went (keep_fields keeps who they were by); old-0's are whole.
    let pruned_users = db
        .query_text("SELECT DISTINCT \"user\" FROM access_log_pruned")
        .await;
    assert_eq!(pruned_users, [user("old", 1)]);
    let exported = site.outside("old-0.jsonl");
    let (_, said) = site.ok(&[
        "log-export",
        "--format",
        "jsonl",
        "--user",
        &user("old", 0),
        "--out",
        exported.to_str().unwrap(),
    ]);
    assert!(said.contains("Wrote 40 entries"), "{said}");
    let held: Vec<serde_json::Value> = std::fs::read_to_string(&exported)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(held.len(), 40);
    for (n, e) in held.iter().enumerate() {
        assert_eq!(e["user"], user("old", 0));
        assert_eq!(e["reference_document"], format!("old-0-{n}"), "{e}");
    }
    let entries = 163; // and the export of the log is recorded

    // A redaction does not reach held entries either.
    let (_, said) = site.ok(&["redact", "--user", &user("old", 0), "--dry-run"]);
    assert!(
        said.contains("would redact 0 entries of old-0@example.com; 40 kept whole by legal holds."),
        "{said}"
    );

    // The hold is lifted: kept, marked lifted, and lifting it again is refused.
    let (_, said) = site.ok(&["hold", "lift", "1"]);
    assert!(
        said.contains(&format!(
            "Legal hold 1 lifted; recorded as entry {}.",
            entries + 1
        )),
        "{said}"
    );
    let (out, _) = site.ok(&["hold", "list"]);
    let hold = out.lines().find(|l| l.starts_with("1\t")).unwrap();
    assert!(
        hold.contains("\tlifted ") && hold.contains(" by cli:"),
        "{out}"
    );
    let err = site.failed(&["hold", "lift", "1"]);
    assert!(err.contains("already lifted"), "{err}");

    // Another person asks for erasure: new-1, whose entries are whole and held by nothing.
    // `--before` the first of them reaches none.
    let (_, said) = site.ok(&[
        "redact",
        "--user",
        &user("new", 1),
        "--before",
        &cut.to_rfc3339(),
        "--dry-run",
    ]);
    assert!(said.contains("would redact 0 entries"), "{said}");
    let (_, said) = site.ok(&["redact", "--user", &user("new", 1)]);
    assert!(
        said.contains(&format!(
            "redacted 40 entries of new-1@example.com; 0 kept whole by legal holds. Recorded as entry {}.",
            entries + 2
        )),
        "{said}"
    );
    assert_eq!(
        site.verify(),
        Verified {
            entries: entries + 2,
            pruned: 80
        }
    );
    // Erased from the database: not even who they were by is kept.
    assert_eq!(
        count(
            db,
            "SELECT CAST(COUNT(*) AS TEXT) FROM access_log_pruned WHERE redacted <> 0 AND \"user\" IS NULL"
        )
        .await,
        40
    );
    assert_eq!(
        count(
            db,
            "SELECT CAST(COUNT(*) AS TEXT) FROM access_log WHERE \"user\" = 'new-1@example.com'"
        )
        .await,
        0
    );

    // With the hold lifted, the next prune takes old-0's entries too.
    let (_, said) = site.ok(&["prune", "--now", &at]);
    assert!(
        said.contains("40 entries due") && said.contains("; pruned 40; 0 kept by legal holds."),
        "{said}"
    );
    let v = site.verify();
    assert_eq!(v.pruned, 120, "{v:?}");
    // Bundles cover 1..=80 (the first prune's ended at old-1's last entry; a second one
    // holds the rest, if any), and each checks.
    let bundles = site.bundles();
    let mut next = 1;
    for b in &bundles {
        let (first, last) = bundle_range(b);
        assert_eq!(first, next, "{bundles:?}");
        next = last + 1;
        site.archive_verify(b, None);
    }
    assert_eq!(next, 81, "{bundles:?}");

    // Restoring the bundles brings back old-0 and old-1; new-1's stay erased.
    let mut restored = 0;
    for b in &bundles {
        let said = site.restore(b);
        let n: u64 = said
            .lines()
            .find_map(|l| l.strip_prefix("Restored "))
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("{said}"))
            .parse()
            .unwrap();
        restored += n;
    }
    assert_eq!(restored, 80);
    assert_eq!(site.verify().pruned, 40);

    // Later still, every export is due, new-1's erased entries among them: the new bundle
    // holds only their leaves, and restoring it leaves them erased.
    let (_, said) = site.ok(&["prune", "--now", &days_from_now(60)]);
    assert!(
        said.contains("; pruned 120; 0 kept by legal holds."),
        "{said}"
    );
    assert_eq!(site.verify().pruned, 160);
    let newer: Vec<PathBuf> = site
        .bundles()
        .into_iter()
        .filter(|b| !bundles.contains(b))
        .collect();
    assert_eq!(newer.len(), 1, "{newer:?}");
    let (first, last) = bundle_range(&newer[0]);
    assert_eq!(first, 81);
    assert!(
        said.contains(&format!("Archived entries 81..={last} to ")),
        "{said}"
    );
    let out = site.archive_verify(&newer[0], None);
    let (_, counts) = out
        .split_once(&format!("holds entries 81..={last} ("))
        .unwrap();
    let (entries_in, erased) = counts.split_once(" entries, ").unwrap();
    let entries_in: u64 = entries_in.parse().unwrap();
    let erased: u64 = erased.split_whitespace().next().unwrap().parse().unwrap();
    assert_eq!(entries_in, last - 80);
    assert!(erased > 0 && entries_in == 40 + erased, "{out}");
    // (The lines without a payload are not counted in "stay redacted": that counts the
    // entries a bundle holds whole but the database has redacted since.)
    let said = site.restore(&newer[0]);
    assert!(
        said.contains(&format!("Restored 40 entries from {};", newer[0].display()))
            && said.contains("; 0 were not pruned."),
        "{said}"
    );
    assert_eq!(site.verify().pruned, 120);
    assert_eq!(
        count(
            db,
            "SELECT CAST(COUNT(*) AS TEXT) FROM access_log_pruned WHERE redacted <> 0"
        )
        .await,
        40
    );
}

// ---------------------------------------------------------------------------------------
// 2b. Redaction of a person whose entries were already pruned to a bundle.

async fn redaction_reaches_entries_already_pruned(db: &TestDb) {
    let site = Site::new(db);
    site.load(40, 2, "old");
    site.set_retention("export = 30\n");
    let (_, said) = site.ok(&["prune", "--now", &days_from_now(60)]);
    assert!(said.contains("; pruned 80;"), "{said}");
    let bundles = site.bundles();
    assert_eq!(bundles.len(), 1);

    // old-1 asks for erasure after their entries were archived and pruned. The database
    // still names them on each pruned entry (keep_fields), and the bundle holds their
    // payloads: the redaction must reach those rows (erase who, when and what, and mark
    // them redacted), or a restore brings everything back.
    let (_, said) = site.ok(&["redact", "--user", "old-1@example.com"]);
    assert!(!said.contains("redacted 0 entries"), "{said}");
    assert_eq!(
        count(
            db,
            "SELECT CAST(COUNT(*) AS TEXT) FROM access_log_pruned WHERE \"user\" = 'old-1@example.com'"
        )
        .await,
        0
    );
    // "a restore never brings back a redacted entry" (README, Retention).
    let said = site.restore(&bundles[0]);
    assert!(said.contains("Restored 40 entries"), "{said}");
    assert_eq!(site.verify().pruned, 40);
    assert_eq!(
        count(
            db,
            "SELECT CAST(COUNT(*) AS TEXT) FROM access_log WHERE \"user\" = 'old-1@example.com'"
        )
        .await,
        0
    );
}

// ---------------------------------------------------------------------------------------
// 3. A prune killed with SIGKILL at any moment loses nothing.

/// When to kill a prune.
#[derive(Clone, Copy, Debug)]
enum Trigger {
    /// This long after it started.
    After(Duration),
    /// As soon as a `.partial` bundle appears (a bundle being written).
    Partial,
    /// As soon as this many bundles are under their final name.
    Bundles(usize),
    /// As soon as more entries than this have their leaf kept apart (the payloads'
    /// removal under way).
    PrunedAbove(u64),
}

const CRASH_ENTRIES: u64 = 20_000;
const CRASH_BUNDLE: u64 = 2_000;

async fn pruned_count(db: &TestDb) -> u64 {
    count(db, "SELECT CAST(COUNT(*) AS TEXT) FROM access_log_pruned").await
}

/// Runs `prune --now at` and kills it (SIGKILL) when `trigger` fires; `true` if it was
/// killed, `false` if it finished first (it must then have succeeded).
async fn prune_killed(site: &Site, db: &TestDb, at: &str, trigger: Trigger) -> bool {
    let mut child = accesslog()
        .args(site.args(&["prune", "--now", at]))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            assert!(status.success(), "prune failed: {}", text(&out.stderr));
            return false;
        }
        let fire = match trigger {
            Trigger::After(d) => start.elapsed() >= d,
            Trigger::Partial => site.archive_files().iter().any(|n| n.ends_with(".partial")),
            Trigger::Bundles(n) => site.bundles().len() >= n,
            Trigger::PrunedAbove(n) => pruned_count(db).await > n,
        };
        if fire {
            child.kill().unwrap();
            child.wait().unwrap();
            return true;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "prune neither finished nor met {trigger:?}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// What a check of the invariant found.
#[derive(Debug)]
struct State {
    /// Entries verify could check only by their kept leaf.
    pruned: u64,
    /// Entries whose leaf is kept apart (`access_log_pruned`): on PostgreSQL, those of a
    /// partition about to be dropped too.
    leaves: u64,
    /// Complete bundles on disk.
    bundles: usize,
    /// Of which not (yet) recorded in the database: the prune was killed between writing
    /// one and recording it; the next prune takes it as it is.
    unrecorded: usize,
    /// A `.partial` bundle is left.
    partial: bool,
}

/// The invariant after a kill: `verify` passes; every file under a bundle's name passes
/// `archive verify` against the site's key (a leftover `.partial` is all else allowed);
/// every pruned entry names (by SHA-256) a bundle on disk that holds it; every bundle
/// recorded in the database is on disk as recorded. So each entry is either whole in the
/// database or pruned with its payload in a complete bundle.
async fn assert_nothing_lost(site: &Site, db: &TestDb, checked: &mut BTreeSet<String>) -> State {
    let v = site.verify();
    let files = site.archive_files();
    let mut partial = false;
    let mut on_disk: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut to_check = Vec::new();
    for name in &files {
        if name.ends_with(".jsonl.zst.partial") {
            partial = true;
            continue;
        }
        assert!(
            name.ends_with(".jsonl.zst"),
            "unexpected file {name}: {files:?}"
        );
        let path = site.archive().join(name);
        let sha = sha256_of(&path);
        on_disk.insert(sha.clone(), bundle_range(&path));
        // A bundle's bytes never change under its name: checked once is checked.
        if checked.insert(format!("{name} {sha}")) {
            to_check.push(path);
        }
    }
    // `archive verify` of the new bundles, side by side.
    let children: Vec<_> = to_check
        .iter()
        .map(|p| {
            let child = accesslog()
                .args(["archive", "verify"])
                .arg(p)
                .args(["--key", &site.key()])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (p, child)
        })
        .collect();
    for (p, child) in children {
        let (out, _) = ok(child.wait_with_output().unwrap());
        let (first, last) = bundle_range(p);
        assert!(
            out.starts_with("OK: ")
                && out.contains(&format!(
                    "holds entries {first}..={last} ({} entries, 0 without",
                    last - first + 1
                )),
            "{out}"
        );
    }
    let recorded = db
        .query_text("SELECT name || ' ' || sha256 FROM log_archives")
        .await;
    for row in &recorded {
        let (name, sha) = row.split_once(' ').unwrap();
        assert!(
            files.iter().any(|f| f == name) && on_disk.contains_key(sha),
            "the database records {row}, which is not on disk: {files:?}"
        );
    }
    let rows = db
        .query_text(
            "SELECT CAST(seq AS TEXT) || ' ' || COALESCE(bundle, '-') || ' ' || CAST(redacted AS TEXT) FROM access_log_pruned",
        )
        .await;
    for row in &rows {
        let mut parts = row.split(' ');
        let seq: u64 = parts.next().unwrap().parse().unwrap();
        let bundle = parts.next().unwrap();
        assert_eq!(parts.next(), Some("0"), "entry {seq} is marked redacted");
        let (first, last) = on_disk
            .get(bundle)
            .unwrap_or_else(|| panic!("entry {seq} was pruned into {bundle}, not on disk"));
        assert!(
            *first <= seq && seq <= *last,
            "entry {seq} names bundle {first}..={last}"
        );
    }
    // verify counts the entries it could check only by their kept leaf: those pruned and
    // no longer in the log's table. (On PostgreSQL a partition's entries are in both
    // tables between the keeping of their leaves and the partition's drop; and a statement
    // of the killed prune, such as `DETACH … CONCURRENTLY`, can still be finishing on the
    // server after its client is gone: so the two are compared again after a moment.)
    let mut v = v;
    for attempt in 0.. {
        let only_leaf = count(
            db,
            "SELECT CAST(COUNT(*) AS TEXT) FROM access_log_pruned p \
             WHERE NOT EXISTS (SELECT 1 FROM access_log a WHERE a.seq = p.seq)",
        )
        .await;
        if v.pruned == only_leaf {
            break;
        }
        assert!(
            db.backend == Backend::Postgres && attempt < 10,
            "verify counts {} entries pruned, the database {only_leaf}",
            v.pruned
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        v = site.verify();
    }
    assert!(v.pruned <= rows.len() as u64, "{v:?}, {} rows", rows.len());
    State {
        pruned: v.pruned,
        leaves: rows.len() as u64,
        bundles: on_disk.len(),
        unrecorded: on_disk.len() - recorded.len(),
        partial,
    }
}

async fn killed_prunes_lose_nothing(db: &TestDb) {
    let started = Instant::now();
    if db.backend == Backend::Postgres {
        // Partitions of 2,500 entries, so that a prune drops whole partitions too (and is
        // killed during that), not aligned with the bundles of 2,000.
        db.execute("UPDATE log_partitioning SET entries = 2500")
            .await;
    }
    let site = Site::new(db);
    site.load(CRASH_ENTRIES / 100, 100, "load");
    site.set_retention(&format!(
        "export = 30\nbundle_max_entries = {CRASH_BUNDLE}\n"
    ));
    let at = days_from_now(60);
    eprintln!("{:?}: {CRASH_ENTRIES} entries recorded", started.elapsed());
    let mut checked = BTreeSet::new();

    // Killed while the bundles are written (during one, right after one, at set delays),
    // then while the payloads are removed; each prune goes on from where the killed one
    // stopped, until one is let finish.
    let fixed = [
        Trigger::After(Duration::from_millis(50)),
        Trigger::Partial,
        Trigger::Bundles(2),
        Trigger::After(Duration::from_millis(400)),
        Trigger::Partial,
    ];
    // Then at delays, until one prune finishes before its delay.
    let mut late = [150, 400, 800, 1200, 2000]
        .map(Duration::from_millis)
        .into_iter();
    let all_bundles = (CRASH_ENTRIES / CRASH_BUNDLE) as usize;
    let mut kills = 0;
    let mut removal_kills = 0;
    let mut last = assert_nothing_lost(&site, db, &mut checked).await;
    for round in 0.. {
        let trigger = match fixed.get(round) {
            Some(t) => *t,
            None if last.bundles < all_bundles => {
                Trigger::Bundles((last.bundles + 2).min(all_bundles))
            }
            None if removal_kills < 3 => Trigger::PrunedAbove(last.leaves),
            None => match late.next() {
                Some(d) => Trigger::After(d),
                None => break,
            },
        };
        let killed = prune_killed(&site, db, &at, trigger).await;
        let state = assert_nothing_lost(&site, db, &mut checked).await;
        eprintln!(
            "{:?}: {trigger:?}: {}; {state:?}",
            started.elapsed(),
            if killed { "killed" } else { "finished" }
        );
        assert!(
            state.pruned >= last.pruned
                && state.leaves >= last.leaves
                && state.bundles >= last.bundles,
            "{last:?} then {state:?}"
        );
        last = state;
        if !killed {
            break;
        }
        kills += 1;
        if matches!(trigger, Trigger::PrunedAbove(_)) {
            removal_kills += 1;
        }
    }
    assert!(
        kills >= 5,
        "only {kills} prunes were killed before one finished"
    );
    assert!(
        removal_kills >= 1,
        "no prune was killed while removing payloads"
    );

    // A prune left to finish completes the job.
    let (_, said) = site.ok(&["prune", "--now", &at]);
    let state = assert_nothing_lost(&site, db, &mut checked).await;
    assert_eq!(state.pruned, CRASH_ENTRIES, "{said}");
    assert_eq!((state.unrecorded, state.partial), (0, false), "{said}");
    assert_eq!(state.bundles as u64, CRASH_ENTRIES / CRASH_BUNDLE, "{said}");
    let bundles = site.bundles();
    let mut next = 1;
    for b in &bundles {
        let (first, last) = bundle_range(b);
        assert_eq!(
            (first, last),
            (next, next + CRASH_BUNDLE - 1),
            "{bundles:?}"
        );
        next = last + 1;
    }
    assert_eq!(next, CRASH_ENTRIES + 1);

    // And every payload is in a bundle: restored, nothing is left pruned.
    for b in &bundles {
        let said = site.restore(b);
        assert!(
            said.contains(&format!("Restored {CRASH_BUNDLE} entries")),
            "{said}"
        );
    }
    let v = site.verify();
    assert_eq!(v.pruned, 0, "{v:?}");
    assert_eq!(pruned_count(db).await, 0);
    eprintln!("{:?}: done", started.elapsed());
}

accesslog_testkit::on_both_backends!(run: accesslog_testkit::with_db;
    prune_then_verify_and_archive_verify,
    holds_and_redaction,
    redaction_reaches_entries_already_pruned,
    killed_prunes_lose_nothing,
);
