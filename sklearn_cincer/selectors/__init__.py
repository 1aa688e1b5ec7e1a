"""Counter-example selectors: which training example best explains a doubt."""

from ._base import BaseSelector
from ._cleaning import CleaningSelector
from ._fisher import FullFisherSelector, PracticalFisherSelector, TopFisherSelector
from ._influence import InfluenceSelector, lissa
from ._neighbors import NearestNeighborSelector, RandomSelector
from ._perceptual import PerceptualSelector

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
