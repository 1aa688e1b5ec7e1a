"""Plots as scikit-learn-style Display objects.

As :class:`sklearn.metrics.RocCurveDisplay`: a ``from_*`` class method
computes what to draw and calls :meth:`plot`, which draws on ``ax`` (a new
figure when None) and keeps the matplotlib artists in attributes ending in
``_`` (``ax_``, ``figure_``, ``line_``...). matplotlib is imported only when
drawing (the ``plot`` extra).
"""

import math

import numpy as np

from ._progress import progress


def check_matplotlib_support(caller):
    """Raise a clear ImportError when matplotlib (the ``plot`` extra) is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"{caller} needs matplotlib: pip install 'sklearn-cincer[plot]'."
        ) from exc


def _axes(ax):
    """The Axes to draw on: ``ax``, or a new figure's."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    return ax


def _stacked(role, caption):
    """``"#3 labeled 1, predicted 7"`` as narrow lines under an image."""
    head, _, rest = caption.partition(" ")
    if not head.startswith("#"):
        return f"{role}\n{caption}"
    return "\n".join([f"{role} {head}"] + rest.split(", "))


def _cumulative_inspection(labels_inspected, errors_found, total_errors=None):
    """Precision and noise removed after each question."""
    labels_inspected = np.asarray(labels_inspected, dtype=float)
    errors_found = np.asarray(errors_found, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(
            labels_inspected > 0, errors_found / labels_inspected, np.nan
        )
    removed = None
    if total_errors:
        removed = errors_found / float(total_errors)
    return precision, removed


class LabelIssuesDisplay:
    """Precision and noise removed over the labels inspected.

    After each question of an audit (or each label of a static ranking), the
    precision is the fraction of the inspected labels that were wrong and the
    noise removed the fraction of all wrong labels set right. Without the
    true labels, a wrong label is one the person changed and the noise
    removed is unknown (None).

    Use :meth:`from_auditor` or :meth:`from_label_issues` to make one.

    Parameters
    ----------
    labels_inspected : ndarray of shape (n_points,)
        Labels inspected so far, at each point.
    precision : ndarray of shape (n_points,)
        Fraction of them that were wrong.
    noise_removed : ndarray of shape (n_points,) or None
        Fraction of all wrong labels set right.
    name : str, default=None
        Shown in the legend.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    line_ : matplotlib Line2D
        The precision curve.
    noise_line_ : matplotlib Line2D or None
        The noise-removed curve.

    See Also
    --------
    LabelAuditor : The audit this draws.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn_cincer import LabelIssuesDisplay
    >>> display = LabelIssuesDisplay(np.array([1, 2, 3]), np.array([1, 1, 2 / 3]),
    ...                              np.array([0.25, 0.5, 0.5]), name="audit")
    >>> display.plot().line_.get_label()
    'audit: precision'
    """

    def __init__(self, labels_inspected, precision, noise_removed=None, *, name=None):
        self.labels_inspected = labels_inspected
        self.precision = precision
        self.noise_removed = noise_removed
        self.name = name

    def plot(self, ax=None, *, name=None, **kwargs):
        """Draw the precision (solid) and noise removed (dashed).

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None.
        name : str, default=None
            Overrides the name given at construction.
        **kwargs
            Passed to ``ax.plot`` for both lines (e.g. ``color``).

        Returns
        -------
        display : LabelIssuesDisplay
        """
        check_matplotlib_support("LabelIssuesDisplay.plot")
        ax = _axes(ax)
        name = self.name if name is None else name
        prefix = f"{name}: " if name else ""
        (self.line_,) = ax.plot(
            self.labels_inspected, self.precision, label=prefix + "precision", **kwargs
        )
        self.noise_line_ = None
        if self.noise_removed is not None:
            kw = dict(kwargs)
            kw.setdefault("color", self.line_.get_color())
            (self.noise_line_,) = ax.plot(
                self.labels_inspected,
                self.noise_removed,
                linestyle="--",
                label=prefix + "noise removed",
                **kw,
            )
        ax.set_xlabel("labels inspected")
        ax.set_ylabel("fraction")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(loc="lower right", fontsize="small")
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_auditor(cls, auditor, *, y_true=None, ax=None, name=None, **kwargs):
        """Draw a fitted :class:`~sklearn_cincer.LabelAuditor`'s questions.

        Parameters
        ----------
        auditor : fitted LabelAuditor
        y_true : array-like of shape (n_samples,), default=None
            The true labels, by row: then a wrong label is one that differs
            from its true label, and the noise removed is drawn. Without
            them, a wrong label is one the person changed.
        ax : matplotlib Axes, default=None
        name : str, default=None
        **kwargs
            Passed to ``ax.plot``.

        Returns
        -------
        display : LabelIssuesDisplay

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.linear_model import LogisticRegression
        >>> from sklearn_cincer import LabelAuditor, LabelIssuesDisplay, SimulatedOracle
        >>> from sklearn_cincer.datasets import make_label_noise
        >>> X, y = load_iris(return_X_y=True)
        >>> y_noisy, _ = make_label_noise(y, noise_rate=0.1, random_state=0)
        >>> auditor = LabelAuditor(LogisticRegression(max_iter=1000), budget=15,
        ...                        oracle=SimulatedOracle(y)).fit(X, y_noisy)
        >>> display = LabelIssuesDisplay.from_auditor(auditor, y_true=y)
        >>> n, removed = display.labels_inspected[-1], display.noise_removed[-1]
        >>> int(n), round(float(removed), 2)
        (15, 0.93)
        """
        history = auditor.history_
        errors, found = 0, []
        given = np.asarray(auditor.label_issues_["given_label"])
        if y_true is not None:
            y_true = np.asarray(y_true)
        for r in history:
            pairs = [(r.example_id, r.label_after)]
            if r.counter_offered:
                pairs.append((r.counter_example_id, r.counter_label_after))
            for row, after in pairs:
                if r.skipped:
                    continue
                wrong = (
                    (given[row] != y_true[row])
                    if y_true is not None
                    else (after != given[row])
                )
                errors += bool(wrong)
            found.append(errors)
        inspected = [r.labels_inspected for r in history]
        total = None if y_true is None else int((given != y_true).sum())
        precision, removed = _cumulative_inspection(inspected, found, total)
        display = cls(
            np.asarray(inspected),
            precision,
            removed,
            name="LabelAuditor" if name is None else name,
        )
        return display.plot(ax=ax, **kwargs)

    @classmethod
    def from_label_issues(
        cls, label_issues, y_true, *, budget=None, ax=None, name=None, **kwargs
    ):
        """Draw a static ranking: labels inspected in ``label_quality`` order.

        Works on any table with ``label_quality`` and ``given_label`` columns:
        :func:`~sklearn_cincer.find_label_issues`'s, or cleanlab's (which
        uses the same names), so the two can be drawn side by side.

        Parameters
        ----------
        label_issues : pandas.DataFrame or structured array
            One row per example, in row order.
        y_true : array-like of shape (n_samples,)
            The true labels.
        budget : int, default=None
            Labels inspected at most; all when None.
        ax : matplotlib Axes, default=None
        name : str, default=None
        **kwargs
            Passed to ``ax.plot``.

        Returns
        -------
        display : LabelIssuesDisplay

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> import pandas as pd
        >>> from sklearn_cincer import LabelIssuesDisplay
        >>> table = pd.DataFrame({"label_quality": [0.1, 0.9, 0.3],
        ...                       "given_label": [1, 0, 0]})
        >>> d = LabelIssuesDisplay.from_label_issues(table, np.array([0, 0, 0]))
        >>> d.precision.tolist(), d.noise_removed.tolist()
        ([1.0, 0.5, 0.3333333333333333], [1.0, 1.0, 1.0])
        """
        quality = np.asarray(label_issues["label_quality"], dtype=float)
        given = np.asarray(label_issues["given_label"])
        y_true = np.asarray(y_true)
        order = np.argsort(quality, kind="stable")
        if budget is not None:
            order = order[:budget]
        wrong = given[order] != y_true[order]
        inspected = np.arange(1, order.shape[0] + 1)
        precision, removed = _cumulative_inspection(
            inspected, np.cumsum(wrong), int((given != y_true).sum())
        )
        display = cls(
            inspected,
            precision,
            removed,
            name="static ranking" if name is None else name,
        )
        return display.plot(ax=ax, **kwargs)


# Names the twin axes of the F1, so that a second curve drawn on the same
# axes shares it (one right-hand scale) instead of stacking another twin.
_F1_AXES_LABEL = "sklearn_cincer test F1"


def _f1_axes(ax):
    """The F1 twin of ``ax`` drawn by an earlier curve, or None."""
    for other in ax.figure.axes:
        if (
            other.get_label() == _F1_AXES_LABEL
            and ax in other.get_shared_x_axes().get_siblings(other)
            and other is not ax
        ):
            return other
    return None


def _one_legend(ax, twin):
    """One legend for every curve drawn on ``ax`` and its F1 twin.

    It goes on the twin when there is one: the twin is drawn over ``ax``,
    so a legend of ``ax`` would sit under the F1 lines.
    """
    holders = [ax] if twin is None else [ax, twin]
    handles = [
        line
        for holder in holders
        for line in holder.get_lines()
        if not line.get_label().startswith("_")
    ]
    for holder in holders:
        if holder.get_legend() is not None:
            holder.get_legend().remove()
    holders[-1].legend(handles=handles, loc="upper left", fontsize="small")


class CleaningCurveDisplay:
    """Labels cleaned and test F1 over the rounds of a cleaner's stream.

    Use :meth:`from_cleaner` to make one: it runs the cleaner and measures.

    Parameters
    ----------
    rounds : ndarray of shape (n_points,)
        Rounds (examples streamed) at each point; 0 is the bootstrap model.
    n_cleaned : ndarray of shape (n_points,)
        Labels cleaned so far (set right, with the true labels; changed by
        the oracle, without).
    f1 : ndarray of shape (n_points,) or None
        Weighted F1 on the test set, when one was given.
    n_queries : ndarray of shape (n_points,) or None
        Questions asked so far.
    name : str, default=None
        Shown in the legend.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The axes of the labels cleaned.
    f1_ax_ : matplotlib Axes or None
        The twin axes of the F1 (right).
    figure_ : matplotlib Figure
    line_ : matplotlib Line2D
        Labels cleaned.
    f1_line_ : matplotlib Line2D or None
        The F1.
    cleaner : SkepticalCleaner or None
        The cleaner fitted by :meth:`from_cleaner`.

    See Also
    --------
    SkepticalCleaner : The cleaner this draws.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn_cincer import CleaningCurveDisplay
    >>> display = CleaningCurveDisplay(np.array([0, 10, 20]), np.array([0, 3, 5]),
    ...                                f1=np.array([0.8, 0.85, 0.9])).plot()
    >>> display.f1_line_.get_ydata().tolist()
    [0.8, 0.85, 0.9]
    """

    def __init__(self, rounds, n_cleaned, f1=None, *, n_queries=None, name=None):
        self.rounds = rounds
        self.n_cleaned = n_cleaned
        self.f1 = f1
        self.n_queries = n_queries
        self.name = name
        self.cleaner = None

    def plot(self, ax=None, *, name=None, **kwargs):
        """Draw the labels cleaned (left axis) and the F1 (right axis, dashed).

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None. The F1 goes on its twin.
        name : str, default=None
            Overrides the name given at construction.
        **kwargs
            Passed to ``ax.plot`` for both lines.

        Returns
        -------
        display : CleaningCurveDisplay
        """
        check_matplotlib_support("CleaningCurveDisplay.plot")
        ax = _axes(ax)
        name = self.name if name is None else name
        prefix = f"{name}: " if name else ""
        (self.line_,) = ax.plot(
            self.rounds, self.n_cleaned, label=prefix + "labels cleaned", **kwargs
        )
        ax.set_xlabel("round (examples streamed)")
        ax.set_ylabel("labels cleaned")
        self.f1_ax_, self.f1_line_ = _f1_axes(ax), None
        if self.f1 is not None:
            if self.f1_ax_ is None:
                self.f1_ax_ = ax.twinx()
                self.f1_ax_.set_label(_F1_AXES_LABEL)
            kw = dict(kwargs)
            kw.setdefault("color", self.line_.get_color())
            (self.f1_line_,) = self.f1_ax_.plot(
                self.rounds, self.f1, linestyle="--", label=prefix + "test F1", **kw
            )
            self.f1_ax_.set_ylabel("test F1 (dashed)")
        _one_legend(ax, self.f1_ax_)
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_cleaner(
        cls,
        cleaner,
        X,
        y,
        *,
        X_test=None,
        y_test=None,
        y_true=None,
        n_points=20,
        ax=None,
        name=None,
        **kwargs,
    ):
        """Run a cleaner over ``(X, y)`` and draw how cleaning went.

        The cleaner (cloned) is fit on the bootstrap rows, then streamed the
        other rows in ``n_points`` chunks with ``partial_fit``, which gives
        the same rounds as one ``fit``; after each chunk the labels cleaned
        and the F1 on ``(X_test, y_test)`` are measured.

        Parameters
        ----------
        cleaner : SkepticalCleaner
            Fitted or not; it is cloned and not changed.
        X : array-like of shape (n_samples, n_features)
            The stream, as for ``cleaner.fit``.
        y : array-like of shape (n_samples,)
            Its labels.
        X_test, y_test : array-like, default=None
            A clean test set for the F1; no F1 without it.
        y_true : array-like of shape (n_samples,), default=None
            The true labels of the stream: then a label cleaned is one set
            right, else one the oracle changed.
        n_points : int, default=20
            Points of the curve after the bootstrap.
        ax : matplotlib Axes, default=None
        name : str, default=None
        **kwargs
            Passed to ``ax.plot``.

        Returns
        -------
        display : CleaningCurveDisplay
            With the fitted clone in ``cleaner``.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn.datasets import load_breast_cancer
        >>> from sklearn.linear_model import LogisticRegression
        >>> from sklearn.preprocessing import minmax_scale
        >>> from sklearn_cincer import (CleaningCurveDisplay, SimulatedOracle,
        ...                             SkepticalCleaner)
        >>> from sklearn_cincer.datasets import make_label_noise
        >>> X, y = load_breast_cancer(return_X_y=True)
        >>> X = minmax_scale(X)
        >>> y_noisy, _ = make_label_noise(y, noise_rate=0.2, random_state=0)
        >>> cleaner = SkepticalCleaner(LogisticRegression(), n_bootstrap=100,
        ...                            oracle=SimulatedOracle(y[:300]))
        >>> display = CleaningCurveDisplay.from_cleaner(
        ...     cleaner, X[:300], y_noisy[:300], X_test=X[300:], y_test=y[300:],
        ...     y_true=y[:300], n_points=4)
        >>> display.rounds.tolist()
        [0, 50, 100, 150, 200]
        >>> bool(display.n_cleaned[-1] > 0), bool(display.f1[-1] > 0.8)
        (True, True)
        """
        from sklearn.base import clone
        from sklearn.metrics import f1_score

        X, y = np.asarray(X), np.asarray(y)
        n = X.shape[0]
        boot = cleaner.n_bootstrap
        boot = (
            min(int(boot), n)
            if isinstance(boot, (int, np.integer))
            else max(1, math.ceil(boot * n))
        )
        model = clone(cleaner).set_params(n_bootstrap=boot)
        y_known = None if y_true is None else np.asarray(y_true)
        has_test = X_test is not None and y_test is not None

        rounds, cleaned, f1, queries = [], [], [], []

        def measure(done):
            rounds.append(done)
            count = 0
            for r in model.history_:
                if y_known is None:
                    count += r.relabeled_example + r.relabeled_counter_example
                    continue
                count += (
                    r.label_before != y_known[r.example_id]
                    and r.label_after == y_known[r.example_id]
                )
                ce = r.counter_example_id
                count += bool(
                    ce is not None
                    and r.relabeled_counter_example
                    and r.counter_label_before != y_known[ce]
                    and r.counter_label_after == y_known[ce]
                )
            cleaned.append(int(count))
            queries.append(model.n_queries_)
            if has_test:
                f1.append(f1_score(y_test, model.predict(X_test), average="weighted"))

        model.fit(X[:boot], y[:boot])
        measure(0)
        edges = np.unique(np.linspace(boot, n, n_points + 1).round().astype(int))
        bar = progress(
            list(zip(edges[:-1], edges[1:])),
            desc="CleaningCurveDisplay",
            verbose=getattr(cleaner, "verbose", 0),
            unit="chunk",
        )
        for start, stop in bar:
            model.partial_fit(X[start:stop], y[start:stop])
            measure(stop - boot)
        display = cls(
            np.asarray(rounds),
            np.asarray(cleaned),
            np.asarray(f1) if has_test else None,
            n_queries=np.asarray(queries),
            name=type(cleaner).__name__ if name is None else name,
        )
        display.cleaner = model
        return display.plot(ax=ax, **kwargs)


class CounterExampleDisplay:
    """A suspicious example next to its counter-example (the paper's Figure 1).

    Images are drawn side by side; other examples as bars of the features
    that differ most between the two.

    Use :meth:`from_query`, :meth:`from_auditor` or :meth:`from_cleaner` to
    make one.

    Parameters
    ----------
    x, counter_x : ndarray of shape (n_features,)
        The suspicious example and its counter-example.
    caption, counter_caption : str
        What is written under each.
    image_shape : tuple of int, default=None
        ``(height, width)`` to draw the examples as images.
    feature_names : sequence of str, default=None
        Names of the features (tabular view).
    n_features : int, default=10
        Features shown in the tabular view, those that differ most.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    image_ : matplotlib AxesImage or None
        The two images, side by side (image view).
    bars_ : list of matplotlib BarContainer or None
        The example's and the counter-example's bars (tabular view).

    See Also
    --------
    LabelAuditor, SkepticalCleaner : Where the pairs come from.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn_cincer import CounterExampleDisplay
    >>> display = CounterExampleDisplay(np.eye(8).ravel(), np.ones(64),
    ...     "#3 labeled 1", "#7 labeled 7", image_shape=(8, 8)).plot()
    >>> display.image_.get_array().shape
    (8, 18)
    """

    def __init__(
        self,
        x,
        counter_x,
        caption="",
        counter_caption="",
        *,
        image_shape=None,
        feature_names=None,
        n_features=10,
    ):
        self.x = x
        self.counter_x = counter_x
        self.caption = caption
        self.counter_caption = counter_caption
        self.image_shape = image_shape
        self.feature_names = feature_names
        self.n_features = n_features

    def plot(self, ax=None, *, cmap="gray_r"):
        """Draw the pair.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None.
        cmap : str, default="gray_r"
            Colormap of the image view.

        Returns
        -------
        display : CounterExampleDisplay
        """
        check_matplotlib_support("CounterExampleDisplay.plot")
        ax = _axes(ax)
        x = np.asarray(self.x, dtype=float).ravel()
        cx = np.asarray(self.counter_x, dtype=float).ravel()
        self.image_, self.bars_ = None, None
        if self.image_shape is not None:
            h, w = self.image_shape[:2]
            gap = np.full((h, max(1, w // 4)), np.nan)
            both = np.hstack([x.reshape(h, w), gap, cx.reshape(h, w)])
            self.image_ = ax.imshow(both, cmap=cmap)
            ax.set_xticks([(w - 1) / 2, both.shape[1] - (w + 1) / 2])
            ax.set_xticklabels(
                [
                    _stacked("suspicious", self.caption),
                    _stacked("counter-example", self.counter_caption),
                ],
                fontsize="small",
            )
            ax.tick_params(length=0)
            ax.set_yticks([])
        else:
            names = (
                list(self.feature_names)
                if self.feature_names is not None
                else [f"x[{j}]" for j in range(x.shape[0])]
            )
            order = np.argsort(-np.abs(x - cx), kind="stable")[: self.n_features]
            pos = np.arange(order.shape[0])
            self.bars_ = [
                ax.barh(
                    pos - 0.2, x[order], height=0.4, label="suspicious: " + self.caption
                ),
                ax.barh(
                    pos + 0.2,
                    cx[order],
                    height=0.4,
                    label="counter-example: " + self.counter_caption,
                ),
            ]
            ax.set_yticks(pos)
            ax.set_yticklabels([str(names[j]) for j in order], fontsize="small")
            ax.invert_yaxis()
            ax.set_xlabel("feature value (the features that differ most)")
            ax.legend(fontsize="small")
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_query(
        cls,
        query,
        *,
        image_shape=None,
        feature_names=None,
        n_features=10,
        ax=None,
        **kwargs,
    ):
        """Draw a :class:`~sklearn_cincer.oracles.Query` as the oracle sees it.

        Parameters
        ----------
        query : Query
            With a counter-example.
        image_shape, feature_names, n_features
            As in the constructor; ``feature_names`` defaults to the query's.
        ax : matplotlib Axes, default=None
        **kwargs
            Passed to :meth:`plot`.

        Returns
        -------
        display : CounterExampleDisplay

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from sklearn_cincer import CounterExampleDisplay
        >>> from sklearn_cincer.oracles import Query
        >>> query = Query(example_id=5, x=np.array([0.1, 0.9]), label=0,
        ...     prediction=1, margin=0.6, classes=np.array([0, 1]),
        ...     counter_example_id=2, counter_x=np.array([0.2, 0.8]),
        ...     counter_label=1, score=1.5)
        >>> d = CounterExampleDisplay.from_query(query)
        >>> d.caption, d.counter_caption
        ('#5 labeled 0, predicted 1', '#2 labeled 1, score 1.5')
        """
        if not query.has_counter_example:
            raise ValueError(
                f"The query about example {query.example_id} has no "
                "counter-example to draw."
            )
        score = "" if query.score is None else f", score {query.score:.3g}"
        display = cls(
            query.x,
            query.counter_x,
            f"#{query.example_id} labeled {query.label}, predicted {query.prediction}",
            f"#{query.counter_example_id} labeled {query.counter_label}{score}",
            image_shape=image_shape,
            feature_names=(
                query.feature_names if feature_names is None else feature_names
            ),
            n_features=n_features,
        )
        return display.plot(ax=ax, **kwargs)

    @classmethod
    def _from_row(
        cls,
        X,
        row,
        counter,
        label,
        prediction,
        counter_label,
        score,
        image_shape,
        feature_names,
        n_features,
        ax,
        kwargs,
    ):
        X = np.asarray(X)
        score_text = "" if score is None or np.isnan(score) else f", score {score:.3g}"
        display = cls(
            X[row],
            X[counter],
            f"#{row} labeled {label}, predicted {prediction}",
            f"#{counter} labeled {counter_label}{score_text}",
            image_shape=image_shape,
            feature_names=feature_names,
            n_features=n_features,
        )
        return display.plot(ax=ax, **kwargs)

    @classmethod
    def from_auditor(
        cls,
        auditor,
        X,
        *,
        example_id=None,
        image_shape=None,
        feature_names=None,
        n_features=10,
        ax=None,
        **kwargs,
    ):
        """Draw a fitted :class:`~sklearn_cincer.LabelAuditor`'s example and its pair.

        Parameters
        ----------
        auditor : fitted LabelAuditor
        X : array-like of shape (n_samples, n_features)
            The rows the auditor was fit on.
        example_id : int, default=None
            The row; None for the most suspicious one with a counter-example
            (by ``label_quality`` as given).
        image_shape, feature_names, n_features
            As in the constructor; ``feature_names`` defaults to the
            auditor's ``feature_names_in_``.
        ax : matplotlib Axes, default=None
        **kwargs
            Passed to :meth:`plot`.

        Returns
        -------
        display : CounterExampleDisplay

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn.datasets import load_digits
        >>> from sklearn.linear_model import LogisticRegression
        >>> from sklearn_cincer import CounterExampleDisplay, LabelAuditor
        >>> from sklearn_cincer.datasets import make_label_noise
        >>> X, y = load_digits(return_X_y=True)
        >>> X, y = X[:300] / 16, y[:300]
        >>> y_noisy, _ = make_label_noise(y, noise_rate=0.2, random_state=0)
        >>> auditor = LabelAuditor(LogisticRegression(max_iter=1000)).fit(X, y_noisy)
        >>> d = CounterExampleDisplay.from_auditor(auditor, X, image_shape=(8, 8))
        >>> d.caption
        '#... labeled ..., predicted ...'
        >>> d.image_.get_array().shape
        (8, 18)
        """
        issues = auditor.label_issues_
        counter = np.asarray(issues["counter_example"])
        if example_id is None:
            quality = np.asarray(issues["label_quality"], dtype=float)
            candidates = np.flatnonzero(counter >= 0)
            if candidates.size == 0:
                raise ValueError("The auditor found no example with a counter-example.")
            example_id = int(candidates[np.argmin(quality[candidates])])
        if counter[example_id] < 0:
            raise ValueError(f"Example {example_id} has no counter-example.")
        ce = int(counter[example_id])
        given = np.asarray(issues["given_label"])
        if feature_names is None:
            feature_names = getattr(auditor, "feature_names_in_", None)
        return cls._from_row(
            X,
            example_id,
            ce,
            given[example_id],
            np.asarray(issues["predicted_label"])[example_id],
            given[ce],
            float(np.asarray(issues["counter_example_score"])[example_id]),
            image_shape,
            feature_names,
            n_features,
            ax,
            kwargs,
        )

    @classmethod
    def from_cleaner(
        cls,
        cleaner,
        X,
        *,
        example_id=None,
        image_shape=None,
        feature_names=None,
        n_features=10,
        ax=None,
        **kwargs,
    ):
        """Draw a question of a fitted :class:`~sklearn_cincer.SkepticalCleaner`.

        Parameters
        ----------
        cleaner : fitted SkepticalCleaner
        X : array-like of shape (n_seen, n_features)
            Every example streamed, by stream id (the rows of ``fit``, then
            those of each ``partial_fit``).
        example_id : int, default=None
            The stream id of a suspicious example the cleaner asked about;
            None for the first question with a counter-example.
        image_shape, feature_names, n_features
            As in the constructor.
        ax : matplotlib Axes, default=None
        **kwargs
            Passed to :meth:`plot`.

        Returns
        -------
        display : CounterExampleDisplay

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn.datasets import load_digits
        >>> from sklearn.linear_model import LogisticRegression
        >>> from sklearn_cincer import CounterExampleDisplay, SkepticalCleaner
        >>> from sklearn_cincer.datasets import make_label_noise
        >>> X, y = load_digits(return_X_y=True)
        >>> X, y = X[:300] / 16, y[:300]
        >>> y_noisy, _ = make_label_noise(y, noise_rate=0.2, random_state=0)
        >>> cleaner = SkepticalCleaner(LogisticRegression(max_iter=1000),
        ...                            n_bootstrap=200).fit(X, y_noisy)
        >>> d = CounterExampleDisplay.from_cleaner(cleaner, X, image_shape=(8, 8))
        >>> d.counter_caption.split()[1]
        'labeled'
        """
        records = [r for r in cleaner.history_ if r.counter_example_id is not None]
        if example_id is not None:
            records = [r for r in records if r.example_id == example_id]
        if not records:
            raise ValueError(
                "The cleaner asked no question with a counter-example"
                + ("." if example_id is None else f" about example {example_id}.")
            )
        r = records[0]
        return cls._from_row(
            X,
            r.example_id,
            r.counter_example_id,
            r.label_before,
            r.prediction,
            r.counter_label_before,
            r.score,
            image_shape,
            feature_names,
            n_features,
            ax,
            kwargs,
        )
