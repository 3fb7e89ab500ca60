"""The time-varying Gaussian-process bandit of PB2 as pure numpy functions.

Parker-Holder et al., "Provably Efficient Online Hyperparameter Optimization with
Population-Based Bandits", NeurIPS 2020: the change of reward between two perturbation times
is modelled as a GP over (time, hyperparameters) whose kernel forgets with time,
``k((t, x), (t', x')) = (1 - eps)^(|t - t'| / 2) * exp(-|x - x'|^2 / (2 l^2))``; a new
configuration maximises the upper confidence bound ``mu + sqrt(beta_t) * sigma``, with the
configurations other trials are running added as "pending" points (their variance is shrunk,
the mean is not changed), so a batch of trials explores different places.
"""

from __future__ import annotations

import math

import numpy as np

_LENGTHSCALES = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)
_FORGETTING = (0.0, 0.01, 0.05, 0.2)
_NOISE = 1e-2  # on standardised rewards


def kernel(a: np.ndarray, b: np.ndarray, lengthscale: float, eps: float) -> np.ndarray:
    """The time-varying squared-exponential kernel between rows ``[t, x...]`` of a and b."""
    dt = np.abs(a[:, :1] - b[:, :1].T)
    sq = ((a[:, None, 1:] - b[None, :, 1:]) ** 2).sum(axis=-1)
    return (1.0 - eps) ** (dt / 2.0) * np.exp(-sq / (2.0 * lengthscale**2))


def _log_marginal_likelihood(x: np.ndarray, y: np.ndarray, lengthscale: float, eps: float):
    k = kernel(x, x, lengthscale, eps) + _NOISE * np.eye(len(x))
    try:
        chol = np.linalg.cholesky(k)
    except np.linalg.LinAlgError:
        return -math.inf
    alpha = np.linalg.solve(chol.T, np.linalg.solve(chol, y))
    return float(-0.5 * y @ alpha - np.log(np.diag(chol)).sum())


def fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """The lengthscale and forgetting rate of highest marginal likelihood (a small grid)."""
    best = max(
        ((_log_marginal_likelihood(x, y, ls, eps), ls, eps) for ls in _LENGTHSCALES
         for eps in _FORGETTING),
        key=lambda entry: entry[0],
    )  # fmt: skip
    return best[1], best[2]


def posterior(
    x: np.ndarray, y: np.ndarray, query: np.ndarray, lengthscale: float, eps: float
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and standard deviation at the rows of ``query``."""
    k = kernel(x, x, lengthscale, eps) + _NOISE * np.eye(len(x))
    k_star = kernel(query, x, lengthscale, eps)
    chol = np.linalg.cholesky(k)
    alpha = np.linalg.solve(chol.T, np.linalg.solve(chol, y))
    v = np.linalg.solve(chol, k_star.T)
    var = np.clip(1.0 - (v**2).sum(axis=0), 1e-12, None)
    return k_star @ alpha, np.sqrt(var)


def beta(num_points: int, dims: int, delta: float = 0.1) -> float:
    """The UCB exploration weight of GP-UCB (Srinivas et al., 2010), growing with the data."""
    t = max(num_points, 1)
    return 2.0 * math.log(t ** (dims / 2.0 + 2.0) * math.pi**2 / (3.0 * delta)) / 10.0


def select(
    data_x: np.ndarray,
    data_y: np.ndarray,
    now: float,
    pending: np.ndarray,
    rng: np.random.Generator,
    num_candidates: int = 2000,
) -> np.ndarray:
    """The hyperparameters (in [0, 1]^d) that maximise the UCB at time ``now``.

    Args:
        data_x: rows ``[t, x...]`` with times scaled like ``now`` and x in [0, 1].
        data_y: the reward change observed for each row.
        now: the time the new configuration will be trained at.
        pending: rows ``[t, x...]`` other trials are running (variance shrinks there).
        rng: draws the candidates.
    """
    dims = data_x.shape[1] - 1
    candidates = rng.random((num_candidates, dims))
    if len(data_x) < 2 or np.ptp(data_y) == 0:
        return candidates[0]  # nothing to learn from yet: a random configuration
    y = (data_y - data_y.mean()) / data_y.std()
    lengthscale, eps = fit(data_x, y)
    query = np.hstack([np.full((num_candidates, 1), now), candidates])
    mean, _ = posterior(data_x, y, query, lengthscale, eps)
    # Pending points: their outcome is unknown, so they add no evidence to the mean, only
    # certainty to the variance (the posterior variance does not depend on y).
    seen = np.vstack([data_x, pending]) if len(pending) else data_x
    _, std = posterior(seen, np.zeros(len(seen)), query, lengthscale, eps)
    ucb = mean + math.sqrt(beta(len(data_x), dims)) * std
    return candidates[int(np.argmax(ucb))]
