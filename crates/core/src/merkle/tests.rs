//! Checks the frontier, the plans and the verifiers against a textbook RFC 6962
//! implementation (recursive MTH, PATH and PROOF over the leaf list), on trees of every
//! small size and on random larger ones.

use std::collections::HashMap;

use proptest::prelude::*;

use super::verify::{consistency_proof_len, inclusion_proof_len};
use super::*;

// --- The textbook, straight from RFC 6962 §2.1 ----------------------------------------

fn k(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => empty_root(),
        1 => d[0],
        n => node_hash(&mth(&d[..k(n)]), &mth(&d[k(n)..])),
    }
}

fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
    let n = d.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = k(n);
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

fn subproof(m: usize, d: &[Hash], whole: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if whole { Vec::new() } else { vec![mth(d)] };
    }
    let k = k(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], whole);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

fn proof(m: usize, d: &[Hash]) -> Vec<Hash> {
    subproof(m, d, true)
}

// --- Fixtures ----------------------------------------------------------------------------

fn leaves(n: usize, seed: u64) -> Vec<Hash> {
    (0..n as u64)
        .map(|i| leaf_hash(&[seed.to_be_bytes(), i.to_be_bytes()].concat()))
        .collect()
}

/// A tree grown through the frontier, keeping what the store would keep.
struct Grown {
    leaves: Vec<Hash>,
    /// roots[n] is the frontier's root after n leaves.
    roots: Vec<Hash>,
    nodes: HashMap<NodeId, Hash>,
}

fn grow(leaves: Vec<Hash>) -> Grown {
    let mut frontier = Frontier::new();
    let mut roots = vec![frontier.root()];
    let mut nodes = HashMap::new();
    for leaf in &leaves {
        for (id, hash) in frontier.push(*leaf) {
            assert!(nodes.insert(id, hash).is_none(), "{id:?} emitted twice");
        }
        roots.push(frontier.root());
    }
    Grown {
        leaves,
        roots,
        nodes,
    }
}

impl Grown {
    fn assemble(&self, plan: &ProofPlan) -> Vec<Hash> {
        match plan.assemble(|id| self.nodes.get(&id).copied()) {
            Ok(proof) => proof,
            Err(e) => panic!("assembling {plan:?}: {e}"),
        }
    }

    fn inclusion(&self, index: u64, size: u64) -> Vec<Hash> {
        match inclusion_plan(index, size) {
            Ok(plan) => self.assemble(&plan),
            Err(e) => panic!("inclusion_plan({index}, {size}): {e}"),
        }
    }

    fn consistency(&self, first: u64, second: u64) -> Vec<Hash> {
        match consistency_plan(first, second) {
            Ok(plan) => self.assemble(&plan),
            Err(e) => panic!("consistency_plan({first}, {second}): {e}"),
        }
    }
}

fn flip(proof: &[Hash], element: usize, bit: usize) -> Vec<Hash> {
    let mut proof = proof.to_vec();
    proof[element][bit / 8 % HASH_LEN] ^= 1 << (bit % 8);
    proof
}

// --- The checks, shared by the exhaustive tests and the proptests --------------------------

fn check_frontier(g: &Grown) {
    let n = g.leaves.len();
    for size in 0..=n {
        assert_eq!(g.roots[size], mth(&g.leaves[..size]), "root of size {size}");
        assert_eq!(g.roots[size], root_from_leaves(&g.leaves[..size]));
    }
    // Every perfect subtree of the final tree was emitted, with its textbook hash, and
    // nothing else was.
    let mut expected = 0;
    for level in 0..=u8::try_from(n.max(1).ilog2()).unwrap_or(u8::MAX) {
        let width = 1usize << level;
        for index in 0..n / width {
            let id = NodeId::new(level, index as u64);
            let range = index * width..(index + 1) * width;
            assert_eq!(g.nodes.get(&id), Some(&mth(&g.leaves[range])), "{id:?}");
            expected += 1;
        }
    }
    assert_eq!(g.nodes.len(), expected);
}

fn check_inclusion(g: &Grown, index: usize, size: usize, bit: usize) {
    let (i, s) = (index as u64, size as u64);
    let leaf = &g.leaves[index];
    let root = &g.roots[size];
    let p = g.inclusion(i, s);
    assert_eq!(
        p,
        path(index, &g.leaves[..size]),
        "inclusion {index} in {size}"
    );
    assert_eq!(p.len(), inclusion_proof_len(i, s));
    assert_eq!(verify_inclusion(leaf, i, s, &p, root), Ok(()));

    for e in 0..p.len() {
        assert!(verify_inclusion(leaf, i, s, &flip(&p, e, bit), root).is_err());
    }
    let mut wrong_root = *root;
    wrong_root[bit / 8 % HASH_LEN] ^= 1 << (bit % 8);
    assert!(verify_inclusion(leaf, i, s, &p, &wrong_root).is_err());
    let other = &g.leaves[(index + 1) % size];
    if size > 1 {
        assert!(verify_inclusion(other, i, s, &p, root).is_err());
    }
    for wrong in [i.wrapping_sub(1), i + 1, i ^ 1, i ^ 2, s, s + i] {
        if wrong != i {
            assert!(
                verify_inclusion(leaf, wrong, s, &p, root).is_err(),
                "index {wrong}"
            );
        }
    }
    // A wrong size is tested against that size's real root: the same root with another
    // size is what a checkpoint signature pins down, not the proof.
    for wrong in [s - 1, s + 1, s * 2, s / 2] {
        if wrong != s && wrong > i && (wrong as usize) < g.roots.len() {
            let r = &g.roots[wrong as usize];
            assert!(
                verify_inclusion(leaf, i, wrong, &p, r).is_err(),
                "size {wrong}"
            );
        }
    }
    let mut padded = p.clone();
    padded.push(*leaf);
    assert_eq!(
        verify_inclusion(leaf, i, s, &padded, root),
        Err(ProofError::WrongProofLength {
            expected: p.len(),
            found: p.len() + 1
        })
    );
    if !p.is_empty() {
        assert!(verify_inclusion(leaf, i, s, &p[1..], root).is_err());
        assert!(verify_inclusion(leaf, i, s, &p[..p.len() - 1], root).is_err());
    }
}

fn check_consistency(g: &Grown, first: usize, second: usize, bit: usize) {
    let (f, s) = (first as u64, second as u64);
    let (r1, r2) = (&g.roots[first], &g.roots[second]);
    let p = g.consistency(f, s);
    assert_eq!(
        p,
        proof(first, &g.leaves[..second]),
        "consistency {first} to {second}"
    );
    if f < s {
        assert_eq!(p.len(), consistency_proof_len(f, s));
    }
    assert_eq!(verify_consistency(f, s, r1, r2, &p), Ok(()));

    for e in 0..p.len() {
        assert!(verify_consistency(f, s, r1, r2, &flip(&p, e, bit)).is_err());
    }
    let mut bad = *r1;
    bad[bit / 8 % HASH_LEN] ^= 1 << (bit % 8);
    assert!(verify_consistency(f, s, &bad, r2, &p).is_err());
    let mut bad = *r2;
    bad[bit / 8 % HASH_LEN] ^= 1 << (bit % 8);
    assert!(verify_consistency(f, s, r1, &bad, &p).is_err());
    if f < s {
        assert!(
            verify_consistency(f, s, r2, r1, &p).is_err(),
            "swapped roots"
        );
    }
    let n = g.roots.len() as u64;
    for wrong in [f - 1, f + 1, f * 2, f / 2] {
        if wrong != f && wrong < n {
            let r = &g.roots[wrong as usize];
            assert!(
                verify_consistency(wrong, s, r, r2, &p).is_err(),
                "first {wrong}"
            );
        }
    }
    for wrong in [s - 1, s + 1, s * 2, s / 2] {
        if wrong != s && wrong < n {
            let r = &g.roots[wrong as usize];
            assert!(
                verify_consistency(f, wrong, r1, r, &p).is_err(),
                "second {wrong}"
            );
        }
    }
    let mut padded = p.clone();
    padded.push(*r1);
    assert!(verify_consistency(f, s, r1, r2, &padded).is_err());
    let mut preceded = vec![*r1];
    preceded.extend_from_slice(&p);
    assert!(verify_consistency(f, s, r1, r2, &preceded).is_err());
    if !p.is_empty() {
        assert!(verify_consistency(f, s, r1, r2, &p[1..]).is_err());
        assert!(verify_consistency(f, s, r1, r2, &p[..p.len() - 1]).is_err());
    }
}

fn check_frontier_storage(g: &Grown) {
    let mut frontier = Frontier::new();
    for (n, leaf) in g.leaves.iter().enumerate() {
        frontier.append(*leaf);
        let size = n as u64 + 1;
        let stored: Option<Vec<Hash>> = Frontier::node_ids(size)
            .into_iter()
            .map(|id| g.nodes.get(&id).copied())
            .collect();
        let rebuilt = Frontier::from_nodes(size, stored.unwrap_or_default());
        assert_eq!(rebuilt.as_ref(), Ok(&frontier), "from_nodes({size})");
        assert_eq!(
            Frontier::from_bytes(size, &frontier.to_bytes()),
            Ok(frontier.clone())
        );
        let root = root_plan(size).assemble(|id| g.nodes.get(&id).copied());
        assert_eq!(root, Ok(vec![frontier.root()]));
    }
}

// --- Tests -------------------------------------------------------------------------------

#[test]
fn hashes_follow_rfc_6962() {
    assert_eq!(
        hex::encode(empty_root()),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    // SHA-256(0x00), the hash of the empty leaf in the RFC 6962 test tree.
    assert_eq!(
        hex::encode(leaf_hash(b"")),
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    );
    let (l, r) = (leaf_hash(b"l"), leaf_hash(b"r"));
    let mut preimage = vec![1u8];
    preimage.extend_from_slice(&l);
    preimage.extend_from_slice(&r);
    assert_eq!(
        node_hash(&l, &r),
        <[u8; 32]>::from(sha2::Sha256::digest(&preimage))
    );
    assert_ne!(node_hash(&l, &r), node_hash(&r, &l));
    assert_eq!(root_from_leaves(&[]), empty_root());
    assert_eq!(root_from_leaves(&[l]), l);
}

#[test]
fn every_small_tree_agrees_with_the_textbook() {
    let g = grow(leaves(40, 7));
    check_frontier(&g);
    check_frontier_storage(&g);
    for size in 1..=40 {
        for index in 0..size {
            check_inclusion(&g, index, size, index * 31 + size);
        }
        for first in 1..=size {
            check_consistency(&g, first, size, first * 17 + size);
        }
    }
}

#[test]
fn push_reports_completed_nodes_bottom_up() {
    let mut frontier = Frontier::new();
    let l: Vec<Hash> = leaves(8, 1);
    assert_eq!(frontier.push(l[0]), vec![(NodeId::leaf(0), l[0])]);
    let n01 = node_hash(&l[0], &l[1]);
    assert_eq!(
        frontier.push(l[1]),
        vec![(NodeId::leaf(1), l[1]), (NodeId::new(1, 0), n01)]
    );
    assert_eq!(frontier.push(l[2]), vec![(NodeId::leaf(2), l[2])]);
    let n23 = node_hash(&l[2], &l[3]);
    let levels: Vec<NodeId> = frontier.push(l[3]).into_iter().map(|(id, _)| id).collect();
    assert_eq!(
        levels,
        [NodeId::leaf(3), NodeId::new(1, 1), NodeId::new(2, 0)]
    );
    assert_eq!(frontier.nodes(), [node_hash(&n01, &n23)]);
    assert_eq!(frontier.size(), 4);
}

#[test]
fn node_ids_are_the_binary_decomposition() {
    assert_eq!(Frontier::node_ids(0), []);
    assert_eq!(Frontier::node_ids(1), [NodeId::leaf(0)]);
    // 13 = 8 + 4 + 1: [0, 8), [8, 12), [12, 13).
    assert_eq!(
        Frontier::node_ids(13),
        [NodeId::new(3, 0), NodeId::new(2, 2), NodeId::leaf(12)]
    );
    assert_eq!(Frontier::node_ids(u64::MAX).len(), 64);
    assert_eq!(Frontier::node_ids(u64::MAX)[0], NodeId::new(63, 0));
}

#[test]
fn plans_name_the_right_nodes() {
    // Leaf 5 of 7: sibling leaf 4, then [6, 7), then [0, 4).
    let plan = inclusion_plan(5, 7).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        plan.elements(),
        [
            vec![NodeId::leaf(4)],
            vec![NodeId::leaf(6)],
            vec![NodeId::new(2, 0)]
        ]
    );
    // Leaf 0 of 7: [1, 2), [2, 4), then [4, 7) = [4, 6) + [6, 7).
    let plan = inclusion_plan(0, 7).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.elements()[2], [NodeId::new(1, 2), NodeId::leaf(6)]);
    assert_eq!(
        plan.node_ids(),
        [
            NodeId::leaf(1),
            NodeId::leaf(6),
            NodeId::new(1, 1),
            NodeId::new(1, 2)
        ]
    );
    assert_eq!(
        consistency_plan(3, 3).map(|p| p.is_empty()),
        Ok(true),
        "equal sizes need no proof"
    );
    assert_eq!(
        root_plan(6).elements(),
        [vec![NodeId::new(2, 0), NodeId::new(1, 2)]]
    );
    assert_eq!(root_plan(0).assemble(|_| None), Ok(vec![empty_root()]));
}

#[test]
fn plans_refuse_impossible_requests() {
    assert_eq!(
        inclusion_plan(3, 3),
        Err(ProofError::IndexOutOfRange { index: 3, size: 3 })
    );
    assert_eq!(
        inclusion_plan(0, 0),
        Err(ProofError::IndexOutOfRange { index: 0, size: 0 })
    );
    assert_eq!(consistency_plan(0, 5), Err(ProofError::EmptyFirstTree));
    assert_eq!(consistency_plan(0, 0), Err(ProofError::EmptyFirstTree));
    assert_eq!(
        consistency_plan(6, 5),
        Err(ProofError::SizesOutOfOrder {
            first: 6,
            second: 5
        })
    );
}

#[test]
fn plans_work_at_the_largest_sizes() {
    let big = u64::MAX;
    let plan = inclusion_plan(big - 1, big).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.len(), inclusion_proof_len(big - 1, big));
    let plan = consistency_plan(big - 2, big).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.len(), consistency_proof_len(big - 2, big));
    assert_eq!(root_plan(big).elements()[0], Frontier::node_ids(big));
}

#[test]
fn a_missing_node_is_named() {
    let g = grow(leaves(6, 3));
    let plan = inclusion_plan(1, 6).unwrap_or_else(|e| panic!("{e}"));
    let missing = NodeId::new(1, 1);
    let got = plan.assemble(|id| (id != missing).then(|| g.nodes[&id]));
    assert_eq!(got, Err(ProofError::MissingNode(missing)));
    let message = ProofError::MissingNode(missing).to_string();
    assert!(message.contains("level 1, index 1"), "{message}");
}

#[test]
fn verifiers_explain_what_is_wrong() {
    let g = grow(leaves(8, 5));
    let (r3, r8) = (g.roots[3], g.roots[8]);
    let p = g.consistency(3, 8);
    assert_eq!(
        verify_consistency(3, 8, &r3, &r8, &p[1..]),
        Err(ProofError::WrongProofLength {
            expected: p.len(),
            found: p.len() - 1
        })
    );
    assert_eq!(
        verify_consistency(3, 8, &r8, &r8, &p),
        Err(ProofError::FirstRootMismatch)
    );
    assert_eq!(
        verify_consistency(3, 8, &r3, &r3, &p),
        Err(ProofError::SecondRootMismatch)
    );
    assert_eq!(
        verify_consistency(8, 8, &r3, &r8, &[]),
        Err(ProofError::DifferentRootsSameSize { size: 8 })
    );
    assert_eq!(
        verify_consistency(8, 8, &r8, &r8, &[r8]),
        Err(ProofError::WrongProofLength {
            expected: 0,
            found: 1
        })
    );
    assert_eq!(
        verify_consistency(0, 0, &r8, &r8, &[]),
        Err(ProofError::EmptyFirstTree)
    );
    assert_eq!(
        verify_inclusion(&g.leaves[2], 2, 8, &g.inclusion(3, 8), &r8),
        Err(ProofError::RootMismatch)
    );
    assert_eq!(
        verify_inclusion(&g.leaves[0], 0, 0, &[], &empty_root()),
        Err(ProofError::IndexOutOfRange { index: 0, size: 0 })
    );
}

#[test]
fn malformed_frontier_bytes_are_errors() {
    let mut frontier = Frontier::new();
    for leaf in leaves(5, 9) {
        frontier.append(leaf);
    }
    let bytes = frontier.to_bytes();
    assert_eq!(bytes.len(), 8 + 2 * HASH_LEN);
    assert_eq!(
        Frontier::from_bytes(5, &bytes[..bytes.len() - 1]),
        Err(FrontierError::WrongLength {
            size: 5,
            expected: bytes.len(),
            found: bytes.len() - 1
        })
    );
    // 6 has as many set bits as 5, so only the stored size tells them apart.
    assert_eq!(
        Frontier::from_bytes(6, &bytes),
        Err(FrontierError::SizeMismatch {
            expected: 6,
            found: 5
        })
    );
    assert!(Frontier::from_bytes(0, &[]).is_err());
    assert_eq!(
        Frontier::from_bytes(0, &Frontier::new().to_bytes()),
        Ok(Frontier::new())
    );
    assert_eq!(
        Frontier::from_nodes(5, vec![empty_root()]),
        Err(FrontierError::WrongNodeCount {
            size: 5,
            expected: 2,
            found: 1
        })
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn random_trees_agree_with_the_textbook(
        n in 1usize..300,
        seed in any::<u64>(),
        picks in proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 8),
        bit in 0usize..256,
    ) {
        let g = grow(leaves(n, seed));
        check_frontier(&g);
        check_frontier_storage(&g);
        for index in 0..n {
            check_inclusion(&g, index, n, bit + index);
        }
        for first in 1..=n {
            check_consistency(&g, first, n, bit + first);
        }
        // Proofs into earlier trees, as an auditor holding an old checkpoint asks for.
        for (a, b) in picks {
            let size = b.index(n) + 1;
            check_inclusion(&g, a.index(size), size, bit);
            check_consistency(&g, a.index(size) + 1, size, bit);
        }
    }

    #[test]
    fn frontier_bytes_never_panic(size in any::<u64>(), bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(frontier) = Frontier::from_bytes(size, &bytes) {
            prop_assert_eq!(frontier.size(), size);
            prop_assert_eq!(frontier.to_bytes(), bytes);
        }
    }

    #[test]
    fn frontier_bytes_round_trip(size in any::<u64>(), seed in any::<u64>()) {
        let nodes = leaves(size.count_ones() as usize, seed);
        let frontier = Frontier::from_nodes(size, nodes);
        prop_assert!(frontier.is_ok());
        let frontier = frontier.unwrap_or_default();
        let bytes = frontier.to_bytes();
        prop_assert_eq!(Frontier::from_bytes(size, &bytes), Ok(frontier));
        for cut in [0, 1, bytes.len() / 2, bytes.len() - 1] {
            prop_assert!(Frontier::from_bytes(size, &bytes[..cut]).is_err());
        }
        let mut longer = bytes.clone();
        longer.push(0);
        prop_assert!(Frontier::from_bytes(size, &longer).is_err());
        // Same number of nodes, so only the stored size can tell them apart.
        let other = size.rotate_left(1);
        if other != size {
            prop_assert_eq!(
                Frontier::from_bytes(other, &bytes),
                Err(FrontierError::SizeMismatch { expected: other, found: size })
            );
        }
    }
}
