"""Baseline (lexicon + rules) vs a trained model on the labelled set: is the model worth keeping?

The model is a softmax (multinomial logistic) regression in plain numpy over hashed character 1-3-grams of the
cleaned text plus word unigrams, TF-IDF weighted and L2-normalised, trained on the ``dev`` split and scored on
the held-out ``test`` split of tests/data/voc_labelled.csv (and by 5-fold cross-validation over all rows, which
favours the model: the baseline's lexicon was written before, and adjusted after, looking at ``dev`` errors).

    python bench/text_classifier_eval.py

The project keeps the model only if it beats the baseline on the held-out split; see docs/benchmarks.md.
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from etl.text import TextResources, analyse_frame
from etl.text_classify import LABELS
from etl.text_tokenise import clean_texts

LABELLED = Path(__file__).resolve().parent.parent / "tests" / "data" / "voc_labelled.csv"
DIM = 2**15


def features(texts: list[str]) -> np.ndarray:
    """Hashed char 1-3-grams and word unigrams, log-scaled counts."""
    matrix = np.zeros((len(texts), DIM), dtype=np.float64)
    for row, text in enumerate(texts):
        padded = f" {text} "
        grams = [padded[i : i + n] for n in (1, 2, 3) for i in range(len(padded) - n + 1)]
        grams += ["w:" + word for word in text.split()]
        for gram in grams:
            matrix[row, zlib.crc32(gram.encode("utf-8")) % DIM] += 1.0
    return np.log1p(matrix)


class SoftmaxRegression:
    def __init__(self, l2: float = 1e-3, epochs: int = 400, rate: float = 2.0) -> None:
        self.l2, self.epochs, self.rate = l2, epochs, rate

    def fit(self, x: np.ndarray, y: np.ndarray, classes: int) -> SoftmaxRegression:
        df = (x > 0).sum(axis=0)
        self.idf = np.log((1 + len(x)) / (1 + df)) + 1
        x = self._scale(x)
        self.w = np.zeros((x.shape[1], classes))
        self.b = np.zeros(classes)
        onehot = np.eye(classes)[y]
        for _ in range(self.epochs):
            p = self._proba(x)
            grad = p - onehot
            self.w -= self.rate * (x.T @ grad / len(x) + self.l2 * self.w)
            self.b -= self.rate * grad.mean(axis=0)
        return self

    def _scale(self, x: np.ndarray) -> np.ndarray:
        x = x * self.idf
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)

    def _proba(self, x: np.ndarray) -> np.ndarray:
        z = x @ self.w + self.b
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._proba(self._scale(x)).argmax(axis=1)


def report(name: str, gold: list[str], predicted: list[str]) -> float:
    accuracy = float(np.mean([g == p for g, p in zip(gold, predicted, strict=True)]))
    recalls = {
        label: float(np.mean([p == label for g, p in zip(gold, predicted, strict=True) if g == label]))
        for label in LABELS
    }
    print(f"{name:<34} accuracy {accuracy:.3f}  " + "  ".join(f"{k} {v:.2f}" for k, v in recalls.items()))
    return accuracy


def main() -> None:
    data = pl.read_csv(LABELLED)
    cleaned = clean_texts(data.lazy()).collect()
    texts = cleaned["clean"].to_list()
    gold = cleaned["label"].to_list()
    y = np.array([LABELS.index(g) for g in gold])
    x = features(texts)
    baseline = (
        analyse_frame(data.lazy().with_columns(pl.col("id").alias("interaction_id")), TextResources.default())
        .collect()["label"]
        .to_list()
    )
    dev = (cleaned["split"] == "dev").to_numpy()
    test = ~dev
    print(f"labelled texts: {len(data)} (dev {dev.sum()}, test {test.sum()})")
    report("baseline, test split", list(np.array(gold)[test]), list(np.array(baseline)[test]))
    model = SoftmaxRegression().fit(x[dev], y[dev], len(LABELS))
    report(
        "model (trained on dev), test split", list(np.array(gold)[test]), [LABELS[i] for i in model.predict(x[test])]
    )
    report("baseline, all rows", gold, baseline)
    folds = np.arange(len(data)) % 5
    predicted = np.empty(len(data), dtype=np.int64)
    for fold in range(5):
        train = folds != fold
        predicted[~train] = SoftmaxRegression().fit(x[train], y[train], len(LABELS)).predict(x[~train])
    report("model, 5-fold cross-validation", gold, [LABELS[i] for i in predicted])


if __name__ == "__main__":
    main()
