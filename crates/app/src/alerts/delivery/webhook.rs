//! Standard Webhooks (<https://www.standardwebhooks.com/>): a JSON POST with three
//! headers a receiver checks before it believes the body.
//!
//! - `webhook-id`: unique per message, the same on every retry of it (the receiver's
//!   idempotency key);
//! - `webhook-timestamp`: Unix seconds of this try. Each retry is signed anew with a
//!   fresh timestamp, so a receiver that refuses stale timestamps (five minutes is the
//!   usual tolerance, and [`verify`]'s) still accepts a late retry;
//! - `webhook-signature`: `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`, one
//!   per configured secret, separated by spaces: two during a rotation, so receivers
//!   holding either secret accept the message.
//!
//! A secret is written `whsec_` followed by the base64 of the key bytes.
//!
//! HMAC is written out here (RFC 2104, a dozen lines over `sha2`) rather than taken from
//! the `hmac` crate: the `hmac` in the tree is built on `sha2` 0.11 while this workspace
//! uses `sha2` 0.10, and a second SHA-2 for one function is not worth it. It is checked
//! against RFC 4231's vectors and the Standard Webhooks reference vector.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::header::HeaderMap;
use sha2::{Digest, Sha256};

use accesslog_core::Timestamp;

use super::retry::Failure;

/// How far a `webhook-timestamp` may be from the receiver's clock, either way.
pub const TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// HMAC-SHA256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

/// The key bytes of a `whsec_…` secret.
pub fn decode_secret(secret: &str) -> Result<Vec<u8>, String> {
    let encoded = secret
        .strip_prefix("whsec_")
        .ok_or_else(|| "a webhook secret starts with whsec_".to_owned())?;
    let key = BASE64
        .decode(encoded)
        .map_err(|e| format!("a webhook secret's part after whsec_ is not base64: {e}"))?;
    if key.is_empty() {
        return Err("a webhook secret is empty".to_owned());
    }
    Ok(key)
}

/// One signature, `v1,<base64>`, over `{id}.{timestamp}.{body}`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut signed = Vec::with_capacity(id.len() + body.len() + 24);
    signed.extend_from_slice(id.as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(timestamp.to_string().as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(body);
    format!("v1,{}", BASE64.encode(hmac_sha256(key, &signed)))
}

/// The `webhook-signature` header: one signature per key, separated by spaces.
pub fn signature_header(keys: &[Vec<u8>], id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter()
        .map(|key| sign(key, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why a receiver refused a message.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the {0} header is missing")]
    Missing(&'static str),
    #[error("the secret cannot be used: {0}")]
    Secret(String),
    #[error("webhook-timestamp is not a number of seconds")]
    BadTimestamp,
    #[error("webhook-timestamp is more than five minutes from now")]
    Stale,
    #[error("no signature matches")]
    NoMatch,
}

/// What a receiver does with a message: checks that the timestamp is within
/// [`TOLERANCE`] of `now`, and that one of the `v1` signatures is this secret's over
/// `{webhook-id}.{webhook-timestamp}.{body}` (compared in constant time). A receiver
/// during a rotation holds one secret and finds its signature among the two.
pub fn verify(
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: Timestamp,
) -> Result<(), VerifyError> {
    let header = |name: &'static str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or(VerifyError::Missing(name))
    };
    verify_parts(
        secret,
        header("webhook-id")?,
        header("webhook-timestamp")?,
        header("webhook-signature")?,
        body,
        now,
    )
}

/// [`verify`] with the three headers' values given one by one.
pub fn verify_parts(
    secret: &str,
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now: Timestamp,
) -> Result<(), VerifyError> {
    let key = decode_secret(secret).map_err(VerifyError::Secret)?;
    let seconds: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    let tolerance = i64::try_from(TOLERANCE.as_secs()).unwrap_or(i64::MAX);
    let now_seconds = now.as_micros().div_euclid(1_000_000);
    if now_seconds.abs_diff(seconds) > tolerance.unsigned_abs() {
        return Err(VerifyError::Stale);
    }
    let expected = sign(&key, id, seconds, body);
    let found = signatures
        .split(' ')
        .filter(|s| s.starts_with("v1,"))
        .fold(false, |found, s| {
            found | constant_time_eq(s.as_bytes(), expected.as_bytes())
        });
    if found {
        Ok(())
    } else {
        Err(VerifyError::NoMatch)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// One configured receiver.
pub(super) struct Webhook {
    pub url: reqwest::Url,
    pub keys: Vec<Vec<u8>>,
    pub min: accesslog_site::alert_delivery::MinSeverity,
    /// How dead letters name it: the index and host, never the path (which may hold a
    /// token).
    pub label: String,
}

/// One try: POSTs `body` with the three headers, signed at `timestamp` (Unix seconds).
pub(super) async fn post_signed(
    client: &reqwest::Client,
    hook: &Webhook,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<(), Failure> {
    let request = client
        .post(hook.url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header(
            "webhook-signature",
            signature_header(&hook.keys, id, timestamp, body),
        )
        .body(body.to_vec());
    super::http::send(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2: a short key.
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block, hashed first.
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    /// The Standard Webhooks reference libraries' test vector (also reproduced with
    /// Python's `hmac` module).
    const EXPECTED: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_micros(seconds * 1_000_000)
    }

    #[test]
    fn the_reference_vector_is_reproduced() {
        let key = decode_secret(SECRET).unwrap();
        assert_eq!(sign(&key, ID, TS, BODY), EXPECTED);
        verify_parts(SECRET, ID, "1614265330", EXPECTED, BODY, at(TS)).unwrap();
    }

    #[test]
    fn either_secret_of_a_rotation_verifies() {
        let old = decode_secret(SECRET).unwrap();
        let new_secret = format!("whsec_{}", BASE64.encode(b"the new key, 24 bytes ok"));
        let new = decode_secret(&new_secret).unwrap();
        let header = signature_header(&[old, new], ID, TS, BODY);
        assert_eq!(header.split(' ').count(), 2);
        assert!(header.starts_with(EXPECTED));
        verify_parts(SECRET, ID, "1614265330", &header, BODY, at(TS)).unwrap();
        verify_parts(&new_secret, ID, "1614265330", &header, BODY, at(TS)).unwrap();
        let other = format!("whsec_{}", BASE64.encode(b"someone else"));
        assert_eq!(
            verify_parts(&other, ID, "1614265330", &header, BODY, at(TS)),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn tampering_and_staleness_are_refused() {
        let check = |id: &str, ts: &str, body: &[u8], now: i64| {
            verify_parts(SECRET, id, ts, EXPECTED, body, at(now))
        };
        assert_eq!(
            check(ID, "1614265330", br#"{"test": 2432232315}"#, TS),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            check("msg_other", "1614265330", BODY, TS),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(check(ID, "1614265331", BODY, TS), Err(VerifyError::NoMatch));
        assert_eq!(check(ID, "soon", BODY, TS), Err(VerifyError::BadTimestamp));
        assert_eq!(
            check(ID, "1614265330", BODY, TS + 301),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            check(ID, "1614265330", BODY, TS - 301),
            Err(VerifyError::Stale)
        );
        check(ID, "1614265330", BODY, TS + 300).unwrap();
    }

    #[test]
    fn verify_reads_the_headers() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            verify(SECRET, &headers, BODY, at(TS)),
            Err(VerifyError::Missing("webhook-id"))
        );
        headers.insert("webhook-id", ID.parse().unwrap());
        headers.insert("webhook-timestamp", "1614265330".parse().unwrap());
        headers.insert("webhook-signature", EXPECTED.parse().unwrap());
        verify(SECRET, &headers, BODY, at(TS)).unwrap();
    }

    #[test]
    fn secrets_are_checked() {
        assert!(decode_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(decode_secret("whsec_not base64!").is_err());
        assert!(decode_secret("whsec_").is_err());
    }
}
