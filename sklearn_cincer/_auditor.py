"""LabelAuditor: audit a static dataset, ranked issues with counter-examples."""

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    _fit_context,
    clone,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    RealNotInt,
    StrOptions,
    validate_params,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from . import _questions
from ._background import prefetch_selectors, start_speculation, take_speculation
from ._crossval import check_splits, cross_val_proba
from ._health import pred_probs_issues
from ._issues import issues_table, label_quality
from ._meta_estimator import (
    CleanedClassifierMixin,
    column_std,
    seed_unset_random_states,
    thread_limited,
    unchanged_on_error,
)
from ._progress import progress
from ._questions import QueryRecord
from ._suspicion import is_suspicious, margin
from ._threads import resolve_n_threads
from .oracles._base import OracleError, detached_copy, plain
from .oracles._hooks import oracle_fit
from .selectors import CleaningSelector


@dataclass(frozen=True)
class AuditRecord(QueryRecord):
    """One question the auditor asked, and what came of it.

    The fields of :class:`~sklearn_cincer.QueryRecord`, read for a static
    dataset: ids are rows of ``X``, ``round`` is the ranking (1 for the first
    cross-validation, one more at each refit), ``margin`` and ``prediction``
    are out of sample, and ``dropped`` is always False. Plus:

    Attributes
    ----------
    counter_offered : bool
        Whether a counter-example's label was offered for relabeling (its
        own label was suspicious); otherwise they were shown to explain the
        doubt and kept their labels.
    counter_margin : float or None
        The (first) counter-example's own out-of-sample margin (0 where its
        fold's model agrees with its label).
    labels_inspected : int
        Labels inspected so far, this question's included (one, or two with
        a relabel offer).
    follow_up : bool
        Whether the question followed up an answer that kept a doubted label:
        it is about that question's counter-example.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_cincer import LabelAuditor, SimulatedOracle
    >>> X = np.r_[np.linspace(0, 1, 20), np.linspace(2, 3, 20)][:, None]
    >>> y_true = np.r_[np.zeros(20, int), np.ones(20, int)]
    >>> y_noisy = y_true.copy(); y_noisy[3] = 1
    >>> auditor = LabelAuditor(LogisticRegression(), budget=1,
    ...                        oracle=SimulatedOracle(y_true)).fit(X, y_noisy)
    >>> record = auditor.history_[0]
    >>> record.example_id, record.label_before, record.label_after
    (3, 1, 0)
    >>> record.counter_offered, record.labels_inspected
    (False, 1)
    """

    counter_offered: bool = False
    counter_margin: float | None = None
    labels_inspected: int = 0
    follow_up: bool = False


class _Audit:
    """Everything one ``fit`` changes, published only when it succeeds."""

    def __init__(self, classes, labels, n_budget):
        self.classes = classes
        self.given = labels.copy()
        self.labels = labels  # index into classes of each row's current label
        self.asked = np.zeros(labels.shape[0], dtype=bool)
        self.inspected = np.zeros(labels.shape[0], dtype=bool)
        self.shown = {}  # row -> (counter-example, score) of its question
        self.n_budget = n_budget
        self.used = 0
        self.history = []
        self.n_rankings = 0
        self.template = None  # the seeded, unfitted estimator of every fold
        self.selector = None  # the seeded, unfitted selector of every fold
        self.splits = None
        self.last_cv = None
        self.inner_verbose = 0
        self._feature_scale = None
        # the next ranking's refit, started while the block's last question
        # is with the oracle (a _background.SpeculativeRefit), or None
        self.speculation = None

    def feature_scale(self, X):
        """Each feature's standard deviation over ``X``, computed once."""
        if self._feature_scale is None:
            self._feature_scale = column_std(X)
            self._feature_scale.setflags(write=False)  # shared by every query
        return self._feature_scale


class _RunSettings:
    """An audit's settings as a store fingerprints them, to refuse another run's.

    The oracle's ``start_fit`` reads them (an
    :class:`~sklearn_cincer.oracles.AnnotationSession` records them with the
    run): the auditor's parameters but its budget, since a rerun with a larger
    budget goes on from the answers given, and ``command="audit"``, so that
    a store written by the cleaner is not replayed into an audit, nor the
    other way round.
    """

    def __init__(self, auditor):
        self.auditor = auditor

    def get_params(self, deep=False):
        params = self.auditor.get_params(deep=False)
        del params["budget"]
        return {**params, "command": "audit"}


class LabelAuditor(
    CleanedClassifierMixin, MetaEstimatorMixin, ClassifierMixin, BaseEstimator
):
    """Audit the labels of a static dataset: ranked issues with counter-examples.

    The auditor computes out-of-sample probabilities by cross-validation,
    ranks every example by how suspicious its label is (CINCER's margin
    ``P(prediction | x) - P(label | x)`` of the model that never saw it), and
    asks ``oracle`` about the most suspicious one. Each question comes with
    its counter-example, the training example (of that fold's model, labeled
    as the prediction) that most supports the doubt, picked by ``selector``:
    it explains the question, and its label is offered for relabeling too
    when it is itself suspicious. The ranking is refit every ``refit_every``
    labels inspected, so that each answer sharpens the next questions, until
    ``budget`` labels are inspected or no suspicious label is left. Then the
    classifier is fit on the cleaned labels.

    With ``oracle=None`` it only ranks: :attr:`label_issues_` lists every
    example, in cleanlab's vocabulary, with its counter-example.

    Read more in the :ref:`User Guide <audit>`.

    Parameters
    ----------
    estimator : classifier
        A scikit-learn compatible classifier with ``predict_proba``; cloned,
        never changed.
    selector : selector object, default=None
        Chooses the counter-example; ``None`` means
        :class:`~sklearn_cincer.CleaningSelector`, the cleaner's default: on
        the audit benchmark (uniform, pair-flip and confusion noise) it
        fixes as many errors as :class:`~sklearn_cincer.TopFisherSelector`
        (Eq. 14) in fewer questions, its counter-examples being more often
        offered for relabeling (see the user guide, :ref:`audit_selector`).
        Cloned and fit on each fold's model and training rows.
    oracle : callable, default=None
        ``oracle(query) -> answer`` (a
        :class:`~sklearn_cincer.SimulatedOracle`, a
        :class:`~sklearn_cincer.oracles.BrowserOracle`, possibly wrapped in an
        :class:`~sklearn_cincer.oracles.AnnotationSession` to save answers and
        resume). A query about an example whose counter-example is not
        offered has ``strategy="explain"``: the answer's ``counter_label`` is
        ignored. ``None`` asks nothing: the auditor only ranks.
    cv : int, cross-validation generator or iterable, default=5
        How the out-of-sample probabilities are computed, as in scikit-learn
        (an int is a stratified k-fold). The test folds must cover every row
        once.
    budget : int, float or None, default=None
        How many labels a person inspects at most: an int counts labels, a
        float in ``(0, 1]`` is a fraction of the rows. A question costs one
        label, two with a relabel offer. ``None``: until no suspicious label
        is left.
    refit_every : int, default=10
        Labels inspected between two rankings (cross-validations).
    refit : {"scratch", "incremental"}, default="scratch"
        How each fold's model is refit for a new ranking: "scratch" fits a
        clone; "incremental" goes on from the fold's last solution
        (``warm_start``) when the estimator has ``warm_start``, which is
        several times faster and reaches the same solution for a convex
        model such as ``LogisticRegression``. The folds stay the same
        throughout a fit either way.
    background_refit : bool, default=True
        Refit the ranking while the person reads the last question before
        it, in a background thread, rather than after the answer: the refit
        assumes that the answer takes the labels the model predicts, and is
        used only when it does (otherwise it is stopped and the ranking is
        refit after the answer, as with False). The questions are the same
        either way; only the wait after an answer is shorter. False runs
        every refit in the calling thread.
    threshold : float, default=0.0
        A label is suspicious (``is_label_issue``) when the out-of-sample
        prediction differs from it with a margin of at least ``threshold``;
        0 flags every disagreement (cleanlab's ``predicted_neq_given``).
    counter_threshold : "auto", float or None, default="auto"
        When the counter-example's own label is offered for relabeling. It
        must be suspicious itself (out of sample, as any label), and:

        - "auto": it is among the labels the current block (up to the next
          refit) would ask about anyway, so that the offer shows two labels
          in one question without taking a label from the ranking;
        - a float: its own margin is at least this value;
        - None: never offered; counter-examples only explain.
    n_counter_examples : int, default=1
        Counter-examples shown with each question, best first (fewer when
        fewer training examples are candidates). Each one whose own label is
        suspicious may be offered for relabeling (``counter_threshold``), at
        one label of the budget each; the others explain the doubt. A
        follow-up is about the first.
    follow_up : bool, default=True
        When the person keeps a label the model doubted, ask next about the
        question's counter-example, if the remaining budget would reach it in
        the current ranking anyway: the example that most supported a wrong
        doubt is likely mislabeled itself, and asking now lets the next
        ranking learn from it.
    explain_issues : bool, default=True
        Find a counter-example for every suspicious label of
        :attr:`label_issues_` that was not asked about (one selector fit per
        fold and one score per issue). False leaves them without one, which
        saves time on wide models.
    n_jobs : int, default=None
        Folds fitted in parallel (joblib).
    random_state : int, RandomState instance or None, default=None
        Seeds the estimator and the selector where their own
        ``random_state`` is None; the same seed gives the same questions.
    verbose : int, default=0
        Progress when positive: a bar over the labels inspected (and, when
        above 1, over the folds of each cross-validation); without an oracle,
        over the folds and the counter-examples. With tqdm when it is
        installed, plain lines otherwise.
    n_threads : int, None or "auto", default="auto"
        Threads that BLAS, OpenMP and torch may use during :meth:`fit`, in
        this process and in each of the ``n_jobs`` workers; the previous
        settings are restored when the call returns or fails. ``"auto"``
        takes the library's setting, 1 unless changed with
        :func:`~sklearn_cincer.set_config`,
        :func:`~sklearn_cincer.config_context` or the environment variable
        ``SKLEARN_CINCER_N_THREADS``; ``None`` leaves the libraries as they
        are. Each fold fits a model of moderate size, on which more threads
        mostly wait for each other, and threads of several workers compete
        for the same cores (see :ref:`threads`).

    Attributes
    ----------
    estimator_ : classifier
        The classifier fit on all rows with the cleaned labels.
    classes_ : ndarray of shape (n_classes,)
        The labels of ``y``.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when ``X`` has string column
        names.
    y_ : ndarray of shape (n_samples,)
        The cleaned labels, one per row of ``X``.
    history_ : list of AuditRecord
        One record per question, in order.
    label_issues_ : pandas.DataFrame or numpy structured array
        One row per example (indexed by its row, ``example_id``), with the
        columns ``is_label_issue``, ``label_quality``, ``given_label``,
        ``predicted_label`` (as cleanlab's ``find_label_issues``) and
        ``counter_example``, ``counter_example_score``, ``inspected``,
        ``cleaned_label``, from the last ranking (after the last answers).
        ``is_label_issue`` is the person's verdict where inspected, the
        out-of-sample flag elsewhere. Sort by ``label_quality`` for the
        ranking. ``counter_example_score`` is the selector's score of the
        counter-example, as in :attr:`SkepticalCleaner.label_issues_
        <sklearn_cincer.SkepticalCleaner.label_issues_>`: with the default
        :class:`~sklearn_cincer.CleaningSelector` of both, how likely the
        counter-example's own label is wrong, judged without it; Eq. 14's
        support with :class:`~sklearn_cincer.TopFisherSelector` (see the user
        guide, :ref:`audit`). A structured array (with an ``example_id`` field)
        when pandas is not installed.
    proba_ : ndarray of shape (n_samples, n_classes)
        The out-of-sample probabilities of the last ranking.
    n_queries_ : int
        Questions asked.
    n_inspected_ : int
        Labels inspected (the budget spent).
    n_rankings_ : int
        Cross-validations run.
    n_relabeled_examples_, n_relabeled_counter_examples_ : int
        Labels the answers changed, of asked examples and of offered
        counter-examples.

    See Also
    --------
    find_label_issues : The ranking alone, in one call.
    SkepticalCleaner : CINCER on a stream.

    Notes
    -----
    A call that fails (bad input, an oracle that raises or answers a label
    outside ``classes_``) leaves the auditor as it was; wrap the oracle in an
    :class:`~sklearn_cincer.oracles.AnnotationSession` so that a person's
    answers are kept and replayed when ``fit`` runs again. As with the
    cleaner, ``fit`` tells the oracle that it starts and ends
    (``start_fit``, ``finish_fit``): a session refuses a store written by an
    audit of other data or settings (the budget aside), before any question.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import minmax_scale
    >>> from sklearn_cincer import LabelAuditor, SimulatedOracle
    >>> from sklearn_cincer.datasets import make_label_noise
    >>> X, y_true = load_breast_cancer(return_X_y=True)
    >>> X = minmax_scale(X)
    >>> y_noisy, flipped = make_label_noise(y_true, noise_rate=0.1, random_state=0)
    >>> auditor = LabelAuditor(LogisticRegression(), oracle=SimulatedOracle(y_true),
    ...                        budget=0.1, random_state=0).fit(X, y_noisy)
    >>> auditor.n_inspected_
    57
    >>> int((auditor.y_ != y_true).sum()) < int(flipped.sum())
    True
    >>> auditor.label_issues_.columns.tolist()[:4]
    ['is_label_issue', 'label_quality', 'given_label', 'predicted_label']
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict_proba"])],
        "selector": [HasMethods(["fit", "score", "select"]), None],
        "oracle": [callable, None],
        "cv": ["cv_object"],
        "budget": [
            Interval(Integral, 0, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="right"),
            None,
        ],
        "refit_every": [Interval(Integral, 1, None, closed="left")],
        "refit": [StrOptions({"scratch", "incremental"})],
        "background_refit": ["boolean"],
        "threshold": [Interval(Real, 0, 1, closed="both")],
        "counter_threshold": [
            Interval(Real, 0, 1, closed="both"),
            StrOptions({"auto"}),
            None,
        ],
        "n_counter_examples": [Interval(Integral, 1, None, closed="left")],
        "follow_up": ["boolean"],
        "explain_issues": ["boolean"],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "n_threads": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
            None,
        ],
    }

    def __init__(
        self,
        estimator,
        *,
        selector=None,
        oracle=None,
        cv=5,
        budget=None,
        refit_every=10,
        refit="scratch",
        background_refit=True,
        threshold=0.0,
        counter_threshold="auto",
        n_counter_examples=1,
        follow_up=True,
        explain_issues=True,
        n_jobs=None,
        random_state=None,
        verbose=0,
        n_threads="auto",
    ):
        self.estimator = estimator
        self.selector = selector
        self.oracle = oracle
        self.cv = cv
        self.budget = budget
        self.refit_every = refit_every
        self.refit = refit
        self.background_refit = background_refit
        self.threshold = threshold
        self.counter_threshold = counter_threshold
        self.n_counter_examples = n_counter_examples
        self.follow_up = follow_up
        self.explain_issues = explain_issues
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.n_threads = n_threads

    # ------------------------------------------------------------------ fit

    @_fit_context(prefer_skip_nested_validation=False)
    @unchanged_on_error
    @thread_limited
    def fit(self, X, y):
        """Rank the labels, ask about the most suspicious, fit on the cleaned labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The examples; row ``i`` has id ``i`` in queries and records.
        y : array-like of shape (n_samples,)
            Their (possibly noisy) labels.

        Returns
        -------
        self : object
            The fitted auditor.
        """
        X, y = validate_data(self, X, y, reset=True)
        check_classification_targets(y)
        classes = np.unique(y)
        if classes.shape[0] < 2:
            raise ValueError(
                f"y holds only one class ({classes[0]!r}); the classifier needs "
                "at least two classes."
            )
        n_samples = X.shape[0]
        budget = self.budget
        if budget is None:
            n_budget = n_samples
        elif isinstance(budget, Integral):
            n_budget = min(int(budget), n_samples)
        else:
            n_budget = int(round(budget * n_samples))
        if self.oracle is None:
            n_budget = 0

        splits, _ = check_splits(self.cv, X, y)
        rng = check_random_state(self.random_state)
        template = seed_unset_random_states(clone(self.estimator), rng)
        selector = CleaningSelector() if self.selector is None else self.selector
        selector = seed_unset_random_states(clone(selector), rng)
        audit = _Audit(classes, np.searchsorted(classes, y), n_budget)
        audit.splits = splits
        audit.template = template
        audit.selector = selector

        # a bar over the labels inspected; without questions, over the folds
        audit.inner_verbose = self.verbose - 1 if n_budget else self.verbose
        bar = progress(
            total=n_budget,
            desc="LabelAuditor",
            verbose=self.verbose if n_budget else 0,
            unit="label",
        )
        # the oracle may refuse the run (a store written by another one)
        try:
            with oracle_fit(self.oracle, _RunSettings(self), X, y), bar:
                while True:
                    ranking = self._rank(template, X, audit, classes)
                    pending = self._pending(ranking, audit)
                    if audit.used >= audit.n_budget or pending.size == 0:
                        break
                    if self.background_refit and not ranking["taken"]:
                        prefetch_selectors(X, audit, ranking)
                    self._ask_block(X, classes, audit, ranking, pending, selector, bar)
                self._publish(X, classes, template, audit, ranking, selector)
        finally:
            # a call that fails (an oracle that raises) leaves no thread
            if audit.speculation is not None:
                audit.speculation.cancel()
        return self

    def _cross_validate(self, template, X, audit, labels, *, verbose, stop=None):
        """The cross-validation of a ranking on ``labels`` (None if stopped)."""
        classes = audit.classes
        return cross_val_proba(
            template,
            X,
            classes[labels],
            classes,
            splits=audit.splits,
            warm_start=audit.last_cv if self.refit == "incremental" else None,
            n_jobs=self.n_jobs,
            verbose=verbose,
            n_threads=resolve_n_threads(self.n_threads),
            stop=stop,
        )

    def _rank(self, template, X, audit, classes):
        """Cross-validate on the current labels: probabilities, margins, flags.

        The refit started while the last question was with the oracle is
        taken when it assumed the labels the answer left.
        """
        cvp, selectors = take_speculation(audit)
        taken = cvp is not None
        if cvp is None:
            cvp = self._cross_validate(
                template, X, audit, audit.labels, verbose=audit.inner_verbose
            )
        audit.last_cv = cvp
        audit.n_rankings += 1
        margins, predictions = margin(cvp.proba, audit.labels)
        return {
            "cv": cvp,
            "margin": margins,
            "prediction": predictions,
            "quality": label_quality(cvp.proba, audit.labels),
            "flagged": is_suspicious(
                margins, predictions, audit.labels, self.threshold
            ),
            # fold -> (selector, labels it saw): fitted when first needed,
            # or by the background refit
            "selectors": selectors,
            "taken": taken,  # refit in the background, while the person read
        }

    @staticmethod
    def _pending(ranking, audit):
        """Suspicious rows not asked about yet, most suspicious first."""
        rows = np.flatnonzero(ranking["flagged"] & ~audit.asked)
        return rows[np.argsort(ranking["quality"][rows], kind="stable")]

    def _ask_block(self, X, classes, audit, ranking, pending, selector, bar):
        """Ask about the top of the ranking until ``refit_every`` labels are spent.

        A follow-up (the counter-example of a label the person kept, when it
        is itself suspicious) goes before the rest of the ranking.
        """
        block = min(self.refit_every, audit.n_budget - audit.used)
        spent = 0
        queue = [int(row) for row in pending]
        follow_ups = []
        self._push_block(X, classes, audit, ranking, queue, selector, block)
        while spent < block and (follow_ups or queue):
            follow_up = follow_ups.pop(0) if follow_ups else None
            row = queue.pop(0) if follow_up is None else follow_up[0]
            if audit.asked[row]:  # offered as a counter-example meanwhile
                continue
            used = audit.used
            record = self._ask(
                X,
                classes,
                audit,
                ranking,
                row,
                selector,
                left=block - spent - 1,
                follow_up=follow_up,
            )
            n = audit.used - used
            spent += n
            bar.update(
                n,
                questions=len(audit.history),
                relabeled=sum(
                    r.relabeled_example + r.relabeled_counter_example
                    for r in audit.history
                ),
            )
            ce = record.counter_example_id
            if (
                self.follow_up
                and ce is not None
                and not record.skipped
                and not record.relabeled_example
                and self._within(ranking, audit, ce, audit.n_budget - audit.used)
            ):
                # the person kept the label the model doubted: the training
                # example that most supported the doubt is now suspect; ask
                # about it next if the budget would reach it anyway
                follow_ups.append((ce, record.example_id))

    def _fold_selector(self, X, audit, ranking, fold, selector):
        """The selector of a fold's model, on the current labels of its rows."""
        cvp = ranking["cv"]
        train = cvp.train[fold]
        y_train = audit.labels[train]
        cached = ranking["selectors"].get(fold)
        if cached is not None:
            fitted, labels_seen = cached
            if np.array_equal(labels_seen, y_train):
                return fitted
            # answers changed labels of its rows: the model is the same, so a
            # selector that can reuse its work (TopFisher's update) does
            if hasattr(fitted, "update"):
                fitted = fitted.update(
                    cvp.estimators[fold], X[train], audit.classes[y_train]
                )
                ranking["selectors"][fold] = (fitted, y_train)
                return fitted
        fitted = clone(selector).fit(
            cvp.estimators[fold], X[train], audit.classes[y_train]
        )
        ranking["selectors"][fold] = (fitted, y_train)
        return fitted

    def _counter_examples(self, X, audit, ranking, row, selector, n):
        """The ``n`` best counter-examples of a row and their scores, best first."""
        cvp = ranking["cv"]
        fold = cvp.fold[row]
        train = cvp.train[fold]
        prediction = ranking["prediction"][row]
        candidates = np.flatnonzero(audit.labels[train] == prediction)
        if candidates.size == 0:
            return []
        fitted = self._fold_selector(X, audit, ranking, fold, selector)
        picked = _questions.pick_counter_examples(
            fitted, X[row], audit.classes[audit.labels[row]], candidates, n
        )
        return [(int(train[index]), score) for index, score in picked]

    def _offers(self, audit, ranking, counters, row, left):
        """Per counter-example, whether its own label is offered for relabeling.

        ``left`` is the number of labels this block may still spend after
        this question; each offer spends one of them.
        """
        offered = []
        for counter in counters:
            taken = sum(offered)
            if (
                self.counter_threshold is None
                or audit.asked[counter]
                or audit.n_budget - audit.used < 2 + taken
                or not ranking["flagged"][counter]
            ):
                offered.append(False)
            elif self.counter_threshold != "auto":
                offered.append(
                    bool(ranking["margin"][counter] >= self.counter_threshold)
                )
            else:
                # "auto": only a counter-example that this block would ask
                # about anyway, so that the offer takes no label from the ranking
                exclude = [row] + [c for c, o in zip(counters, offered) if o]
                offered.append(
                    self._within(ranking, audit, counter, left - taken, exclude=exclude)
                )
        return offered

    def _within(self, ranking, audit, row, n_labels, exclude=()):
        """Whether ``row`` is among the next ``n_labels`` suspicious labels."""
        if n_labels < 1 or audit.asked[row] or not ranking["flagged"][row]:
            return False
        pending = self._pending(ranking, audit)
        pending = pending[~np.isin(pending, exclude)]
        return bool(np.isin(row, pending[:n_labels]))

    def _note(self, ranking, audit, row, counters, offered, follow_up):
        """Why this question is asked, and what its counter-examples are for."""
        if follow_up is not None:
            note = (
                f"You kept the label of example #{follow_up[1]}, which the model "
                f"doubted; example #{row} is the training example that most "
                "supported that doubt, and a model cross-validated without it "
                "doubts its label too."
            )
        else:
            rank = (
                int(
                    np.sum(
                        ranking["quality"][ranking["flagged"]] < ranking["quality"][row]
                    )
                )
                + 1
            )
            n_flagged = int(ranking["flagged"].sum())
            note = (
                f"A model cross-validated without example #{row} doubts its "
                f"label: it ranks {rank} of the {n_flagged} suspicious labels."
            )
        check = "check both" if len(counters) == 1 else "check it too"
        for counter, offer in zip(counters, offered):
            own = float(ranking["margin"][counter])
            if offer:
                note += (
                    f" Example #{counter}'s own label is in doubt too "
                    f"(out-of-sample margin {own:.2f}): {check}."
                )
            elif audit.asked[counter]:
                note += f" Example #{counter}'s label was checked already."
            else:
                note += (
                    f" Example #{counter} explains the doubt and keeps its label "
                    f"here (its own out-of-sample margin is {own:.2f})."
                )
        return note

    def _push_block(self, X, classes, audit, ranking, rows, selector, block):
        """Hand the block's questions to the oracle at once, when it takes them.

        An oracle with ``push(queries)`` (a
        :class:`~sklearn_cincer.oracles.LabelStudioOracle`) gets the questions
        the block is expected to ask before the first is asked, so that a
        team answers them in parallel; each is then asked in turn as usual.
        A question that an earlier answer changes (its counter-example
        relabeled) is asked as it then is.
        """
        push = getattr(self.oracle, "push", None)
        if push is None or block < 2:
            return
        queries, spent = [], 0
        for row in rows:
            if spent >= block:
                break
            query, offered = self._query(
                X,
                classes,
                audit,
                ranking,
                row,
                selector,
                left=block - spent - 1,
                follow_up=None,
            )
            queries.append(detached_copy(query))
            spent += 1 + sum(offered)
        try:
            push(queries)
        except OracleError:
            raise
        except Exception as exc:
            raise OracleError(
                f"The oracle raised {type(exc).__name__} while taking "
                f"a block of {len(queries)} questions: {exc}"
            ) from exc

    def _query(self, X, classes, audit, ranking, row, selector, left, follow_up):
        """The question about one row, and per counter-example whether its
        own label is offered."""
        picked = self._counter_examples(
            X, audit, ranking, row, selector, self.n_counter_examples
        )
        counters = [ce for ce, _ in picked]
        offered = self._offers(audit, ranking, counters, row, left)
        fold_selector = ranking["selectors"].get(ranking["cv"].fold[row])
        query = _questions.build_query(
            X,
            row,
            picked=picked,
            counter_labels=[plain(classes[audit.labels[ce]]) for ce in counters],
            describe=(
                None
                if fold_selector is None
                else getattr(fold_selector[0], "describe_score", None)
            ),
            feature_names=getattr(self, "feature_names_in_", None),
            label=plain(classes[audit.labels[row]]),
            prediction=plain(classes[ranking["prediction"][row]]),
            margin=float(ranking["margin"][row]),
            classes=classes.copy(),
            round=audit.n_rankings,
            strategy="relabel" if any(offered) else "explain",
            note=self._note(ranking, audit, row, counters, offered, follow_up),
            # for people: the question's number and the features' spread
            question=len(audit.history) + 1,
            feature_scale=audit.feature_scale(X),
        )
        return query, offered

    def _ask(self, X, classes, audit, ranking, row, selector, left, follow_up):
        """Ask about one row and apply the answer; returns its record."""
        query, offered = self._query(
            X, classes, audit, ranking, row, selector, left, follow_up
        )
        counters = [ce.example_id for ce in query.counter_examples]
        offered_counters = [ce for ce, offer in zip(counters, offered) if offer]
        if self.background_refit and left - len(offered_counters) <= 0:
            # the block's last question: refit while the person reads it
            start_speculation(self, X, audit, ranking, row, offered_counters)
        answer = _questions.hand_over(self.oracle, query, "auditor")
        outcome = _questions.read_answer(answer, query, offered)
        _questions.apply_answer(audit.labels, classes, query, outcome)
        inspected = [row] + [ce for ce, offer in zip(counters, offered) if offer]
        audit.asked[inspected] = True
        audit.inspected[inspected] = not outcome.skipped
        first = query.counter_examples[0] if counters else None
        audit.shown[row] = (
            (None, None) if first is None else (first.example_id, first.score)
        )
        audit.used += len(inspected)
        record = _questions.record(
            query,
            outcome,
            record_type=AuditRecord,
            counter_offered=any(offered),
            counter_margin=(
                float(ranking["margin"][counters[0]]) if counters else None
            ),
            labels_inspected=audit.used,
            follow_up=follow_up is not None,
        )
        audit.history.append(record)
        return record

    # -------------------------------------------------------------- publish

    def _issues(self, X, classes, audit, ranking, selector):
        n = audit.labels.shape[0]
        counter = np.full(n, -1, dtype=np.int64)
        score = np.full(n, np.nan)
        for row, (ce, s) in audit.shown.items():
            if ce is not None:
                counter[row], score[row] = ce, s
        if self.explain_issues:
            rows = np.flatnonzero(ranking["flagged"] & ~audit.asked)
            for row in progress(
                rows, desc="counter-examples", verbose=audit.inner_verbose, leave=False
            ):
                picked = self._counter_examples(
                    X, audit, ranking, int(row), selector, 1
                )
                if picked:
                    counter[row], score[row] = picked[0]
        given, current = audit.given, audit.labels
        return issues_table(
            np.arange(n),
            is_label_issue=np.where(
                audit.inspected, given != current, ranking["flagged"]
            ),
            label_quality=label_quality(ranking["cv"].proba, given),
            given_label=classes[given],
            predicted_label=classes[ranking["prediction"]],
            counter_example=counter,
            counter_example_score=score,
            inspected=audit.inspected,
            cleaned_label=classes[current],
            classes=classes,
        )

    def _publish(self, X, classes, template, audit, ranking, selector):
        self.classes_ = classes
        self.label_issues_ = self._issues(X, classes, audit, ranking, selector)
        self.estimator_ = clone(template).fit(X, classes[audit.labels])
        self.y_ = classes[audit.labels]
        self.proba_ = ranking["cv"].proba
        self.history_ = list(audit.history)
        self.n_queries_ = len(audit.history)
        self.n_inspected_ = int(audit.used)
        self.n_rankings_ = int(audit.n_rankings)
        self.n_relabeled_examples_ = sum(r.relabeled_example for r in audit.history)
        self.n_relabeled_counter_examples_ = sum(
            r.relabeled_counter_example for r in audit.history
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


def find_label_issues(
    estimator=None,
    X=None,
    y=None,
    *,
    pred_probs=None,
    labels=None,
    selector=None,
    cv=5,
    threshold=0.0,
    explain_issues=True,
    n_jobs=None,
    random_state=None,
    verbose=0,
    n_threads="auto",
):
    """Rank the labels of a dataset by out-of-sample suspicion, with counter-examples.

    Two forms:

    - ``find_label_issues(estimator, X, y)``: the one-call form of
      ``LabelAuditor(estimator, oracle=None, ...).fit(X, y).label_issues_``;
      nothing is asked, every example is ranked by cross-validated
      probabilities and explained by a counter-example;
    - ``find_label_issues(labels, pred_probs=pred_probs)``: the ranking from
      out-of-sample probabilities you already have, as cleanlab's
      ``find_label_issues(labels, pred_probs)``; without a model there is no
      counter-example (``counter_example`` is -1).

    Parameters
    ----------
    estimator : classifier, or array-like of shape (n_samples,)
        With ``predict_proba``; cloned. With ``pred_probs``, the labels
        (or pass them as ``labels``).
    X : array-like of shape (n_samples, n_features)
        Not with ``pred_probs``.
    y : array-like of shape (n_samples,)
        Not with ``pred_probs``.
    pred_probs : array-like of shape (n_samples, n_classes), default=None
        Out-of-sample probabilities of each row (cross-validated: a model's
        probabilities on its own training rows hide its doubts). Columns are
        the sorted classes (or, for integer labels, the classes ``0 ..
        n_classes - 1``); every value finite and in ``[0, 1]``, every row
        summing to 1.
    labels : array-like of shape (n_samples,), default=None
        The labels, with ``pred_probs`` (instead of the first argument).
    selector, cv, threshold, explain_issues, n_jobs, random_state, verbose, n_threads
        As in :class:`LabelAuditor`; with ``pred_probs`` only ``threshold``
        applies.

    Returns
    -------
    label_issues : pandas.DataFrame or numpy structured array
        One row per example, with the columns of
        :attr:`LabelAuditor.label_issues_` (cleanlab's ``is_label_issue``,
        ``label_quality``, ``given_label``, ``predicted_label``, and
        ``counter_example``, ``counter_example_score``, ``inspected``,
        ``cleaned_label``).

    See Also
    --------
    LabelAuditor : The same ranking, with questions to a person.
    health_summary : Issues per class, confused classes and label spellings.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_cincer import find_label_issues
    >>> from sklearn_cincer.datasets import make_label_noise
    >>> X, y = load_iris(return_X_y=True)
    >>> y_noisy, flipped = make_label_noise(y, noise_rate=0.1, random_state=0)
    >>> issues = find_label_issues(LogisticRegression(max_iter=1000), X, y_noisy)
    >>> top = issues.sort_values("label_quality").head(10)
    >>> int(flipped[top.index].sum())  # of the 10 most suspicious labels
    10
    >>> bool((top["counter_example"] >= 0).all())
    True

    From probabilities computed elsewhere:

    >>> from sklearn.model_selection import cross_val_predict
    >>> pred_probs = cross_val_predict(LogisticRegression(max_iter=1000), X,
    ...                                y_noisy, method="predict_proba")
    >>> issues = find_label_issues(y_noisy, pred_probs=pred_probs)
    >>> int(flipped[issues.sort_values("label_quality").head(10).index].sum())
    10
    """
    if pred_probs is not None or labels is not None:
        return _issues_from_pred_probs(estimator, X, y, labels, pred_probs, threshold)
    if estimator is None or X is None or y is None:
        raise ValueError(
            "find_label_issues takes (estimator, X, y), or "
            "(labels, pred_probs=...) to rank given probabilities."
        )
    return _find_with_estimator(
        estimator,
        X,
        y,
        selector=selector,
        cv=cv,
        threshold=threshold,
        explain_issues=explain_issues,
        n_jobs=n_jobs,
        random_state=random_state,
        verbose=verbose,
        n_threads=n_threads,
    )


def _issues_from_pred_probs(first, X, y, labels, pred_probs, threshold):
    """``find_label_issues(labels, pred_probs=...)``, its arguments checked."""
    if pred_probs is None:
        raise ValueError(
            "labels= goes with pred_probs=; to rank with a model, "
            "call find_label_issues(estimator, X, y)."
        )
    if X is not None or y is not None:
        raise ValueError(
            "find_label_issues takes either (estimator, X, y) or (labels, "
            "pred_probs=...); X and y have no use with pred_probs."
        )
    if labels is not None and first is not None:
        raise ValueError("The labels were given twice (first argument and labels=).")
    labels = first if labels is None else labels
    if labels is None or hasattr(labels, "fit"):
        raise ValueError(
            "With pred_probs, pass the labels: "
            "find_label_issues(labels, pred_probs=pred_probs)."
        )
    if not (isinstance(threshold, Real) and 0 <= threshold <= 1):
        raise ValueError(f"threshold must be in [0, 1]; got {threshold!r}.")
    return pred_probs_issues(labels, pred_probs, threshold)


def _find_with_estimator(estimator, X, y, **params):
    """``find_label_issues(estimator, X, y)``: the auditor without an oracle."""
    auditor = LabelAuditor(estimator, oracle=None, **params)
    return auditor.fit(X, y).label_issues_


# Its parameter errors name the public function the user called.
_find_with_estimator.__qualname__ = "find_label_issues"
_find_with_estimator = validate_params(
    {
        "estimator": [HasMethods(["fit", "predict_proba"])],
        "X": ["array-like"],
        "y": ["array-like"],
    },
    prefer_skip_nested_validation=False,
)(_find_with_estimator)
