"""The ``audit-benchmark`` subcommand of ``sklearn-cincer``.

::

    sklearn-cincer audit-benchmark --output results/audit --n-jobs 2
"""

import sys

from ..datasets import NOISE_KINDS
from ._audit import AUDIT_BUDGETS, AUDIT_DATASETS, AUDIT_NOISE, AUDIT_SELECTORS
from ._registry import SELECTORS


def add_parser(subparsers):
    """Register ``audit-benchmark`` on the CLI's subparsers.

    Examples
    --------
    >>> import argparse
    >>> from sklearn_cincer.benchmark._audit_command import add_parser
    >>> parser = argparse.ArgumentParser()
    >>> add_parser(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["audit-benchmark", "--datasets", "wine",
    ...                           "--repeats", "2"])
    >>> args.datasets, args.budgets, args.selectors, args.func.__name__
    (['wine'], [0.05, 0.1, 0.2], ['top_fisher'], 'run_audit_command')
    """
    audit = subparsers.add_parser(
        "audit-benchmark",
        help="audit noisy static datasets: LabelAuditor against cleanlab",
        description="Corrupt 20%% of the labels of each data set, then clean "
        "them with cleanlab's ranking and with LabelAuditor at equal labels "
        "inspected; print and write the tables (mean ± SE over seeds), per "
        "label and per question. Needs cleanlab (pip install "
        "'cleanlab==2.9.*'). Resumable: finished tasks are not run again.",
    )
    audit.add_argument(
        "--datasets",
        nargs="+",
        default=list(AUDIT_DATASETS),
        help="data sets (default: %(default)s)",
    )
    audit.add_argument(
        "--noise",
        nargs="+",
        default=list(AUDIT_NOISE),
        choices=list(NOISE_KINDS),
        dest="noises",
        help="noise kinds (default: %(default)s; 'confusion' "
        "flips labels to the classes a model confuses)",
    )
    audit.add_argument(
        "--budgets",
        nargs="+",
        type=float,
        default=list(AUDIT_BUDGETS),
        help="labels inspected, as fractions of the rows (default: %(default)s)",
    )
    audit.add_argument(
        "--selector",
        nargs="+",
        default=list(AUDIT_SELECTORS),
        choices=sorted(SELECTORS),
        dest="selectors",
        help="the auditor's counter-example selector(s), each "
        "measured against cleanlab on the same noisy copies "
        "(default: %(default)s; 'cleaning' is the auditor's "
        "own default)",
    )
    audit.add_argument("--noise-rate", type=float, default=0.2)
    audit.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="seeds per data set and noise (default: %(default)s)",
    )
    audit.add_argument("--random-state", type=int, default=0)
    audit.add_argument(
        "--data-home", default=None, help="data folder (default: $SKLEARN_CINCER_DATA)"
    )
    audit.add_argument(
        "--output",
        default="results/audit",
        help="results folder (default: %(default)s)",
    )
    audit.add_argument(
        "--n-jobs", type=int, default=1, help="tasks in parallel (default: %(default)s)"
    )
    audit.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS threads per task; 0 for the libraries' "
        "defaults (default: %(default)s)",
    )
    audit.add_argument("--no-figures", action="store_true")
    audit.add_argument("--quiet", action="store_true", help="no progress bar")
    audit.set_defaults(func=run_audit_command)


def run_audit_command(args):
    """Run ``sklearn-cincer audit-benchmark``; returns the exit status."""
    from ._audit import run_audit_benchmark, write_audit_report

    try:
        results = run_audit_benchmark(
            datasets=args.datasets,
            noises=args.noises,
            budgets=args.budgets,
            n_repeats=args.repeats,
            noise_rate=args.noise_rate,
            random_state=args.random_state,
            data_home=args.data_home,
            output_dir=args.output,
            n_jobs=args.n_jobs,
            threads=args.threads or None,
            verbose=0 if args.quiet else 1,
            selectors=list(dict.fromkeys(args.selectors)),
        )
        print(write_audit_report(results, args.output, figures=not args.no_figures))
    except (ImportError, FileNotFoundError, ValueError) as exc:
        print(f"sklearn-cincer audit-benchmark: error: {exc}", file=sys.stderr)
        return 1
    return 0
