//! The RFC 6962 proof vectors of transparency-dev/merkle (in tests/data/rfc6962): every
//! case must get its expected verdict from our verifiers, and every accepted proof over the
//! standard 8-leaf test tree must also be the one our proof plans assemble.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use accesslog_core::merkle::{
    Frontier, Hash, NodeId, consistency_plan, inclusion_plan, leaf_hash, root_from_leaves,
    verify_consistency, verify_inclusion,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The 196 files of the vector set; a smaller count means the folder was not found whole.
const CASES: usize = 196;

/// The leaves of the RFC 6962 test tree the vectors are built on.
const RFC_LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];
const RFC_ROOT: &str = "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=";

/// The vectors, kept in the crate (see tests/data/README.md).
fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rfc6962")
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "json") {
            out.push(path);
        }
    }
}

/// A hash field as the vectors give it. Go's verifier compares roots byte for byte and
/// hashes whatever proof bytes it gets, so a value that is not 32 bytes (empty garbage, or
/// a "don't care" root) is mapped to a stand-in of our 32-byte type that cannot collide with
/// a real hash: equal inputs stay equal, and garbage in a proof still lengthens it.
#[derive(Clone, Copy, PartialEq)]
struct Field {
    hash: Hash,
    well_formed: bool,
}

fn field(case: &Value, name: &str) -> Field {
    let text = case[name].as_str().unwrap_or("");
    decode(text)
}

fn decode(text: &str) -> Field {
    let bytes = STANDARD
        .decode(text)
        .unwrap_or_else(|e| panic!("{text:?} is not base64: {e}"));
    match Hash::try_from(bytes.as_slice()) {
        Ok(hash) => Field {
            hash,
            well_formed: true,
        },
        Err(_) => Field {
            hash: Sha256::new()
                .chain_update(b"stand-in for a malformed hash:")
                .chain_update(&bytes)
                .finalize()
                .into(),
            well_formed: false,
        },
    }
}

fn proof(case: &Value) -> Vec<Hash> {
    // `null` and a missing field both mean an empty proof.
    case["proof"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| decode(item.as_str().unwrap_or("")).hash)
                .collect()
        })
        .unwrap_or_default()
}

fn size(case: &Value, name: &str) -> u64 {
    case[name]
        .as_u64()
        .unwrap_or_else(|| panic!("{name} is missing or not a size"))
}

/// The standard tree and every perfect node of it, as the store would hold them.
struct RfcTree {
    leaves: Vec<Hash>,
    nodes: HashMap<NodeId, Hash>,
}

fn rfc_tree() -> RfcTree {
    let leaves: Vec<Hash> = RFC_LEAVES
        .iter()
        .map(|hex| leaf_hash(&hex::decode(hex).unwrap_or_else(|e| panic!("{hex}: {e}"))))
        .collect();
    let mut frontier = Frontier::new();
    let nodes = leaves
        .iter()
        .flat_map(|leaf| frontier.push(*leaf))
        .collect();
    RfcTree { leaves, nodes }
}

impl RfcTree {
    fn root(&self, size: u64) -> Option<Hash> {
        let prefix = self.leaves.get(..usize::try_from(size).ok()?)?;
        Some(root_from_leaves(prefix))
    }

    fn get(&self, id: NodeId) -> Option<Hash> {
        self.nodes.get(&id).copied()
    }
}

/// Checks one inclusion case; returns whether its proof was also rebuilt from the plan.
fn inclusion_case(case: &Value, tree: &RfcTree) -> (bool, bool) {
    let (index, size) = (size(case, "leafIdx"), size(case, "treeSize"));
    let (leaf, root, proof) = (field(case, "leafHash"), field(case, "root"), proof(case));
    // Our verifier takes the leaf hash as a 32-byte hash; Go refuses any other length too.
    let accepted =
        leaf.well_formed && verify_inclusion(&leaf.hash, index, size, &proof, &root.hash).is_ok();
    let from_tree = accepted
        && tree.root(size) == Some(root.hash)
        && usize::try_from(index).is_ok_and(|i| tree.leaves[i] == leaf.hash);
    if from_tree {
        let plan = inclusion_plan(index, size).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.assemble(|id| tree.get(id)), Ok(proof), "plan differs");
    }
    (accepted, from_tree)
}

fn consistency_case(case: &Value, tree: &RfcTree) -> (bool, bool) {
    let (first, second) = (size(case, "size1"), size(case, "size2"));
    let (root1, root2, proof) = (field(case, "root1"), field(case, "root2"), proof(case));
    let accepted = verify_consistency(first, second, &root1.hash, &root2.hash, &proof).is_ok();
    let from_tree =
        accepted && tree.root(first) == Some(root1.hash) && tree.root(second) == Some(root2.hash);
    if from_tree {
        let plan = consistency_plan(first, second).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.assemble(|id| tree.get(id)), Ok(proof), "plan differs");
    }
    (accepted, from_tree)
}

#[test]
fn the_rfc_test_tree_has_the_published_root() {
    let tree = rfc_tree();
    assert_eq!(STANDARD.encode(root_from_leaves(&tree.leaves)), RFC_ROOT);
    assert_eq!(
        tree.root(8).map(|root| STANDARD.encode(root)).as_deref(),
        Some(RFC_ROOT)
    );
    assert_eq!(tree.nodes.len(), 8 + 4 + 2 + 1);
}

#[test]
fn every_vector_gets_its_verdict() {
    let dir = vectors_dir();
    let tree = rfc_tree();
    let mut files = Vec::new();
    json_files(&dir, &mut files);
    files.sort();

    let (mut checked, mut accepted, mut rebuilt) = (0, 0, 0);
    let mut wrong = Vec::new();
    for path in &files {
        let name = path
            .strip_prefix(&dir)
            .unwrap_or(path)
            .display()
            .to_string();
        let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let case: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let want_err = case["wantErr"]
            .as_bool()
            .unwrap_or_else(|| panic!("{name}: wantErr is missing"));
        let (ok, from_tree) = if name.starts_with("inclusion") {
            inclusion_case(&case, &tree)
        } else if name.starts_with("consistency") {
            consistency_case(&case, &tree)
        } else {
            panic!("{name}: neither an inclusion nor a consistency case");
        };
        if ok == want_err {
            wrong.push(format!("{name}: wantErr {want_err}, but accepted = {ok}"));
        }
        checked += 1;
        accepted += usize::from(ok);
        rebuilt += usize::from(from_tree);
    }
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
    assert_eq!(checked, CASES, "vector cases checked in {}", dir.display());
    assert_eq!(accepted, 12, "cases that must verify");
    // Every happy path but the two on other trees (a lone "matching root and leaf", and
    // equal-size "don't care" roots) is over the RFC tree, and its proof is our plan's.
    assert_eq!(rebuilt, 10, "accepted proofs rebuilt from plans");
}
