"""The labels of market regimes, one home for every layer (issue 15).

Regime models (:mod:`quantlib.models.regime`) number their ``k`` states by variance, 0 the
calmest, and write per period one probability column per state (``prob_0 .. prob_{k-1}``) and
the most likely state (``regime``). Attribution (:mod:`quantlib.analytics.attribution`) groups
trades under ``"regime <j>"``, or ``"unknown"`` before the first label; apps and workbooks read
the same names. They live here, below ``analytics`` and ``models``, so that both can use them.

Examples
--------
>>> prob_columns(3)
['prob_0', 'prob_1', 'prob_2']
>>> regime_label(1), is_prob_column("prob_1"), is_prob_column("regime")
('regime 1', True, False)
"""

from __future__ import annotations

__all__ = [
    "PROB_PREFIX",
    "REGIME_COLUMN",
    "UNKNOWN_REGIME",
    "is_prob_column",
    "prob_columns",
    "regime_label",
]

#: The column holding the most likely regime (0 = calmest), NA where none is known yet.
REGIME_COLUMN = "regime"
#: The prefix of the probability columns: ``prob_<j>`` is the probability of regime ``j``.
PROB_PREFIX = "prob_"
#: The group of a trade opened before the first regime label was known.
UNKNOWN_REGIME = "unknown"


def prob_columns(k: int) -> list[str]:
    """The probability column names for ``k`` regimes, calmest first."""
    return [f"{PROB_PREFIX}{j}" for j in range(k)]


def is_prob_column(name: object) -> bool:
    """Whether ``name`` is a probability column (``prob_<j>``)."""
    return str(name).startswith(PROB_PREFIX)


def regime_label(regime: object) -> str:
    """The readable label of regime number ``regime`` (``"regime 0"`` is the calmest)."""
    return f"regime {regime}"
