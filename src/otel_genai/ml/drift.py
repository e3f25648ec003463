"""Drift of live traffic against a reference sample, in numpy only: PSI (default) or the KS statistic.

PSI, the population stability index, compares two distributions over the same bins:
``PSI = sum((a_i - e_i) * ln(a_i / e_i))`` where ``e_i`` is the reference's share of bin ``i`` and ``a_i``
the window's. Bins are the reference's deciles (``bins`` quantile bins), so each holds about the same
share of the reference; an empty bin counts as a share of 1e-4 so the logarithm stays finite. The usual
reading: below 0.1 no significant change, 0.1-0.25 a moderate shift worth a look, above 0.25 a
significant shift. For class outputs the bins are the classes.

KS is the Kolmogorov-Smirnov statistic, the largest distance between the two empirical distribution
functions (0 = identical, 1 = disjoint); it needs no bins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

_EPSILON = 1e-4
Method = Callable[[Any, Any], float]  # (reference column, window column) -> drift


class NumericDrift:
    """Drift of one numeric feature: the reference's bins and shares are computed once."""

    def __init__(self, reference: Any, *, bins: int = 10, method: str | Method = "psi") -> None:
        self.reference = np.sort(np.asarray(reference, dtype=float).ravel())
        self.reference = self.reference[np.isfinite(self.reference)]
        if self.reference.size == 0:
            raise ValueError("the reference sample has no finite values")
        self.method = method
        inner = np.quantile(self.reference, np.linspace(0.0, 1.0, bins + 1)[1:-1])
        self.edges = np.unique(inner)
        self.expected = _shares(
            np.searchsorted(self.edges, self.reference, side="right"), self.edges.size + 1
        )

    def __call__(self, window: Any) -> float:
        values = np.asarray(window, dtype=float).ravel()
        values = values[np.isfinite(values)]
        if values.size == 0:
            return 0.0
        if callable(self.method):
            return float(self.method(self.reference, values))
        if self.method == "ks":
            return ks(self.reference, values)
        actual = _shares(np.searchsorted(self.edges, values, side="right"), self.edges.size + 1)
        return psi(self.expected, actual)


class CategoricalDrift:
    """Drift of a class label (prediction drift of a classifier): one bin per class."""

    def __init__(self, reference_labels: Any, classes: int) -> None:
        self.classes = classes
        self.expected = _shares(np.asarray(reference_labels, dtype=int).ravel(), classes)

    def __call__(self, window_labels: Any) -> float:
        labels = np.asarray(window_labels, dtype=int).ravel()
        return psi(self.expected, _shares(labels, self.classes)) if labels.size else 0.0


def psi(expected: Any, actual: Any) -> float:
    """PSI of two vectors of bin shares (each summing to 1)."""
    e = np.clip(expected, _EPSILON, None)
    a = np.clip(actual, _EPSILON, None)
    return float(np.sum((a - e) * np.log(a / e)))


def ks(reference_sorted: Any, values: Any) -> float:
    """Two-sample Kolmogorov-Smirnov statistic; ``reference_sorted`` must be sorted."""
    window = np.sort(values)
    points = np.concatenate([reference_sorted, window])
    cdf_ref = np.searchsorted(reference_sorted, points, side="right") / reference_sorted.size
    cdf_win = np.searchsorted(window, points, side="right") / window.size
    return float(np.max(np.abs(cdf_ref - cdf_win)))


def _shares(bin_index: Any, bins: int) -> Any:
    index = bin_index[(bin_index >= 0) & (bin_index < bins)]
    counts = np.bincount(index, minlength=bins).astype(float)
    total = counts.sum()
    return counts / total if total else counts


class Window:
    """The last ``size`` rows of a (samples, columns) stream, in a ring buffer."""

    def __init__(self, size: int, columns: int) -> None:
        self.size = size
        self.columns = columns
        self._rows = np.empty((size, columns), dtype=float)
        self._next = 0
        self.filled = 0

    def add(self, rows: Any) -> None:
        rows = rows[-self.size :]
        n = rows.shape[0]
        end = self._next + n
        if end <= self.size:
            self._rows[self._next : end] = rows
        else:
            first = self.size - self._next
            self._rows[self._next :] = rows[:first]
            self._rows[: n - first] = rows[first:]
        self._next = end % self.size
        self.filled = min(self.size, self.filled + n)

    def column(self, index: int) -> Any:
        return self._rows[: self.filled, index]


__all__ = [
    "CategoricalDrift",
    "Method",
    "NumericDrift",
    "Window",
    "ks",
    "psi",
]
