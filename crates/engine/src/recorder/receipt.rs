//! The receipt: proof, inside the process, that an entry is durably in the log.

use accesslog_core::Timestamp;
use accesslog_core::merkle::Hash;

/// Handed out by the recorder only after the entry's transaction committed. Its fields
/// are private and its constructor is crate-private, so no other code can make one: a
/// response type that demands a `Receipt` cannot be built for an unrecorded action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    seq: u64,
    timestamp: Timestamp,
    leaf_hash: Hash,
}

impl Receipt {
    pub(crate) fn new(seq: u64, timestamp: Timestamp, leaf_hash: Hash) -> Self {
        Self {
            seq,
            timestamp,
            leaf_hash,
        }
    }

    /// The entry's place in the log.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// When the entry was committed.
    pub fn timestamp(&self) -> Timestamp {
        self.timestamp
    }

    /// The entry's Merkle leaf hash.
    pub fn leaf_hash(&self) -> &Hash {
        &self.leaf_hash
    }
}
