"""Interactive label cleaning with example-based explanations (CINCER).

``sklearn-cincer`` implements CINCER (Teso, Bontempelli, Giunchiglia and
Passerini, NeurIPS 2021) for scikit-learn: while a classifier learns from a
stream of labeled examples, :class:`SkepticalCleaner` flags examples whose
label the model finds suspicious, finds the training example that most
supports the suspicion, and asks an oracle to relabel either or both.
"""

from ._auditor import AuditRecord, LabelAuditor, find_label_issues
from ._cleaner import SkepticalCleaner
from ._config import config_context, get_config, set_config
from ._display import CleaningCurveDisplay, CounterExampleDisplay, LabelIssuesDisplay
from ._health import HealthSummary, health_summary
from ._questions import QueryRecord
from .oracles import SimulatedOracle
from .selectors import (
    CleaningSelector,
    FullFisherSelector,
    InfluenceSelector,
    NearestNeighborSelector,
    PerceptualSelector,
    PracticalFisherSelector,
    RandomSelector,
    TopFisherSelector,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "AuditRecord",
    "CleaningCurveDisplay",
    "CleaningSelector",
    "CounterExampleDisplay",
    "FullFisherSelector",
    "HealthSummary",
    "InfluenceSelector",
    "LabelAuditor",
    "LabelIssuesDisplay",
    "NearestNeighborSelector",
    "PerceptualSelector",
    "PracticalFisherSelector",
    "QueryRecord",
    "RandomSelector",
    "SimulatedOracle",
    "SkepticalCleaner",
    "TopFisherSelector",
    "__version__",
    "config_context",
    "find_label_issues",
    "get_config",
    "health_summary",
    "set_config",
]
