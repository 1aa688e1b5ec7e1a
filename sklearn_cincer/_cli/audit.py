"""``sklearn-cincer audit``: audit the labels of a finished CSV file.

::

    sklearn-cincer audit data.csv --label COLUMN --output cleaned.csv \\
        [--budget 10%|COUNT] [--oracle terminal|browser|none] [--store FILE] \\
        [--answers FILE ...] [--questions FILE] [--issues FILE]

Where ``clean`` streams the rows once after a bootstrap, ``audit`` runs
:class:`~sklearn_cincer.LabelAuditor`: every label is ranked out of sample
(by cross-validation), and the person is asked about the most suspicious
first, each with the counter-example that explains the doubt. It reads the
file, asks, stores the answers and writes its outputs with the same code as
``clean`` (:mod:`sklearn_cincer._cli.clean`), so the two commands make the same
promises: the cleaned file is the input byte for byte but for the changed
labels, no output overwrites an input, outputs are renamed into place only
when complete, and a stop writes what the answers given so far changed. It
also writes the ranking, one row per labeled row of the file, most
suspicious first (``--issues``).
"""

import argparse
import re
import sys
from dataclasses import replace

import numpy as np

from . import clean as _clean
from .clean import CommandError, row_name

# The columns of the issues table, in order.
ISSUE_COLUMNS = [
    "rank",
    "line",
    "given_label",
    "predicted_label",
    "label_quality",
    "is_label_issue",
    "inspected",
    "cleaned_label",
    "counter_example_line",
    "counter_example_score",
]


def _budget(text):
    """``"10%"`` as the fraction 0.1, ``"25"`` as the count 25, for argparse."""
    value = None
    try:
        if text.endswith("%"):
            percent = float(text[:-1])
            if 0 < percent <= 100:
                value = percent / 100
        elif int(text) >= 1:
            value = int(text)
    except ValueError:
        pass
    if value is None:
        raise argparse.ArgumentTypeError(
            f"expected a count of labels (an integer >= 1) or a percentage of "
            f"the rows (such as 10%), got {text!r}"
        )
    return value


def _at_least(minimum):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"expected an integer >= {minimum}, got {text!r}"
            )
        return value

    return parse


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "audit",
        help="rank every label of a CSV file by suspicion and ask about the "
        "worst first (for a finished file)",
        description=(
            "Rank the labels of a CSV file by how much a model cross-validated "
            "without each row doubts it, then ask about the most suspicious "
            "ones, each with the training row that most supports the doubt "
            "(one counter-example per question; its own label is offered too "
            "when it is suspicious). Writes the file with cleaned labels, the table of "
            "what changed, and the ranked table of every label (--issues). An "
            "undo (the terminal's 'u', the page's button) is saved in the "
            "store and applied when the same command runs again. For a "
            "finished file it fixes more label errors than 'clean' (which "
            "streams the rows once after a bootstrap it never asks about) "
            "for the same labels you inspect (user guide, 'Stream or "
            "audit?'); 'clean' is for rows that come over time."
        ),
    )
    _clean.add_file_arguments(parser, seed_help="seed of the model and of the selector")
    parser.add_argument(
        "--issues",
        metavar="FILE",
        default=None,
        help="the ranked table of every labeled row, most "
        "suspicious first (default: OUTPUT with the suffix "
        ".issues.csv)",
    )
    parser.add_argument(
        "--budget",
        type=_budget,
        default=None,
        metavar="N|P%",
        help="labels to inspect at most: a count, or a "
        "percentage of the rows such as 10%% (default: until "
        "no suspicious label is left)",
    )
    parser.add_argument(
        "--cv",
        type=_at_least(2),
        default=5,
        metavar="K",
        help="folds of the cross-validation that ranks the "
        "labels (default: %(default)s)",
    )
    parser.add_argument(
        "--refit-every",
        type=_at_least(1),
        default=10,
        metavar="N",
        help="labels inspected between two rankings; each "
        "ranking learns the answers so far (default: "
        "%(default)s)",
    )
    parser.add_argument(
        "--threshold",
        type=_clean._fraction,
        default=0.0,
        help="out-of-sample margin that makes a label "
        "suspicious; 0 flags every disagreement (default: "
        "%(default)s)",
    )
    # the ranking is by row, not by arrival: the file's order is kept
    parser.set_defaults(func=run, no_shuffle=True)
    return parser


def run(args):
    """Run ``sklearn-cincer audit``; returns the exit status."""
    return _clean.run_command(_run, args)


def _run(args):
    _clean._check_options(args)
    outputs, store_path = _clean._paths(args, more=[("--issues", ".issues.csv")])
    table = _clean._read(args)
    _check_folds(args, table)
    _clean._check_folders(args, outputs, store_path)
    _describe(args, table)
    oracle, human, offline, session = _clean.open_oracle(args, table, store_path)
    recorder = _LineNotes(oracle, table)
    auditor = _auditor(args, table, recorder, verbose=int(session is None))
    return _fit_and_write(
        args, table, auditor, recorder, (human, offline, session), outputs, store_path
    )


def _auditor(args, table, oracle, verbose=0):
    """The :class:`~sklearn_cincer.LabelAuditor` of the options."""
    from .. import LabelAuditor

    return LabelAuditor(
        _clean.default_model(table, args.seed, args.model),
        oracle=oracle,
        cv=args.cv,
        budget=args.budget,
        refit_every=args.refit_every,
        threshold=args.threshold,
        random_state=args.seed,
        verbose=verbose,
    )


def _check_folds(args, table):
    """Refuse a ``--cv`` the labels cannot be split into, before any question."""
    import warnings

    from .._crossval import check_splits

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a small class: said below
            check_splits(args.cv, table.X, table.y)
    except ValueError as exc:
        raise CommandError(f"--cv {args.cv}: {exc} Pass a smaller --cv.") from None
    _, counts = np.unique(table.y, return_counts=True)
    if counts.min() < args.cv:
        print(
            f"sklearn-cincer audit: warning: a class has {counts.min()} rows, "
            f"fewer than the {args.cv} folds: some folds' models never see "
            "it, and doubt its labels more.",
            file=sys.stderr,
        )


def _describe(args, table):
    n = len(table.y)
    _clean.describe_table(args, table)
    budget = (
        "until no suspicious label is left"
        if args.budget is None
        else f"up to {_n_budget(args.budget, n)} labels"
    )
    print(
        f"Ranking the {n} labels by {args.cv}-fold cross-validation; "
        f"questions {budget}, most suspicious first, ranked again every "
        f"{args.refit_every} labels.",
        flush=True,
    )


def _n_budget(budget, n):
    """The number of labels a ``--budget`` allows, as the auditor counts it."""
    return min(budget, n) if isinstance(budget, int) else int(round(budget * n))


class _LineNotes(_clean._Recorder):
    """The recorder of ``clean``, whose questions name rows by their line.

    The auditor's notes say "example #12" (a row of ``X``); the person reads
    the file, where that row is "line 14".
    """

    def __init__(self, oracle, table):
        super().__init__(oracle)
        self._table = table

    def __call__(self, query):
        if query.note:
            note = re.sub(r"\b([Ee])xample #(\d+)", self._line, query.note)
            query = replace(query, note=note)
        return super().__call__(query)

    def _line(self, match):
        name = row_name(self._table, int(match.group(2)))
        return name.capitalize() if match.group(1) == "E" else name


def _fit_and_write(args, table, auditor, recorder, oracles, outputs, store_path):
    human, _, session = oracles
    again = _clean.again_sentence(session, store_path)

    def fit():
        _fit_checked(auditor, table, recorder)
        _end_of_questions(recorder.oracle)

    def issues(files, y_cleaned):
        _write_issues(
            files,
            table,
            _issues_so_far(args, table, recorder, y_cleaned),
            outputs["--issues"],
        )

    status = _clean.fit_or_stop(
        fit,
        recorder,
        human,
        again,
        lambda stop: _clean.write_stopped(
            table, recorder.answers, "relabel", outputs, again, stop, more=issues
        ),
    )
    if status is not None:
        return status
    return _write_results(args, table, auditor, recorder, oracles, outputs)


def _end_of_questions(oracle):
    """Let the person revise the last answer once the audit has ended.

    The auditor itself does not offer it; a revision made here is stored for
    the next run. Ctrl-C here finishes: the audit is complete, and its
    outputs are written.
    """
    from ..oracles import AnnotationStopped

    try:
        getattr(oracle, "end_of_questions", lambda: None)()
    except (AnnotationStopped, KeyboardInterrupt):
        print(file=sys.stderr)


def _fit_checked(auditor, table, recorder):
    """Fit the auditor; a store written by another run is a mistake of the input.

    The auditor's ``fit`` lets the store check, before any question, that it
    was written by this run (the store is held, one writer, and
    fingerprinted as for ``clean``); its refusal becomes one line.
    """
    from ..oracles import OracleError

    try:
        auditor.fit(table.X, table.y)
    except OracleError as exc:
        lines = str(exc).split("\n")
        if recorder.answers or len(lines) < 2:  # in use by another process...
            raise
        what = [line.strip().rstrip(".") for line in lines[1:] if line.startswith("  ")]
        raise CommandError(
            f"{lines[0]} {'; '.join(what)}. Replaying its answers could apply "
            "them to other questions: name another --store, or run with the "
            "data and settings of the store."
        ) from None


def _write_results(args, table, auditor, recorder, oracles, outputs):
    _, offline, session = oracles
    unanswered = [] if offline is None else offline.unanswered_
    _, changes = _clean._answers_so_far(table, recorder.answers, "relabel")
    changes = _clean._changes_frame(table, changes)
    with _clean._writing() as files:
        _clean._write_cleaned(files, table, auditor.y_, changes, outputs)
        _write_issues(files, table, auditor.label_issues_, outputs["--issues"])
        if unanswered and "--questions" in outputs:
            _clean._write_questions(files, table, unanswered, outputs["--questions"])
    issues = auditor.label_issues_
    print(
        f"\n{auditor.n_queries_} questions ({auditor.n_inspected_} labels of "
        f"the budget); {len(changes)} labels changed "
        f"({auditor.n_relabeled_examples_} suspicious rows, "
        f"{auditor.n_relabeled_counter_examples_} counter-examples). "
        f"{int(issues['is_label_issue'].sum())} of {len(issues)} labels are "
        "label issues."
    )
    _say_sources(session, offline)
    print(
        f"Wrote {outputs['--output']} (cleaned labels), {outputs['--changes']} "
        f"(what changed) and {outputs['--issues']} (every label, most "
        "suspicious first)."
    )
    if unanswered:
        _clean._say_unanswered(args, unanswered)
    return 0


def _say_sources(session, offline):
    """Say where the answers came from: the store, the person, the files."""
    if session is not None:
        print(
            f"  {session.n_replayed_} answers came from {session.store.path}, "
            f"{session.n_asked_} were asked now."
        )
        if session.needs_rerun_:
            print(
                f"  An answer was revised (undo): the revision is in "
                f"{session.store.path}; run the same command again to apply "
                "it."
            )
    if offline is not None:
        print(f"  {offline.n_answered_} answers came from the --answers files.")


# ------------------------------------------------------------------ issues


def issues_frame(table, issues):
    """The ranked table of :attr:`LabelAuditor.label_issues_`, rows by line.

    One row per labeled row of the file, most suspicious (lowest label
    quality) first, ties in the file's order.
    """
    import pandas as pd

    ranked = issues.sort_values("label_quality", kind="stable")
    ids = ranked.index.to_numpy()
    counter = ranked["counter_example"].to_numpy()
    has_counter = counter >= 0
    counter_line = pd.array([pd.NA] * len(ids), dtype="Int64")
    if has_counter.any():
        counter_line[has_counter] = table.line(counter[has_counter])
    return pd.DataFrame(
        {
            "rank": np.arange(1, len(ids) + 1),
            "line": table.line(ids).astype(int),
            "given_label": ranked["given_label"].to_numpy(),
            "predicted_label": ranked["predicted_label"].to_numpy(),
            "label_quality": ranked["label_quality"].to_numpy(),
            "is_label_issue": ranked["is_label_issue"].to_numpy(),
            "inspected": ranked["inspected"].to_numpy(),
            "cleaned_label": ranked["cleaned_label"].to_numpy(),
            "counter_example_line": counter_line,
            "counter_example_score": ranked["counter_example_score"].to_numpy(),
        },
        columns=ISSUE_COLUMNS,
    )


def _write_issues(files, table, issues, path):
    issues_frame(table, issues).to_csv(files.temporary(path), index=False)


def _issues_so_far(args, table, recorder, y_cleaned):
    """The issues table after a stop: a ranking of the labels so far.

    The stopped fit published nothing, so the labels the answers gave are
    ranked again, on the folds of the stopped run (those of the file's
    labels), and the rows asked keep the counter-example they were shown.
    """
    from .._crossval import check_splits
    from .._issues import label_quality

    splits, _ = check_splits(args.cv, table.X, table.y)
    params = {"cv": splits, "oracle": None}
    ranking = (
        _auditor(args, table, None)
        .set_params(**params)
        .fit(table.X, np.asarray(y_cleaned).astype(table.y.dtype))
    )
    issues = ranking.label_issues_.copy()
    # the answers may have relabeled every row of a class: its probability,
    # against the labels as given, is then 0
    classes = np.unique(table.y)
    proba = np.zeros((len(table.y), len(classes)))
    proba[:, np.searchsorted(classes, ranking.classes_)] = ranking.proba_
    issues["given_label"] = table.y
    issues["label_quality"] = label_quality(proba, np.searchsorted(classes, table.y))
    inspected = np.zeros(len(table.y), dtype=bool)
    for query, answer in recorder.answers:
        if answer.skipped:
            continue
        inspected[query.example_id] = True
        if query.strategy != "explain" and query.counter_example_id is not None:
            inspected[query.counter_example_id] = True
        if query.counter_example_id is not None:
            issues.loc[query.example_id, "counter_example"] = query.counter_example_id
            issues.loc[query.example_id, "counter_example_score"] = query.score
    issues["inspected"] = inspected
    issues["is_label_issue"] = np.where(
        inspected,
        issues["cleaned_label"].to_numpy() != table.y,
        issues["is_label_issue"].to_numpy(),
    )
    return issues
