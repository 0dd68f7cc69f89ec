//! Witness cosignatures: C2SP `tlog-cosignature`, the Ed25519 `cosignature/v1` type.
//!
//! A cosignature is one more signature line on a checkpoint's signed note, by a witness
//! that checked the checkpoint is consistent with the last one it cosigned. Its blob is
//! `key id ‖ 8-byte big-endian time ‖ Ed25519 signature` over
//!
//! ```text
//! cosignature/v1
//! time <seconds>
//! <the checkpoint body, final newline included>
//! ```
//!
//! The key id hashes the name with the type byte 0x04, so a witness key can never be
//! taken for a log key (type 0x01) or the other way round. The key texts are the
//! signed-note ones with that type byte, so Go's and cloudflare's tools read them.

use ed25519_dalek::{Signature, VerifyingKey};

use crate::checkpoint::{Checkpoint, NoteError, SIG_PREFIX, Signer, Verifier};

/// The signed-note signature type byte of an Ed25519 `cosignature/v1` key.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// The newest time a cosignature may carry: the spec bounds it by 2^63 - 1.
const MAX_TIME: u64 = i64::MAX as u64;

/// The exact bytes a `cosignature/v1` signs for `checkpoint` at `time` (POSIX seconds).
pub fn signed_message(checkpoint_body: &str, time: u64) -> String {
    format!("cosignature/v1\ntime {time}\n{checkpoint_body}")
}

/// A witness's cosigning key. Holds the secret, so it is not `Clone`, and its `Debug`
/// shows only public parts.
pub type Cosigner = Signer<ALG_COSIGNATURE_V1>;

impl Cosigner {
    /// The signature line (`— <name> <base64>` and a newline) cosigning `checkpoint` as
    /// of `time`, in POSIX seconds.
    pub fn cosign(&self, checkpoint: &Checkpoint, time: u64) -> Result<String, NoteError> {
        if time > MAX_TIME {
            return Err(NoteError::MalformedNote(
                "a cosignature time must not exceed 2^63 - 1",
            ));
        }
        let message = signed_message(&checkpoint.body(), time);
        Ok(self.sign_line(&message, &time.to_be_bytes()))
    }
}

/// A witness's public key, trusted by name and key id, that checks its cosignatures.
pub type CosignatureVerifier = Verifier<ALG_COSIGNATURE_V1>;

impl CosignatureVerifier {
    /// Checks this witness's cosignature on a signed note and returns the checkpoint and
    /// the cosignature's time. Lines by other keys are ignored; every line with this
    /// key's name and id must verify. The log's own signature is not checked here.
    pub fn verify(&self, note: &str) -> Result<(Checkpoint, u64), NoteError> {
        self.verify_lines(note, check)
    }
}

/// The time of a valid cosignature blob (after the key id) over `text`, or `None`.
fn check(text: &str, key: &VerifyingKey, blob: &[u8]) -> Option<u64> {
    let (time, signature) = blob.split_at_checked(8)?;
    let time = u64::from_be_bytes(time.try_into().ok()?);
    if time > MAX_TIME {
        return None;
    }
    let signature = Signature::from_slice(signature).ok()?;
    let message = signed_message(text, time);
    key.verify_strict(message.as_bytes(), &signature)
        .ok()
        .map(|()| time)
}

/// Adds signature lines to a signed note, after the ones it has; a line already there
/// is not added twice.
pub fn add_signature_lines(note: &str, lines: &str) -> String {
    let mut out = note.to_owned();
    for line in lines.lines() {
        if line.starts_with(SIG_PREFIX) && !note.lines().any(|l| l == line) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{LogSigner, parse_signature_line};

    fn checkpoint() -> Checkpoint {
        Checkpoint::new("acme.example/access-log", 42, [0xab; 32]).unwrap()
    }

    fn witness() -> Cosigner {
        Cosigner::from_seed("witness.example/w1", [9; 32]).unwrap()
    }

    fn cosigned() -> String {
        let log = LogSigner::from_seed("acme.example/access-log", [7; 32]).unwrap();
        let note = log.sign(&checkpoint());
        note + &witness().cosign(&checkpoint(), 1_679_315_147).unwrap()
    }

    #[test]
    fn the_message_is_the_header_the_time_and_the_body() {
        assert_eq!(
            signed_message(
                "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
                1679315147
            ),
            "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
    }

    #[test]
    fn a_cosignature_verifies_and_gives_its_time() {
        let v = CosignatureVerifier::from_verifier_key(&witness().verifier_key()).unwrap();
        let (cp, time) = v.verify(&cosigned()).unwrap();
        assert_eq!(cp, checkpoint());
        assert_eq!(time, 1_679_315_147);
    }

    #[test]
    fn the_log_key_and_the_witness_key_are_not_interchangeable() {
        let note = cosigned();
        // The same seed as a log key has another key id: it finds no cosignature.
        let as_log = LogSigner::from_seed("witness.example/w1", [9; 32]).unwrap();
        assert!(matches!(
            as_log.verifier().verify(&note),
            Err(NoteError::NoSignature { .. })
        ));
        assert!(matches!(
            CosignatureVerifier::from_verifier_key(&as_log.verifier_key()),
            Err(NoteError::UnsupportedAlgorithm(0x01))
        ));
    }

    #[test]
    fn a_changed_time_root_or_size_fails() {
        let v = witness().verifier();
        let note = cosigned();
        let changed = note.replacen("\n42\n", "\n43\n", 1);
        assert!(matches!(
            v.verify(&changed),
            Err(NoteError::InvalidSignature { .. })
        ));
        // Another time in the blob, under the same signature.
        let line = witness().cosign(&checkpoint(), 1_679_315_147).unwrap();
        let (_, _, mut blob) = parse_signature_line(line.trim_end()).unwrap();
        blob[7] ^= 1;
        let mut full = witness().key_id().to_be_bytes().to_vec();
        full.extend_from_slice(&blob);
        let forged = note.replace(
            &line,
            &crate::checkpoint::signature_line("witness.example/w1", &full),
        );
        assert_ne!(forged, note);
        assert!(matches!(
            v.verify(&forged),
            Err(NoteError::InvalidSignature { .. })
        ));
    }

    #[test]
    fn the_private_key_text_round_trips() {
        let w = witness();
        let text = w.to_private_key_text();
        assert!(text.starts_with("PRIVATE+KEY+witness.example/w1+"));
        let back = Cosigner::from_private_key_text(&text).unwrap();
        assert_eq!(back.verifier_key(), w.verifier_key());
        let log = LogSigner::from_seed("x.example/log", [1; 32]).unwrap();
        assert!(matches!(
            Cosigner::from_private_key_text(&log.to_private_key_text()),
            Err(NoteError::UnsupportedAlgorithm(0x01))
        ));
    }

    #[test]
    fn adding_lines_keeps_one_of_each() {
        let note = cosigned();
        let line = witness().cosign(&checkpoint(), 1_679_315_147).unwrap();
        assert_eq!(add_signature_lines(&note, &line), note);
        let other = Cosigner::from_seed("witness.example/w2", [3; 32]).unwrap();
        let line2 = other.cosign(&checkpoint(), 5).unwrap();
        let both = add_signature_lines(&note, &line2);
        assert!(both.ends_with(&line2));
        assert_eq!(other.verifier().verify(&both).unwrap().1, 5);
    }

    #[test]
    fn a_time_past_2_to_the_63_is_refused() {
        assert!(witness().cosign(&checkpoint(), u64::MAX).is_err());
    }
}
