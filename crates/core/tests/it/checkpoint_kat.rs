//! The signed-note checkpoint known answer (tests/data/checkpoint): the same seed and
//! text must give the same key, key id, verifier key and note, byte for byte. The note is
//! also checked with ed25519-dalek alone, so a bug shared by our signer and our verifier
//! cannot hide.

use accesslog_core::checkpoint::{Checkpoint, LogSigner, NoteVerifier};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The checkpoint known answer, kept in the crate (see tests/data/README.md).
fn testdata_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

struct Kat {
    seed: [u8; 32],
    public_key_hex: String,
    key_name: String,
    key_id_hex: String,
    verifier_key: String,
    origin: String,
    tree_size: u64,
    root: [u8; 32],
    note: String,
}

fn kat() -> Kat {
    let path = testdata_dir().join("checkpoint/ed25519-checkpoint.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let json: Value = serde_json::from_str(&text).unwrap();
    let field = |name: &str| {
        json[name]
            .as_str()
            .unwrap_or_else(|| panic!("{} has no string field {name}", path.display()))
            .to_owned()
    };
    Kat {
        seed: hex::decode(field("private_key_seed_hex"))
            .unwrap()
            .try_into()
            .unwrap(),
        public_key_hex: field("public_key_hex"),
        key_name: field("key_name"),
        key_id_hex: field("key_id_hex"),
        verifier_key: field("verifier_key"),
        origin: field("origin"),
        tree_size: json["tree_size"].as_u64().unwrap(),
        root: BASE64
            .decode(field("root_hash_base64"))
            .unwrap()
            .try_into()
            .unwrap(),
        note: field("note"),
    }
}

#[test]
fn the_note_file_matches_the_json() {
    let path = testdata_dir().join("checkpoint/ed25519-checkpoint.note");
    let note = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert_eq!(note, kat().note);
}

#[test]
fn the_seed_reproduces_the_key_and_the_note() {
    let kat = kat();
    let signer = LogSigner::from_seed(&kat.key_name, kat.seed).unwrap();
    assert_eq!(hex::encode(signer.public_key()), kat.public_key_hex);
    assert_eq!(format!("{:08x}", signer.key_id()), kat.key_id_hex);
    assert_eq!(signer.verifier_key(), kat.verifier_key);

    let checkpoint = Checkpoint::new(&kat.origin, kat.tree_size, kat.root).unwrap();
    assert_eq!(signer.sign(&checkpoint), kat.note);

    let back = LogSigner::from_private_key_text(&signer.to_private_key_text()).unwrap();
    assert_eq!(back.sign(&checkpoint), kat.note);
}

#[test]
fn the_verifier_key_verifies_the_note() {
    let kat = kat();
    let verifier = NoteVerifier::from_verifier_key(&kat.verifier_key).unwrap();
    assert_eq!(verifier.name(), kat.key_name);
    assert_eq!(format!("{:08x}", verifier.key_id()), kat.key_id_hex);
    let checkpoint = verifier.verify(&kat.note).unwrap();
    assert_eq!(checkpoint.origin, kat.origin);
    assert_eq!(checkpoint.size, kat.tree_size);
    assert_eq!(checkpoint.root, kat.root);
}

/// Reads the note with nothing from our module: split, decode, hash and verify by hand.
#[test]
fn an_independent_verifier_accepts_the_note() {
    let kat = kat();
    let public_key: [u8; 32] = hex::decode(&kat.public_key_hex)
        .unwrap()
        .try_into()
        .unwrap();

    // The verifier key is name + hex id + base64(0x01 || public key).
    let (name, rest) = kat.verifier_key.split_once('+').unwrap();
    let (id_hex, key64) = rest.split_once('+').unwrap();
    assert_eq!(name, kat.key_name);
    assert_eq!(id_hex, kat.key_id_hex);
    let mut typed_key = vec![0x01];
    typed_key.extend_from_slice(&public_key);
    assert_eq!(BASE64.decode(key64).unwrap(), typed_key);

    let mut hashed = kat.key_name.as_bytes().to_vec();
    hashed.push(b'\n');
    hashed.extend_from_slice(&typed_key);
    assert_eq!(hex::encode(&Sha256::digest(&hashed)[..4]), kat.key_id_hex);

    // The text is the three lines; one signature line follows the blank line.
    let (text, sig_line) = kat.note.split_once("\n\n").unwrap();
    let text = format!("{text}\n");
    assert_eq!(
        text,
        format!(
            "{}\n{}\n{}\n",
            kat.origin,
            kat.tree_size,
            BASE64.encode(kat.root)
        )
    );
    let sig_line = sig_line.strip_suffix('\n').unwrap();
    assert!(!sig_line.contains('\n'));
    let sig_line = sig_line.strip_prefix("\u{2014} ").unwrap();
    let (sig_name, sig64) = sig_line.split_once(' ').unwrap();
    assert_eq!(sig_name, kat.key_name);
    let blob = BASE64.decode(sig64).unwrap();
    assert_eq!(blob.len(), 4 + 64);
    assert_eq!(hex::encode(&blob[..4]), kat.key_id_hex);

    let key = VerifyingKey::from_bytes(&public_key).unwrap();
    let signature = Signature::from_slice(&blob[4..]).unwrap();
    key.verify_strict(text.as_bytes(), &signature).unwrap();
    // The signature covers the final newline: without it, it fails.
    assert!(
        key.verify_strict(text.trim_end().as_bytes(), &signature)
            .is_err()
    );
}
