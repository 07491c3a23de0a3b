"""Duplicate grouping: exact copies by bytes, near-copies by difference hash, flat pictures by bytes only.

The expected groups come from a slow, obvious reference (pairwise bit counts on Python integers, connected
components by repeated relabelling), on hashes the tests make themselves.
"""

from __future__ import annotations

import numpy as np
import pytest

from artworks.data import dedup


def _random_hash(rng: np.random.Generator, n_bytes: int = 8) -> str:
    """A hex hash with about half its bits set (what unrelated paintings give)."""
    return rng.integers(0, 256, n_bytes, dtype=np.uint8).tobytes().hex()


def _flip(h: str, bits: list[int]) -> str:
    """``h`` with the given bit positions (0 = most significant) flipped."""
    value = int(h, 16)
    for bit in bits:
        value ^= 1 << (4 * len(h) - 1 - bit)
    return f"{value:0{len(h)}x}"


def _with_ones(ones: int, n_bits: int = 64) -> str:
    """A hash whose first ``ones`` bits are set."""
    return f"{((1 << ones) - 1) << (n_bits - ones):0{n_bits // 4}x}"


def _reference_groups(sha1s: list[str], dhashes: list[str], max_distance: int) -> list[int]:
    """The groups, slowly: same bytes, or informative 64-bit hashes at most ``max_distance`` bits apart."""
    n = len(sha1s)

    def informative(h: str) -> bool:
        return 8 <= bin(int(h, 16)).count("1") <= 56

    linked = [
        [
            sha1s[i] == sha1s[j]
            or (
                max_distance >= 0
                and informative(dhashes[i])
                and informative(dhashes[j])
                and bin(int(dhashes[i], 16) ^ int(dhashes[j], 16)).count("1") <= max_distance
            )
            for j in range(n)
        ]
        for i in range(n)
    ]
    label = list(range(n))
    changed = True
    while changed:
        changed = False
        for i in range(n):
            for j in range(n):
                if linked[i][j] and label[j] > label[i]:
                    label[j], changed = label[i], True
    return label


def test_exact_copies_are_grouped_under_their_first_file():
    sha1s = ["a", "b", "a", "c", "b", "a"]
    flat = ["0" * 16] * 6  # flat pictures: equal hashes, but matched by bytes only
    assert dedup.duplicate_groups(sha1s, flat, max_distance=10) == [0, 1, 0, 3, 1, 0]
    assert dedup.duplicate_groups([], [], max_distance=10) == []


def test_near_copies_are_paired_up_to_the_distance_inclusive():
    rng = np.random.default_rng(0)
    a, b = _random_hash(rng), _random_hash(rng)
    hashes = [a, _flip(a, [1, 20, 40]), b, _flip(b, [0, 9, 33, 63])]  # distances 3 and 4
    assert dedup.near_pairs(hashes, 2) == []
    assert dedup.near_pairs(hashes, 3) == [(0, 1)]
    assert sorted(dedup.near_pairs(hashes, 4)) == [(0, 1), (2, 3)]
    assert dedup.near_pairs(hashes, -1) == [] and dedup.near_pairs([], 4) == []
    sha1s = ["s0", "s1", "s2", "s3"]
    assert dedup.duplicate_groups(sha1s, hashes, 3) == [0, 0, 2, 3]
    assert dedup.duplicate_groups(sha1s, hashes, 4) == [0, 0, 2, 2]


def test_distance_zero_pairs_equal_hashes_and_a_negative_distance_turns_matching_off():
    rng = np.random.default_rng(1)
    h = _random_hash(rng)
    assert dedup.near_pairs([h, h], 0) == [(0, 1)]
    assert dedup.duplicate_groups(["x", "y"], [h, h], 0) == [0, 0]
    assert dedup.duplicate_groups(["x", "y"], [h, h], -1) == [0, 1]
    assert dedup.duplicate_groups(["x", "x"], [h, _flip(h, list(range(32)))], -1) == [0, 0]  # bytes still


@pytest.mark.parametrize(("ones", "matched"), [(7, False), (8, True), (56, True), (57, False), (0, False)])
def test_hashes_with_almost_no_set_or_unset_bits_match_by_bytes_only(ones, matched):
    h = _with_ones(ones)  # an eighth of the 64 bits is the limit on either side
    assert (dedup.near_pairs([h, h], 0) == [(0, 1)]) is matched
    assert dedup.duplicate_groups(["x", "y"], [h, h], 0) == ([0, 0] if matched else [0, 1])


def test_groups_are_transitive_and_named_by_their_smallest_index():
    rng = np.random.default_rng(2)
    a, b = _random_hash(rng), _random_hash(rng)
    # 5 ~ 3 by hash, 5 == 1 by bytes, 0 == 3 by bytes: one group, named 0, whatever order the links come in
    hashes = [b, b, _flip(b, list(range(0, 64, 2))), a, b, _flip(a, [5]), _random_hash(rng)]
    sha1s = ["p", "q", "r", "p", "s", "q", "t"]
    groups = dedup.duplicate_groups(sha1s, hashes, max_distance=1)
    assert groups == [0, 0, 2, 0, 0, 0, 6]  # 4 has 1's hash exactly


@pytest.mark.parametrize("chunk_rows", [None, 1, 3])
def test_groups_equal_a_slow_reference_whatever_the_chunking(monkeypatch, chunk_rows):
    rng = np.random.default_rng(3)
    originals = [_random_hash(rng) for _ in range(12)]
    hashes, sha1s = [], []
    for _ in range(40):
        base = int(rng.integers(len(originals)))
        flips = [int(b) for b in rng.choice(64, size=int(rng.integers(0, 9)), replace=False)]
        hashes.append(_flip(originals[base], flips))
        sha1s.append(f"sha{int(rng.integers(30))}")
    hashes[7] = hashes[8] = _with_ones(3)  # flat, equal: not near-copies
    if chunk_rows is not None:  # rows per chunk = CHUNK_BYTES // bytes of all hashes
        monkeypatch.setattr(dedup, "CHUNK_BYTES", chunk_rows * 8 * len(hashes))
    for max_distance in (-1, 0, 3, 6):
        expected = _reference_groups(sha1s, hashes, max_distance)
        assert dedup.duplicate_groups(sha1s, hashes, max_distance) == expected
        pairs = dedup.near_pairs(hashes, max_distance)
        assert len(pairs) == len(set(pairs)) and all(i < j for i, j in pairs)
        assert {(i, j) for i, j in pairs} == {
            (i, j)
            for i in range(40)
            for j in range(i + 1, 40)
            if max_distance >= 0
            and i not in (7, 8)
            and j not in (7, 8)
            and bin(int(hashes[i], 16) ^ int(hashes[j], 16)).count("1") <= max_distance
        }


def test_hashes_longer_than_a_word_compare_every_bit():
    """hash_size 9 gives 81 bits, 11 bytes: padded to two 64-bit words, the tail bits still count."""
    rng = np.random.default_rng(4)
    a = _random_hash(rng, 11)
    hashes = [a, _flip(a, [80, 85]), _flip(a, [70, 75, 87]), _random_hash(rng, 11)]
    assert dedup.near_pairs(hashes, 2) == [(0, 1)]
    assert sorted(dedup.near_pairs(hashes, 5)) == [(0, 1), (0, 2), (1, 2)]


@pytest.mark.parametrize("n_bytes", [8, 11, 17, 18])
def test_hashes_of_any_length_are_padded_to_whole_words(n_bytes):
    """dHash of hash_size 8, 9, 12 (64, 81, 144 bits) and a 136-bit one: every byte lands in a whole word."""
    rng = np.random.default_rng(n_bytes)
    a = _random_hash(rng, n_bytes)
    words = dedup._hash_words([a, _random_hash(rng, n_bytes)])
    assert words.shape == (2, -(-n_bytes // 8))
    assert words[0].tobytes()[:n_bytes].hex() == a and not words[0].tobytes()[n_bytes:].strip(b"\0")
    assert dedup.near_pairs([a, _flip(a, [8 * n_bytes - 1]), _random_hash(rng, n_bytes)], 1) == [(0, 1)]
