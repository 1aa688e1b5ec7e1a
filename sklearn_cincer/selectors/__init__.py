"""Counter-example selectors: which training example best explains a doubt."""

from ._base import BaseSelector
from ._cleaning import CleaningSelector
from ._full_fisher import FullFisherSelector, PracticalFisherSelector
from ._influence import InfluenceSelector, lissa
from ._neighbors import NearestNeighborSelector, RandomSelector
from ._perceptual import PerceptualSelector
from ._top_fisher import TopFisherSelector

__all__ = [
    "BaseSelector",
    "CleaningSelector",
    "FullFisherSelector",
    "InfluenceSelector",
    "NearestNeighborSelector",
    "PerceptualSelector",
    "PracticalFisherSelector",
    "RandomSelector",
    "TopFisherSelector",
    "lissa",
]
