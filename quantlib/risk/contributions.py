r"""How a portfolio's risk is spread across its assets, at one date and through time: Euler
risk contributions, the diversification ratio, the effective number of bets and concentration.

The single-date functions take weights and a covariance matrix (e.g. from
:func:`~quantlib.risk.ledoit_wolf_covariance`); :func:`risk_distribution` applies them at every
bar to a weight frame (held between decisions) and a causal covariance estimate (rolling or
EWMA, from :mod:`quantlib.risk.correlation`, which also gives the rolling and EWMA correlation
matrices themselves; :func:`average_correlation` summarises those in one series).

References
----------
.. [1] Choueifaty, Y. and Coignard, Y. (2008). "Toward maximum diversification". Journal of
   Portfolio Management 35(1), 40–51.
.. [2] Meucci, A. (2009). "Managing diversification". Risk 22(5), 74–79.
.. [3] Tasche, D. (1999). "Risk contributions and performance measurement". Working paper,
   TU München.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import pandas as pd

from quantlib._validation import check_choice, check_float, check_int, check_returns_frame
from quantlib.exceptions import ConfigError, DataError
from quantlib.results import ResultSummary
from quantlib.risk.correlation import (
    _labelled,
    _matrix,
    _to_correlation,
    ewma_covariance,
    rolling_covariance,
)

__all__ = [
    "BETS_METHODS",
    "BetsMethod",
    "RiskDistribution",
    "average_correlation",
    "concentration",
    "diversification_ratio",
    "effective_number_of_bets",
    "risk_distribution",
]

BetsMethod = Literal["pca", "contributions"]
BETS_METHODS: tuple[str, ...] = get_args(BetsMethod)


def _weights_and_covariance(weights: object, covariance: object) -> tuple[np.ndarray, np.ndarray]:
    w, labels = _labelled("weights", weights, None)
    if w.ndim != 1 or len(w) == 0:
        raise DataError(f"weights must be 1-D and non-empty, got shape {w.shape}", rule="shape")
    cov = _matrix(covariance, labels if labels is not None else pd.RangeIndex(len(w)))
    if cov.shape != (len(w), len(w)):
        raise DataError(
            f"covariance must be {len(w)} x {len(w)} to match weights, got {cov.shape}",
            rule="shape",
        )
    if not (np.isfinite(w).all() and np.isfinite(cov).all()):
        raise DataError("weights or covariance hold NaN or infinite values. Fix: fill or drop them")
    return w, cov


def _variance_or_raise(w: np.ndarray, cov: np.ndarray) -> float:
    variance = float(w @ cov @ w)
    if not variance > 0.0:
        raise DataError(
            f"portfolio variance w' Sigma w = {variance!r} is not positive. Fix: check the "
            "weights are not all zero and the covariance is positive semi-definite",
            rule="zero variance",
        )
    return variance


def _entropy_exp(shares: np.ndarray) -> np.ndarray:
    """exp of the Shannon entropy of each row of shares (0 ln 0 = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(shares > 0.0, shares * np.log(shares), 0.0)
    out: np.ndarray = np.exp(-terms.sum(axis=-1))
    return out


def _pca_shares(w: np.ndarray, cov: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """Meucci's shares of variance carried by the principal components (batched)."""
    eigenvalues, vectors = np.linalg.eigh(cov)
    loadings = np.einsum("...ik,...i->...k", vectors, w)
    shares: np.ndarray = np.clip(eigenvalues, 0.0, None) * loadings**2 / variance[..., None]
    return shares


def diversification_ratio(
    weights: pd.Series | np.ndarray, covariance: pd.DataFrame | np.ndarray
) -> float:
    r"""Weighted average volatility over portfolio volatility (Choueifaty and Coignard 2008).

    .. math:: DR = \frac{\sum_i |w_i|\sigma_i}{\sqrt{w^\top\Sigma w}}

    1 for a single asset or perfectly correlated assets; larger when correlations are lower.

    Raises
    ------
    DataError
        Shapes or assets that do not match, NaN, or a zero portfolio variance.

    Examples
    --------
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.04]], index=["a", "b"], columns=["a", "b"])
    >>> round(diversification_ratio(pd.Series({"a": 0.5, "b": 0.5}), cov), 6)
    1.414214
    """
    w, cov = _weights_and_covariance(weights, covariance)
    variance = _variance_or_raise(w, cov)
    return float(np.abs(w) @ np.sqrt(np.diagonal(cov)) / variance**0.5)


def effective_number_of_bets(
    weights: pd.Series | np.ndarray,
    covariance: pd.DataFrame | np.ndarray,
    *,
    method: BetsMethod = "pca",
) -> float:
    r"""How many independent bets the portfolio's risk is spread over: the exponential of the
    entropy of risk shares.

    Parameters
    ----------
    weights, covariance
        Portfolio weights and the covariance of asset returns.
    method : {"pca", "contributions"}, default "pca"
        ``pca`` (Meucci 2009 [2]_): shares of variance carried by the uncorrelated principal
        components, :math:`p_k = \lambda_k (e_k^\top w)^2 / w^\top\Sigma w`, always >= 0.
        ``contributions``: the assets' Euler shares :math:`w_i(\Sigma w)_i / w^\top\Sigma w`,
        which must all be >= 0 (a hedge has a negative share and no entropy).

    Returns
    -------
    float
        :math:`\exp(-\sum_k p_k \ln p_k)`, between 1 and the number of assets.

    Raises
    ------
    DataError
        As :func:`diversification_ratio`; with ``method="contributions"`` also a negative
        share.

    Examples
    --------
    >>> cov = np.diag([0.04, 0.04, 0.04])
    >>> round(effective_number_of_bets(np.array([1/3, 1/3, 1/3]), cov), 6)
    3.0
    >>> round(effective_number_of_bets(np.array([1.0, 0.0, 0.0]), cov, method="contributions"), 6)
    1.0
    """
    how = check_choice("method", method, BETS_METHODS)
    w, cov = _weights_and_covariance(weights, covariance)
    variance = _variance_or_raise(w, cov)
    if how == "pca":
        shares = _pca_shares(w, cov, np.asarray(variance))
    else:
        shares = w * (cov @ w) / variance
        if (shares < -1e-12).any():
            raise DataError(
                f"some assets have negative risk shares {shares.round(6).tolist()} (hedges), so "
                "their entropy is undefined. Fix: use method='pca'",
                rule="negative share",
            )
        shares = np.clip(shares, 0.0, None)
    return float(_entropy_exp(shares))


def concentration(weights: pd.Series | np.ndarray) -> float:
    r"""Herfindahl–Hirschman index of the weights: :math:`\sum_i (|w_i| / \sum_j |w_j|)^2`.

    :math:`1/N` for equal weights, 1 for a single asset; :math:`1/HHI` is the effective number
    of assets.

    Examples
    --------
    >>> concentration(pd.Series({"a": 0.5, "b": 0.25, "c": 0.25}))
    0.375
    """
    w, _ = _labelled("weights", weights, None)
    if w.ndim != 1 or len(w) == 0 or not np.isfinite(w).all():
        raise DataError("weights must be 1-D, non-empty and finite", rule="shape")
    gross = float(np.abs(w).sum())
    if gross == 0.0:
        raise DataError("weights are all zero, so concentration is undefined", rule="zero weights")
    return float(np.sum((np.abs(w) / gross) ** 2))


@dataclass(frozen=True)
class RiskDistribution:
    r"""Risk shares and diversification figures of a portfolio at every bar.

    Attributes
    ----------
    contributions : pandas.DataFrame
        Each asset's share of portfolio volatility (Euler, sums to 1 per row), bars by assets.
    figures : pandas.DataFrame
        Per bar: ``volatility`` (per period), ``diversification_ratio``, ``effective_bets``,
        ``concentration`` (HHI of weights). NaN where the covariance is not yet defined or the
        book is flat.
    estimator : str
        The covariance estimate used, e.g. ``"ewma(0.94)"`` or ``"rolling(60)"``.
    bets_method : str
        How ``effective_bets`` was measured.
    """

    contributions: pd.DataFrame = field(repr=False)
    figures: pd.DataFrame = field(repr=False)
    estimator: str
    bets_method: str

    def to_frame(self) -> pd.DataFrame:
        """The per-bar figures."""
        return self.figures

    def summary(self) -> ResultSummary:
        """Averages of the figures over the bars where they are defined (figures); the mean
        share of volatility of each asset (table)."""
        valid = self.figures.dropna()
        means = valid.mean() if len(valid) else pd.Series(np.nan, index=self.figures.columns)
        shares = self.contributions.dropna().mean().rename("mean_share").to_frame()
        return ResultSummary(
            f"risk distribution over {len(valid)} bars ({self.estimator} covariance)",
            {
                "n_bars": len(valid),
                "mean_volatility": float(means["volatility"]),
                "mean_diversification_ratio": float(means["diversification_ratio"]),
                "mean_effective_bets": float(means["effective_bets"]),
                "mean_concentration": float(means["concentration"]),
            },
            named_tables={"mean share of volatility": shares},
            remarks=(f"effective bets by {self.bets_method}",),
        )


def _covariances(frame: pd.DataFrame, window: int | None, decay: float) -> tuple[np.ndarray, str]:
    n_time, n_assets = frame.shape
    if window is not None:
        size = check_int("window", window, minimum=2)
        stacked = rolling_covariance(frame, size)
        label = f"rolling({size})"
    else:
        lam = check_float("decay", decay, minimum=0.0, maximum=1.0, inclusive=False)
        stacked = ewma_covariance(frame, lam)
        label = f"ewma({lam:g})"
    return stacked.to_numpy().reshape(n_time, n_assets, n_assets), label


def _held_weights(weights: object, frame: pd.DataFrame) -> np.ndarray:
    if not isinstance(weights, pd.DataFrame):
        raise ConfigError(
            f"weights must be a DataFrame of weights per bar, got {type(weights).__name__}"
        )
    extra = [c for c in weights.columns if c not in frame.columns]
    if extra:
        raise DataError(
            f"weights has asset(s) {extra} that returns lacks. Fix: give returns a column for "
            "every asset of weights",
            rule="missing assets",
        )
    held = weights.reindex(columns=frame.columns).reindex(frame.index).ffill()
    decided = held.notna().any(axis=1)
    out: np.ndarray = held.where(~decided, held.fillna(0.0)).to_numpy(dtype=np.float64)
    return out


def risk_distribution(
    weights: pd.DataFrame,
    returns: pd.DataFrame,
    *,
    window: int | None = None,
    decay: float = 0.94,
    bets: BetsMethod = "pca",
) -> RiskDistribution:
    r"""Euler risk shares, diversification ratio, effective bets and concentration at every bar.

    Parameters
    ----------
    weights : pandas.DataFrame
        Weights per bar (columns = assets; NaN rows = no decision, e.g. from
        :func:`quantlib.allocation.rolling_weights`). Each decision is held until the next
        (drift ignored: pass a portfolio result's actual weights to measure the drifted book).
    returns : pandas.DataFrame
        Per-bar returns of the assets (no NaN; fill 0 where an asset is not trading), indexed
        like ``weights``.
    window : int, optional
        Covariance over the last ``window`` rows; omitted: EWMA with ``decay``.
    decay : float, default 0.94
        RiskMetrics decay of the EWMA covariance (zero mean).
    bets : {"pca", "contributions"}, default "pca"
        How :func:`effective_number_of_bets` is measured (``contributions`` gives NaN on rows
        with a negative share).

    Returns
    -------
    RiskDistribution

    Notes
    -----
    The covariance at bar :math:`t` uses returns up to and including :math:`t` only, and the
    weights are those decided at or before :math:`t`, so every row is causal
    (truncation-invariant).

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")
    >>> r = pd.DataFrame({"a": [0.01, -0.02, 0.01, 0.02], "b": [0.02, 0.01, -0.01, 0.0]}, idx)
    >>> w = pd.DataFrame({"a": [0.5, None, None, None], "b": [0.5, None, None, None]}, idx)
    >>> risk_distribution(w, r, decay=0.9).contributions.sum(axis=1).round(12).tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    how = check_choice("bets", bets, BETS_METHODS)
    frame = check_returns_frame(
        "returns", returns, fix_nan="fill 0 where an asset does not trade (returns.fillna(0))"
    )
    w = _held_weights(weights, frame)
    cov, label = _covariances(frame, window, decay)
    sigma_w = np.einsum("tij,tj->ti", cov, w)
    variance = np.einsum("ti,ti->t", w, sigma_w)
    ok = np.isfinite(variance) & (variance > 0.0)
    safe = np.where(ok, variance, 1.0)
    shares = np.where(ok[:, None], w * sigma_w / safe[:, None], np.nan)
    std = np.sqrt(np.clip(np.diagonal(cov, axis1=1, axis2=2), 0.0, None))
    ratio = np.where(ok, np.einsum("ti,ti->t", np.abs(w), std) / np.sqrt(safe), np.nan)
    enb = np.full(len(frame), np.nan)
    rows = np.flatnonzero(ok)
    if len(rows):
        if how == "pca":
            parts = _pca_shares(w[rows], cov[rows], variance[rows])
            enb[rows] = _entropy_exp(parts)
        else:
            parts = shares[rows]
            valid = (parts >= -1e-12).all(axis=1)
            enb[rows[valid]] = _entropy_exp(np.clip(parts[valid], 0.0, None))
    gross = np.abs(w).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        hhi = np.where(gross > 0.0, ((np.abs(w) / gross[:, None]) ** 2).sum(axis=1), np.nan)
    figures = pd.DataFrame(
        {
            "volatility": np.where(ok, np.sqrt(safe), np.nan),
            "diversification_ratio": ratio,
            "effective_bets": enb,
            "concentration": hhi,
        },
        index=frame.index,
    )
    return RiskDistribution(
        contributions=pd.DataFrame(shares, index=frame.index, columns=frame.columns),
        figures=figures,
        estimator=label,
        bets_method=how,
    )


def average_correlation(
    returns: pd.DataFrame, *, window: int | None = None, decay: float = 0.94
) -> pd.Series:
    r"""Mean pairwise correlation of the assets at every bar (rolling or EWMA, causal).

    .. math:: \bar\rho_t = \frac{2}{N(N-1)}\sum_{i<j}\rho_{ij,t}

    Parameters
    ----------
    returns : pandas.DataFrame
        Per-bar returns, at least 2 assets, no NaN.
    window : int, optional
        Correlation over the last ``window`` rows (as :func:`rolling_correlation`); omitted:
        EWMA correlation with ``decay`` (as :func:`ewma_correlation`).
    decay : float, default 0.94
        EWMA decay.

    Returns
    -------
    pandas.Series
        Named ``average_correlation``; NaN where a correlation is undefined.

    Examples
    --------
    >>> r = pd.DataFrame({"a": [0.01, -0.02, 0.03], "b": [0.02, -0.04, 0.06]})
    >>> average_correlation(r, window=3).round(6).tolist()
    [nan, nan, 1.0]
    """
    frame = check_returns_frame("returns", returns)
    n_assets = frame.shape[1]
    if n_assets < 2:
        raise DataError(
            "average_correlation needs at least 2 assets, got 1. Fix: pass more columns",
            rule="too few assets",
        )
    cov, _ = _covariances(frame, window, decay)
    corr = _to_correlation(cov)
    upper = np.triu_indices(n_assets, k=1)
    values = corr[:, upper[0], upper[1]].mean(axis=1)
    return pd.Series(values, index=frame.index, name="average_correlation")
