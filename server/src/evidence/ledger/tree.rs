//! Many inclusion proofs against one tree, cheaply.
//!
//! [`merkle::inclusion_proof`] recomputes the sibling subtrees' roots for
//! every proof, so one proof costs O(n) hashes and a person's proof file
//! (hundreds of entries in a log of 20,000) costs O(k·n): seconds of CPU.
//! This module hashes every perfect subtree once (n − 1 hashes) and then
//! reads each audit path in O(log² n). The tree is the same RFC 6962 tree,
//! built from [`merkle::node_hash`]; the tests check every path and root
//! against [`cadre_protocol::merkle`] itself.

use cadre_protocol::merkle::{self, Hash};

/// The perfect subtrees of a tree over `n` leaves, by height.
pub struct ProofTree {
    /// `levels[h][i]` is the root of leaves `i·2^h .. (i+1)·2^h`.
    levels: Vec<Vec<Hash>>,
}

impl ProofTree {
    /// Hashes every perfect subtree of `leaves`.
    pub fn new(leaves: Vec<Hash>) -> ProofTree {
        let mut levels = vec![leaves];
        loop {
            let below = &levels[levels.len() - 1];
            if below.len() < 2 {
                break;
            }
            let up: Vec<Hash> = below
                .chunks_exact(2)
                .map(|pair| merkle::node_hash(&pair[0], &pair[1]))
                .collect();
            levels.push(up);
        }
        ProofTree { levels }
    }

    /// Number of leaves.
    pub fn size(&self) -> usize {
        self.levels[0].len()
    }

    /// The Merkle Tree Hash of leaves `lo..hi` (`lo < hi`), where `lo` is a
    /// left edge of the RFC's recursive split, as every range reached from
    /// the root is.
    fn range_root(&self, lo: usize, hi: usize) -> Hash {
        let n = hi - lo;
        if n.is_power_of_two() && lo.is_multiple_of(n) {
            let h = n.trailing_zeros() as usize;
            return self.levels[h][lo >> h];
        }
        let k = split(n);
        merkle::node_hash(&self.range_root(lo, lo + k), &self.range_root(lo + k, hi))
    }

    /// The root of the whole tree.
    pub fn root(&self) -> Hash {
        match self.size() {
            0 => merkle::empty_root(),
            n => self.range_root(0, n),
        }
    }

    /// The audit path of leaf `index`, as [`merkle::inclusion_proof`] gives
    /// it, or `None` when the index is out of range.
    pub fn inclusion_proof(&self, index: usize) -> Option<Vec<Hash>> {
        if index >= self.size() {
            return None;
        }
        // The RFC's recursion, root first; the path lists siblings leaf first.
        let (mut lo, mut hi) = (0, self.size());
        let mut path = Vec::new();
        while hi - lo > 1 {
            let k = split(hi - lo);
            if index < lo + k {
                path.push(self.range_root(lo + k, hi));
                hi = lo + k;
            } else {
                path.push(self.range_root(lo, lo + k));
                lo += k;
            }
        }
        path.reverse();
        Some(path)
    }
}

/// Largest power of two strictly smaller than `n` (n ≥ 2), the RFC's `k`.
fn split(n: usize) -> usize {
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| merkle::leaf_hash(format!("entry {i}").as_bytes()))
            .collect()
    }

    #[test]
    fn roots_and_paths_equal_the_protocol_crate() {
        for n in 0..=130 {
            let ls = leaves(n);
            let tree = ProofTree::new(ls.clone());
            assert_eq!(tree.root(), merkle::root(&ls), "root of {n}");
            for i in 0..n {
                assert_eq!(
                    tree.inclusion_proof(i),
                    merkle::inclusion_proof(&ls, i),
                    "path of {i} in {n}"
                );
            }
            assert_eq!(tree.inclusion_proof(n), None);
        }
        // A large, odd size: spot checks.
        let ls = leaves(20_011);
        let tree = ProofTree::new(ls.clone());
        assert_eq!(tree.root(), merkle::root(&ls));
        for i in [0, 1, 4095, 4096, 16_383, 16_384, 20_000, 20_010] {
            assert_eq!(tree.inclusion_proof(i), merkle::inclusion_proof(&ls, i));
        }
    }
}
