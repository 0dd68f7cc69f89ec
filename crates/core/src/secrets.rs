//! How secrets are made and kept: passwords with Argon2id, random tokens for sessions and
//! API keys, and SHA-256 digests of those tokens for storage.
//!
//! Passwords are low-entropy, so they get a slow, salted hash. Session ids and API secrets
//! are 256 random bits; a fast SHA-256 is enough to make a stolen database useless to
//! replay, and keeps authenticating an API request cheap.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;
use subtle::ConstantTimeEq;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the password is empty")]
    EmptyPassword,
    #[error("could not hash the password: {0}")]
    Hash(String),
}

fn params() -> Params {
    // OWASP's first Argon2id recommendation: 19 MiB, 2 passes, 1 lane.
    Params::new(19 * 1024, 2, 1, None).unwrap_or_default()
}

fn argon2id() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
}

/// Hashes a password into a PHC string (`$argon2id$v=19$...`).
pub fn hash_password(password: &str) -> Result<String, SecretError> {
    if password.is_empty() {
        return Err(SecretError::EmptyPassword);
    }
    let salt = SaltString::generate(&mut OsRng);
    argon2id()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| SecretError::Hash(e.to_string()))
}

/// True when `password` matches the stored PHC string. A malformed hash never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2id()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// The working memory of one password check (Argon2's blocks: 19 MiB), kept and handed
/// from check to check. Allocating it afresh each time leaves the allocator holding tens of
/// megabytes per check under load (glibc raises its mmap threshold after the first free);
/// a server keeps one per concurrent check instead.
pub struct HashMemory(Vec<argon2::Block>);

impl HashMemory {
    /// Room for a check with this crate's parameters.
    pub fn new() -> Self {
        HashMemory(vec![argon2::Block::default(); params().block_count()])
    }
}

impl Default for HashMemory {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for HashMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HashMemory({} blocks)", self.0.len())
    }
}

/// [`verify_password`] in `memory`, which is grown if the stored hash asks for more.
pub fn verify_password_in(password: &str, phc: &str, memory: &mut HashMemory) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
        parsed.salt,
        parsed.hash,
    ) else {
        return false;
    };
    let version = parsed
        .version
        .map_or(Ok(Version::V0x13), Version::try_from)
        .unwrap_or(Version::V0x13);
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let blocks = params.block_count();
    if memory.0.len() < blocks {
        memory.0.resize(blocks, argon2::Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let hashed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password.as_bytes(),
        salt,
        &mut out,
        &mut memory.0[..blocks],
    );
    hashed.is_ok() && bool::from(out.ct_eq(expected.as_bytes()))
}

/// Spends the same work as [`verify_password_in`] on a wrong password, so a login for an
/// unknown account takes as long as one for a known account.
pub fn verify_password_against_nothing_in(password: &str, memory: &mut HashMemory) {
    let _ = verify_password_in(password, dummy_hash(), memory);
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password("no such account").unwrap_or_default())
}

/// 32 random bytes as 64 lowercase hex characters.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// `n` random bytes as lowercase hex (for identifiers shorter than a token).
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The SHA-256 of a token, hex; what the database keeps instead of the token.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares two digests in constant time.
pub fn digests_match(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_in_kept_memory_agree_with_the_plain_check() {
        let mut memory = HashMemory::new();
        let phc = hash_password("correct horse").unwrap();
        assert!(verify_password_in("correct horse", &phc, &mut memory));
        assert!(!verify_password_in("correct hors", &phc, &mut memory));
        assert!(
            verify_password_in("correct horse", &phc, &mut memory),
            "memory reused"
        );
        assert!(!verify_password_in("x", "not a hash", &mut memory));
        // A hash made with other (larger) parameters grows the memory and still checks.
        let bigger = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(32 * 1024, 1, 1, None).unwrap(),
        );
        let salt = SaltString::generate(&mut OsRng);
        let phc = bigger.hash_password(b"pw", &salt).unwrap().to_string();
        assert!(verify_password_in("pw", &phc, &mut memory));
        assert!(verify_password("pw", &phc));
        verify_password_against_nothing_in("pw", &mut memory);
    }

    #[test]
    fn password_round_trip() -> Result<(), SecretError> {
        let h = hash_password("correct horse")?;
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("correct horse", "not a hash"));
        Ok(())
    }

    #[test]
    fn same_password_gets_different_salts() -> Result<(), SecretError> {
        assert_ne!(hash_password("pw")?, hash_password("pw")?);
        Ok(())
    }

    #[test]
    fn empty_password_is_refused() {
        assert!(matches!(hash_password(""), Err(SecretError::EmptyPassword)));
    }

    #[test]
    fn tokens_are_random_and_digests_stable() {
        let a = random_token();
        assert_eq!(a.len(), 64);
        assert_ne!(a, random_token());
        assert_eq!(token_digest("abc"), token_digest("abc"));
        assert_eq!(
            token_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(digests_match(&token_digest("x"), &token_digest("x")));
        assert!(!digests_match(&token_digest("x"), &token_digest("y")));
    }
}
