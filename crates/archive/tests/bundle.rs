//! Bundles of a small real tree, written to and checked from real files.

use accesslog_archive::{
    ArchiveError, BundleLine, BundleWriter, FORMAT, Header, bundle_name, check, check_each,
    file_sha256, leaf_of_fields, read,
};
use accesslog_core::Timestamp;
use accesslog_core::checkpoint::{Checkpoint, LogSigner, NoteError};
use accesslog_core::entry::{Activity, CanonicalJson, Entry, Event, encode_fields};
use accesslog_core::merkle::{Hash, leaf_hash, node_hash, range_plan, root_from_leaves};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const ORIGIN: &str = "example.org/access-log";
const SIZE: u64 = 13;

fn entry(seq: u64) -> Entry {
    let activity = Activity::ALL[(seq as usize) % Activity::ALL.len()];
    let mut e = Event::new(&format!("user{seq}@example.com"), activity, "GET /api/x");
    if seq.is_multiple_of(2) {
        e.report_name = Some("General Ledger".into());
        e.file_type = Some("CSV".into());
        e.filters = Some(CanonicalJson::from_value(
            &json!({"company": "Acme", "seq": seq}),
        ));
        e.row_count = Some(seq * 10);
    }
    if seq.is_multiple_of(3) {
        e.page = Some(format!(
            "\u{1b}@line \"{seq}\"\n\tcaf\u{e9}\u{0}\u{85}\u{2028}\r"
        ));
        e.roles = vec!["Accounts User".into(), "Sales User".into()];
    }
    e.ip = Some("192.0.2.7".into());
    Entry {
        seq,
        timestamp: Timestamp::from_micros(1_764_406_800_000_000 + seq as i64),
        event: e,
    }
}

/// A log of `size` entries, signed by one key.
struct Log {
    signer: LogSigner,
    entries: Vec<Entry>,
    leaves: Vec<Hash>,
}

impl Log {
    fn new(size: u64) -> Self {
        Self::with_key(size, [7; 32])
    }

    fn with_key(size: u64, seed: [u8; 32]) -> Self {
        Self::of((1..=size).map(entry).collect(), seed)
    }

    fn of(entries: Vec<Entry>, seed: [u8; 32]) -> Self {
        let leaves = entries
            .iter()
            .map(|e| leaf_hash(&e.canonical_bytes()))
            .collect();
        Log {
            signer: LogSigner::from_seed(ORIGIN, seed).unwrap(),
            entries,
            leaves,
        }
    }

    fn root(&self) -> Hash {
        root_from_leaves(&self.leaves)
    }

    fn note(&self) -> String {
        let cp = Checkpoint::new(ORIGIN, self.leaves.len() as u64, self.root()).unwrap();
        self.signer.sign(&cp)
    }

    /// The range proof of `first..=last`, folded from subtrees of all the leaves, as a
    /// store would assemble it.
    fn proof(&self, first: u64, last: u64) -> Vec<String> {
        let size = self.leaves.len() as u64;
        let plan = range_plan(first - 1, last, size).unwrap();
        plan.elements()
            .iter()
            .map(|nodes| {
                let mut acc: Option<Hash> = None;
                for id in nodes.iter().rev() {
                    let lo = (id.index << id.level) as usize;
                    let hi = ((id.index + 1) << id.level) as usize;
                    let h = root_from_leaves(&self.leaves[lo..hi]);
                    acc = Some(match acc {
                        None => h,
                        Some(r) => node_hash(&h, &r),
                    });
                }
                hex::encode(acc.unwrap())
            })
            .collect()
    }

    fn header(&self, first: u64, last: u64) -> Header {
        Header {
            format: FORMAT.to_owned(),
            origin: ORIGIN.to_owned(),
            first,
            last,
            tree_size: self.leaves.len() as u64,
            checkpoint: self.note(),
            key: self.signer.verifier_key(),
            proof: self.proof(first, last),
            created_at: "2026-11-29T09:04:26.000001Z".to_owned(),
        }
    }

    fn line(&self, seq: u64) -> BundleLine {
        BundleLine::from_entry(&self.entries[seq as usize - 1])
    }

    /// Writes the bundle of `first..=last`; the seqs in `redacted` have only their leaf.
    fn write(&self, dir: &Path, first: u64, last: u64, redacted: &[u64]) -> PathBuf {
        let mut w = BundleWriter::create(dir, &self.header(first, last)).unwrap();
        for seq in first..=last {
            let line = if redacted.contains(&seq) {
                BundleLine::redacted(seq, self.leaves[seq as usize - 1])
            } else {
                self.line(seq)
            };
            w.push(&line).unwrap();
        }
        let written = w.finish().unwrap();
        assert_eq!(written.entries, last - first + 1);
        written.path
    }
}

/// Decompresses the bundle, lets `edit` change its lines (header first) and writes it back.
fn rewrite(path: &Path, edit: impl FnOnce(&mut Vec<String>)) {
    let text = zstd::decode_all(std::fs::File::open(path).unwrap()).unwrap();
    let mut lines: Vec<String> = String::from_utf8(text)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    edit(&mut lines);
    let mut out = lines.join("\n");
    out.push('\n');
    std::fs::write(path, zstd::encode_all(out.as_bytes(), 3).unwrap()).unwrap();
}

/// Changes the JSON of one line.
fn edit_json(lines: &mut [String], index: usize, edit: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_str(&lines[index]).unwrap();
    edit(&mut v);
    lines[index] = serde_json::to_string(&v).unwrap();
}

fn texts(v: &Value) -> [Option<String>; 24] {
    let list: Vec<Option<String>> = serde_json::from_value(v["fields"].clone()).unwrap();
    list.try_into().unwrap()
}

#[test]
fn field_texts_encode_to_the_canonical_bytes() {
    for seq in 1..=SIZE {
        let e = entry(seq);
        let texts = e.field_texts();
        let mut out = Vec::new();
        encode_fields(
            &mut out,
            &std::array::from_fn(|i| texts[i].as_deref().map(str::as_bytes)),
        );
        assert_eq!(out, e.canonical_bytes(), "entry {seq}");
        assert_eq!(leaf_of_fields(&texts), leaf_hash(&e.canonical_bytes()));
    }
}

#[test]
fn bundle_names_pad_seqs_to_twelve_digits() {
    assert_eq!(
        bundle_name(1, 250_000),
        "access-log-000000000001-000000250000.jsonl.zst"
    );
}

#[test]
fn a_whole_tree_bundle_round_trips_and_reads_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new(SIZE);
    let path = log.write(dir.path(), 1, SIZE, &[]);
    assert_eq!(path, dir.path().join(bundle_name(1, SIZE)));

    let checked = check(&path, Some(&log.signer.verifier()), Some(&log.note())).unwrap();
    assert_eq!(checked.entries, SIZE);
    assert_eq!(checked.without_payload, 0);
    assert_eq!(checked.header, log.header(1, SIZE));
    assert_eq!(checked.checkpoint.root, log.root());
    assert_eq!(checked.sha256, file_sha256(&path).unwrap());

    let mut seen = Vec::new();
    let header = read(&path, |line| {
        seen.push(line);
        Ok(())
    })
    .unwrap();
    assert_eq!(header, checked.header);
    let expected: Vec<BundleLine> = (1..=SIZE).map(|s| log.line(s)).collect();
    assert_eq!(seen, expected);
    for (line, entry) in seen.iter().zip(&log.entries) {
        assert_eq!(line.fields.as_ref(), Some(&entry.field_texts()));
    }
}

#[test]
fn the_writer_reports_the_files_hash_and_size() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new(SIZE);
    let mut w = BundleWriter::create(dir.path(), &log.header(2, 5)).unwrap();
    for seq in 2..=5 {
        w.push(&log.line(seq)).unwrap();
    }
    let written = w.finish().unwrap();
    assert_eq!(written.sha256, file_sha256(&written.path).unwrap());
    assert_eq!(
        written.bytes,
        std::fs::metadata(&written.path).unwrap().len()
    );
    assert_eq!(written.entries, 4);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, [bundle_name(2, 5)]);
}

#[test]
fn bundles_in_the_middle_and_at_the_edges_of_the_tree_check() {
    let log = Log::new(SIZE);
    for (first, last) in [(4, 10), (7, 7), (1, 5), (9, SIZE), (SIZE, SIZE), (1, 1)] {
        let dir = tempfile::tempdir().unwrap();
        let path = log.write(dir.path(), first, last, &[]);
        let checked = check(&path, None, None).unwrap();
        assert_eq!(checked.entries, last - first + 1, "{first}..={last}");
        let mut seqs = Vec::new();
        read(&path, |line| {
            seqs.push(line.seq);
            Ok(())
        })
        .unwrap();
        assert_eq!(seqs, (first..=last).collect::<Vec<_>>());
    }
}

#[test]
fn check_each_sees_every_line_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new(SIZE);
    let path = log.write(dir.path(), 3, 8, &[5]);
    let mut seqs = Vec::new();
    check_each(&path, None, None, |line| {
        seqs.push((line.seq, line.fields.is_some()));
        Ok(())
    })
    .unwrap();
    assert_eq!(
        seqs,
        [
            (3, true),
            (4, true),
            (5, false),
            (6, true),
            (7, true),
            (8, true)
        ]
    );
}

#[test]
fn a_redacted_line_still_checks_through_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new(SIZE);
    let path = log.write(dir.path(), 2, 9, &[4, 9]);
    let checked = check(&path, Some(&log.signer.verifier()), None).unwrap();
    assert_eq!(checked.entries, 8);
    assert_eq!(checked.without_payload, 2);
    let mut redacted = Vec::new();
    read(&path, |line| {
        if line.fields.is_none() {
            redacted.push((line.seq, line.leaf));
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(redacted, [(4, log.leaves[3]), (9, log.leaves[8])]);

    // The key may also be left out, instead of null.
    rewrite(&path, |lines| {
        edit_json(lines, 3, |v| {
            assert_eq!(v["fields"], Value::Null);
            v.as_object_mut().unwrap().remove("fields");
        });
    });
    assert_eq!(check(&path, None, None).unwrap().without_payload, 2);
}

#[test]
fn a_changed_entry_is_refused_naming_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new(SIZE);
    let path = log.write(dir.path(), 4, 10, &[]);
    // Entry 6 is on line 4 (index 3): the header is line 1, entry 4 line 2.
    rewrite(&path, |lines| {
        edit_json(lines, 3, |v| {
            v["fields"][2] = json!("someone.else@example.com")
        });
    });
    let err = check(&path, None, None).unwrap_err();
    assert!(
        matches!(err, ArchiveError::Changed { line: 4, seq: 6 }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("line 4") && text.contains("entry 6"),
        "{text}"
    );
    assert!(text.contains("it was changed"), "{text}");
    // `read` runs the same per-line checks.
    assert!(matches!(
        read(&path, |_| Ok(())),
        Err(ArchiveError::Changed { line: 4, seq: 6 })
    ));
}

#[test]
fn a_seq_field_that_disagrees_with_the_line_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new(SIZE);
    let path = log.write(dir.path(), 1, 4, &[]);
    rewrite(&path, |lines| {
        edit_json(lines, 2, |v| v["fields"][0] = json!("3"));
    });
    let err = check(&path, None, None).unwrap_err();
    assert!(
        matches!(
            err,
            ArchiveError::BadEntry {
                line: 3,
                seq: 2,
                ..
            }
        ),
        "{err}"
    );
    rewrite(&path, |lines| {
        edit_json(lines, 2, |v| {
            v["fields"][0] = json!("2");
            v["fields"].as_array_mut().unwrap().pop();
        });
    });
    let err = check(&path, None, None).unwrap_err();
    assert!(err.to_string().contains("23 fields"), "{err}");
}

#[test]
fn a_dropped_middle_line_is_refused_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new(SIZE);
    let path = log.write(dir.path(), 4, 10, &[]);
    rewrite(&path, |lines| {
        lines.remove(3); // entry 6
    });
    let err = check(&path, None, None).unwrap_err();
    assert!(
        matches!(
            err,
            ArchiveError::Missing {
                line: 4,
                expected: 6,
                found: 7
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "line 4: entry 6 is missing (a line was dropped); found entry 7"
    );
}

#[test]
fn a_dropped_last_line_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new(SIZE);
    let path = log.write(dir.path(), 4, 10, &[]);
    rewrite(&path, |lines| {
        lines.pop();
    });
    let err = check(&path, None, None).unwrap_err();
    assert!(
        matches!(
            err,
            ArchiveError::Truncated {
                line: 7,
                after: 9,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("the bundle ends at line 7, entry 9; entry 10 is missing"),
        "{err}"
    );

    rewrite(&path, |lines| lines.truncate(1));
    let err = check(&path, None, None).unwrap_err();
    assert!(
        err.to_string().contains("entries 4..=10 are missing"),
        "{err}"
    );
}

#[test]
fn extra_and_duplicate_lines_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new(SIZE);
    let path = log.write(dir.path(), 4, 10, &[]);
    let extra = {
        let line = log.line(11);
        json!({"seq": 11, "leaf": hex::encode(line.leaf), "fields": line.fields}).to_string()
    };
    rewrite(&path, |lines| lines.push(extra));
    let err = check(&path, None, None).unwrap_err();
    assert!(
        matches!(
            err,
            ArchiveError::Extra {
                line: 9,
                found: 11,
                last: 10
            }
        ),
        "{err}"
    );

    let path = log.write(dir.path(), 1, 3, &[]);
    rewrite(&path, |lines| {
        let again = lines[1].clone();
        lines.insert(2, again);
    });
    let err = check(&path, None, None).unwrap_err();
    assert!(
        matches!(
            err,
            ArchiveError::OutOfOrder {
                line: 3,
                expected: 2,
                found: 1
            }
        ),
        "{err}"
    );
}

#[test]
fn an_entry_changed_together_with_its_leaf_breaks_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new(SIZE);
    let path = log.write(dir.path(), 4, 10, &[]);
    rewrite(&path, |lines| {
        edit_json(lines, 3, |v| {
            v["fields"][2] = json!("someone.else@example.com");
            let leaf = leaf_of_fields(&texts(v));
            v["leaf"] = json!(hex::encode(leaf));
        });
    });
    let err = check(&path, None, None).unwrap_err();
    assert!(matches!(err, ArchiveError::RootMismatch), "{err}");
    assert!(err.to_string().contains("signed root"), "{err}");
}

#[test]
fn an_altered_proof_breaks_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new(SIZE);
    let path = log.write(dir.path(), 4, 10, &[]);
    rewrite(&path, |lines| {
        edit_json(lines, 0, |v| v["proof"][0] = json!("00".repeat(32)));
    });
    assert!(matches!(
        check(&path, None, None),
        Err(ArchiveError::RootMismatch)
    ));
    rewrite(&path, |lines| {
        edit_json(lines, 0, |v| {
            v["proof"].as_array_mut().unwrap().pop();
        });
    });
    let err = check(&path, None, None).unwrap_err();
    assert!(matches!(err, ArchiveError::Header(_)), "{err}");
}

#[test]
fn an_altered_checkpoint_signature_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new(SIZE);
    let path = log.write(dir.path(), 4, 10, &[]);
    rewrite(&path, |lines| {
        edit_json(lines, 0, |v| {
            let note = v["checkpoint"].as_str().unwrap().to_owned();
            // A character well inside the signature (past the key id's six).
            let at = note.rfind(' ').unwrap() + 12;
            let old = &note[at..at + 1];
            let new = if old == "A" { "B" } else { "A" };
            v["checkpoint"] = json!(format!("{}{new}{}", &note[..at], &note[at + 1..]));
        });
    });
    let err = check(&path, None, None).unwrap_err();
    assert!(
        matches!(
            err,
            ArchiveError::HeaderCheckpoint {
                source: NoteError::InvalidSignature { .. },
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_wrong_pinned_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new(SIZE);
    let other = Log::with_key(SIZE, [9; 32]);
    let path = log.write(dir.path(), 4, 10, &[]);
    let err = check(&path, Some(&other.signer.verifier()), None).unwrap_err();
    assert!(
        matches!(
            err,
            ArchiveError::HeaderCheckpoint {
                source: NoteError::NoSignature { .. },
                ..
            }
        ),
        "{err}"
    );
    // A bundle re-signed by another key, whose header names that key, checks on its own
    // but not against the pinned key.
    let forged = tempfile::tempdir().unwrap();
    let path = other.write(forged.path(), 4, 10, &[]);
    assert!(check(&path, None, None).is_ok());
    assert!(check(&path, Some(&log.signer.verifier()), None).is_err());
}

#[test]
fn an_outside_checkpoint_of_another_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new(SIZE);
    let path = log.write(dir.path(), 4, 10, &[]);
    let bigger = Log::new(SIZE + 3);
    let err = check(&path, None, Some(&bigger.note())).unwrap_err();
    assert!(
        matches!(
            err,
            ArchiveError::OtherSize {
                bundle: SIZE,
                given: 16
            }
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("checked against a checkpoint of 13 entries")
            && text.contains("checkpoints.log"),
        "{text}"
    );
    // The same tree passes.
    assert!(check(&path, None, Some(&log.note())).is_ok());
}

#[test]
fn an_outside_checkpoint_of_the_same_size_and_another_root_is_a_fork() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new(SIZE);
    let path = log.write(dir.path(), 4, 10, &[]);
    let other = log
        .signer
        .sign(&Checkpoint::new(ORIGIN, SIZE, [1; 32]).unwrap());
    let err = check(&path, None, Some(&other)).unwrap_err();
    assert!(matches!(err, ArchiveError::Fork { size: SIZE }), "{err}");
    assert!(err.to_string().contains("fork"), "{err}");
    // An outside checkpoint by another key is not evidence of anything.
    let stranger = Log::with_key(SIZE, [9; 32]);
    assert!(matches!(
        check(&path, None, Some(&stranger.note())),
        Err(ArchiveError::OutsideCheckpoint { .. })
    ));
}

#[test]
fn a_truncated_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new(SIZE);
    let path = log.write(dir.path(), 1, SIZE, &[]);
    let bytes = std::fs::read(&path).unwrap();
    for cut in [bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let err = check(&path, None, None).unwrap_err();
        assert!(matches!(err, ArchiveError::Damaged(_)), "{cut}: {err}");
        assert!(
            err.to_string()
                .starts_with("the bundle is incomplete or damaged: "),
            "{err}"
        );
        assert!(read(&path, |_| Ok(())).is_err());
    }
    // Garbage after the frame, or no bytes at all.
    let mut padded = bytes.clone();
    padded.extend_from_slice(b"garbage");
    std::fs::write(&path, &padded).unwrap();
    assert!(matches!(
        check(&path, None, None),
        Err(ArchiveError::Damaged(_))
    ));
    std::fs::write(&path, b"").unwrap();
    assert!(check(&path, None, None).is_err());
}

#[test]
fn a_header_of_another_format_or_range_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new(SIZE);
    let path = log.write(dir.path(), 4, 10, &[]);
    let original = std::fs::read(&path).unwrap();
    let cases: [(&str, Value); 5] = [
        ("format", json!("accesslog-archive/2")),
        ("first", json!(0)),
        ("first", json!(11)),
        ("last", json!(SIZE + 1)),
        ("tree_size", json!(SIZE + 1)),
    ];
    for (key, value) in cases {
        std::fs::write(&path, &original).unwrap();
        rewrite(&path, |lines| {
            edit_json(lines, 0, |v| v[key] = value.clone())
        });
        let err = check(&path, None, None).unwrap_err();
        assert!(
            matches!(
                err,
                ArchiveError::Header(_)
                    | ArchiveError::CheckpointSize { .. }
                    | ArchiveError::Proof(_)
            ),
            "{key}={value}: {err}"
        );
    }
    std::fs::write(&path, &original).unwrap();
    rewrite(&path, |lines| {
        edit_json(lines, 0, |v| v["extra"] = json!(1))
    });
    assert!(matches!(
        check(&path, None, None),
        Err(ArchiveError::Header(_))
    ));
}

#[test]
fn dropping_an_unfinished_writer_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new(SIZE);
    let mut w = BundleWriter::create(dir.path(), &log.header(4, 10)).unwrap();
    w.push(&log.line(4)).unwrap();
    let partial = dir.path().join(format!("{}.partial", bundle_name(4, 10)));
    assert!(partial.exists());
    assert!(!dir.path().join(bundle_name(4, 10)).exists());
    drop(w);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn finish_refuses_missing_entries_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new(SIZE);
    let mut w = BundleWriter::create(dir.path(), &log.header(4, 10)).unwrap();
    for seq in 4..10 {
        w.push(&log.line(seq)).unwrap();
    }
    let err = w.finish().unwrap_err();
    assert!(
        matches!(
            err,
            ArchiveError::Unfinished {
                pushed: 6,
                expected: 7
            }
        ),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn the_writer_refuses_lines_out_of_order_past_last_or_off_their_leaf() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new(SIZE);
    let mut w = BundleWriter::create(dir.path(), &log.header(4, 5)).unwrap();
    assert!(matches!(
        w.push(&log.line(5)),
        Err(ArchiveError::OutOfSequence {
            expected: 4,
            found: 5
        })
    ));
    let mut changed = log.line(4);
    changed.fields.as_mut().unwrap()[2] = Some("mallory".into());
    assert!(matches!(
        w.push(&changed),
        Err(ArchiveError::NotItsLeaf { seq: 4 })
    ));
    let mut wrong_seq = log.line(4);
    wrong_seq.fields.as_mut().unwrap()[0] = Some("5".into());
    assert!(matches!(
        w.push(&wrong_seq),
        Err(ArchiveError::BadPush { seq: 4, .. })
    ));
    // Refused lines leave the writer as it was.
    w.push(&log.line(4)).unwrap();
    w.push(&log.line(5)).unwrap();
    assert!(matches!(
        w.push(&log.line(6)),
        Err(ArchiveError::PastLast { found: 6, last: 5 })
    ));
    let written = w.finish().unwrap();
    assert_eq!(check(&written.path, None, None).unwrap().entries, 2);
}

#[test]
fn the_writer_refuses_leaves_that_do_not_lead_to_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new(SIZE);
    let mut w = BundleWriter::create(dir.path(), &log.header(4, 5)).unwrap();
    w.push(&log.line(4)).unwrap();
    w.push(&BundleLine::redacted(5, [0; 32])).unwrap();
    assert!(matches!(w.finish(), Err(ArchiveError::RootMismatch)));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn the_writer_refuses_a_bad_header() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new(SIZE);
    let good = log.header(4, 10);
    let mut cases = Vec::new();
    let mut h = good.clone();
    h.format = "accesslog-archive/0".into();
    cases.push(h);
    let mut h = good.clone();
    h.first = 11;
    cases.push(h);
    let mut h = good.clone();
    h.last = SIZE + 1;
    cases.push(h);
    let mut h = good.clone();
    h.first = 0;
    cases.push(h);
    let mut h = good.clone();
    h.proof.pop();
    cases.push(h);
    let mut h = good.clone();
    h.proof[0] = h.proof[0].to_uppercase();
    cases.push(h);
    let mut h = good.clone();
    h.tree_size = SIZE + 1;
    h.proof = Log::new(SIZE + 1).proof(4, 10);
    cases.push(h);
    let mut h = good.clone();
    h.key = Log::with_key(SIZE, [9; 32]).signer.verifier_key();
    cases.push(h);
    let mut h = good.clone();
    h.origin = "example.org/other-log".into();
    cases.push(h);
    for h in cases {
        assert!(BundleWriter::create(dir.path(), &h).is_err(), "{h:?}");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn an_existing_bundle_is_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new(SIZE);
    let path = log.write(dir.path(), 4, 10, &[]);
    let before = file_sha256(&path).unwrap();
    assert!(matches!(
        BundleWriter::create(dir.path(), &log.header(4, 10)),
        Err(ArchiveError::Exists { .. })
    ));
    assert_eq!(file_sha256(&path).unwrap(), before);
}

#[test]
fn a_leftover_partial_file_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new(SIZE);
    let partial = dir.path().join(format!("{}.partial", bundle_name(4, 10)));
    std::fs::write(&partial, b"left over by a crash").unwrap();
    let path = log.write(dir.path(), 4, 10, &[]);
    assert!(!partial.exists());
    assert!(check(&path, None, None).is_ok());
}

#[test]
fn the_file_is_json_lines_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new(SIZE);
    let path = log.write(dir.path(), 2, 3, &[3]);
    let text =
        String::from_utf8(zstd::decode_all(std::fs::File::open(&path).unwrap()).unwrap()).unwrap();
    assert!(text.ends_with('\n'));
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    let keys: Vec<&str> = lines[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = [
        "format",
        "origin",
        "first",
        "last",
        "tree_size",
        "checkpoint",
        "key",
        "proof",
        "created_at",
    ];
    expected.sort_unstable();
    let mut keys = keys;
    keys.sort_unstable();
    assert_eq!(keys, expected);
    assert_eq!(lines[0]["checkpoint"], json!(log.note()));
    assert_eq!(lines[1]["seq"], json!(2));
    assert_eq!(lines[1]["leaf"], json!(hex::encode(log.leaves[1])));
    assert_eq!(lines[1]["fields"][0], json!("2"));
    assert_eq!(lines[1]["fields"].as_array().unwrap().len(), 24);
    assert_eq!(lines[2]["fields"], Value::Null);
}

#[test]
fn a_bundle_larger_than_the_read_buffers_checks() {
    // Lines of several KiB, 1.5 MB in all: lines cross every buffer boundary.
    let entries = (1..=400)
        .map(|seq| {
            let mut e = entry(seq);
            e.event.page = Some(format!("{seq}:").repeat(500 + seq as usize * 3));
            e
        })
        .collect();
    let log = Log::of(entries, [7; 32]);
    let dir = tempfile::tempdir().unwrap();
    let path = log.write(dir.path(), 37, 391, &[100, 101]);
    let checked = check(&path, Some(&log.signer.verifier()), Some(&log.note())).unwrap();
    assert_eq!((checked.entries, checked.without_payload), (355, 2));
    let mut next = 37;
    read(&path, |line| {
        assert_eq!(line.seq, next);
        if let Some(fields) = &line.fields {
            assert_eq!(fields, &log.entries[next as usize - 1].field_texts());
        }
        next += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(next, 392);
}
