//! The integrity API, checked the way a third party would: the signed checkpoint with a
//! signed-note verifier written here from the spec (ed25519-dalek and SHA-256 only), and
//! proofs with an RFC 9162 verifier written here too. Nothing from the server's own
//! Merkle or checkpoint code is used to check its answers.

use std::time::Duration;

use accesslog_app::accounts;
use accesslog_core::entry::{Activity, Event};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::StatusCode;
use reqwest::header::AUTHORIZATION;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::{TestServer, on_both_backends};

on_both_backends!(
    run: crate::common::with_server;
    only_auditors_may_read_the_integrity_api,
    checkpoint_and_proofs_verify_independently,
    bad_proof_requests_get_clear_errors,
);

type H = [u8; 32];

fn sha(parts: &[&[u8]]) -> H {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn unhex(s: &Value) -> H {
    let bytes = hex::decode(s.as_str().unwrap()).unwrap();
    bytes.try_into().unwrap()
}

/// RFC 9162 §2.1.3.2, as written in the RFC.
fn rfc_verify_inclusion(leaf_index: u64, tree_size: u64, leaf: H, path: &[H], root: H) -> bool {
    if leaf_index >= tree_size {
        return false;
    }
    let (mut fnode, mut snode) = (leaf_index, tree_size - 1);
    let mut r = leaf;
    for p in path {
        if snode == 0 {
            return false;
        }
        if fnode % 2 == 1 || fnode == snode {
            r = sha(&[&[1], p, &r]);
            if fnode % 2 == 0 {
                while fnode % 2 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = sha(&[&[1], &r, p]);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && r == root
}

/// RFC 9162 §2.1.4.2, as written in the RFC.
fn rfc_verify_consistency(
    first: u64,
    second: u64,
    first_root: H,
    second_root: H,
    path: &[H],
) -> bool {
    if first == second {
        return path.is_empty() && first_root == second_root;
    }
    let mut path = path.to_vec();
    if first.is_power_of_two() {
        path.insert(0, first_root);
    }
    let (mut fnode, mut snode) = (first - 1, second - 1);
    while fnode % 2 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let Some((&start, rest)) = path.split_first() else {
        return false;
    };
    let (mut fr, mut sr) = (start, start);
    for c in rest {
        if snode == 0 {
            return false;
        }
        if fnode % 2 == 1 || fnode == snode {
            fr = sha(&[&[1], c, &fr]);
            sr = sha(&[&[1], c, &sr]);
            if fnode % 2 == 0 {
                while fnode % 2 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = sha(&[&[1], &sr, c]);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    fr == first_root && sr == second_root && snode == 0
}

/// A C2SP signed-note check from the spec: returns (origin, size, root).
fn note_verify(vkey: &str, note: &str) -> (String, u64, H) {
    let mut parts = vkey.trim().splitn(3, '+');
    let (name, id_hex, key_b64) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let key = B64.decode(key_b64).unwrap();
    assert_eq!(key[0], 1, "Ed25519 verifier keys start with 0x01");
    let key_id = u32::from_str_radix(id_hex, 16).unwrap();
    let pk: [u8; 32] = key[1..].try_into().unwrap();
    let computed = sha(&[name.as_bytes(), b"\n", &[1], &pk]);
    assert_eq!(
        u32::from_be_bytes(computed[..4].try_into().unwrap()),
        key_id,
        "key id"
    );

    let split = note.rfind("\n\n").unwrap();
    let (text, sigs) = (&note[..=split], &note[split + 2..]);
    let line = sigs
        .lines()
        .find(|l| l.starts_with(&format!("\u{2014} {name} ")))
        .expect("a signature by the key");
    let sig = B64.decode(line.rsplit(' ').next().unwrap()).unwrap();
    assert_eq!(u32::from_be_bytes(sig[..4].try_into().unwrap()), key_id);
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&pk).unwrap();
    let signature = ed25519_dalek::Signature::from_slice(&sig[4..]).unwrap();
    vk.verify_strict(text.as_bytes(), &signature)
        .expect("the checkpoint signature verifies");

    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text:?}");
    (
        lines[0].to_owned(),
        lines[1].parse().unwrap(),
        B64.decode(lines[2]).unwrap().try_into().unwrap(),
    )
}

async fn record(server: &TestServer, n: usize) {
    for i in 0..n {
        let mut e = Event::new("sales@example.com", Activity::Export, "test");
        e.reference_document = Some(format!("DOC-{i}"));
        server.state.recorder.record(e).await.unwrap();
    }
}

/// Waits (boundedly) until the latest checkpoint covers `size` entries.
async fn checkpoint_at(server: &TestServer, size: u64) -> String {
    for _ in 0..100 {
        if let Some(cp) = server.store.latest_checkpoint().await.unwrap()
            && cp.size == size
        {
            return cp.note;
        }
        server.clock.advance(Duration::from_secs(11));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no checkpoint at size {size}");
}

async fn auditor_header(server: &TestServer) -> String {
    let key = accounts::create_api_key(
        &*server.store,
        &*server.clock,
        "accounts@example.com",
        "audit",
        &["auditor".to_owned()],
    )
    .await
    .unwrap();
    format!("token {}:{}", key.api_key, key.api_secret)
}

async fn only_auditors_may_read_the_integrity_api(server: &TestServer) {
    record(server, 3).await;
    checkpoint_at(server, 3).await;
    let paths = [
        "/api/access-log/checkpoint",
        "/api/access-log/public-key",
        "/api/access-log/1/proof",
        "/api/access-log/consistency?first=1&second=3",
    ];

    let anonymous = server.client();
    let sales = server.client();
    server.login(&sales, "sales@example.com", "sales").await;
    let plain_key = accounts::create_api_key(
        &*server.store,
        &*server.clock,
        "accounts@example.com",
        "",
        &[],
    )
    .await
    .unwrap();
    let admin = server.client();
    server.login(&admin, "admin@example.com", "admin").await;
    let auditor = auditor_header(server).await;

    for path in paths {
        let url = server.at(path);
        assert_eq!(
            anonymous.get(&url).send().await.unwrap().status(),
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
        let r = sales.get(&url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(r.text().await.unwrap().contains("System Managers"));
        let r = anonymous
            .get(&url)
            .header(
                AUTHORIZATION,
                format!("token {}:{}", plain_key.api_key, plain_key.api_secret),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "a key without the auditor scope: {path}"
        );
        assert_eq!(
            admin.get(&url).send().await.unwrap().status(),
            StatusCode::OK,
            "System Manager: {path}"
        );
        assert_eq!(
            anonymous
                .get(&url)
                .header(AUTHORIZATION, &auditor)
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::OK,
            "auditor key: {path}"
        );
    }
}

async fn checkpoint_and_proofs_verify_independently(server: &TestServer) {
    record(server, 13).await;
    let stored_note = checkpoint_at(server, 13).await;
    let c = server.client();
    let auth = auditor_header(server).await;
    let get = |path: String| {
        let req = c.get(server.at(&path)).header(AUTHORIZATION, &auth);
        async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            r
        }
    };

    let vkey = get("/api/access-log/public-key".into())
        .await
        .text()
        .await
        .unwrap();
    assert!(vkey.starts_with("test.example/access-log+"), "{vkey}");
    let note = get("/api/access-log/checkpoint".into())
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(note, stored_note);
    let (origin, size, root) = note_verify(&vkey, &note);
    assert_eq!((origin.as_str(), size), ("test.example/access-log", 13));

    for seq in 1..=13u64 {
        let p: Value = get(format!("/api/access-log/{seq}/proof?tree_size=13"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            (
                p["seq"].as_u64(),
                p["leaf_index"].as_u64(),
                p["tree_size"].as_u64()
            ),
            (Some(seq), Some(seq - 1), Some(13))
        );
        let entry = B64.decode(p["entry"].as_str().unwrap()).unwrap();
        let leaf = sha(&[&[0], &entry]);
        assert_eq!(
            leaf,
            unhex(&p["leaf_hash"]),
            "leaf_hash = SHA-256(0x00 || entry)"
        );
        assert_eq!(
            unhex(&p["root_hash"]),
            root,
            "the proof is against the signed root"
        );
        let path: Vec<H> = p["audit_path"]
            .as_array()
            .unwrap()
            .iter()
            .map(unhex)
            .collect();
        assert!(
            rfc_verify_inclusion(seq - 1, 13, leaf, &path, root),
            "inclusion of {seq}"
        );
        // A wrong leaf does not verify.
        assert!(!rfc_verify_inclusion(
            seq - 1,
            13,
            sha(&[b"forged"]),
            &path,
            root
        ));
        // The entry bytes are the canonical encoding, starting with its version byte and seq.
        assert_eq!(entry[0], 1);
        assert_eq!(
            &entry[6..6 + seq.to_string().len()],
            seq.to_string().as_bytes()
        );
    }
    // Without tree_size, the proof is against the latest checkpoint (the reads above are
    // recorded, so under load a time-based checkpoint may have been signed since 13).
    let latest = async || {
        server
            .store
            .latest_checkpoint()
            .await
            .unwrap()
            .unwrap()
            .size
    };
    let before = latest().await;
    let p: Value = get("/api/access-log/4/proof".into())
        .await
        .json()
        .await
        .unwrap();
    let after = latest().await;
    let size = p["tree_size"].as_u64().unwrap();
    assert!(
        size >= 13 && (before..=after).contains(&size),
        "{size} not in {before}..={after}"
    );

    for first in 1..=13u64 {
        let q: Value = get(format!(
            "/api/access-log/consistency?first={first}&second=13"
        ))
        .await
        .json()
        .await
        .unwrap();
        let path: Vec<H> = q["path"].as_array().unwrap().iter().map(unhex).collect();
        let (r1, r2) = (unhex(&q["first_root"]), unhex(&q["second_root"]));
        assert_eq!(r2, root);
        assert!(
            rfc_verify_consistency(first, 13, r1, r2, &path),
            "consistency {first} -> 13"
        );
        if first < 13 {
            assert!(!rfc_verify_consistency(
                first,
                13,
                sha(&[b"other"]),
                r2,
                &path
            ));
        }
    }
}

async fn bad_proof_requests_get_clear_errors(server: &TestServer) {
    record(server, 5).await;
    let c = server.client();
    server.login(&c, "admin@example.com", "admin").await;
    let cases = [
        (
            "/api/access-log/0/proof",
            StatusCode::BAD_REQUEST,
            "not an entry number",
        ),
        (
            "/api/access-log/abc/proof",
            StatusCode::BAD_REQUEST,
            "not an entry number",
        ),
        (
            "/api/access-log/9/proof?tree_size=5",
            StatusCode::NOT_FOUND,
            "not in a tree of 5",
        ),
        (
            "/api/access-log/1/proof?tree_size=99",
            StatusCode::BAD_REQUEST,
            "larger than the log",
        ),
        (
            "/api/access-log/1/proof?tree_size=x",
            StatusCode::BAD_REQUEST,
            "",
        ),
        (
            "/api/access-log/consistency",
            StatusCode::BAD_REQUEST,
            "Give both sizes",
        ),
        (
            "/api/access-log/consistency?first=4&second=2",
            StatusCode::BAD_REQUEST,
            "0 < first",
        ),
        (
            "/api/access-log/consistency?first=0&second=2",
            StatusCode::BAD_REQUEST,
            "0 < first",
        ),
        (
            "/api/access-log/consistency?first=1&second=50",
            StatusCode::BAD_REQUEST,
            "larger than the log",
        ),
    ];
    for (path, status, text) in cases {
        let r = c.get(server.at(path)).send().await.unwrap();
        assert_eq!(r.status(), status, "{path}");
        let body = r.text().await.unwrap();
        assert!(body.contains(text), "{path}: {body}");
    }
}
