"""The class-balanced sampler (``recipe=modern``): every artist equally likely per draw, seeded, resumable.

Its first test lives with the recipe (``tests/training/test_recipe.py``); these pin the distribution down
and run in the mutation-test selection.
"""

from __future__ import annotations

from collections import Counter

import pytest

from artworks.data.samplers import ClassBalancedSampler

# 3 artists, 600 / 60 / 6 images, labels interleaved (the sampler must not rely on sorted labels)
LABELS = [0] * 600 + [1] * 60 + [2] * 6
LABELS = LABELS[::2] + LABELS[1::2]


def test_each_artist_is_drawn_about_equally_often_and_each_image_of_an_artist_too():
    draws = ClassBalancedSampler(LABELS, seed=0, batch_size=32).permutation(0)
    assert len(draws) == len(LABELS) and all(0 <= i < len(LABELS) for i in draws)
    per_class = Counter(LABELS[i] for i in draws)
    for label in (0, 1, 2):  # 222 expected each; binomial sd ~12
        assert per_class[label] == pytest.approx(len(LABELS) / 3, abs=50)
    # the 6 images of the smallest artist come up ~37 times each: repeats, drawn with replacement
    smallest = Counter(i for i in draws if LABELS[i] == 2)
    assert len(smallest) == 6 and max(smallest.values()) > 1 and min(smallest.values()) > 15
    assert len(set(draws)) < len(LABELS)


def test_the_draw_depends_on_the_seed_and_epoch_only_and_resumes_mid_epoch():
    sampler = ClassBalancedSampler(LABELS, seed=5, batch_size=32)
    assert len(sampler) == len(LABELS)
    first = sampler.permutation(0)
    assert ClassBalancedSampler(LABELS, seed=5, batch_size=32).permutation(0) == first
    assert sampler.permutation(1) != first and ClassBalancedSampler(LABELS, 6, 32).permutation(0) != first
    assert list(sampler) == first  # a new sampler starts at epoch 0
    resumed = ClassBalancedSampler(LABELS, seed=5, batch_size=32, start_epoch=1, start_batch=3)
    assert len(resumed) == len(LABELS)  # the full epoch: Lightning counts the batches done itself
    assert list(resumed) == sampler.permutation(1)[3 * 32 :]
