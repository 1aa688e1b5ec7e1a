"""Counter-example selectors: which training example best explains a doubt."""

from ._base import BaseSelector
from ._fisher import TopFisherSelector
from ._neighbors import NearestNeighborSelector, RandomSelector

__all__ = [
    "BaseSelector",
    "NearestNeighborSelector",
    "RandomSelector",
    "TopFisherSelector",
]
