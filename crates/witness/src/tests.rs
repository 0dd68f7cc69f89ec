//! The protocol's checks, case by case, over an in-memory tree and a witness folder.

use super::*;
use crate::state::FollowedLog;
use accesslog_core::checkpoint::LogSigner;
use accesslog_core::merkle::{consistency_plan, leaf_hash, root_from_leaves};

const ORIGIN: &str = "acme.example/access-log";

pub(crate) struct Log {
    pub signer: LogSigner,
    pub leaves: Vec<Hash>,
}

impl Log {
    pub fn new(seed: u8) -> Self {
        Self {
            signer: LogSigner::from_seed(ORIGIN, [seed; 32]).unwrap(),
            leaves: Vec::new(),
        }
    }

    pub fn grow(&mut self, n: usize, tag: u8) {
        for _ in 0..n {
            let i = self.leaves.len();
            self.leaves.push(leaf_hash(&[tag, i as u8, (i >> 8) as u8]));
        }
    }

    pub fn checkpoint(&self, size: usize) -> Checkpoint {
        Checkpoint::new(ORIGIN, size as u64, root_from_leaves(&self.leaves[..size])).unwrap()
    }

    pub fn note(&self, size: usize) -> String {
        self.signer.sign(&self.checkpoint(size))
    }

    pub fn proof(&self, old: usize, new: usize) -> Vec<Hash> {
        let plan = consistency_plan(old as u64, new as u64).unwrap();
        plan.assemble(|id| {
            let width = 1usize << id.level;
            let start = id.index as usize * width;
            Some(root_from_leaves(&self.leaves[start..start + width]))
        })
        .unwrap()
    }

    pub fn body(&self, old: usize, new: usize) -> String {
        let proof = if old == 0 || old >= new {
            Vec::new()
        } else {
            self.proof(old, new)
        };
        body(old as u64, &proof, &self.note(new))
    }
}

fn body(old: u64, proof: &[Hash], note: &str) -> String {
    let mut b = format!("old {old}\n");
    for h in proof {
        b.push_str(&BASE64.encode(h));
        b.push('\n');
    }
    b.push('\n');
    b + note
}

fn witness(dir: &std::path::Path, log: &Log) -> Witness {
    let wd = WitnessDir::new(dir);
    if !dir.join("witness.key").exists() {
        wd.create(
            "witness.example/w1",
            vec![FollowedLog {
                origin: ORIGIN.to_owned(),
                keys: vec![log.signer.verifier_key()],
            }],
        )
        .unwrap();
    }
    Witness::open(wd).unwrap()
}

fn status(r: Result<String, Refusal>) -> u16 {
    match r {
        Ok(_) => 200,
        Err(refusal) => refusal.status,
    }
}

#[test]
fn cosigns_a_first_checkpoint_then_only_consistent_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = Log::new(1);
    log.grow(10, 0);
    let w = witness(tmp.path(), &log);

    let line = w.add_checkpoint(&log.body(0, 7), 1000).unwrap();
    let verifier = w.cosigner.verifier();
    let (cp, time) = verifier.verify(&(log.note(7) + &line)).unwrap();
    assert_eq!((cp, time), (log.checkpoint(7), 1000));

    // A stale old size: 409, with the size the witness holds.
    let refusal = w.add_checkpoint(&log.body(0, 10), 1001).unwrap_err();
    assert_eq!((refusal.status, refusal.latest_size), (409, Some(7)));
    // From 7 with a proof: cosigned.
    assert_eq!(status(w.add_checkpoint(&log.body(7, 10), 1002)), 200);
    // The same size again, same root: cosigned again (no proof needed).
    assert_eq!(status(w.add_checkpoint(&log.body(10, 10), 1003)), 200);
    assert!(w.dir.refusals().unwrap().is_empty(), "nothing refused yet");
}

#[test]
fn a_rewritten_log_is_refused_and_kept_as_evidence() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = Log::new(1);
    log.grow(8, 0);
    let w = witness(tmp.path(), &log);
    w.add_checkpoint(&log.body(0, 8), 1).unwrap();

    // The operator rewrites every entry, rebuilds the tree, signs with the site key.
    let mut forged = Log::new(1);
    forged.grow(12, 9);
    let r = w.add_checkpoint(&forged.body(8, 12), 2).unwrap_err();
    assert_eq!(r.status, 422, "{r}");
    // The same size with another root: a fork.
    let r = w.add_checkpoint(&forged.body(8, 8), 3).unwrap_err();
    assert_eq!(r.status, 422, "{r}");
    assert!(r.message.contains("forked or was rewritten"), "{r}");
    // A rollback: a smaller tree than the one cosigned.
    let r = w.add_checkpoint(&log.body(8, 5), 4).unwrap_err();
    assert_eq!(r.status, 400, "{r}");

    let kept = w.dir.refusals().unwrap();
    assert_eq!(kept.len(), 3);
    assert_eq!(kept[0]["status"], 422);
    assert!(kept[0]["request"].as_str().unwrap().contains("old 8\n"));
    assert_eq!(kept[2]["status"], 400);
    // Nothing moved: the honest log goes on.
    log.grow(4, 0);
    assert_eq!(status(w.add_checkpoint(&log.body(8, 12), 5)), 200);
}

#[test]
fn unknown_logs_bad_signatures_and_malformed_bodies() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = Log::new(1);
    log.grow(4, 0);
    let w = witness(tmp.path(), &log);

    let other = LogSigner::from_seed("other.example/log", [2; 32]).unwrap();
    let note =
        other.sign(&Checkpoint::new("other.example/log", 4, log.checkpoint(4).root).unwrap());
    assert_eq!(status(w.add_checkpoint(&body(0, &[], &note), 1)), 404);

    // Signed by a key the witness does not trust for this origin.
    let stranger = Log::new(3);
    let mut s = stranger;
    s.grow(4, 0);
    assert_eq!(status(w.add_checkpoint(&s.body(0, 4), 1)), 403);

    // A signature by the trusted key that does not verify.
    let good = log.body(0, 4);
    let tampered = good.replacen("\n4\n", "\n3\n", 1);
    assert_eq!(status(w.add_checkpoint(&tampered, 1)), 403);

    for bad in [
        "",
        "old 0\n",
        "old 01\n\n",
        "old x\n\n",
        "new 0\n\nx",
        "old 0\nnot base64!\n\nx",
    ] {
        let r = w.add_checkpoint(bad, 1).unwrap_err();
        assert_eq!(r.status, 400, "{bad:?}: {r}");
    }
    let many = body(0, &vec![[0u8; 32]; 64], &log.note(4));
    assert_eq!(status(w.add_checkpoint(&many, 1)), 400);
    // A proof from 0 must be empty.
    let with_proof = body(0, &[[1u8; 32]], &log.note(4));
    assert_eq!(status(w.add_checkpoint(&with_proof, 1)), 422);
    // old larger than the checkpoint.
    assert_eq!(
        status(w.add_checkpoint(&body(5, &[], &log.note(4)), 1)),
        400
    );
    // A size-0 checkpoint must have the empty root.
    let zero = log
        .signer
        .sign(&Checkpoint::new(ORIGIN, 0, [7; 32]).unwrap());
    assert_eq!(status(w.add_checkpoint(&body(0, &[], &zero), 1)), 422);
    let empty = log
        .signer
        .sign(&Checkpoint::new(ORIGIN, 0, empty_root()).unwrap());
    assert_eq!(status(w.add_checkpoint(&body(0, &[], &empty), 1)), 200);
}

#[test]
fn the_state_survives_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = Log::new(1);
    log.grow(6, 0);
    {
        let w = witness(tmp.path(), &log);
        w.add_checkpoint(&log.body(0, 6), 1).unwrap();
    }
    let w = witness(tmp.path(), &log);
    let r = w.add_checkpoint(&log.body(0, 6), 2).unwrap_err();
    assert_eq!(r.latest_size, Some(6));
    let note = w.latest_note(ORIGIN).unwrap();
    assert!(note.starts_with(&log.note(6)));
    assert_eq!(
        w.latest_note_by_hash(&state::origin_hash(ORIGIN)).unwrap(),
        note
    );
    assert_eq!(w.cosigner.verifier().verify(&note).unwrap().1, 1);
}

#[test]
fn a_damaged_state_file_is_refused_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = Log::new(1);
    log.grow(6, 0);
    witness(tmp.path(), &log)
        .add_checkpoint(&log.body(0, 6), 1)
        .unwrap();
    let path = tmp
        .path()
        .join("latest")
        .join(format!("{}.json", state::origin_hash(ORIGIN)));
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("\"size\": 6", "\"size\": 2")).unwrap();
    let err = Witness::open(WitnessDir::new(tmp.path())).unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
}
