//! Proof verification as RFC 9162 §2.1.3.2 and §2.1.4.2 write it, kept apart from the plans
//! on purpose: a bug in how proofs are built must not be mirrored in how they are checked.

use super::{Hash, ProofError, node_hash};

/// Checks that `leaf_hash` is leaf `index` of the tree of `size` leaves whose root is `root`.
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    // Checked up front so that padded or truncated proofs get a clear error rather than a
    // root mismatch.
    let expected = inclusion_proof_len(index, size);
    if proof.len() != expected {
        return Err(ProofError::WrongProofLength {
            expected,
            found: proof.len(),
        });
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if sn == 0 {
            return Err(ProofError::WrongProofLength {
                expected,
                found: proof.len(),
            });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            // Skip the levels where this node is the right edge with no sibling.
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongProofLength {
            expected,
            found: proof.len(),
        });
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Checks that the tree of `first` leaves with root `first_root` is a prefix of the tree of
/// `second` leaves with root `second_root`.
///
/// `first` must be at least 1: every tree extends the empty one, so a proof from size 0
/// says nothing, and the RFC 6962 vectors expect it refused.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if first > second {
        return Err(ProofError::SizesOutOfOrder { first, second });
    }
    if first == 0 {
        return Err(ProofError::EmptyFirstTree);
    }
    if first == second {
        if !proof.is_empty() {
            return Err(ProofError::WrongProofLength {
                expected: 0,
                found: proof.len(),
            });
        }
        if first_root != second_root {
            return Err(ProofError::DifferentRootsSameSize { size: first });
        }
        return Ok(());
    }
    let expected = consistency_proof_len(first, second);
    let wrong_length = ProofError::WrongProofLength {
        expected,
        found: proof.len(),
    };
    if proof.len() != expected {
        return Err(wrong_length);
    }
    // When the first tree is a perfect subtree the proof omits its root, which the verifier
    // already holds: the RFC prepends it; borrowing it as the seed avoids the copy.
    let (seed, rest) = if first.is_power_of_two() {
        (first_root, proof)
    } else {
        match proof.split_first() {
            Some(split) => split,
            None => return Err(wrong_length),
        }
    };
    let (mut fn_, mut sn) = (first - 1, second - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (*seed, *seed);
    for c in rest {
        if sn == 0 {
            return Err(wrong_length);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(wrong_length);
    }
    if fr != *first_root {
        return Err(ProofError::FirstRootMismatch);
    }
    if sr != *second_root {
        return Err(ProofError::SecondRootMismatch);
    }
    Ok(())
}

/// The length of the audit path of `index` in a tree of `size` leaves (`index < size`): one
/// sibling per level below the point where the paths to `index` and to the last leaf part
/// (`inner`), plus one left sibling per set bit of `index` above it (`border`).
pub(super) fn inclusion_proof_len(index: u64, size: u64) -> usize {
    let inner = bit_len(index ^ (size - 1));
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner + border) as usize
}

/// The length of the consistency proof between sizes `0 < first < second`: the inclusion
/// path of the first tree's last perfect subtree in the second tree, plus that subtree's own
/// hash unless it is the whole first tree.
pub(super) fn consistency_proof_len(first: u64, second: u64) -> usize {
    let shift = first.trailing_zeros();
    let inner = bit_len((first - 1) ^ (second - 1));
    let border = (first - 1).checked_shr(inner).unwrap_or(0).count_ones();
    let seed = u32::from(!first.is_power_of_two());
    // inner > shift: the sizes differ above the first tree's low run of one bits.
    (seed + inner.saturating_sub(shift) + border) as usize
}

fn bit_len(x: u64) -> u32 {
    u64::BITS - x.leading_zeros()
}
