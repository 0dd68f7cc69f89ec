//! The RFC 6962 / RFC 9162 Merkle tree over the log's entries: the hashes, the frontier the
//! recorder extends on every append, proof plans that a store fills from the perfect subtree
//! nodes it kept, and the verifiers an auditor runs. Pure: no IO and no storage types.

mod frontier;
mod plan;
mod range;
mod verify;

pub use frontier::{Frontier, FrontierError};
pub use plan::{ProofPlan, consistency_plan, inclusion_plan, root_plan};
pub use range::{range_plan, root_from_range};
pub use verify::{verify_consistency, verify_inclusion};

use sha2::{Digest, Sha256};

/// A SHA-256 digest: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

/// The number of bytes in a [`type@Hash`].
pub const HASH_LEN: usize = 32;

// Domain separation prefixes of RFC 6962 §2.1: without them a leaf could be passed off as an
// interior node (a second-preimage attack on the tree).
const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;

/// The hash of one log entry: SHA-256(0x00 || entry).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    // chain_update keeps the hasher on the stack; `verify` rehashes every entry, so no
    // allocation per leaf.
    Sha256::new()
        .chain_update([LEAF_PREFIX])
        .chain_update(entry)
        .finalize()
        .into()
}

/// The hash of an interior node: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Sha256::new()
        .chain_update([NODE_PREFIX])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// The root of the empty tree: SHA-256 of the empty string (RFC 6962 §2.1).
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The Merkle tree hash (MTH) of a list of leaf hashes.
///
/// Linear time and logarithmic memory, so it can recompute the root of a large log.
pub fn root_from_leaves(leaves: &[Hash]) -> Hash {
    let mut frontier = Frontier::new();
    for leaf in leaves {
        frontier.append(*leaf);
    }
    frontier.root()
}

/// A perfect subtree: it covers the leaves `[index << level, (index + 1) << level)`.
/// Level 0 is a single leaf hash.
///
/// Perfect subtrees never change once their last leaf is appended, which is why the store
/// keeps exactly these and builds every root and proof from them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub level: u8,
    pub index: u64,
}

impl NodeId {
    pub const fn new(level: u8, index: u64) -> Self {
        Self { level, index }
    }

    /// The node holding the hash of leaf `index` itself.
    pub const fn leaf(index: u64) -> Self {
        Self { level: 0, index }
    }

    /// The node's position in creation order: every node gets a distinct number, and the
    /// nodes an append completes get the next numbers in a row (Go's `tlog.StoredHashIndex`).
    /// Stored under this key, the tree only ever grows at its end, which keeps each commit's
    /// writes on the last pages of the table.
    pub const fn stored_index(self) -> u64 {
        // The last leaf under this node, then the count of nodes stored before it.
        let mut n = self.index;
        let mut l = self.level;
        while l > 0 {
            n = 2 * n + 1;
            l -= 1;
        }
        let mut i = 0;
        while n > 0 {
            i += n;
            n >>= 1;
        }
        i + self.level as u64
    }
}

#[cfg(test)]
mod stored_index_tests {
    use super::*;

    #[test]
    fn stored_indexes_follow_creation_order() {
        let mut frontier = Frontier::new();
        let mut next = 0u64;
        for _ in 0..300 {
            for (id, _) in frontier.push([7; 32]) {
                assert_eq!(id.stored_index(), next, "{id:?}");
                next += 1;
            }
        }
    }
}

/// Why a proof could not be built or did not verify.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    #[error(
        "leaf index {index} is outside a tree of {size} entries; ask for an index below the tree size"
    )]
    IndexOutOfRange { index: u64, size: u64 },
    #[error(
        "the first tree size {first} is larger than the second tree size {second}; a log only grows, so the older checkpoint must come first"
    )]
    SizesOutOfOrder { first: u64, second: u64 },
    #[error(
        "a consistency proof from an empty tree proves nothing; start from a checkpoint with at least one entry"
    )]
    EmptyFirstTree,
    #[error(
        "the proof has {found} hashes, but a proof for these tree sizes has exactly {expected}; it was truncated or padded"
    )]
    WrongProofLength { expected: usize, found: usize },
    #[error(
        "the range [{start}, {end}) is not a non-empty run of leaves inside a tree of {size} entries"
    )]
    BadRange { start: u64, end: u64, size: u64 },
    #[error("the range covers {expected} leaves, but {found} were given")]
    WrongLeafCount { expected: u64, found: u64 },
    #[error(
        "the proof does not lead to the given root: the entry is not in that tree, or the proof, leaf hash or root is wrong"
    )]
    RootMismatch,
    #[error(
        "the proof does not reproduce the first tree's root: the proof or the first root is wrong"
    )]
    FirstRootMismatch,
    #[error(
        "the proof does not lead from the first tree to the second tree's root: the log was rewritten, or the proof or a root is wrong"
    )]
    SecondRootMismatch,
    #[error(
        "two trees of the same size {size} have different roots: the log has forked or one root is wrong"
    )]
    DifferentRootsSameSize { size: u64 },
    #[error(
        "the stored tree node at level {}, index {} is missing; the store lacks nodes it should have written with the entries",
        .0.level, .0.index
    )]
    MissingNode(NodeId),
}

#[cfg(test)]
mod tests;
