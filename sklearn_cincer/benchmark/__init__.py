"""The paper's experiments: runner, figures, comparison with the paper, CLI.

- Q1 and Q3: :func:`run_experiment` runs one competitor (:class:`RunSpec`:
  data set, model, strategy, selector, refit) over repeats, saving per-round
  traces; every competitor sees the same streams.
- Q2: :func:`run_precision_experiment` measures Pr@k of selectors.
- :func:`plot_traces`, :func:`plot_precision`, :func:`plot_counter_examples`
  draw the paper's Figures 2/4, 3 and 1; :func:`compare_with_paper` puts our
  final numbers next to the paper's.
- :func:`run_audit_benchmark` audits noisy static datasets with
  :class:`~sklearn_cincer.LabelAuditor` and with cleanlab, at equal labels
  inspected (the ``audit-benchmark`` command).
- :class:`AuthorsTopFisherSelector` ranks counter-examples as the authors'
  code did (opposite sign, Fisher from 30 samples, pseudo-inverse).

Nothing here imports torch, matplotlib or pandas at module load.
"""

from ._audit import (
    AUDIT_BUDGETS,
    AUDIT_DATASETS,
    AUDIT_NOISE,
    load_audit_data,
    run_audit_benchmark,
    run_audit_task,
    summarize_audit,
)
from ._authors import AuthorsTopFisherSelector
from ._registry import (
    MODELS,
    SELECTORS,
    STRATEGIES,
    make_model,
    make_selector,
    selector_class,
)
from ._report import (
    compare_precision_with_paper,
    compare_with_paper,
    competitor_label,
    format_table,
    load_paper_results,
    pick_counter_examples,
    plot_counter_examples,
    plot_precision,
    plot_traces,
    summarize_traces,
)
from ._runner import (
    PAPER_PAIRS,
    PAPER_SETTINGS,
    Q1_RUNS,
    Q3_RUNS,
    RunSpec,
    make_stream,
    paper_bootstrap,
    precision_at_k,
    repeat_seed,
    run_cleaning,
    run_experiment,
    run_precision,
    run_precision_experiment,
)

__all__ = [
    "AUDIT_BUDGETS",
    "AUDIT_DATASETS",
    "AUDIT_NOISE",
    "MODELS",
    "PAPER_PAIRS",
    "PAPER_SETTINGS",
    "Q1_RUNS",
    "Q3_RUNS",
    "SELECTORS",
    "STRATEGIES",
    "AuthorsTopFisherSelector",
    "RunSpec",
    "compare_precision_with_paper",
    "compare_with_paper",
    "competitor_label",
    "format_table",
    "load_audit_data",
    "load_paper_results",
    "make_model",
    "make_selector",
    "make_stream",
    "paper_bootstrap",
    "pick_counter_examples",
    "plot_counter_examples",
    "plot_precision",
    "plot_traces",
    "precision_at_k",
    "repeat_seed",
    "run_audit_benchmark",
    "run_audit_task",
    "run_cleaning",
    "run_experiment",
    "run_precision",
    "run_precision_experiment",
    "selector_class",
    "summarize_audit",
    "summarize_traces",
]
