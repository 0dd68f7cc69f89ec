//! Range proofs: what it takes to check a run of consecutive leaves `[start, end)` against
//! the root of a tree of `size` leaves, without the rest of the tree. An archive bundle
//! carries its entries and such a proof, so the bundle alone and a signed checkpoint are
//! enough to check it offline.
//!
//! The proof is the hashes of the subtrees outside the range that the RFC 6962 recursion
//! MTH(D[0:size]) meets, in the order it meets them (left before right); the subtrees
//! inside the range are computed from the leaves. A range of one leaf gives its inclusion
//! proof's hashes (in the opposite order); the whole tree gives none.

use super::plan::largest_power_of_two_below;
use super::{Hash, ProofError, ProofPlan, node_hash, root_from_leaves};

/// The plan of the range proof for the leaves `[start, end)` of a tree of `size` leaves.
/// Needs `start < end <= size`.
pub fn range_plan(start: u64, end: u64, size: u64) -> Result<ProofPlan, ProofError> {
    check_range(start, end, size)?;
    let mut outside = Vec::new();
    outside_segments(0, size, (start, end), &mut outside);
    Ok(ProofPlan::from_ranges(outside))
}

/// The root of the tree of `size` leaves, from the leaves `[start, end)` (`leaves`, in
/// order) and the range proof `proof`. The caller compares it with a signed root.
pub fn root_from_range(
    start: u64,
    end: u64,
    size: u64,
    leaves: &[Hash],
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    check_range(start, end, size)?;
    let mut outside = Vec::new();
    outside_segments(0, size, (start, end), &mut outside);
    if proof.len() != outside.len() {
        return Err(ProofError::WrongProofLength {
            expected: outside.len(),
            found: proof.len(),
        });
    }
    if leaves.len() as u64 != end - start {
        return Err(ProofError::WrongLeafCount {
            expected: end - start,
            found: leaves.len() as u64,
        });
    }
    let mut proof = proof.iter();
    Ok(fold(0, size, (start, end), leaves, &mut proof))
}

fn check_range(start: u64, end: u64, size: u64) -> Result<(), ProofError> {
    if start >= end || end > size {
        return Err(ProofError::BadRange { start, end, size });
    }
    Ok(())
}

/// The segments of the MTH recursion over `[a, b)` that lie wholly outside `range`, in
/// the order the recursion meets them.
fn outside_segments(a: u64, b: u64, range: (u64, u64), out: &mut Vec<(u64, u64)>) {
    if b <= range.0 || a >= range.1 {
        out.push((a, b));
    } else if a < range.0 || b > range.1 {
        let split = a + largest_power_of_two_below(b - a);
        outside_segments(a, split, range, out);
        outside_segments(split, b, range, out);
    }
}

/// MTH(D[a:b]): outside segments take the next proof hash (the caller checked there are
/// exactly enough), inside ones fold their leaves.
fn fold<'a>(
    a: u64,
    b: u64,
    range: (u64, u64),
    leaves: &[Hash],
    proof: &mut impl Iterator<Item = &'a Hash>,
) -> Hash {
    if b <= range.0 || a >= range.1 {
        proof.next().copied().unwrap_or_default()
    } else if a >= range.0 && b <= range.1 {
        // Within `leaves`: `range` is what they cover.
        root_from_leaves(&leaves[(a - range.0) as usize..(b - range.0) as usize])
    } else {
        let split = a + largest_power_of_two_below(b - a);
        let left = fold(a, split, range, leaves, proof);
        let right = fold(split, b, range, leaves, proof);
        node_hash(&left, &right)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{Frontier, inclusion_plan, leaf_hash};

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    /// Every subtree hash of `[a, b)` straight from the leaves: what a store would fetch.
    fn assemble(plan: &ProofPlan, all: &[Hash]) -> Vec<Hash> {
        plan.elements()
            .iter()
            .map(|nodes| {
                let mut acc: Option<Hash> = None;
                for id in nodes.iter().rev() {
                    let lo = (id.index << id.level) as usize;
                    let hi = ((id.index + 1) << id.level) as usize;
                    let h = root_from_leaves(&all[lo..hi]);
                    acc = Some(match acc {
                        None => h,
                        Some(r) => node_hash(&h, &r),
                    });
                }
                acc.unwrap_or_default()
            })
            .collect()
    }

    #[test]
    fn every_range_of_small_trees_gives_the_root() {
        for size in 1..=33u64 {
            let all = leaves(size);
            let root = root_from_leaves(&all);
            for start in 0..size {
                for end in start + 1..=size {
                    let plan = range_plan(start, end, size).unwrap();
                    let proof = assemble(&plan, &all);
                    let got = root_from_range(
                        start,
                        end,
                        size,
                        &all[start as usize..end as usize],
                        &proof,
                    )
                    .unwrap();
                    assert_eq!(got, root, "size {size}, [{start}, {end})");
                }
            }
        }
    }

    #[test]
    fn a_single_leaf_needs_as_many_hashes_as_its_inclusion_proof() {
        for size in 1..=40u64 {
            for i in 0..size {
                assert_eq!(
                    range_plan(i, i + 1, size).unwrap().len(),
                    inclusion_plan(i, size).unwrap().len()
                );
            }
        }
    }

    #[test]
    fn a_changed_or_missing_leaf_gives_another_root_or_an_error() {
        let all = leaves(20);
        let root = {
            let mut f = Frontier::new();
            all.iter().for_each(|l| f.append(*l));
            f.root()
        };
        let proof = assemble(&range_plan(5, 12, 20).unwrap(), &all);
        let mut changed = all[5..12].to_vec();
        changed[3][0] ^= 1;
        assert_ne!(root_from_range(5, 12, 20, &changed, &proof).unwrap(), root);
        assert!(matches!(
            root_from_range(5, 12, 20, &all[5..11], &proof),
            Err(ProofError::WrongLeafCount { .. })
        ));
        assert!(matches!(
            root_from_range(5, 12, 20, &all[5..12], &proof[1..]),
            Err(ProofError::WrongProofLength { .. })
        ));
        assert!(matches!(
            range_plan(12, 5, 20),
            Err(ProofError::BadRange { .. })
        ));
        assert!(matches!(
            range_plan(5, 21, 20),
            Err(ProofError::BadRange { .. })
        ));
    }
}
