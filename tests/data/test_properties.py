"""Rules of the split and the samplers that must hold for any data, checked on generated examples.

The example-based tests pin a few datasets; these let hypothesis search class sizes, duplicate groups,
listing orders, seeds, batch sizes and world sizes for a counterexample (bounded: they run in `make test`).
"""

from __future__ import annotations

import math
from collections import Counter
from types import SimpleNamespace
from unittest import mock

import torch
from hypothesis import given
from hypothesis import strategies as st

from artworks.data.samplers import (
    ResumableRandomSampler,
    UnpaddedEvalSampler,
    gather_eval_outputs,
    train_order_state,
)
from artworks.data.split import SPLITS, assign_splits

FRACTIONS = st.sampled_from(
    [(0.8, 0.1, 0.1), (0.7, 0.2, 0.1), (0.6, 0.2, 0.2), (1.0, 0.0, 0.0), (0.9, 0.1, 0.0), (0.9, 0.0, 0.1)]
)
SEEDS = st.integers(0, 2**32 - 1)


@st.composite
def datasets(draw: st.DrawFn, min_groups: int = 1) -> tuple[list[str], list[int], list[int]]:
    """Paths, labels and duplicate groups (``groups[i]``: the index of a file of i's group, shared by all)."""
    paths: list[str] = []
    labels: list[int] = []
    groups: list[int] = []
    for label in range(draw(st.integers(1, 4))):
        for g, size in enumerate(draw(st.lists(st.integers(1, 3), min_size=min_groups, max_size=25))):
            first = len(paths)
            for k in range(size):
                paths.append(f"images/images/a{label}/a{label}_{g}_{k}.jpg")
                labels.append(label)
                groups.append(first)
    return paths, labels, groups


def _group_counts(labels: list[int], groups: list[int], assigned: list[str]) -> Counter:
    """(label, split) -> number of duplicate groups there (the unit the split stratifies)."""
    return Counter((labels[g], assigned[g]) for g in set(groups))


@given(datasets(), FRACTIONS, SEEDS)
def test_split_is_disjoint_complete_stratified_and_keeps_groups_whole(data, fractions, seed):
    paths, labels, groups = data
    assigned = assign_splits(paths, labels, fractions, seed, groups)

    assert len(assigned) == len(paths) and set(assigned) <= set(SPLITS)  # each file in exactly one split
    assert all(assigned[i] == assigned[g] for i, g in enumerate(groups))  # copies never cross splits
    counts = _group_counts(labels, groups, assigned)
    for label in set(labels):
        n = sum(counts[label, s] for s in SPLITS)
        for split, fraction in zip(SPLITS[1:], fractions[1:], strict=True):
            assert abs(counts[label, split] - n * fraction) <= 1, (label, split, n)
            if fraction == 0 or n < 3:  # nothing asked for, or too few groups: the documented rules
                assert counts[label, split] == 0, (label, split, n)
            else:
                assert counts[label, split] >= 1, (label, split, n)
        if n >= 5 or n < 3:  # 3-4 groups: one each in val and test takes precedence (documented)
            assert abs(counts[label, "train"] - n * fractions[0]) <= 1, (label, n)


@given(datasets(), FRACTIONS, SEEDS, st.randoms(use_true_random=False))
def test_split_does_not_depend_on_listing_order(data, fractions, seed, rng):
    paths, labels, groups = data
    reference = dict(zip(paths, assign_splits(paths, labels, fractions, seed, groups), strict=True))
    order = list(range(len(paths)))
    rng.shuffle(order)
    position = {old: new for new, old in enumerate(order)}
    shuffled = assign_splits(
        [paths[i] for i in order],
        [labels[i] for i in order],
        fractions,
        seed,
        [position[groups[i]] for i in order],
    )
    assert dict(zip([paths[i] for i in order], shuffled, strict=True)) == reference


@given(datasets(min_groups=20), st.lists(SEEDS, min_size=2, max_size=2, unique=True))
def test_split_changes_with_the_seed(data, seeds):
    paths, labels, groups = data  # >= 20 groups per class: C(20, 2) * C(18, 2) ways to pick val and test
    first, second = (assign_splits(paths, labels, (0.8, 0.1, 0.1), s, groups) for s in seeds)
    assert first != second


@given(
    size=st.integers(1, 60),
    seed=SEEDS,
    batch_size=st.integers(1, 9),
    epoch=st.integers(0, 5),
    data=st.data(),
)
def test_resumed_sampler_yields_exactly_the_rest_of_the_epoch_then_whole_epochs(
    size, seed, batch_size, epoch, data
):
    batch = data.draw(st.integers(0, math.ceil(size / batch_size)), label="batch")
    straight = ResumableRandomSampler(size, seed, batch_size)
    assert list(straight) == straight.permutation(0)  # a new sampler starts at epoch 0, before any set_epoch
    straight.set_epoch(epoch)
    order = list(straight)
    assert sorted(order) == list(range(size))

    resumed = ResumableRandomSampler(size, seed, batch_size, start_epoch=epoch, start_batch=batch)
    resumed.set_epoch(epoch)
    assert list(resumed) == order[batch * batch_size :]
    straight.set_epoch(epoch + 1)
    resumed.set_epoch(epoch + 1)
    assert list(resumed) == list(straight)  # the epochs after the resumed one are whole


@given(epoch=st.integers(0, 30), batches=st.integers(1, 40), data=st.data())
def test_checkpointed_train_order_continues_mid_epoch_or_with_the_next_epoch(epoch, batches, data):
    done = data.draw(st.integers(0, batches), label="batches done")
    progress = SimpleNamespace(current=SimpleNamespace(processed=done))
    trainer = SimpleNamespace(
        current_epoch=epoch,
        num_training_batches=batches,
        fit_loop=SimpleNamespace(epoch_loop=SimpleNamespace(batch_progress=progress)),
    )
    expected = (
        {"start_epoch": epoch + 1, "start_batch": 0}
        if done == batches
        else {"start_epoch": epoch, "start_batch": done}
    )
    assert train_order_state(trainer) == expected


@given(size=st.integers(0, 50), world=st.integers(1, 8))
def test_unpadded_eval_sampler_covers_every_index_once_and_gathers_back_in_order(size, world):
    sampler = UnpaddedEvalSampler(range(size))
    shares = []
    for rank in range(world):
        with (
            mock.patch("torch.distributed.is_initialized", return_value=True),
            mock.patch("torch.distributed.get_rank", return_value=rank),
            mock.patch("torch.distributed.get_world_size", return_value=world),
        ):
            shares.append(list(sampler))
            assert len(sampler) == len(shares[-1])
    indices = [i for share in shares for i in share]
    assert sorted(indices) == list(range(size))  # every index once: no padding, no gaps
    assert max(map(len, shares)) - min(map(len, shares)) <= 1

    # each rank's outputs (logits = its indices) are put back in dataset order by the gather
    outputs = [(torch.tensor(s, dtype=torch.float).reshape(-1, 1), torch.tensor(s)) for s in shares]

    def all_gather_object(out: list, mine: object) -> None:  # as seen by rank 0: its own object first
        out[:] = [mine, *outputs[1:]]

    with (
        mock.patch("torch.distributed.is_initialized", return_value=True),
        mock.patch("torch.distributed.get_world_size", return_value=world),
        mock.patch("torch.distributed.all_gather_object", all_gather_object),
    ):
        logits, labels = gather_eval_outputs(*outputs[0])
    assert labels.tolist() == list(range(size)) and logits[:, 0].tolist() == list(range(size))


@given(size=st.integers(0, 50))
def test_without_a_process_group_the_eval_order_is_the_dataset_order(size):
    sampler = UnpaddedEvalSampler(range(size))  # a real, uninitialised torch.distributed
    assert list(sampler) == list(range(size)) and len(sampler) == size
    logits, labels = torch.arange(size, dtype=torch.float).reshape(-1, 1), torch.arange(size)
    got_logits, got_labels = gather_eval_outputs(logits, labels)
    assert torch.equal(got_logits, logits) and torch.equal(got_labels, labels)
