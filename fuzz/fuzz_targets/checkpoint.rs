//! The signed-note / checkpoint parsers: checkpoint bodies, verifier keys, private key
//! texts, and whole signed notes, all of which arrive as text from outside (witnesses,
//! monitors, key files).
//!
//! Properties: nothing panics; each parser is strict, so what it accepts is exactly what
//! the matching writer would produce (parse then write gives the text back); a note a
//! known key verifies yields the checkpoint that key signed, however the rest of the note
//! was edited.
#![no_main]

use std::sync::OnceLock;

use accesslog_core::checkpoint::{Checkpoint, LogSigner, NoteVerifier};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

const ORIGIN: &str = "acme.example/access-log";

fn signer() -> &'static LogSigner {
    static SIGNER: OnceLock<LogSigner> = OnceLock::new();
    SIGNER.get_or_init(|| LogSigner::from_seed(ORIGIN, [7; 32]).expect("a valid name"))
}

#[derive(Arbitrary, Debug)]
enum Input {
    /// Text for every parser.
    Text(String),
    /// A checkpoint signed by the known key, then edited.
    Edited {
        size: u64,
        root: [u8; 32],
        edits: Vec<(u16, Edit)>,
    },
    /// Sign and verify any checkpoint.
    Sign {
        origin: String,
        size: u64,
        root: [u8; 32],
        seed: [u8; 32],
    },
}

#[derive(Arbitrary, Debug)]
enum Edit {
    Insert(String),
    Remove(u8),
    AppendSignature(String, Vec<u8>),
}

fn parse_all(text: &str) {
    if let Ok(cp) = Checkpoint::parse_body(text) {
        assert_eq!(cp.body(), text, "parse_body accepted a non-canonical body");
    }
    if let Ok(v) = NoteVerifier::from_verifier_key(text) {
        assert_eq!(
            v.verifier_key(),
            text.trim_end(),
            "verifier key is not canonical"
        );
    }
    if let Ok(s) = LogSigner::from_private_key_text(text) {
        assert_eq!(
            s.to_private_key_text(),
            text.trim_end(),
            "private key is not canonical"
        );
    }
    if let Ok(cp) = signer().verifier().verify(text) {
        // Only a note the key really signed verifies: the body must be ours.
        assert!(text.starts_with(&cp.body()), "{cp:?} from {text:?}");
    }
}

fn char_floor(s: &str, at: usize) -> usize {
    let mut at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fuzz_target!(|input: Input| {
    match input {
        Input::Text(text) => parse_all(&text),
        Input::Edited { size, root, edits } => {
            let cp = Checkpoint::new(ORIGIN, size, root).expect("a valid origin");
            let mut note = signer().sign(&cp);
            assert_eq!(signer().verifier().verify(&note), Ok(cp.clone()));
            for (at, edit) in edits {
                let at = char_floor(&note, usize::from(at));
                match edit {
                    Edit::Insert(s) => note.insert_str(at, &s),
                    Edit::Remove(n) => {
                        let end = char_floor(&note, at + usize::from(n));
                        note.replace_range(at..end, "");
                    }
                    Edit::AppendSignature(name, blob) => {
                        use base64::Engine;
                        let b64 = base64::engine::general_purpose::STANDARD.encode(blob);
                        note.push_str(&format!("\u{2014} {name} {b64}\n"));
                    }
                }
            }
            if let Ok(got) = signer().verifier().verify(&note) {
                assert_eq!(got, cp, "an edited note verified as another checkpoint");
            }
            parse_all(&note);
        }
        Input::Sign {
            origin,
            size,
            root,
            seed,
        } => {
            let Ok(cp) = Checkpoint::new(&origin, size, root) else {
                return;
            };
            assert_eq!(Checkpoint::parse_body(&cp.body()), Ok(cp.clone()));
            let Ok(key) = LogSigner::from_seed(&origin, seed) else {
                return;
            };
            let note = key.sign(&cp);
            assert_eq!(key.verifier().verify(&note), Ok(cp.clone()));
            let verifier = NoteVerifier::from_verifier_key(&key.verifier_key());
            // A weak key is refused; any other round-trips.
            if let Ok(v) = verifier {
                assert_eq!(v.verify(&note), Ok(cp));
            }
            let again = LogSigner::from_private_key_text(&key.to_private_key_text())
                .expect("a private key text reads back");
            assert_eq!(again.verifier_key(), key.verifier_key());
        }
    }
});
