"""Machine-learning confirmation layer: causal features, forward labels, purged walk-forward
splits and sliding-window datasets (``features``, ``labels``, ``splits``, ``dataset``), and the
classifiers trained on them (``nets``, ``train``, ``calibration``, ``ensemble``).

Import the submodules directly (``from quantlib.models.ml.features import make_features``):
this package imports nothing, so loading it does not load torch.
"""
