//! Proofs built from stored perfect subtree nodes. Every hash in an RFC 6962 proof is the
//! root of some subtree `[a, b)`; a plan names the perfect nodes each one folds from, so an
//! async store can fetch them all in one query and then assemble the proof without IO.

use super::{Hash, NodeId, ProofError, empty_root, node_hash};

/// The perfect nodes behind each hash of a proof (or of a root), in proof order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofPlan {
    elements: Vec<Vec<NodeId>>,
}

impl ProofPlan {
    /// The number of hashes the assembled proof will have.
    pub fn len(&self) -> usize {
        self.elements.len()
    }

    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }

    /// For each proof hash, the perfect nodes left to right; the hash is their right-to-left
    /// fold with [`node_hash`].
    pub fn elements(&self) -> &[Vec<NodeId>] {
        &self.elements
    }

    /// Every node the plan needs, sorted and without duplicates: what to fetch.
    pub fn node_ids(&self) -> Vec<NodeId> {
        let mut ids: Vec<NodeId> = self.elements.iter().flatten().copied().collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Builds the proof from fetched nodes. `get` returns `None` for a node the store did not
    /// have, which is reported as [`ProofError::MissingNode`].
    ///
    /// An element with no nodes (only `root_plan(0)` has one) gives [`empty_root`].
    pub fn assemble(
        &self,
        mut get: impl FnMut(NodeId) -> Option<Hash>,
    ) -> Result<Vec<Hash>, ProofError> {
        self.elements
            .iter()
            .map(|element| {
                let mut acc: Option<Hash> = None;
                for &id in element.iter().rev() {
                    let hash = get(id).ok_or(ProofError::MissingNode(id))?;
                    acc = Some(match acc {
                        None => hash,
                        Some(right) => node_hash(&hash, &right),
                    });
                }
                Ok(acc.unwrap_or_else(empty_root))
            })
            .collect()
    }

    pub(super) fn from_ranges(ranges: impl IntoIterator<Item = (u64, u64)>) -> Self {
        Self {
            elements: ranges
                .into_iter()
                .map(|(start, end)| perfect_nodes(start, end))
                .collect(),
        }
    }
}

/// The plan of the audit path of leaf `index` in a tree of `size` leaves (RFC 6962 §2.1.1),
/// deepest sibling first.
pub fn inclusion_plan(index: u64, size: u64) -> Result<ProofPlan, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    // The recursion of PATH(m, D[n]) unrolled: walk down from the root, noting the sibling
    // subtree at each split; the proof lists them from the bottom up.
    let mut ranges = Vec::new();
    let (mut start, mut end) = (0, size);
    while end - start > 1 {
        let split = start + largest_power_of_two_below(end - start);
        if index < split {
            ranges.push((split, end));
            end = split;
        } else {
            ranges.push((start, split));
            start = split;
        }
    }
    ranges.reverse();
    Ok(ProofPlan::from_ranges(ranges))
}

/// The plan of the consistency proof between the trees of `first` and `second` leaves
/// (RFC 6962 §2.1.2). Needs `0 < first <= second`; equal sizes give an empty plan.
pub fn consistency_plan(first: u64, second: u64) -> Result<ProofPlan, ProofError> {
    if first > second {
        return Err(ProofError::SizesOutOfOrder { first, second });
    }
    if first == 0 {
        return Err(ProofError::EmptyFirstTree);
    }
    // SUBPROOF(m, D[start:end], whole) unrolled; `whole` stays true while the first tree is
    // a left prefix of the current subtree, whose hash the verifier then already has.
    let mut ranges = Vec::new();
    let (mut start, mut end, mut whole) = (0, second, true);
    while first != end {
        let split = start + largest_power_of_two_below(end - start);
        if first <= split {
            ranges.push((split, end));
            end = split;
        } else {
            ranges.push((start, split));
            start = split;
            whole = false;
        }
    }
    if !whole {
        ranges.push((start, end));
    }
    ranges.reverse();
    Ok(ProofPlan::from_ranges(ranges))
}

/// A one-element plan whose hash is the root of the tree of `size` leaves; for size 0 it
/// assembles to [`empty_root`] without fetching anything.
pub fn root_plan(size: u64) -> ProofPlan {
    ProofPlan::from_ranges([(0, size)])
}

/// `[start, end)` as maximal aligned perfect subtrees, left to right. For the subtrees that
/// occur in RFC 6962 proofs (start aligned to a power of two covering the range), their sizes
/// fall, and the right-to-left fold is the subtree's hash.
fn perfect_nodes(mut start: u64, end: u64) -> Vec<NodeId> {
    let mut nodes = Vec::new();
    while start < end {
        let fits = (end - start).ilog2();
        let level = start.trailing_zeros().min(fits);
        // level < 64, so the narrowing and the shift are exact.
        nodes.push(NodeId::new(level as u8, start >> level));
        start += 1 << level;
    }
    nodes
}

/// The `k` of RFC 6962: the largest power of two strictly below `n`, for `n >= 2`.
pub(super) fn largest_power_of_two_below(n: u64) -> u64 {
    1 << (n - 1).ilog2()
}
