//! Signed checkpoints: the C2SP `tlog-checkpoint` body, the C2SP `signed-note` envelope
//! with Ed25519 signatures, and the text forms of the keys (Go `sumdb/note` compatible).
//! Byte-exact with docs/checkpoints.md, so auditors can check us with Go's tools.
//!
//! Choices beyond the spec:
//! - [`Checkpoint::parse_body`] rejects C2SP extension lines. We never write them, the
//!   C2SP spec calls them NOT RECOMMENDED (monitors cannot audit them), and a parser that
//!   skipped them would accept signed text whose meaning it silently dropped.
//! - [`NoteVerifier::verify`] checks *every* signature line carrying this key's name and
//!   id (Go checks only the first), with RFC 8032 strict verification.
//! - [`NoteVerifier::from_verifier_key`] rejects weak (small-order) public keys, under
//!   which Ed25519 signatures can be forged.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::fmt;

/// The signed-note signature type byte for Ed25519.
const ALG_ED25519: u8 = 0x01;
/// Em dash (U+2014) and a space: how every signature line starts.
pub(crate) const SIG_PREFIX: &str = "\u{2014} ";
const PRIVATE_KEY_PREFIX: &str = "PRIVATE+KEY+";
/// Go's `note.Open` limit; C2SP requires at least 16. Bounds the work a hostile note costs.
const MAX_SIGNATURES: usize = 100;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NoteError {
    #[error("invalid key name or origin {name:?}: {reason}")]
    BadName { name: String, reason: &'static str },
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
    #[error("malformed signed note: {0}")]
    MalformedNote(&'static str),
    #[error("malformed verifier key: {0}")]
    MalformedVerifierKey(&'static str),
    /// Never carries any part of the key text, which holds the secret seed.
    #[error("malformed private key: {0}")]
    MalformedPrivateKey(&'static str),
    #[error("{what} is not valid padded standard base64 (RFC 4648 section 4)")]
    BadBase64 { what: &'static str },
    #[error("unsupported signature algorithm 0x{0:02x}; only Ed25519 (0x01) is supported")]
    UnsupportedAlgorithm(u8),
    #[error(
        "key id mismatch for {name:?}: the text says {stated:08x} but the key hashes to {computed:08x}"
    )]
    KeyIdMismatch {
        name: String,
        stated: u32,
        computed: u32,
    },
    #[error("invalid Ed25519 public key: {0}")]
    InvalidPublicKey(&'static str),
    #[error("no signature by key {name}+{key_id:08x}")]
    NoSignature { name: String, key_id: u32 },
    #[error("the signature by key {name}+{key_id:08x} is invalid")]
    InvalidSignature { name: String, key_id: u32 },
    #[error("the operating system's random number generator failed: {0}")]
    Randomness(String),
}

/// Checks a log origin or key name: non-empty, printable, no whitespace, no `+`.
///
/// Names sit in `+`-separated key texts and space-separated signature lines, so either
/// character would make those texts ambiguous.
pub fn validate_name(name: &str) -> Result<(), NoteError> {
    let bad = |reason| {
        Err(NoteError::BadName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.contains('+') {
        return bad("it contains '+'");
    }
    if name.chars().any(char::is_whitespace) {
        return bad("it contains whitespace");
    }
    if name.chars().any(char::is_control) {
        return bad("it contains a control character");
    }
    Ok(())
}

/// The signed-note rule for names in signature lines. Looser than [`validate_name`] on
/// purpose: lines by other keys must not make a note unreadable for us when Go accepts it.
fn is_note_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('+') && !name.chars().any(char::is_whitespace)
}

/// `SHA-256(name || 0x0A || alg || public key)[..4]`, big-endian: 0x01 for a log key,
/// 0x04 for a witness's cosigning key.
pub(crate) fn key_id(name: &str, alg: u8, public_key: &[u8; 32]) -> u32 {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update([b'\n', alg])
        .chain_update(public_key)
        .finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// Parses exactly eight hex digits; `from_str_radix` alone would also take a sign.
fn parse_key_id(text: &str) -> Option<u32> {
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(text, 16).ok()
}

/// Best-effort scrubbing of secret bytes we copied out of a key text; `black_box` keeps
/// the compiler from dropping the writes as dead stores.
fn wipe(bytes: &mut [u8]) {
    bytes.fill(0);
    std::hint::black_box(bytes);
}

/// A private key seed, wiped when dropped.
pub(crate) struct Seed([u8; 32]);

impl std::ops::Deref for Seed {
    type Target = [u8; 32];
    fn deref(&self) -> &[u8; 32] {
        &self.0
    }
}

impl Drop for Seed {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// 32 bytes from the operating system's random number generator.
pub(crate) fn random_seed() -> Result<Seed, NoteError> {
    let mut seed = Seed([0u8; 32]);
    OsRng
        .try_fill_bytes(&mut seed.0)
        .map_err(|e| NoteError::Randomness(e.to_string()))?;
    Ok(seed)
}

/// A private key text, parsed: the name, the key id it states and the seed.
pub(crate) struct KeyText {
    pub name: String,
    pub stated: u32,
    pub key: Seed,
}

/// Parses `PRIVATE+KEY+<name>+<8 hex key id>+<base64(alg || seed)>`; trailing whitespace
/// (a final newline in a key file) is ignored. The caller checks the key id.
pub(crate) fn parse_private_key(text: &str, alg: u8) -> Result<KeyText, NoteError> {
    let malformed = NoteError::MalformedPrivateKey;
    let rest = text
        .trim_end()
        .strip_prefix(PRIVATE_KEY_PREFIX)
        .ok_or(malformed("it does not start with PRIVATE+KEY+"))?;
    // The name has no '+', but base64 may, so the key is everything after the 2nd '+'.
    let mut parts = rest.splitn(3, '+');
    let (Some(name), Some(id_hex), Some(key64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(malformed("expected PRIVATE+KEY+<name>+<key id>+<key>"));
    };
    validate_name(name)?;
    let stated = parse_key_id(id_hex).ok_or(malformed("the key id is not 8 hex digits"))?;
    let mut blob = BASE64.decode(key64).map_err(|_| NoteError::BadBase64 {
        what: "the private key",
    })?;
    let seed = seed_from_blob(&blob, alg);
    wipe(&mut blob);
    Ok(KeyText {
        name: name.to_owned(),
        stated,
        key: seed?,
    })
}

fn seed_from_blob(blob: &[u8], alg: u8) -> Result<Seed, NoteError> {
    let (&stated_alg, seed) = blob
        .split_first()
        .ok_or(NoteError::MalformedPrivateKey("the key is empty"))?;
    if stated_alg != alg {
        return Err(NoteError::UnsupportedAlgorithm(stated_alg));
    }
    let seed: [u8; 32] = seed.try_into().map_err(|_| {
        NoteError::MalformedPrivateKey("an Ed25519 private key seed must be 32 bytes")
    })?;
    Ok(Seed(seed))
}

/// `PRIVATE+KEY+<name>+<8 hex key id>+<base64(alg || seed)>`, as Go's `note.GenerateKey`
/// writes it.
pub(crate) fn format_private_key(name: &str, key_id: u32, alg: u8, seed: &[u8; 32]) -> String {
    let mut blob = [0u8; 33];
    blob[0] = alg;
    blob[1..].copy_from_slice(seed);
    let text = format!(
        "{PRIVATE_KEY_PREFIX}{name}+{key_id:08x}+{}",
        BASE64.encode(blob)
    );
    wipe(&mut blob);
    text
}

/// A tree head: the log `origin`, the tree `size` and the RFC 6962 `root` at that size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: [u8; 32],
}

impl Checkpoint {
    /// A checkpoint whose origin is known to be valid, so its body will parse back.
    pub fn new(origin: &str, size: u64, root: [u8; 32]) -> Result<Self, NoteError> {
        validate_name(origin)?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        })
    }

    /// The note text: `origin\nsize\nbase64(root)\n`. The fields are public, so an
    /// invalid origin is written as is; [`Checkpoint::new`] is the way to rule that out.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        )
    }

    /// Parses a note text strictly: exactly three lines, each ending in a newline.
    pub fn parse_body(text: &str) -> Result<Self, NoteError> {
        let Some(text) = text.strip_suffix('\n') else {
            return Err(NoteError::MalformedCheckpoint(
                "the text does not end in a newline",
            ));
        };
        let lines: Vec<&str> = text.split('\n').collect();
        if lines.iter().any(|line| line.is_empty()) {
            return Err(NoteError::MalformedCheckpoint("it contains an empty line"));
        }
        let &[origin, size, root] = lines.as_slice() else {
            return Err(if lines.len() < 3 {
                NoteError::MalformedCheckpoint(
                    "it has fewer than three lines (origin, tree size, root hash)",
                )
            } else {
                NoteError::MalformedCheckpoint(
                    "extension lines after the root hash are not accepted",
                )
            });
        };
        validate_name(origin)?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size: parse_size(size)?,
            root: parse_root(root)?,
        })
    }
}

fn parse_size(line: &str) -> Result<u64, NoteError> {
    if !line.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NoteError::MalformedCheckpoint(
            "the tree size is not a plain decimal number",
        ));
    }
    if line.len() > 1 && line.starts_with('0') {
        return Err(NoteError::MalformedCheckpoint(
            "the tree size has a leading zero",
        ));
    }
    line.parse()
        .map_err(|_| NoteError::MalformedCheckpoint("the tree size does not fit in 64 bits"))
}

fn parse_root(line: &str) -> Result<[u8; 32], NoteError> {
    let bytes = BASE64.decode(line).map_err(|_| NoteError::BadBase64 {
        what: "the root hash",
    })?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| NoteError::MalformedCheckpoint("the root hash is not 32 bytes"))
}

/// An Ed25519 signing key with its signed-note name and key id, of type `ALG`: the log's
/// key ([`LogSigner`]) or a witness's ([`crate::cosignature::Cosigner`]). Holds the
/// secret, so it is not `Clone`, and its `Debug` shows only public parts.
pub struct Signer<const ALG: u8> {
    name: String,
    key: SigningKey,
    key_id: u32,
}

/// The log's signing key and its name.
pub type LogSigner = Signer<ALG_ED25519>;

impl<const ALG: u8> fmt::Debug for Signer<ALG> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(type_name::<ALG>("LogSigner", "Cosigner"))
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .field("public_key", &hex::encode(self.public_key()))
            .finish_non_exhaustive()
    }
}

/// The name of a key type of `ALG`: `log`'s for [`ALG_ED25519`], else `witness`'s.
fn type_name<const ALG: u8>(log: &'static str, witness: &'static str) -> &'static str {
    if ALG == ALG_ED25519 { log } else { witness }
}

impl<const ALG: u8> Signer<ALG> {
    /// A new key from the operating system's random number generator.
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        validate_name(name)?;
        Self::from_seed(name, *random_seed()?)
    }

    /// The key for an RFC 8032 32-byte private key seed.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, NoteError> {
        validate_name(name)?;
        let key = SigningKey::from_bytes(&seed);
        let key_id = key_id(name, ALG, key.verifying_key().as_bytes());
        Ok(Signer {
            name: name.to_owned(),
            key,
            key_id,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// `<name>+<8 hex key id>+<base64(ALG || public key)>`, Go's `note.NewVerifier` form.
    pub fn verifier_key(&self) -> String {
        format_verifier_key(&self.name, self.key_id, ALG, &self.public_key())
    }

    /// The verifier for this key, without a round trip through text.
    pub fn verifier(&self) -> Verifier<ALG> {
        Verifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// `PRIVATE+KEY+<name>+<8 hex key id>+<base64(ALG || seed)>`, as Go's
    /// `note.GenerateKey` writes it, so the key file works with Go's `note.NewSigner`.
    pub fn to_private_key_text(&self) -> String {
        format_private_key(&self.name, self.key_id, ALG, self.key.as_bytes())
    }

    /// Parses [`Signer::to_private_key_text`]; trailing whitespace (a final newline in a
    /// key file) is ignored. The key id must match the key, which catches a hand-edited
    /// name or a truncated file.
    pub fn from_private_key_text(text: &str) -> Result<Self, NoteError> {
        let KeyText { name, stated, key } = parse_private_key(text, ALG)?;
        let signer = Self::from_seed(&name, *key)?;
        if signer.key_id != stated {
            return Err(NoteError::KeyIdMismatch {
                name,
                stated,
                computed: signer.key_id,
            });
        }
        Ok(signer)
    }

    /// The signature line signing `message`: its blob is the key id, `stamp` and the
    /// signature.
    pub(crate) fn sign_line(&self, message: &str, stamp: &[u8]) -> String {
        let signature = self.key.sign(message.as_bytes()).to_bytes();
        let blob = [&self.key_id.to_be_bytes()[..], stamp, &signature].concat();
        signature_line(&self.name, &blob)
    }
}

impl LogSigner {
    /// The complete signed note: the body, a blank line and one signature line.
    pub fn sign(&self, checkpoint: &Checkpoint) -> String {
        let text = checkpoint.body();
        format!("{text}\n{}", self.sign_line(&text, &[]))
    }
}

/// `— <name> <base64(blob)>` and a newline.
pub(crate) fn signature_line(name: &str, blob: &[u8]) -> String {
    format!("{SIG_PREFIX}{name} {}\n", BASE64.encode(blob))
}

/// `<name>+<8 hex key id>+<base64(alg || public key)>`, the signed-note verifier key.
fn format_verifier_key(name: &str, key_id: u32, alg: u8, public_key: &[u8; 32]) -> String {
    let mut blob = [0u8; 33];
    blob[0] = alg;
    blob[1..].copy_from_slice(public_key);
    format!("{name}+{key_id:08x}+{}", BASE64.encode(blob))
}

/// Parses a verifier key of type `alg`; trailing whitespace is ignored. The key id must
/// match the key, and weak (small-order) keys are refused.
fn parse_verifier_key(vkey: &str, alg: u8) -> Result<(String, u32, VerifyingKey), NoteError> {
    let malformed = NoteError::MalformedVerifierKey;
    let mut parts = vkey.trim_end().splitn(3, '+');
    let (Some(name), Some(id_hex), Some(key64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(malformed("expected <name>+<key id>+<key>"));
    };
    validate_name(name)?;
    let stated = parse_key_id(id_hex).ok_or(malformed("the key id is not 8 hex digits"))?;
    let blob = BASE64.decode(key64).map_err(|_| NoteError::BadBase64 {
        what: "the public key",
    })?;
    let (&stated_alg, public_key) = blob.split_first().ok_or(malformed("the key is empty"))?;
    if stated_alg != alg {
        return Err(NoteError::UnsupportedAlgorithm(stated_alg));
    }
    let public_key: [u8; 32] = public_key
        .try_into()
        .map_err(|_| malformed("an Ed25519 public key must be 32 bytes"))?;
    let computed = key_id(name, alg, &public_key);
    if computed != stated {
        return Err(NoteError::KeyIdMismatch {
            name: name.to_owned(),
            stated,
            computed,
        });
    }
    let key = VerifyingKey::from_bytes(&public_key)
        .map_err(|_| NoteError::InvalidPublicKey("it is not a point on the curve"))?;
    if key.is_weak() {
        return Err(NoteError::InvalidPublicKey(
            "it has small order, so signatures under it can be forged",
        ));
    }
    Ok((name.to_owned(), computed, key))
}

/// Splits a signed note into its text (up to and including the newline before the last
/// blank line) and its signature lines, at most [`MAX_SIGNATURES`] of them.
fn split_note(note: &str) -> Result<(&str, Vec<&str>), NoteError> {
    let malformed = NoteError::MalformedNote;
    if note.chars().any(|c| c < ' ' && c != '\n') {
        return Err(malformed(
            "it contains a control character other than newline",
        ));
    }
    let split = note
        .rfind("\n\n")
        .ok_or(malformed("there is no blank line before the signatures"))?;
    let (text, sigs) = (&note[..split + 1], &note[split + 2..]);
    let sigs = sigs.strip_suffix('\n').ok_or(malformed(
        "the signature block is empty or lacks a final newline",
    ))?;
    let lines: Vec<&str> = sigs.split('\n').collect();
    if lines.len() > MAX_SIGNATURES {
        return Err(malformed("it has too many signature lines"));
    }
    Ok((text, lines))
}

/// A trusted public key of type `ALG`, by name and key id: [`NoteVerifier`] checks signed
/// checkpoints, [`crate::cosignature::CosignatureVerifier`] a witness's cosignatures.
#[derive(Clone, PartialEq, Eq)]
pub struct Verifier<const ALG: u8> {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

/// A trusted public key, by name and key id, that checks signed checkpoints.
pub type NoteVerifier = Verifier<ALG_ED25519>;

impl<const ALG: u8> fmt::Debug for Verifier<ALG> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(type_name::<ALG>("NoteVerifier", "CosignatureVerifier"))
            .field("name", &self.name)
            .field("key_id", &self.key_id)
            .field("key", &self.key)
            .finish()
    }
}

impl<const ALG: u8> Verifier<ALG> {
    /// Parses `<name>+<8 hex key id>+<base64(ALG || public key)>`; trailing whitespace
    /// is ignored. The key id must match the key.
    pub fn from_verifier_key(vkey: &str) -> Result<Self, NoteError> {
        let (name, key_id, key) = parse_verifier_key(vkey, ALG)?;
        Ok(Verifier { name, key_id, key })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    pub fn verifier_key(&self) -> String {
        format_verifier_key(&self.name, self.key_id, ALG, self.key.as_bytes())
    }

    /// Checks every signature line of `note` with this key's name and id with `check`
    /// (given the signed text, the key and the blob after the key id), and returns the
    /// checkpoint and what `check` made of the last line. Lines by other keys are ignored.
    pub(crate) fn verify_lines<T>(
        &self,
        note: &str,
        check: impl Fn(&str, &VerifyingKey, &[u8]) -> Option<T>,
    ) -> Result<(Checkpoint, T), NoteError> {
        let (text, lines) = split_note(note)?;
        let mut found = None;
        for line in lines {
            let (name, key_id, blob) = parse_signature_line(line)?;
            if name != self.name || key_id != self.key_id {
                continue;
            }
            let checked =
                check(text, &self.key, &blob).ok_or_else(|| NoteError::InvalidSignature {
                    name: self.name.clone(),
                    key_id: self.key_id,
                })?;
            found = Some(checked);
        }
        let found = found.ok_or_else(|| NoteError::NoSignature {
            name: self.name.clone(),
            key_id: self.key_id,
        })?;
        Ok((Checkpoint::parse_body(text)?, found))
    }
}

impl NoteVerifier {
    /// Verifies a signed note and returns its checkpoint.
    ///
    /// The text is everything up to and including the newline before the last blank
    /// line. Signature lines by other keys (another name or another key id) are ignored,
    /// as the spec requires for key rotation and witness cosignatures. The checkpoint's
    /// origin is not compared with the key name here: the caller knows which origin it
    /// expects.
    pub fn verify(&self, note: &str) -> Result<Checkpoint, NoteError> {
        let checked = self.verify_lines(note, |text, key, sig| {
            let sig = Signature::from_slice(sig).ok()?;
            key.verify_strict(text.as_bytes(), &sig).ok()
        });
        checked.map(|(checkpoint, ())| checkpoint)
    }
}

/// Splits `— <name> <base64(key id || signature)>` into name, key id and signature bytes.
pub(crate) fn parse_signature_line(line: &str) -> Result<(&str, u32, Vec<u8>), NoteError> {
    let malformed = NoteError::MalformedNote;
    let rest = line.strip_prefix(SIG_PREFIX).ok_or(malformed(
        "a signature line does not start with an em dash and a space",
    ))?;
    let (name, sig64) = rest.split_once(' ').ok_or(malformed(
        "a signature line has no space between name and signature",
    ))?;
    if !is_note_name(name) {
        return Err(malformed("a signature line has an invalid key name"));
    }
    let blob = BASE64
        .decode(sig64)
        .map_err(|_| malformed("a signature is not valid base64"))?;
    if blob.len() < 5 {
        return Err(malformed(
            "a signature is shorter than a key id and one byte",
        ));
    }
    let key_id = u32::from_be_bytes([blob[0], blob[1], blob[2], blob[3]]);
    Ok((name, key_id, blob[4..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: [u8; 32] = [7u8; 32];
    const ROOT: [u8; 32] = [0xab; 32];

    fn signer() -> LogSigner {
        LogSigner::from_seed("acme.example/access-log", SEED).unwrap()
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint::new("acme.example/access-log", 42, ROOT).unwrap()
    }

    fn signed() -> (LogSigner, String) {
        let s = signer();
        let note = s.sign(&checkpoint());
        (s, note)
    }

    fn invalid_sig(s: &LogSigner) -> NoteError {
        NoteError::InvalidSignature {
            name: s.name().to_owned(),
            key_id: s.key_id(),
        }
    }

    fn no_sig(s: &LogSigner) -> NoteError {
        NoteError::NoSignature {
            name: s.name().to_owned(),
            key_id: s.key_id(),
        }
    }

    /// The note with its (last) signature line's decoded blob changed by `change`.
    fn with_blob(note: &str, change: impl FnOnce(&mut Vec<u8>)) -> String {
        let (head, line) = note.rsplit_once("\n\n").unwrap();
        let (prefix, sig64) = line.rsplit_once(' ').unwrap();
        let mut blob = BASE64.decode(sig64.trim_end()).unwrap();
        change(&mut blob);
        format!("{head}\n\n{prefix} {}\n", BASE64.encode(&blob))
    }

    #[test]
    fn body_is_three_lines() {
        let body = Checkpoint::new("a.example/log", 0, [0; 32]).unwrap().body();
        assert_eq!(
            body,
            "a.example/log\n0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
        );
        assert_eq!(
            Checkpoint::parse_body(&body).unwrap(),
            Checkpoint::new("a.example/log", 0, [0; 32]).unwrap()
        );
    }

    #[test]
    fn sign_then_verify_round_trips() {
        let (s, note) = signed();
        let verifier = NoteVerifier::from_verifier_key(&s.verifier_key()).unwrap();
        assert_eq!(verifier, s.verifier());
        assert_eq!(verifier.name(), s.name());
        assert_eq!(verifier.key_id(), s.key_id());
        assert_eq!(verifier.public_key(), s.public_key());
        assert_eq!(verifier.verifier_key(), s.verifier_key());
        assert_eq!(verifier.verify(&note).unwrap(), checkpoint());
        let big = Checkpoint::new("x", u64::MAX, ROOT).unwrap();
        assert_eq!(
            LogSigner::from_seed("x", SEED)
                .unwrap()
                .verifier()
                .verify(&LogSigner::from_seed("x", SEED).unwrap().sign(&big))
                .unwrap(),
            big
        );
    }

    #[test]
    fn note_layout() {
        let (s, note) = signed();
        let body = checkpoint().body();
        let sig_line = note.strip_prefix(&format!("{body}\n")).unwrap();
        let rest = sig_line
            .strip_prefix("\u{2014} acme.example/access-log ")
            .unwrap();
        let blob = BASE64.decode(rest.strip_suffix('\n').unwrap()).unwrap();
        assert_eq!(blob.len(), 68);
        assert_eq!(blob[..4], s.key_id().to_be_bytes());
    }

    #[test]
    fn tampering_with_any_body_line_fails() {
        let (s, note) = signed();
        let v = s.verifier();
        let tampered = [
            note.replacen("acme.example/access-log\n", "acme.example/access-lot\n", 1),
            note.replacen("\n42\n", "\n43\n", 1),
            note.replacen("q6ur", "q6us", 1),
        ];
        for t in tampered {
            assert_ne!(t, note);
            assert_eq!(v.verify(&t), Err(invalid_sig(&s)), "{t}");
        }
    }

    #[test]
    fn tampering_with_the_signature_fails() {
        let (s, note) = signed();
        let v = s.verifier();
        for index in [4, 10, 35, 36, 67] {
            let t = with_blob(&note, |blob| blob[index] ^= 1);
            assert_eq!(v.verify(&t), Err(invalid_sig(&s)), "byte {index}");
        }
        // A truncated or extended signature by this key is invalid, not an unknown key.
        let t = with_blob(&note, |blob| blob.truncate(40));
        assert_eq!(v.verify(&t), Err(invalid_sig(&s)));
        let t = with_blob(&note, |blob| blob.push(0));
        assert_eq!(v.verify(&t), Err(invalid_sig(&s)));
    }

    #[test]
    fn tampering_with_key_id_or_name_is_no_signature() {
        let (s, note) = signed();
        let v = s.verifier();
        for index in 0..4 {
            let t = with_blob(&note, |blob| blob[index] ^= 0x80);
            assert_eq!(v.verify(&t), Err(no_sig(&s)), "byte {index}");
        }
        let t = note.replacen(
            "\u{2014} acme.example/access-log ",
            "\u{2014} acme.example/other ",
            1,
        );
        assert_eq!(v.verify(&t), Err(no_sig(&s)));
    }

    #[test]
    fn other_keys_are_ignored_but_not_enough() {
        let (s, note) = signed();
        let other = LogSigner::from_seed("acme.example/access-log", [9; 32]).unwrap();
        assert_ne!(other.key_id(), s.key_id());
        let by_other = other.sign(&checkpoint());
        assert_eq!(s.verifier().verify(&by_other), Err(no_sig(&s)));

        // Both signatures on one note (a cosigned checkpoint): each key finds its own.
        let other_line = by_other.rsplit_once("\n\n").unwrap().1;
        let both = format!("{note}{other_line}");
        assert_eq!(s.verifier().verify(&both).unwrap(), checkpoint());
        assert_eq!(other.verifier().verify(&both).unwrap(), checkpoint());

        // A bad line by this key is fatal even beside a good one.
        let bad_own = with_blob(&note, |blob| blob[20] ^= 1);
        let bad_own_line = bad_own.rsplit_once("\n\n").unwrap().1;
        let t = format!("{note}{bad_own_line}");
        assert_eq!(s.verifier().verify(&t), Err(invalid_sig(&s)));
        let t = format!("{bad_own}{}", note.rsplit_once("\n\n").unwrap().1);
        assert_eq!(s.verifier().verify(&t), Err(invalid_sig(&s)));
    }

    #[test]
    fn malformed_notes_are_errors() {
        let (s, note) = signed();
        let v = s.verifier();
        let body = checkpoint().body();
        let cases = [
            String::new(),
            "\n".to_owned(),
            "\n\n".to_owned(),
            body.clone(),
            format!("{body}\n"),
            note.trim_end().to_owned(),
            note.replacen('\u{2014}', "-", 1),
            note.replacen("access-log ", "access-log", 1),
            note.replacen("\n42\n", "\r\n42\n", 1),
            format!("{note}\u{2014} \n"),
            format!("{note}\u{2014} a+b AAAAAAAA\n"),
            format!("{note}\u{2014} a AAAA\n"),
            format!("{note}\u{2014} a !!!!\n"),
            format!("{note}garbage\n"),
            format!(
                "{body}\n{}",
                "\u{2014} x AAAAAAA=\n".repeat(MAX_SIGNATURES + 1)
            ),
        ];
        for case in cases {
            let err = v.verify(&case).unwrap_err();
            assert!(
                matches!(err, NoteError::MalformedNote(_)),
                "{case:?}: {err:?}"
            );
        }
    }

    #[test]
    fn a_signed_text_that_is_not_a_checkpoint_is_rejected_after_verifying() {
        let s = signer();
        let bad = Checkpoint {
            origin: "has space".into(),
            size: 1,
            root: ROOT,
        };
        assert!(matches!(
            s.verifier().verify(&s.sign(&bad)),
            Err(NoteError::BadName { .. })
        ));
    }

    #[test]
    fn private_key_text_round_trips() {
        let s = signer();
        let text = s.to_private_key_text();
        assert!(text.starts_with("PRIVATE+KEY+acme.example/access-log+"));
        assert!(!text.contains('\n'));
        let back = LogSigner::from_private_key_text(&format!("{text}\n")).unwrap();
        assert_eq!(back.public_key(), s.public_key());
        assert_eq!(back.key_id(), s.key_id());
        assert_eq!(back.name(), s.name());
        assert_eq!(back.sign(&checkpoint()), s.sign(&checkpoint()));
    }

    #[test]
    fn private_key_text_rejects_bad_input() {
        let s = signer();
        let text = s.to_private_key_text();
        let (head, key64) = text.rsplit_once('+').unwrap();
        let (prefix, id_hex) = head.rsplit_once('+').unwrap();

        let wrong_id = format!("{prefix}+{:08x}+{key64}", s.key_id() ^ 1);
        assert_eq!(
            LogSigner::from_private_key_text(&wrong_id).unwrap_err(),
            NoteError::KeyIdMismatch {
                name: s.name().to_owned(),
                stated: s.key_id() ^ 1,
                computed: s.key_id()
            }
        );
        let renamed = text.replacen("access-log", "access-lot", 1);
        assert!(matches!(
            LogSigner::from_private_key_text(&renamed),
            Err(NoteError::KeyIdMismatch { .. })
        ));

        let mut blob = BASE64.decode(key64).unwrap();
        blob[0] = 0x02;
        let wrong_alg = format!("{head}+{}", BASE64.encode(&blob));
        assert_eq!(
            LogSigner::from_private_key_text(&wrong_alg).unwrap_err(),
            NoteError::UnsupportedAlgorithm(0x02)
        );
        blob[0] = ALG_ED25519;
        let short = format!("{head}+{}", BASE64.encode(&blob[..32]));
        assert!(matches!(
            LogSigner::from_private_key_text(&short),
            Err(NoteError::MalformedPrivateKey(_))
        ));

        for garbage in [
            String::new(),
            "garbage".to_owned(),
            "PRIVATE+KEY+".to_owned(),
            format!("{prefix}+{id_hex}"),
            format!("{prefix}+{id_hex}+"),
            format!("{prefix}+{id_hex}+!!!"),
            format!("{prefix}+{}+{key64}", &id_hex[..7]),
            format!("{prefix}++{key64}"),
            text.replacen("PRIVATE", "PUBLIC", 1),
            text.replacen("acme.example/access-log", "", 1),
            s.verifier_key(),
        ] {
            let err = LogSigner::from_private_key_text(&garbage).unwrap_err();
            // No error may echo the secret.
            assert!(!err.to_string().contains(key64), "{err}");
        }
    }

    #[test]
    fn verifier_key_rejects_bad_input() {
        let s = signer();
        let vkey = s.verifier_key();
        let (head, key64) = vkey.rsplit_once('+').unwrap();
        let (name, _) = head.split_once('+').unwrap();
        assert!(matches!(
            NoteVerifier::from_verifier_key(&format!("{name}+{:08x}+{key64}", s.key_id() ^ 1)),
            Err(NoteError::KeyIdMismatch { .. })
        ));
        let mut blob = BASE64.decode(key64).unwrap();
        blob[0] = 0x04;
        assert_eq!(
            NoteVerifier::from_verifier_key(&format!("{head}+{}", BASE64.encode(&blob))),
            Err(NoteError::UnsupportedAlgorithm(0x04))
        );
        // A small-order point (the identity), given a matching id so only its weakness fails.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = format_verifier_key(
            "w",
            key_id("w", ALG_ED25519, &identity),
            ALG_ED25519,
            &identity,
        );
        assert!(matches!(
            NoteVerifier::from_verifier_key(&weak),
            Err(NoteError::InvalidPublicKey(_))
        ));
        for garbage in [
            "",
            "name",
            "name+253ba1aa",
            "name+zzzzzzzz+AQ==",
            "+253ba1aa+AQ==",
        ] {
            assert!(
                NoteVerifier::from_verifier_key(garbage).is_err(),
                "{garbage}"
            );
        }
        // A trailing newline, as from a file or an HTTP body, is fine.
        assert!(NoteVerifier::from_verifier_key(&format!("{vkey}\n")).is_ok());
    }

    #[test]
    fn names_are_validated() {
        for good in ["acme.example/access-log", "x", "caf\u{e9}.example/log"] {
            assert_eq!(validate_name(good), Ok(()), "{good}");
            assert!(LogSigner::from_seed(good, SEED).is_ok());
        }
        for (bad, why) in [
            ("", "empty"),
            ("a+b", "'+'"),
            ("a b", "whitespace"),
            ("a\tb", "whitespace"),
            ("a\u{a0}b", "whitespace"),
            ("a\u{7f}b", "control"),
        ] {
            let err = validate_name(bad).unwrap_err();
            assert!(err.to_string().contains(why), "{bad:?}: {err}");
            assert!(LogSigner::from_seed(bad, SEED).is_err());
            assert!(LogSigner::generate(bad).is_err());
            assert!(Checkpoint::new(bad, 1, ROOT).is_err());
        }
    }

    #[test]
    fn debug_does_not_show_the_secret() {
        let s = signer();
        let debug = format!("{s:?}");
        assert!(debug.contains("acme.example/access-log"));
        assert!(!debug.contains(&hex::encode(SEED)), "{debug}");
        assert!(!debug.contains(&BASE64.encode(SEED)), "{debug}");
        assert!(!debug.contains("[7, 7"), "{debug}");
    }

    #[test]
    fn generated_keys_differ_and_work() {
        let a = LogSigner::generate("g.example/log").unwrap();
        let b = LogSigner::generate("g.example/log").unwrap();
        assert_ne!(a.public_key(), b.public_key());
        let cp = Checkpoint::new("g.example/log", 1, ROOT).unwrap();
        assert_eq!(a.verifier().verify(&a.sign(&cp)).unwrap(), cp);
        assert!(b.verifier().verify(&a.sign(&cp)).is_err());
    }

    #[test]
    fn parse_body_is_strict() {
        let root64 = BASE64.encode(ROOT);
        let ok = format!("o\n1\n{root64}\n");
        assert_eq!(Checkpoint::parse_body(&ok).unwrap().size, 1);
        let max = format!("o\n{}\n{root64}\n", u64::MAX);
        assert_eq!(Checkpoint::parse_body(&max).unwrap().size, u64::MAX);
        let cases = [
            format!("o\n01\n{root64}\n"),
            format!("o\n00\n{root64}\n"),
            format!("o\n-1\n{root64}\n"),
            format!("o\n+1\n{root64}\n"),
            format!("o\n 1\n{root64}\n"),
            format!("o\n1.0\n{root64}\n"),
            format!("o\nx\n{root64}\n"),
            format!("o\n\n{root64}\n"),
            format!("o\n18446744073709551616\n{root64}\n"),
            format!("o\n1\n{}\n", BASE64.encode([0u8; 31])),
            format!("o\n1\n{}\n", BASE64.encode([0u8; 33])),
            format!("o\n1\n{}\n", root64.trim_end_matches('=')),
            format!("o\n1\n{}\n", hex::encode(ROOT)),
            format!("o\n1\n{root64}"),
            format!("o\n1\n{root64}\n\n"),
            format!("o\n1\n{root64}\next\n"),
            format!("o\n1\n{root64}\r\n"),
            format!("\n1\n{root64}\n"),
            format!("o p\n1\n{root64}\n"),
            "o\n1\n".to_owned(),
            String::new(),
        ];
        for case in cases {
            assert!(Checkpoint::parse_body(&case).is_err(), "{case:?}");
        }
        assert_eq!(
            Checkpoint::parse_body(&format!("o\n01\n{root64}\n")),
            Err(NoteError::MalformedCheckpoint(
                "the tree size has a leading zero"
            ))
        );
        assert_eq!(
            Checkpoint::parse_body(&format!("o\n1\n{root64}\next\n")),
            Err(NoteError::MalformedCheckpoint(
                "extension lines after the root hash are not accepted"
            ))
        );
    }

    #[test]
    fn root_base64_must_be_canonical() {
        // Same 32 bytes, but the unused low bits of the last character are set.
        let root64 = BASE64.encode([0u8; 32]);
        let sloppy = format!("{}B=", &root64[..42]);
        assert!(matches!(
            Checkpoint::parse_body(&format!("o\n1\n{sloppy}\n")),
            Err(NoteError::BadBase64 { .. })
        ));
    }
}
