"""Research workflows built on the backtest engine: parameter sweeps, walk-forward tests, the
trial registry, baselines and comparisons against benchmarks, attribution by ablation, the AI
filter's out-of-sample comparison and the seed's claims.

This layer sits above the engines (``quantlib.backtest``) and below ``quantlib.stress`` and
``quantlib.reports``: a workflow runs engines and returns finished result objects; the reports
only render them. Import from the submodules (``quantlib.research.sweeps`` and so on).
"""
