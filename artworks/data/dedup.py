"""Group copies of one painting: exact duplicates (same bytes) and near-duplicates (same picture re-scanned).

Near-duplicates are found with a difference hash (see :func:`artworks.data.validate.dhash`): a resized or
recompressed copy keeps almost every bit, unrelated paintings differ in about half. All pairs are compared
with vectorised XOR + popcount in chunks (8446 images: ~36 M pairs, a second or two), which is why the hash
is computed here rather than with a per-pair library object. Hashes with almost no set (or unset) bits come
from flat pictures and say nothing about content, so they are matched by bytes only.
"""

from __future__ import annotations

import numpy as np

CHUNK_BYTES = 64 * 1024 * 1024


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def _hash_words(hashes: list[str]) -> np.ndarray:
    """Hex hashes as an (N, words) uint64 array (hashes are padded to whole 64-bit words)."""
    n_bytes = max(len(h) for h in hashes) // 2
    padded = -(-n_bytes // 8) * 8
    raw = np.zeros((len(hashes), padded), np.uint8)
    for i, h in enumerate(hashes):
        raw[i, : len(h) // 2] = np.frombuffer(bytes.fromhex(h), np.uint8)
    return raw.view(np.uint64)


def near_pairs(hashes: list[str], max_distance: int) -> list[tuple[int, int]]:
    """Index pairs (i < j) whose hashes differ in at most ``max_distance`` bits, flat hashes left out."""
    if not hashes or max_distance < 0:
        return []
    words = _hash_words(hashes)
    bits = words.shape[1] * 64
    ones = np.bitwise_count(words).sum(axis=1)
    informative = np.flatnonzero((ones >= bits // 8) & (ones <= bits - bits // 8))
    words = words[informative]
    rows = max(1, CHUNK_BYTES // max(1, words.nbytes))
    pairs = []
    for start in range(0, len(words), rows):
        block = words[start : start + rows]
        distance = np.bitwise_count(block[:, None, :] ^ words[None, :, :]).sum(axis=2)
        for a, b in zip(*np.nonzero(distance <= max_distance), strict=True):
            i, j = informative[start + a], informative[b]
            if i < j:
                pairs.append((int(i), int(j)))
    return pairs


def duplicate_groups(sha1s: list[str], dhashes: list[str], max_distance: int) -> list[int]:
    """The group of each file: the index of the group's first file (a file alone is its own group).

    ``max_distance`` < 0 turns near-duplicate matching off (exact duplicates are still grouped).
    """
    groups = _UnionFind(len(sha1s))
    first_with: dict[str, int] = {}
    for i, digest in enumerate(sha1s):
        groups.union(first_with.setdefault(digest, i), i)
    for i, j in near_pairs(dhashes, max_distance):
        groups.union(i, j)
    return [groups.find(i) for i in range(len(sha1s))]
