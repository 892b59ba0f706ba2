"""Statistics for the report: Wilson intervals, paired differences with the exact McNemar test, and the
size-weighted average over benchmarks. Standard library only.

>>> low, high = wilson_interval(30, 50)
>>> round(low, 4), round(high, 4)
(0.4618, 0.7239)
>>> round(mcnemar_exact(1, 6), 4)
0.125
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "PairedDifference",
    "WeightedAverage",
    "mcnemar_exact",
    "paired_difference",
    "weighted_average",
    "wilson_interval",
]

#: Two-sided 95% normal quantile.
Z95 = 1.959963984540054


def wilson_interval(correct: int, total: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for ``correct / total`` (``(0, 1)`` when ``total`` is 0)."""
    if total < 0 or not 0 <= correct <= total:
        raise ValueError(f"need 0 <= correct <= total, got correct={correct}, total={total}")
    if total == 0:
        return 0.0, 1.0
    p = correct / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))


def mcnemar_exact(only_first: int, only_second: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pair counts (binomial test with p = 1/2).

    >>> mcnemar_exact(0, 0)
    1.0
    >>> round(mcnemar_exact(0, 10), 6)
    0.001953
    """
    if only_first < 0 or only_second < 0:
        raise ValueError(f"counts must be >= 0, got {only_first}, {only_second}")
    n = only_first + only_second
    if n == 0:
        return 1.0
    k = min(only_first, only_second)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


@dataclass(frozen=True)
class PairedDifference:
    """Accuracy of B minus accuracy of A on the same items, with a 95% CI and the McNemar p-value."""

    n: int
    #: Items A got wrong and B right.
    gained: int
    #: Items A got right and B wrong.
    lost: int
    difference: float
    ci_low: float
    ci_high: float
    p_value: float

    @property
    def variance(self) -> float:
        """Variance of :attr:`difference` (the Wald estimate for paired proportions)."""
        if self.n == 0:
            return 0.0
        discordant = (self.gained + self.lost) / self.n
        return max(0.0, discordant - self.difference**2) / self.n


def paired_difference(first: Sequence[bool], second: Sequence[bool], z: float = Z95) -> PairedDifference:
    """Compare two score lists over the same items (``second - first``).

    >>> d = paired_difference([True, False, False, True], [True, True, True, False])
    >>> d.gained, d.lost, d.difference
    (2, 1, 0.25)
    """
    if len(first) != len(second):
        raise ValueError(f"paired scores need the same items, got {len(first)} and {len(second)}")
    n = len(first)
    gained = sum(1 for a, b in zip(first, second, strict=True) if b and not a)
    lost = sum(1 for a, b in zip(first, second, strict=True) if a and not b)
    difference = (gained - lost) / n if n else 0.0
    result = PairedDifference(n, gained, lost, difference, 0.0, 0.0, mcnemar_exact(gained, lost))
    half = z * math.sqrt(result.variance)
    return PairedDifference(
        n, gained, lost, difference, max(-1.0, difference - half), min(1.0, difference + half), result.p_value
    )


@dataclass(frozen=True)
class WeightedAverage:
    """A weighted mean of per-benchmark values with a normal-approximation 95% CI and p-value against 0."""

    value: float
    ci_low: float
    ci_high: float
    #: Two-sided p-value of ``value == 0`` (meaningful for differences).
    p_value: float


def weighted_average(
    values: Sequence[float], variances: Sequence[float], weights: Sequence[float], z: float = Z95
) -> WeightedAverage:
    """``sum(w * v) / sum(w)``; the variance combines the per-benchmark variances (independent samples).

    >>> round(weighted_average([0.5, 1.0], [0.0, 0.0], [3, 1]).value, 3)
    0.625
    """
    if not (len(values) == len(variances) == len(weights)) or not values:
        raise ValueError("need one value, variance and weight per benchmark, and at least one benchmark")
    total = float(sum(weights))
    if total <= 0 or any(w < 0 for w in weights):
        raise ValueError(f"weights must be >= 0 with a positive sum, got {list(weights)}")
    value = sum(w * v for w, v in zip(weights, values, strict=True)) / total
    variance = sum((w / total) ** 2 * var for w, var in zip(weights, variances, strict=True))
    se = math.sqrt(variance)
    p_value = (1.0 if value == 0 else 0.0) if se == 0 else math.erfc(abs(value) / se / math.sqrt(2))
    return WeightedAverage(value, value - z * se, value + z * se, p_value)
