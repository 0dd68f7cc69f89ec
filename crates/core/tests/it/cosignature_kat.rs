//! Witness cosignatures (C2SP `tlog-cosignature`, Ed25519 `cosignature/v1`), checked
//! against implementations that are not ours:
//! - the known answer in tests/data/cosignature, made by `cosign.py`, a second
//!   implementation written from the spec alone with Python's `cryptography`;
//! - the same script live, both ways: it verifies our cosignatures, we verify its;
//! - cloudflare's `signed_note` crate: it reads our cosigned notes, computes the same key
//!   ids, verifies our log signature, and signs notes that we verify;
//! - the spec's own example line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use accesslog_core::checkpoint::{Checkpoint, LogSigner, NoteVerifier};
use accesslog_core::cosignature::{CosignatureVerifier, Cosigner, signed_message};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::Value;

fn data(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/cosignature")
        .join(path)
}

fn vector() -> Value {
    let text = std::fs::read_to_string(data("ed25519-cosignature.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn field<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("no field {name}"))
}

fn kat_checkpoint(v: &Value) -> Checkpoint {
    Checkpoint::parse_body(field(v, "checkpoint_body")).unwrap()
}

fn kat_cosigner(v: &Value) -> Cosigner {
    let seed = hex::decode(field(v, "private_key_seed_hex")).unwrap();
    Cosigner::from_seed(field(v, "cosigner_name"), seed.try_into().unwrap()).unwrap()
}

#[test]
fn the_seed_reproduces_the_key_and_the_cosignature() {
    let v = vector();
    let w = kat_cosigner(&v);
    assert_eq!(hex::encode(w.public_key()), field(&v, "public_key_hex"));
    assert_eq!(format!("{:08x}", w.key_id()), field(&v, "key_id_hex"));
    assert_eq!(w.verifier_key(), field(&v, "verifier_key"));
    let time = v["time"].as_u64().unwrap();
    assert_eq!(
        signed_message(field(&v, "checkpoint_body"), time),
        field(&v, "signed_message")
    );
    assert_eq!(
        w.cosign(&kat_checkpoint(&v), time).unwrap(),
        field(&v, "signature_line")
    );
}

#[test]
fn the_known_cosignature_verifies() {
    let v = vector();
    let verifier = CosignatureVerifier::from_verifier_key(field(&v, "verifier_key")).unwrap();
    let note = format!(
        "{}\n{}",
        field(&v, "checkpoint_body"),
        field(&v, "signature_line")
    );
    let (checkpoint, time) = verifier.verify(&note).unwrap();
    assert_eq!(checkpoint, kat_checkpoint(&v));
    assert_eq!(time, v["time"].as_u64().unwrap());
}

/// The example cosignature line of C2SP tlog-cosignature: 4 bytes of key id, the time as
/// 8 big-endian bytes (the 1679315147 of the spec's example message), 64 of signature.
#[test]
fn the_spec_example_line_has_the_layout_we_write() {
    let line = "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==";
    let blob = BASE64.decode(line).unwrap();
    assert_eq!(blob.len(), 4 + 8 + 64);
    assert_eq!(
        u64::from_be_bytes(blob[4..12].try_into().unwrap()),
        1_679_315_147
    );
    let v = vector();
    let ours = field(&v, "signature_line").rsplit_once(' ').unwrap().1;
    assert_eq!(BASE64.decode(ours.trim_end()).unwrap().len(), blob.len());
}

/// Python and `cryptography`, or `None` (a skip, or a failure under CI).
fn python() -> Option<()> {
    let ok = Command::new("python3")
        .args(["-c", "import cryptography"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(());
    }
    let how = "pip install cryptography";
    if std::env::var_os("CI").is_some() {
        panic!("Python's cryptography is missing, and CI must run every test: {how}");
    }
    eprintln!("note: skipping a cosignature test that needs Python's cryptography ({how})");
    None
}

fn run_python(args: &[&str], stdin: &str) -> String {
    let mut child = Command::new("python3")
        .arg(data("cosign.py"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "cosign.py {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn python_verifies_ours_and_we_verify_pythons() {
    if python().is_none() {
        return;
    }
    let log = LogSigner::from_seed("acme.example/access-log", [5; 32]).unwrap();
    let checkpoint = Checkpoint::new("acme.example/access-log", 1_234_567, [0x3c; 32]).unwrap();
    let note = log.sign(&checkpoint);

    let ours = Cosigner::from_seed("witness.example/ours", [11; 32]).unwrap();
    let cosigned = note.clone() + &ours.cosign(&checkpoint, 1_700_000_000).unwrap();
    let time = run_python(&["verify", &ours.verifier_key()], &cosigned);
    assert_eq!(time.trim(), "1700000000");

    let seed = [12u8; 32];
    let theirs = run_python(
        &[
            "sign",
            &hex::encode(seed),
            "witness.example/theirs",
            "1700000123",
        ],
        &note,
    );
    let key = Cosigner::from_seed("witness.example/theirs", seed).unwrap();
    let (got, time) = key.verifier().verify(&theirs).unwrap();
    assert_eq!((got, time), (checkpoint.clone(), 1_700_000_123));
    // The log's signature is still there and still verifies.
    assert_eq!(log.verifier().verify(&theirs).unwrap(), checkpoint);
}

/// A `signed_note` verifier for `cosignature/v1`, from the spec: the note text it is
/// handed is the checkpoint body, the signature the blob after the key id.
struct CosigV1 {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl signed_note::Verifier for CosigV1 {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        if sig.len() != 72 {
            return false;
        }
        let time = u64::from_be_bytes(sig[..8].try_into().unwrap());
        let mut m = format!("cosignature/v1\ntime {time}\n").into_bytes();
        m.extend_from_slice(msg);
        let sig = Signature::from_slice(&sig[8..]).unwrap();
        self.key.verify_strict(&m, &sig).is_ok()
    }
}

#[test]
fn signed_note_reads_our_cosigned_checkpoints() {
    let log = LogSigner::from_seed("acme.example/access-log", [5; 32]).unwrap();
    let w = Cosigner::from_seed("witness.example/w1", [11; 32]).unwrap();
    let checkpoint = Checkpoint::new("acme.example/access-log", 77, [0x11; 32]).unwrap();
    let note = log.sign(&checkpoint) + &w.cosign(&checkpoint, 1_700_000_000).unwrap();

    // The key ids: SHA-256(name || 0x0A || type || key)[:4], by their code.
    let mut typed = vec![0x04];
    typed.extend_from_slice(&w.public_key());
    assert_eq!(signed_note::key_id(w.name(), &typed), w.key_id());
    let mut typed = vec![0x01];
    typed.extend_from_slice(&log.public_key());
    assert_eq!(signed_note::key_id(log.name(), &typed), log.key_id());

    let parsed = signed_note::Note::from_bytes(note.as_bytes()).unwrap();
    assert_eq!(parsed.text(), checkpoint.body().as_bytes());
    let log_key = signed_note::StandardVerifier::new(&log.verifier_key()).unwrap();
    let cosig = CosigV1 {
        name: w.name().to_owned(),
        id: w.key_id(),
        key: VerifyingKey::from_bytes(&w.public_key()).unwrap(),
    };
    let both = signed_note::VerifierList::new(vec![Box::new(log_key), Box::new(cosig)]);
    let (verified, unverified) = parsed.verify(&both).unwrap();
    assert_eq!(verified.len(), 2);
    assert!(unverified.is_empty());

    // Another time under the same signature is caught by their side too.
    let line = w.cosign(&checkpoint, 1_700_000_000).unwrap();
    let (head, b64) = line.trim_end().rsplit_once(' ').unwrap();
    let mut blob = BASE64.decode(b64).unwrap();
    blob[11] ^= 1;
    let tampered = note.replace(&line, &format!("{head} {}\n", BASE64.encode(&blob)));
    let parsed = signed_note::Note::from_bytes(tampered.as_bytes()).unwrap();
    let cosig = CosigV1 {
        name: w.name().to_owned(),
        id: w.key_id(),
        key: VerifyingKey::from_bytes(&w.public_key()).unwrap(),
    };
    let list = signed_note::VerifierList::new(vec![Box::new(cosig)]);
    assert!(parsed.verify(&list).is_err());
    assert!(w.verifier().verify(&tampered).is_err());
}

#[test]
fn we_verify_notes_signed_by_signed_note() {
    let log = LogSigner::from_seed("acme.example/access-log", [6; 32]).unwrap();
    let signer = signed_note::StandardSigner::new(&log.to_private_key_text()).unwrap();
    let checkpoint = Checkpoint::new("acme.example/access-log", 9, [0x22; 32]).unwrap();
    let mut note = signed_note::Note::new(checkpoint.body().as_bytes(), &[]).unwrap();
    note.add_sigs(&[&signer]).unwrap();
    let text = String::from_utf8(note.to_bytes()).unwrap();
    assert_eq!(text, log.sign(&checkpoint), "the same bytes as ours");
    let ours = NoteVerifier::from_verifier_key(&log.verifier_key()).unwrap();
    assert_eq!(ours.verify(&text).unwrap(), checkpoint);
}
