"""The statistics of drift, on numpy/scipy only: pure functions over counts, tested on synthetic numbers.

- `bbse`: black-box shift estimation (Lipton et al. 2018). From the test split's joint confusion matrix
  C[i, j] = P(predicted i, true j) and the live predicted shares mu, w = C^-1 mu are the importance
  weights q(y)/p(y); kept non-negative (NNLS when the plain solution has a negative weight) and
  renormalised they give the live intent mix q = w * p.
- `psi`, `chi_square`: how far a mix moved, and whether the live predicted counts could come from the
  reference's predicted distribution.
- `p_chart`: a share against its reference with 3-sigma limits for the window's size.
- `ks_binned`: two-sample Kolmogorov-Smirnov over histograms (the database returns binned confidences).
- `cer`: character error rate between two texts (recognizer disagreement).
- `bootstrap_quantile`: a statistic's quantile over windows resampled from a stable distribution.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps
from scipy.optimize import nnls

EPS = 1e-4  # shares are floored at this before logs (PSI): an empty bin is not infinitely far


@dataclass(frozen=True)
class Bbse:
    """The estimated live label mix `q` (over the reference's labels) and the raw weights `w`."""

    q: np.ndarray
    w: np.ndarray
    clipped: bool  # some weight came out negative (sampling noise or a label outside the reference)


def joint_confusion(true: np.ndarray, predicted: np.ndarray, k: int) -> np.ndarray:
    """C[i, j] = share of items predicted i whose true label is j (label indices 0..k-1)."""
    c = np.zeros((k, k))
    np.add.at(c, (predicted, true), 1.0)
    return c / max(len(true), 1)


def bbse(c: np.ndarray, mu: np.ndarray) -> Bbse:
    """Live label mix from the joint confusion matrix `c` (predicted x true) and live predicted shares."""
    c = np.asarray(c, dtype=float)
    mu = np.asarray(mu, dtype=float)
    mu = mu / mu.sum() if mu.sum() > 0 else mu
    p = c.sum(axis=0)  # reference label shares
    keep = p > 0  # labels never true in the reference cannot be weighted
    w = np.zeros_like(p)
    sub = c[:, keep]
    free = np.linalg.lstsq(sub, mu, rcond=None)[0]
    clipped = bool((free < 0).any())
    # non-negative least squares rather than solve-then-clip: with a small or ill-conditioned C (a
    # domain's few held-out texts) the unconstrained solution swings wildly and clipping keeps the swing
    w[keep] = nnls(sub, mu)[0] if clipped else free
    q = w * p
    total = q.sum()
    q = q / total if total > 0 else p.copy()
    return Bbse(q, w, clipped)


def psi(expected: np.ndarray, actual: np.ndarray, eps: float = EPS) -> float:
    """Population stability index sum((a - e) * ln(a / e)) over shares (floored at `eps`)."""
    e = np.clip(np.asarray(expected, dtype=float), eps, None)
    a = np.clip(np.asarray(actual, dtype=float), eps, None)
    e, a = e / e.sum(), a / a.sum()
    return float(np.sum((a - e) * np.log(a / e)))


def chi_square(counts: np.ndarray, expected_shares: np.ndarray) -> tuple[float, float]:
    """Goodness of fit of live `counts` to the reference shares: (statistic, p-value).

    Bins the reference never predicts are pooled into their neighbours' share by flooring at 0.5/n
    (a label the reference never showed but live traffic does is a strong signal, not a division by 0).
    """
    counts = np.asarray(counts, dtype=float)
    n = counts.sum()
    if n <= 0 or len(counts) < 2:
        return 0.0, 1.0
    e = np.clip(np.asarray(expected_shares, dtype=float), 0.5 / n, None)
    e = e / e.sum() * n
    stat = float(np.sum((counts - e) ** 2 / e))
    return stat, float(sps.chi2.sf(stat, len(counts) - 1))


@dataclass(frozen=True)
class PChart:
    share: float
    center: float
    upper: float  # center + sigmas * sd
    lower: float
    n: int
    sd: float

    @property
    def above(self) -> bool:
        return self.n > 0 and self.share > self.upper

    @property
    def z(self) -> float:
        return float((self.share - self.center) / max(self.sd, 1e-9))


def p_chart(k: int, n: int, center: float, sigmas: float = 3.0, baseline_n: int | None = None) -> PChart:
    """A window's share k/n against the reference share `center` with `sigmas` limits.

    With `baseline_n` (the size of the sample the center was measured on) the limits also carry the
    center's own sampling error: sd = sqrt(c (1 - c) (1/n + 1/baseline_n))."""
    var = max(center * (1 - center), 0.0)
    sd = float(np.sqrt(var * (1 / n + (1 / baseline_n if baseline_n else 0.0)))) if n else 0.0
    share = k / n if n else 0.0
    return PChart(share, center, min(1.0, center + sigmas * sd), max(0.0, center - sigmas * sd), n, sd)


def ks_binned(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sample KS statistic and p-value from two histograms over the same bins.

    D is read at the bin edges (the largest gap the binned data can show; never more than the exact D).
    The p-value uses the exact two-sided distribution for the effective size n*m/(n+m)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    n, m = a.sum(), b.sum()
    if n <= 0 or m <= 0:
        return 0.0, 1.0
    d = float(np.max(np.abs(np.cumsum(a) / n - np.cumsum(b) / m)))
    size = max(int(round(n * m / (n + m))), 1)
    return d, float(sps.kstwo.sf(d, size))


def histogram(values: np.ndarray, bins: int) -> np.ndarray:
    """Counts of values in [0, 1] over `bins` equal bins (the database's `floor(x * bins)`, 1.0 in the last)."""
    idx = np.clip((np.asarray(values, dtype=float) * bins).astype(int), 0, bins - 1)
    return np.bincount(idx, minlength=bins).astype(float)


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate of `hypothesis` against `reference`, spaces ignored (1.0 when one is empty
    and the other is not)."""
    r, h = reference.replace(" ", ""), hypothesis.replace(" ", "")
    if not r:
        return 0.0 if not h else 1.0
    prev = list(range(len(h) + 1))
    for i, rc in enumerate(r, 1):
        cur = [i] + [0] * len(h)
        for j, hc in enumerate(h, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (rc != hc))
        prev = cur
    return prev[-1] / len(r)


def bootstrap_quantile(
    statistic: Callable[[np.ndarray], float],
    shares: np.ndarray,
    n: int,
    quantile: float,
    rounds: int = 200,
    seed: int = 0,
) -> float:
    """The `quantile` of `statistic(counts)` over `rounds` windows of `n` items drawn from `shares`:
    how large the statistic gets from sampling alone when nothing changed."""
    shares = np.asarray(shares, dtype=float)
    if n <= 0 or shares.sum() <= 0:
        return 0.0
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, shares / shares.sum(), size=rounds)
    values = np.array([statistic(d) for d in draws])
    return float(np.quantile(values, quantile))


def bbse_psi_quantiles(
    c: np.ndarray,
    expected: np.ndarray,
    n: int,
    quantiles: tuple[float, ...],
    rounds: int = 200,
    seed: int = 0,
) -> list[float]:
    """`bootstrap_quantile` of PSI(reference mix, BBSE estimate) for windows of `n` turns whose predicted
    labels are drawn from `expected`, vectorised (one pseudo-inverse for all rounds)."""
    c = np.asarray(c, dtype=float)
    expected = np.asarray(expected, dtype=float)
    if n <= 0 or expected.sum() <= 0:
        return [0.0 for _ in quantiles]
    rng = np.random.default_rng(seed)
    mu = rng.multinomial(n, expected / expected.sum(), size=rounds) / n  # rounds x k
    p = c.sum(axis=0)
    keep = p > 0
    w = np.zeros((rounds, len(p)))
    sub = c[:, keep]
    w[:, keep] = (np.linalg.pinv(sub) @ mu.T).T
    for r in np.flatnonzero((w[:, keep] < 0).any(axis=1)):  # as `bbse`: NNLS where a weight < 0
        w[r, keep] = nnls(sub, mu[r])[0]
    q = np.clip(w, 0.0, None) * p
    sums = q.sum(axis=1, keepdims=True)
    q = np.where(sums > 0, q / np.where(sums > 0, sums, 1.0), p)
    e = np.clip(p, EPS, None)
    e = e / e.sum()
    a = np.clip(q, EPS, None)
    a = a / a.sum(axis=1, keepdims=True)
    values = np.sum((a - e) * np.log(a / e), axis=1)
    return [float(np.quantile(values, x)) for x in quantiles]
