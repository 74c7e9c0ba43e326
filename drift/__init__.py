"""Drift monitoring: notice when live callers stop looking like the training data.

Signals per domain and overall, over daily (or weekly) windows of the call log, against the model
version's test split (`drift.reference`): the intent mix corrected for the model's confusions (BBSE),
the refused and declined shares (p-chart), the top-1 confidence (KS) and recognition health.
"""


class DriftError(Exception):
    """A drift report cannot be made: no reference, an unreadable call log, bad replay input."""
