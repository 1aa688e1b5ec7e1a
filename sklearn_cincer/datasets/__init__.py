"""Data sets of the paper and label noise."""

from ._noise import make_label_noise

__all__ = ["make_label_noise"]
