//! RFC 9162 (RFC 6962) Merkle trees over SHA-256: hashing, roots, inclusion and consistency
//! proofs and their verification. Pure: no I/O.
//!
//! Storage-friendly: every hash a proof needs is the hash of a *range* of leaves, and every
//! range used is a run of perfect, aligned subtrees ([`NodeId`]). A store keeps those nodes
//! (about two per leaf) and answers any proof with one lookup of O(log n) nodes:
//! [`inclusion_plan`] / [`consistency_plan`] say which ranges, [`range_nodes`] which nodes, and
//! [`fold_range`] combines them.

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 || entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: `SHA-256()` of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// A perfect subtree: leaves `[index << level, (index + 1) << level)`. Level 0 is a leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Height above the leaves.
    pub level: u8,
    /// Position among the nodes of that level.
    pub index: u64,
}

impl NodeId {
    /// The first leaf it covers.
    pub fn start(&self) -> u64 {
        self.index << self.level
    }
}

/// Why a proof cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not below the tree size {size}")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The sizes are not `0 < from <= to` (a consistency proof from 0 is empty by definition
    /// but proves nothing, so it is refused).
    #[error("a consistency proof needs 0 < from <= to, not from {from} to {to}")]
    BadSizes {
        /// The older size.
        from: u64,
        /// The newer size.
        to: u64,
    },
}

fn largest_power_of_two_below(n: u64) -> u64 {
    debug_assert!(n > 1);
    1 << (63 - (n - 1).leading_zeros())
}

/// The perfect subtrees that make up `[start, end)`, largest first. `start` must be aligned
/// as in every range of the RFC's recursion (a multiple of the largest power of two ≤ the
/// range's size), which holds for every range [`inclusion_plan`] and [`consistency_plan`] give.
pub fn range_nodes(start: u64, end: u64) -> Vec<NodeId> {
    let mut nodes = Vec::new();
    let mut at = start;
    while at < end {
        let remaining = end - at;
        // The largest power of two that fits the remainder and keeps `at` aligned.
        let mut level = 63 - remaining.leading_zeros();
        if at != 0 {
            level = level.min(at.trailing_zeros());
        }
        nodes.push(NodeId {
            level: level as u8,
            index: at >> level,
        });
        at += 1 << level;
    }
    nodes
}

/// The hash of a range from the hashes of its [`range_nodes`], in the same order:
/// `MTH = H(n1, H(n2, … H(nk-1, nk)))`.
pub fn fold_range(hashes: &[Hash]) -> Hash {
    match hashes.split_last() {
        None => empty_root(),
        Some((last, rest)) => rest
            .iter()
            .rev()
            .fold(*last, |acc, left| node_hash(left, &acc)),
    }
}

/// The leaf ranges whose hashes form the inclusion proof of `index` in a tree of `size`, in
/// RFC 9162 order (from the leaf up).
pub fn inclusion_plan(index: u64, size: u64) -> Result<Vec<(u64, u64)>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut ranges = Vec::new();
    let (mut lo, mut hi, mut m) = (0u64, size, index);
    // Walk down from the root, recording the sibling of each step; reverse at the end.
    while hi - lo > 1 {
        let k = largest_power_of_two_below(hi - lo);
        if m < k {
            ranges.push((lo + k, hi));
            hi = lo + k;
        } else {
            ranges.push((lo, lo + k));
            lo += k;
            m -= k;
        }
    }
    ranges.reverse();
    Ok(ranges)
}

/// The leaf ranges whose hashes form the consistency proof from `from` to `to`, in RFC 9162
/// order (SUBPROOF(m, D[n], true)). Equal sizes give an empty proof.
pub fn consistency_plan(from: u64, to: u64) -> Result<Vec<(u64, u64)>, ProofError> {
    if from == 0 || from > to {
        return Err(ProofError::BadSizes { from, to });
    }
    let mut ranges = Vec::new();
    let (mut lo, mut hi, mut m, mut complete) = (0u64, to, from, true);
    loop {
        let n = hi - lo;
        if m == n {
            if !complete {
                ranges.push((lo, hi));
            }
            break;
        }
        let k = largest_power_of_two_below(n);
        if m <= k {
            ranges.push((lo + k, hi));
            hi = lo + k;
        } else {
            ranges.push((lo, lo + k));
            lo += k;
            m -= k;
            complete = false;
        }
    }
    ranges.reverse();
    Ok(ranges)
}

/// Checks an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && r == *root
}

/// Checks a consistency proof between two roots (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    from: u64,
    to: u64,
    from_root: &Hash,
    to_root: &Hash,
    proof: &[Hash],
) -> bool {
    if from == 0 || from > to {
        return false;
    }
    if from == to {
        return proof.is_empty() && from_root == to_root;
    }
    let mut path: Vec<Hash> = proof.to_vec();
    if from.is_power_of_two() {
        path.insert(0, *from_root);
    }
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut f_n, mut s_n) = (from - 1, to - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    fr == *from_root && sr == *to_root && s_n == 0
}

/// The root of a whole list of leaf hashes (for verifiers holding the full log).
pub fn root_of(leaves: &[Hash]) -> Hash {
    let mut tree = CompactRange::default();
    for leaf in leaves {
        tree.push(*leaf);
    }
    tree.root()
}

/// The right edge of a tree: the perfect subtrees of `[0, size)`, enough to append leaves and
/// compute the root in O(log n) memory. Each push reports the nodes it completes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactRange {
    size: u64,
    /// Hashes of `range_nodes(0, size)`, largest (leftmost) first.
    edge: Vec<Hash>,
}

impl CompactRange {
    /// Rebuilds the edge of a tree of `size` leaves from the hashes of `range_nodes(0, size)`.
    pub fn from_edge(size: u64, edge: Vec<Hash>) -> Option<Self> {
        (edge.len() == range_nodes(0, size).len()).then_some(Self { size, edge })
    }

    /// How many leaves the tree has.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf; returns every node completed by it (the leaf itself first).
    pub fn push(&mut self, leaf: Hash) -> Vec<(NodeId, Hash)> {
        let index = self.size;
        let mut made = vec![(NodeId { level: 0, index }, leaf)];
        let mut hash = leaf;
        let mut level = 0u8;
        // Each trailing one bit of the old size is a left sibling waiting to be merged.
        let mut bits = index;
        while bits & 1 == 1 {
            let Some(left) = self.edge.pop() else { break };
            hash = node_hash(&left, &hash);
            level += 1;
            made.push((
                NodeId {
                    level,
                    index: index >> level,
                },
                hash,
            ));
            bits >>= 1;
        }
        self.edge.push(hash);
        self.size += 1;
        made
    }

    /// The root hash.
    pub fn root(&self) -> Hash {
        fold_range(&self.edge)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 6962 §2.1 by the letter: MTH by recursion over the entries.
    fn naive_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = largest_power_of_two_below(n as u64) as usize;
                node_hash(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
            }
        }
    }

    fn naive_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
        let n = leaves.len();
        if n <= 1 {
            return vec![];
        }
        let k = largest_power_of_two_below(n as u64) as usize;
        if m < k {
            let mut p = naive_path(m, &leaves[..k]);
            p.push(naive_root(&leaves[k..]));
            p
        } else {
            let mut p = naive_path(m - k, &leaves[k..]);
            p.push(naive_root(&leaves[..k]));
            p
        }
    }

    fn naive_subproof(m: usize, leaves: &[Hash], complete: bool) -> Vec<Hash> {
        let n = leaves.len();
        if m == n {
            return if complete {
                vec![]
            } else {
                vec![naive_root(leaves)]
            };
        }
        let k = largest_power_of_two_below(n as u64) as usize;
        if m <= k {
            let mut p = naive_subproof(m, &leaves[..k], complete);
            p.push(naive_root(&leaves[k..]));
            p
        } else {
            let mut p = naive_subproof(m - k, &leaves[k..], false);
            p.push(naive_root(&leaves[..k]));
            p
        }
    }

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(format!("entry {i}").as_bytes()))
            .collect()
    }

    /// Every perfect node of the tree over `leaves`, as a store keeps them.
    fn node_map(leaves: &[Hash]) -> std::collections::HashMap<NodeId, Hash> {
        let mut tree = CompactRange::default();
        leaves.iter().flat_map(|l| tree.push(*l)).collect()
    }

    /// Resolves a plan against stored nodes, as the database store does.
    fn resolve(plan: &[(u64, u64)], leaves: &[Hash]) -> Vec<Hash> {
        resolve_with(plan, &node_map(leaves))
    }

    fn resolve_with(
        plan: &[(u64, u64)],
        nodes: &std::collections::HashMap<NodeId, Hash>,
    ) -> Vec<Hash> {
        plan.iter()
            .map(|&(s, e)| {
                let hashes: Vec<Hash> = range_nodes(s, e).iter().map(|n| nodes[n]).collect();
                fold_range(&hashes)
            })
            .collect()
    }

    fn hex(h: &Hash) -> String {
        hex::encode(h)
    }

    /// The RFC 6962 test vectors used by Certificate Transparency implementations
    /// (certificate-transparency-go merkletree tests, transparency-dev/merkle testonly): the
    /// eight leaf inputs and the roots of the trees of sizes 1 to 8.
    const CT_LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    const CT_ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    const CT_EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn ct_leaves() -> Vec<Hash> {
        CT_LEAVES
            .iter()
            .map(|h| leaf_hash(&hex::decode(h).unwrap()))
            .collect()
    }

    #[test]
    fn the_rfc6962_known_roots_match() {
        assert_eq!(hex(&empty_root()), CT_EMPTY);
        assert_eq!(hex(&root_of(&[])), CT_EMPTY);
        let all = ct_leaves();
        for size in 1..=8 {
            assert_eq!(
                hex(&root_of(&all[..size])),
                CT_ROOTS[size - 1],
                "size {size}"
            );
            assert_eq!(
                hex(&naive_root(&all[..size])),
                CT_ROOTS[size - 1],
                "size {size}"
            );
        }
    }

    #[test]
    fn the_rfc6962_known_inclusion_proofs_verify() {
        // From the same test vectors: leaf 0 of 8, leaf 5 of 8, leaf 2 of 3, leaf 1 of 5.
        let cases: [(u64, u64, &[&str]); 4] = [
            (
                0,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                8,
                &[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                3,
                &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
            ),
            (
                1,
                5,
                &[
                    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        let all = ct_leaves();
        for (index, size, expected) in cases {
            let proof = resolve(&inclusion_plan(index, size).unwrap(), &all[..size as usize]);
            let got: Vec<String> = proof.iter().map(hex).collect();
            assert_eq!(got, expected, "leaf {index} of {size}");
            let root = root_of(&all[..size as usize]);
            assert!(verify_inclusion(
                index,
                size,
                &all[index as usize],
                &proof,
                &root
            ));
        }
    }

    #[test]
    fn the_rfc6962_known_consistency_proofs_verify() {
        let cases: [(u64, u64, &[&str]); 3] = [
            (
                1,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                8,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                5,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        let all = ct_leaves();
        for (from, to, expected) in cases {
            let proof = resolve(&consistency_plan(from, to).unwrap(), &all[..to as usize]);
            let got: Vec<String> = proof.iter().map(hex).collect();
            assert_eq!(got, expected, "{from} → {to}");
            let (a, b) = (root_of(&all[..from as usize]), root_of(&all[..to as usize]));
            assert!(verify_consistency(from, to, &a, &b, &proof));
        }
    }

    #[test]
    fn every_size_up_to_300_agrees_with_the_naive_definition() {
        let all = leaves(300);
        let nodes = node_map(&all);
        let mut tree = CompactRange::default();
        for size in 1..=300usize {
            tree.push(all[size - 1]);
            let root = naive_root(&all[..size]);
            assert_eq!(tree.root(), root, "root of {size}");
            for index in 0..size {
                let proof =
                    resolve_with(&inclusion_plan(index as u64, size as u64).unwrap(), &nodes);
                assert_eq!(
                    proof,
                    naive_path(index, &all[..size]),
                    "path {index} of {size}"
                );
                assert!(verify_inclusion(
                    index as u64,
                    size as u64,
                    &all[index],
                    &proof,
                    &root
                ));
            }
            for from in 1..=size {
                let proof =
                    resolve_with(&consistency_plan(from as u64, size as u64).unwrap(), &nodes);
                assert_eq!(
                    proof,
                    naive_subproof(from, &all[..size], true),
                    "{from} → {size}"
                );
                let old = naive_root(&all[..from]);
                assert!(verify_consistency(
                    from as u64,
                    size as u64,
                    &old,
                    &root,
                    &proof
                ));
            }
        }
    }

    #[test]
    fn edge_cases_from_rfc9162() {
        let all = leaves(5);
        let root = root_of(&all);
        // Equal sizes: the empty proof, and only for equal roots.
        assert_eq!(consistency_plan(5, 5).unwrap(), vec![]);
        assert!(verify_consistency(5, 5, &root, &root, &[]));
        assert!(!verify_consistency(5, 5, &root, &all[0], &[]));
        assert!(!verify_consistency(5, 5, &root, &root, &[root]));
        // Size 0 and out-of-range requests are refused.
        assert!(consistency_plan(0, 5).is_err());
        assert!(consistency_plan(6, 5).is_err());
        assert!(inclusion_plan(0, 0).is_err());
        assert!(inclusion_plan(5, 5).is_err());
        assert!(!verify_inclusion(5, 5, &all[0], &[], &root));
        assert!(!verify_consistency(0, 5, &root, &root, &[]));
        // A one-leaf tree: its root is the leaf, its proof empty.
        assert!(verify_inclusion(0, 1, &all[0], &[], &all[0]));
        assert_eq!(root_of(&all[..1]), all[0]);
    }

    #[test]
    fn compact_range_reports_every_perfect_node_once() {
        let all = leaves(64);
        let mut tree = CompactRange::default();
        let mut made = Vec::new();
        for leaf in &all {
            made.extend(tree.push(*leaf));
        }
        assert_eq!(made.len(), 127, "a 64-leaf tree has 127 nodes");
        for (id, hash) in made {
            let start = id.start() as usize;
            assert_eq!(hash, naive_root(&all[start..start + (1 << id.level)]));
        }
        let rebuilt = CompactRange::from_edge(64, vec![tree.root()]).unwrap();
        assert_eq!(rebuilt.root(), tree.root());
    }

    proptest! {
        #[test]
        fn a_mutated_inclusion_proof_fails(
            size in 2u64..300,
            idx in any::<prop::sample::Index>(),
            which in any::<prop::sample::Index>(),
            bit in 0usize..256,
        ) {
            let all = leaves(size as usize);
            let index = idx.index(size as usize) as u64;
            let root = root_of(&all);
            let proof = resolve(&inclusion_plan(index, size).unwrap(), &all);
            prop_assert!(verify_inclusion(index, size, &all[index as usize], &proof, &root));
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let w = which.index(bad.len());
                bad[w][bit / 8] ^= 1 << (bit % 8);
                prop_assert!(!verify_inclusion(index, size, &all[index as usize], &bad, &root));
                // Dropped or extra hashes fail too.
                prop_assert!(!verify_inclusion(index, size, &all[index as usize], &proof[1..], &root));
            }
            let mut longer = proof.clone();
            longer.push(root);
            prop_assert!(!verify_inclusion(index, size, &all[index as usize], &longer, &root));
            // The proof is for this index only (the size is bound by the signed checkpoint).
            let other = (index + 1) % size;
            prop_assert!(!verify_inclusion(other, size, &all[index as usize], &proof, &root));
        }

        #[test]
        fn a_mutated_consistency_proof_fails(
            to in 2u64..300,
            f in any::<prop::sample::Index>(),
            which in any::<prop::sample::Index>(),
            bit in 0usize..256,
        ) {
            let all = leaves(to as usize);
            let from = 1 + f.index(to as usize - 1) as u64; // 1..to
            let (old, new) = (root_of(&all[..from as usize]), root_of(&all));
            let proof = resolve(&consistency_plan(from, to).unwrap(), &all);
            prop_assert!(verify_consistency(from, to, &old, &new, &proof));
            let mut bad = proof.clone();
            let w = which.index(bad.len());
            bad[w][bit / 8] ^= 1 << (bit % 8);
            prop_assert!(!verify_consistency(from, to, &old, &new, &bad));
            prop_assert!(!verify_consistency(from, to, &old, &new, &proof[1..]));
            // A different old tree (one leaf changed) is not consistent.
            let mut forked = all.clone();
            forked[0] = leaf_hash(b"forged");
            let forged = root_of(&forked[..from as usize]);
            prop_assert!(!verify_consistency(from, to, &forged, &new, &proof));
        }
    }
}
