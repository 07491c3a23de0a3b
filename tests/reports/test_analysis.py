"""Error analysis: confused pairs vs scikit-learn's confusion matrix, worst mistakes, the contact sheet."""

from __future__ import annotations

import numpy as np
from PIL import Image
from sklearn.metrics import confusion_matrix

from artworks.data.images import load_image
from artworks.reports import analysis, plots
from artworks.reports.predictions import Predictions

NAMES = ["Alpha", "Beta", "Gamma"]


def _predictions(seed: int = 0, n: int = 90) -> Predictions:
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, 3, n)
    preds = np.where(rng.random(n) < 0.6, targets, rng.integers(0, 3, n))
    probabilities = rng.dirichlet(np.ones(3), size=n)
    probabilities[np.arange(n), preds] += 1  # the predicted artist is the most likely one
    probabilities /= probabilities.sum(1, keepdims=True)
    return Predictions([f"img{i}.jpg" for i in range(n)], targets, preds, probabilities, NAMES)


def test_confused_pairs_are_the_off_diagonal_of_the_confusion_matrix():
    p = _predictions()
    matrix = confusion_matrix(p.targets, p.preds, labels=[0, 1, 2])
    pairs = analysis.confused_pairs(p, top=10)
    assert len(pairs) == np.count_nonzero(matrix - np.diag(np.diag(matrix)))
    for pair in pairs:
        t, q = NAMES.index(pair["artist"]), NAMES.index(pair["predicted"])
        assert t != q and pair["count"] == matrix[t, q]
        assert pair["rate"] == matrix[t, q] / matrix[t].sum() and pair["images"] == matrix[t].sum()
    assert [r["count"] for r in pairs] == sorted((r["count"] for r in pairs), reverse=True)
    assert len(analysis.confused_pairs(p, top=2)) == 2


def test_worst_mistakes_are_the_most_confident_wrong_predictions():
    p = _predictions()
    worst = analysis.worst_mistakes(p, count=5)
    assert len(worst) == 5 and all(p.targets[i] != p.preds[i] for i in worst)
    wrong_confidence = sorted(p.confidence[~p.correct], reverse=True)
    assert [p.confidence[i] for i in worst] == wrong_confidence[:5]


def test_recall_against_training_size_and_the_contact_sheet(sample_root, tmp_path):
    p = _predictions()
    points = analysis.recall_and_train_size(p, [50, 20, 5])
    for name, size, recall in points:
        c = NAMES.index(name)
        assert size == [50, 20, 5][c] and recall == np.mean(p.preds[p.targets == c] == c)
    files = sorted((sample_root / "images" / "images").rglob("*.jpg"))[:11]
    thumbnails = [load_image(f, 64) for f in files]
    plots.plot_contact_sheet(
        thumbnails, [f"{f.stem}\n-> x\np = 0.50" for f in files], tmp_path / "s.png", "t"
    )
    with Image.open(tmp_path / "s.png") as sheet:
        assert sheet.width == 8 * (64 + 8) and sheet.height > 2 * 64  # 11 thumbnails: two rows of eight
        tile = np.asarray(sheet.convert("RGB"))[24 : 24 + 64, 4 : 4 + 64]
        assert np.array_equal(tile, thumbnails[0])  # the first painting, pasted unchanged
