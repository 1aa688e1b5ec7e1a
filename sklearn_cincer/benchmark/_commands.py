"""The ``benchmark`` and ``reproduce`` subcommands of ``sklearn-cincer``.

::

    sklearn-cincer benchmark --dataset breast --model fc --strategy cincer \\
        --selector cleaning top_fisher --repeats 5
    sklearn-cincer benchmark --dataset breast --model lr --q2 \\
        --selector top_fisher nearest
    sklearn-cincer reproduce --output results/paper --n-jobs 2
    sklearn-cincer reproduce --n-jobs 8 --scheduler tcp://10.0.0.1:8786
"""

import argparse
import contextlib
import itertools
import sys

from ..datasets import NOISE_KINDS
from ._registry import MODELS, NET_MODELS, SELECTORS, STRATEGIES, TRAININGS
from ._runner import PAPER_PAIRS, PAPER_SETTINGS, Q2_PAIRS


def _common(parser):
    parser.add_argument(
        "--training",
        nargs="+",
        default=["code"],
        choices=list(TRAININGS),
        help="how the networks (lr_net, fc, cnn) train: code, "
        "as the authors' code did (all 100 epochs, Keras's "
        "initialisation), which gave the paper's published "
        "numbers; text, as the paper's text says (stop at 90%% "
        "training accuracy, 70%% for LR). lr ignores it "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=PAPER_SETTINGS["n_repeats"],
        help="repeats, each with its own noise and stream (default: %(default)s)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=PAPER_SETTINGS["n_rounds"],
        help="incoming examples per repeat (default: %(default)s)",
    )
    parser.add_argument(
        "--random-state",
        type=int,
        default=0,
        help="base seed of the streams (default: %(default)s)",
    )
    parser.add_argument(
        "--data-home", default=None, help="data folder (default: $SKLEARN_CINCER_DATA)"
    )
    parser.add_argument(
        "--n-jobs",
        type=int,
        default=1,
        help="repeats run in parallel (default: %(default)s)",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run the repeats (--n-jobs at a time) on the Dask "
        "cluster at ADDRESS, through joblib's dask backend "
        "(needs the dask extra: pip install "
        "'sklearn-cincer[dask]')",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS/OpenMP threads per repeat; 0 for the "
        "libraries' defaults (default: %(default)s)",
    )
    parser.add_argument(
        "--eval-every",
        type=int,
        default=1,
        metavar="K",
        help="measure the test F1 every K rounds (and always "
        "at rounds 0 and the last); the paper's is 1, and a "
        "larger K saves most of the CNN's time (default: "
        "%(default)s)",
    )
    parser.add_argument("--quiet", action="store_true", help="print less")


def _param(text):
    """``NAME=VALUE`` with VALUE a Python literal (else a string)."""
    import ast

    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        value = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        pass  # a bare word, e.g. solver=svd
    return name, value


def _pair(text):
    if ":" not in text:
        raise argparse.ArgumentTypeError(f"expected DATASET:MODEL, got {text!r}")
    dataset, model = text.split(":", 1)
    if model not in MODELS:
        raise argparse.ArgumentTypeError(f"unknown model {model!r}")
    return dataset, model


def add_parser(subparsers):
    """Register ``benchmark`` and ``reproduce`` on the CLI's subparsers.

    Examples
    --------
    >>> import argparse
    >>> from sklearn_cincer.benchmark._commands import add_parser
    >>> parser = argparse.ArgumentParser()
    >>> add_parser(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["benchmark", "--dataset", "breast", "--model",
    ...                           "lr", "--selector", "nearest", "--repeats", "2"])
    >>> args.selector, args.repeats, args.func.__name__
    (['nearest'], 2, 'run_benchmark')
    """
    _add_benchmark_parser(subparsers)
    _add_reproduce_parser(subparsers)


def _add_benchmark_parser(subparsers):
    """Register ``benchmark``: one experiment of the paper."""
    bench = subparsers.add_parser(
        "benchmark",
        help="run one experiment of the paper (Q1/Q3 competitors, or Q2 Pr@k)",
        description="Run CINCER and its competitors on one data set and model, "
        "with the paper's settings, and print our final numbers next to the "
        "paper's. Results are saved per repeat and resumed when run again.",
    )
    _add_competitor_arguments(bench)
    _add_setting_arguments(bench)
    bench.add_argument(
        "--output",
        default="results/benchmark",
        help="results folder (default: %(default)s)",
    )
    bench.add_argument(
        "--figures", action="store_true", help="also write figures to OUTPUT/figures"
    )
    _common(bench)
    bench.set_defaults(func=run_benchmark)


def _add_competitor_arguments(bench):
    """Add the options of ``benchmark`` that choose the competitors to run."""
    bench.add_argument(
        "--dataset",
        required=True,
        choices=["breast", "adult", "mnist", "fashion_mnist", "20ng", "digits", "wine"],
    )
    bench.add_argument("--model", required=True, choices=sorted(MODELS))
    bench.add_argument(
        "--strategy",
        nargs="+",
        default=["cincer"],
        choices=sorted(STRATEGIES),
        help="cincer (relabel the counter-example), drop_ce, no_ce",
    )
    bench.add_argument(
        "--selector",
        nargs="+",
        default=["cleaning"],
        choices=sorted(SELECTORS),
        help="counter-example selector(s) (default: cleaning, "
        "the library's default); top_fisher is Eq. 14 alone, "
        "authors_top_fisher ranks as the authors' code did",
    )
    bench.add_argument(
        "--refit", nargs="+", default=["scratch"], choices=["scratch", "incremental"]
    )
    bench.add_argument(
        "--q2",
        action="store_true",
        help="measure Pr@5/Pr@10 of the selectors instead "
        "(clean incoming examples, frozen model)",
    )
    bench.add_argument(
        "--selector-param",
        type=_param,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a parameter of the selector(s), e.g. damping=0.1; "
        "repeat for several. Results go to their own folder "
        "and row, named after the parameters",
    )
    bench.add_argument(
        "--cleaner-param",
        type=_param,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a parameter of SkepticalCleaner, e.g. "
        "n_counter_examples=2; repeat for several (not those "
        "with options of their own: --threshold, --refit...). "
        "Results go to their own folder and row",
    )


def _add_setting_arguments(bench):
    """Add the options of ``benchmark`` that set the bootstrap, the noise and the threshold."""
    bench.add_argument(
        "--bootstrap",
        type=int,
        default=None,
        help="bootstrap size (default: the paper's, 500 for 20ng, else 100)",
    )
    bench.add_argument("--noise", type=float, default=PAPER_SETTINGS["noise_rate"])
    bench.add_argument(
        "--noise-kind",
        choices=list(NOISE_KINDS),
        default="uniform",
        help="how labels are corrupted: the paper's uniform flips, "
        "pair flips, or flips to the classes a model confuses "
        "(default: %(default)s)",
    )
    bench.add_argument("--threshold", type=float, default=PAPER_SETTINGS["threshold"])


def _add_reproduce_parser(subparsers):
    """Register ``reproduce``: the paper's whole grid."""
    rep = subparsers.add_parser(
        "reproduce",
        help="run the paper's whole grid; write results, figures and the "
        "comparison table",
        description="Run Q1, Q2 and Q3 on the paper's data set/model pairs "
        "and write traces, figures and our numbers next to the paper's to a "
        "folder. Resumable: finished repeats are not run again.",
    )
    rep.add_argument(
        "--output",
        default="results/reproduce",
        help="results folder (default: %(default)s)",
    )
    # argparse applies ``type`` to string defaults only: list defaults are
    # given already parsed
    rep.add_argument(
        "--pairs",
        nargs="+",
        type=_pair,
        default=list(PAPER_PAIRS),
        metavar="DATASET:MODEL",
        help="data set/model pairs (default: the paper's 8)",
    )
    rep.add_argument(
        "--q2-pairs",
        nargs="+",
        type=_pair,
        default=list(Q2_PAIRS),
        metavar="DATASET:MODEL",
        help="pairs of Q2 (default: " + " ".join(f"{d}:{m}" for d, m in Q2_PAIRS) + ")",
    )
    rep.add_argument(
        "--questions", nargs="+", default=["q1", "q2", "q3"], choices=["q1", "q2", "q3"]
    )
    rep.add_argument(
        "--refit", nargs="+", default=["scratch"], choices=["scratch", "incremental"]
    )
    rep.add_argument(
        "--no-authors-ranking",
        action="store_true",
        help="skip the runs that rank counter-examples as the authors' code did",
    )
    rep.add_argument("--no-figures", action="store_true")
    _common(rep)
    rep.set_defaults(func=run_reproduce)


@contextlib.contextmanager
def joblib_backend(address):
    """joblib's parallel runs go to the Dask scheduler at ``address`` (None: local).

    The repeats that ``--n-jobs`` runs in parallel become tasks of that
    cluster (joblib's ``dask`` backend, registered by ``distributed``).

    Examples
    --------
    >>> from sklearn_cincer.benchmark._commands import joblib_backend
    >>> with joblib_backend(None):
    ...     pass
    """
    if address is None:
        yield
        return
    try:
        from distributed import Client
    except ImportError as exc:
        raise ImportError(
            "--scheduler needs dask's distributed: pip install 'sklearn-cincer[dask]'."
        ) from exc
    from joblib import parallel_config

    with Client(address), parallel_config(backend="dask"):
        yield


def _on_backend(command, run, args):
    """``run(args)`` on the ``--scheduler`` cluster, if any; a missing extra is 1."""
    try:
        with joblib_backend(args.scheduler):
            return run(args)
    except ImportError as exc:
        print(f"sklearn-cincer {command}: error: {exc}", file=sys.stderr)
        return 1


def run_benchmark(args):
    """Run ``sklearn-cincer benchmark``; returns the exit status."""
    return _on_backend("benchmark", _run_benchmark, args)


def _run_benchmark(args):
    from pathlib import Path

    from ._reproduce import write_report

    verbose = 0 if args.quiet else 1
    output = Path(args.output)
    runs = output / "runs"
    if args.q2 and args.noise_kind != "uniform":
        sys.exit(
            "sklearn-cincer benchmark: --q2 measures the paper's uniform "
            "noise only; leave out --noise-kind."
        )
    try:
        if args.q2:
            _run_precision_benchmark(args, runs, verbose)
        else:
            _run_cleaning_benchmark(args, runs, verbose)
        if args.figures:
            write_report(output)
    except (ImportError, FileNotFoundError, ValueError) as exc:
        print(f"sklearn-cincer benchmark: error: {exc}", file=sys.stderr)
        return 1
    return 0


def _run_precision_benchmark(args, runs, verbose):
    """Run the Q2 (counter-example precision) experiment and print its table."""
    from ._report import compare_precision_with_paper, format_table
    from ._runner import run_precision_experiment

    frame = run_precision_experiment(
        args.dataset,
        args.model,
        args.selector,
        n_repeats=args.repeats,
        training=args.training[0] if args.model in NET_MODELS else None,
        n_rounds=args.rounds,
        n_bootstrap=args.bootstrap,
        noise_rate=args.noise,
        random_state=args.random_state,
        data_home=args.data_home,
        output_dir=runs,
        n_jobs=args.n_jobs,
        threads=args.threads or None,
        verbose=verbose,
    )
    print(format_table(compare_precision_with_paper(frame)))


def _run_cleaning_benchmark(args, runs, verbose):
    """Run every asked competitor of the Q1 experiment and print the comparison."""
    import pandas as pd

    from ._report import compare_with_paper, format_table, readable
    from ._runner import RunSpec, run_experiment

    frames = []
    trainings = args.training if args.model in NET_MODELS else [None]
    for refit, training in itertools.product(args.refit, trainings):
        for strategy in args.strategy:
            selectors = ["none"] if strategy == "no_ce" else args.selector
            for selector in selectors:
                spec = RunSpec(
                    args.dataset,
                    args.model,
                    strategy,
                    selector,
                    refit=refit,
                    n_bootstrap=args.bootstrap,
                    n_rounds=args.rounds,
                    noise_rate=args.noise,
                    noise_kind=args.noise_kind,
                    threshold=args.threshold,
                    selector_params=(
                        dict(args.selector_param) if strategy != "no_ce" else {}
                    ),
                    eval_every=args.eval_every,
                    cleaner_params=dict(args.cleaner_param),
                    training=training,
                )
                frames.append(
                    run_experiment(
                        spec,
                        n_repeats=args.repeats,
                        random_state=args.random_state,
                        data_home=args.data_home,
                        output_dir=runs,
                        n_jobs=args.n_jobs,
                        threads=args.threads or None,
                        verbose=verbose,
                    )
                )
    table = compare_with_paper(pd.concat(frames, ignore_index=True))
    print(format_table(readable(table)))


def run_reproduce(args):
    """Run ``sklearn-cincer reproduce``; returns the exit status."""
    return _on_backend("reproduce", _run_reproduce, args)


def _run_reproduce(args):
    from ._report import format_table, readable
    from ._reproduce import reproduce

    table = reproduce(
        args.output,
        pairs=args.pairs,
        questions=args.questions,
        q2_pairs=args.q2_pairs,
        refits=args.refit,
        trainings=args.training,
        n_repeats=args.repeats,
        n_rounds=args.rounds,
        authors_ranking=not args.no_authors_ranking,
        eval_every=args.eval_every,
        random_state=args.random_state,
        data_home=args.data_home,
        n_jobs=args.n_jobs,
        threads=args.threads or None,
        figures=not args.no_figures,
        verbose=0 if args.quiet else 1,
    )
    if table is not None:
        print(format_table(readable(table)))
    return 0
