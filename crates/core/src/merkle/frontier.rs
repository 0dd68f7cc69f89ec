//! The right edge of the tree: the roots of the perfect subtrees that make up its current
//! size. Enough to append in O(log n) and to give the root, so the recorder never reads the
//! whole log to extend it.

use super::{HASH_LEN, Hash, NodeId, empty_root, node_hash};

/// Incremental tree state: the roots of the perfect subtrees of the current size, one per set
/// bit of the size, largest (leftmost) first — the compact range `[0, size)`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    nodes: Vec<Hash>,
}

/// Why stored frontier bytes or nodes could not be turned back into a [`Frontier`].
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrontierError {
    #[error(
        "a frontier of {size} entries is {expected} bytes, but {found} bytes were given; the stored frontier is truncated or corrupt"
    )]
    WrongLength {
        size: u64,
        expected: usize,
        found: usize,
    },
    #[error(
        "the stored frontier is for a tree of {found} entries, but {expected} were expected; the frontier and the tree size were saved apart"
    )]
    SizeMismatch { expected: u64, found: u64 },
    #[error(
        "a frontier of {size} entries has {expected} nodes, but {found} were given; fetch exactly Frontier::node_ids({size})"
    )]
    WrongNodeCount {
        size: u64,
        expected: usize,
        found: usize,
    },
}

const SIZE_LEN: usize = 8;

impl Frontier {
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The perfect subtree roots, in the order of [`Frontier::node_ids`].
    pub fn nodes(&self) -> &[Hash] {
        &self.nodes
    }

    /// The Merkle tree hash of all leaves so far; [`empty_root`] when there are none.
    pub fn root(&self) -> Hash {
        // RFC 6962 splits at the largest power of two, so the right edge folds right to left.
        let mut nodes = self.nodes.iter().rev();
        let Some(last) = nodes.next() else {
            return empty_root();
        };
        nodes.fold(*last, |right, left| node_hash(left, &right))
    }

    /// Appends a leaf hash and returns every perfect subtree completed by it: the leaf itself
    /// at level 0 first, then each higher level, with its hash.
    ///
    /// The store persists these with the entry, so that every later root and proof can be
    /// assembled from stored perfect nodes alone.
    ///
    /// # Panics
    /// When the tree already holds `u64::MAX` leaves (half a million years at a million
    /// appends a second).
    pub fn push(&mut self, leaf: Hash) -> Vec<(NodeId, Hash)> {
        let mut completed = Vec::with_capacity(1 + self.size.trailing_ones() as usize);
        self.append_with(leaf, |id, hash| completed.push((id, hash)));
        completed
    }

    /// Appends a leaf hash without reporting the completed nodes, for recomputing a root.
    ///
    /// # Panics
    /// As [`Frontier::push`].
    pub fn append(&mut self, leaf: Hash) {
        self.append_with(leaf, |_, _| {});
    }

    fn append_with(&mut self, leaf: Hash, mut completed: impl FnMut(NodeId, Hash)) {
        assert!(
            self.size < u64::MAX,
            "the Merkle tree is full: it cannot hold more than 2^64 - 1 entries"
        );
        let mut id = NodeId::leaf(self.size);
        let mut hash = leaf;
        completed(id, hash);
        // Each trailing one bit of the old size is a perfect subtree of the same level
        // waiting on the left for this one: merge until the level has no partner.
        while id.index & 1 == 1 {
            let Some(left) = self.nodes.pop() else {
                // Unreachable: the frontier holds one node per set bit of the size.
                break;
            };
            hash = node_hash(&left, &hash);
            id = NodeId::new(id.level + 1, id.index >> 1);
            completed(id, hash);
        }
        self.nodes.push(hash);
        self.size += 1;
    }

    /// The perfect subtrees making up a tree of `size` leaves, largest first: one per set bit
    /// of `size`. Fetch these and pass them to [`Frontier::from_nodes`].
    pub fn node_ids(size: u64) -> Vec<NodeId> {
        (0..u64::BITS as u8)
            .rev()
            .filter(|level| size >> level & 1 == 1)
            .map(|level| NodeId::new(level, (size >> level) - 1))
            .collect()
    }

    /// Rebuilds the frontier of a tree of `size` leaves from the hashes of
    /// [`Frontier::node_ids`]`(size)`, in that order.
    pub fn from_nodes(size: u64, nodes: Vec<Hash>) -> Result<Self, FrontierError> {
        let expected = size.count_ones() as usize;
        if nodes.len() != expected {
            return Err(FrontierError::WrongNodeCount {
                size,
                expected,
                found: nodes.len(),
            });
        }
        Ok(Self { size, nodes })
    }

    /// The frontier as bytes: the size (8 bytes, big-endian), then each node hash.
    ///
    /// The size travels with the hashes so that [`Frontier::from_bytes`] can tell a
    /// frontier saved for another tree size from the right one, even when both sizes have
    /// the same number of nodes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(SIZE_LEN + HASH_LEN * self.nodes.len());
        bytes.extend_from_slice(&self.size.to_be_bytes());
        for node in &self.nodes {
            bytes.extend_from_slice(node);
        }
        bytes
    }

    /// Reads bytes written by [`Frontier::to_bytes`] for a tree the caller knows to hold
    /// `size` leaves.
    pub fn from_bytes(size: u64, bytes: &[u8]) -> Result<Self, FrontierError> {
        let count = size.count_ones() as usize;
        let expected = SIZE_LEN + HASH_LEN * count;
        let wrong_length = FrontierError::WrongLength {
            size,
            expected,
            found: bytes.len(),
        };
        if bytes.len() != expected {
            return Err(wrong_length);
        }
        let (size_bytes, hashes) = bytes.split_at(SIZE_LEN);
        let found = u64::from_be_bytes(size_bytes.try_into().map_err(|_| wrong_length.clone())?);
        if found != size {
            return Err(FrontierError::SizeMismatch {
                expected: size,
                found,
            });
        }
        let nodes = hashes
            .chunks_exact(HASH_LEN)
            .map(|chunk| Hash::try_from(chunk).map_err(|_| wrong_length.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { size, nodes })
    }
}
