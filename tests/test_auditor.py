"""LabelAuditor and find_label_issues: behaviour a wrong implementation would fail."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

from sklearn_cincer import (
    AuditRecord,
    LabelAuditor,
    NearestNeighborSelector,
    SimulatedOracle,
    find_label_issues,
)
from sklearn_cincer import _issues as issues_module
from sklearn_cincer._crossval import check_splits
from sklearn_cincer._issues import ISSUE_COLUMNS, label_quality
from sklearn_cincer.datasets import make_label_noise
from sklearn_cincer.oracles import (
    AnnotationSession,
    AnnotationStore,
    Answer,
    OracleError,
)


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def digits():
    """600 digits (pixels in [0, 1]) with 20% pair-flip noise."""
    X, y = load_digits(return_X_y=True)
    X, y = X[:600] / 16.0, y[:600]
    y_noisy, noisy = make_label_noise(y, 0.2, kind="pairwise", random_state=0)
    return X, y, y_noisy, noisy


def lr():
    return LogisticRegression(max_iter=1000)


class Spy:
    """Answers from the true labels, keeping every query."""

    def __init__(self, y_true, fail_after=None):
        self.inner = SimulatedOracle(y_true)
        self.queries = []
        self.fail_after = fail_after

    def __call__(self, query):
        if self.fail_after is not None and len(self.queries) >= self.fail_after:
            raise ConnectionError("the annotator left")
        self.queries.append(query)
        return self.inner(query)


def fixed(y_noisy, y_clean, y_true):
    """Noisy labels the audit set right."""
    return int(((y_noisy != y_true) & (y_clean == y_true)).sum())


def keep_labels(query):
    """An oracle that confirms every label (picklable, for check_estimator)."""
    return Answer(label=query.label, counter_label=query.counter_label)


@parametrize_with_checks(
    [
        LabelAuditor(LogisticRegression()),
        LabelAuditor(
            LogisticRegression(),
            oracle=keep_labels,
            budget=5,
            cv=3,
            refit="incremental",
            selector=NearestNeighborSelector(),
        ),
    ]
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# ---------------------------------------------------------------- ranking


def test_label_quality_is_cleanlabs_normalized_margin():
    rank = pytest.importorskip("cleanlab.rank", reason="cleanlab (benchmark extra)")
    rng = np.random.RandomState(0)
    proba = rng.dirichlet(np.ones(4), size=50)
    labels = rng.randint(4, size=50)
    expected = rank.get_label_quality_scores(labels, proba, method="normalized_margin")
    np.testing.assert_allclose(label_quality(proba, labels), expected)


def test_find_label_issues_ranks_noisy_labels_first(digits):
    X, _, y_noisy, noisy = digits
    issues = find_label_issues(lr(), X, y_noisy, random_state=0)
    assert list(issues.columns) == list(ISSUE_COLUMNS)
    assert issues.index.name == "example_id" and len(issues) == len(y_noisy)
    top = issues.sort_values("label_quality").index[:60]
    assert noisy[top].mean() >= 0.8  # precision at the top (random: 0.2)
    # flagged = out-of-sample disagreement (threshold 0), nothing inspected
    flagged = issues["is_label_issue"].to_numpy()
    disagree = issues["predicted_label"].to_numpy() != issues["given_label"].to_numpy()
    np.testing.assert_array_equal(flagged, disagree)
    assert not issues["inspected"].any()
    assert (issues["cleaned_label"] == issues["given_label"]).all()
    # quality below 1/2 exactly where the model predicts another class
    np.testing.assert_array_equal(issues["label_quality"].to_numpy() < 0.5, disagree)


def test_counter_examples_come_from_the_fold_that_doubted(digits):
    X, _, y_noisy, _ = digits
    auditor = LabelAuditor(lr(), random_state=0).fit(X, y_noisy)
    issues = auditor.label_issues_
    splits, fold = check_splits(5, X, y_noisy)
    rows = np.flatnonzero(issues["is_label_issue"].to_numpy())
    assert rows.size > 50
    for row in rows:
        ce = issues.loc[row, "counter_example"]
        assert ce >= 0 and not np.isnan(issues.loc[row, "counter_example_score"])
        # a training row of the model that never saw `row`...
        assert fold[ce] != fold[row]
        # ...labeled as that model predicts (the pertinence rule)
        assert y_noisy[ce] == issues.loc[row, "predicted_label"]
    clean = np.flatnonzero(~issues["is_label_issue"].to_numpy())
    assert (issues["counter_example"].to_numpy()[clean] == -1).all()
    assert auditor.history_ == [] and auditor.n_inspected_ == 0
    assert auditor.n_rankings_ == 1
    assert (auditor.y_ == y_noisy).all()


def test_without_pandas_the_table_is_a_structured_array(digits, monkeypatch):
    X, _, y_noisy, _ = digits
    monkeypatch.setattr(issues_module, "_pandas", lambda: None)
    table = find_label_issues(lr(), X[:200], y_noisy[:200], explain_issues=False)
    assert isinstance(table, np.ndarray)
    assert table.dtype.names == ("example_id",) + ISSUE_COLUMNS
    np.testing.assert_array_equal(table["example_id"], np.arange(200))
    assert (table["counter_example"] == -1).all()


# ----------------------------------------------------------------- audit


def test_audit_fixes_errors_within_the_budget(digits):
    X, y_true, y_noisy, noisy = digits
    spy = Spy(y_true)
    auditor = LabelAuditor(lr(), oracle=spy, budget=0.1, random_state=0)
    auditor.fit(X, y_noisy)
    assert auditor.n_inspected_ == 60  # 10% of 600 labels, offers counting two
    assert auditor.n_inspected_ == sum(1 + r.counter_offered for r in auditor.history_)
    assert auditor.history_[-1].labels_inspected == 60
    assert len(spy.queries) == auditor.n_queries_ == len(auditor.history_)
    n_fixed = fixed(y_noisy, auditor.y_, y_true)
    # refitting the ranking as answers come beats the static top 60 (51 here)
    static = find_label_issues(lr(), X, y_noisy, explain_issues=False)
    top = static.sort_values("label_quality", kind="stable").index[:60]
    assert n_fixed > noisy[top].sum() >= 48
    assert n_fixed == (
        auditor.n_relabeled_examples_ + auditor.n_relabeled_counter_examples_
    )
    # a ranking per refit_every labels, and one after the last answers
    assert auditor.n_rankings_ == 7
    rounds = [r.round for r in auditor.history_]
    assert rounds[0] == 1 and rounds[-1] == 6 and rounds == sorted(rounds)
    # the final model is fit on the cleaned labels
    expected = clone(lr()).fit(X, auditor.y_)
    np.testing.assert_allclose(auditor.predict_proba(X), expected.predict_proba(X))
    assert auditor.score(X, y_true) > 0.9
    # every question is shown with the fold's counter-example and a note
    for query, record in zip(spy.queries, auditor.history_):
        assert isinstance(record, AuditRecord)
        assert query.example_id == record.example_id
        assert query.counter_example_id is not None
        assert query.strategy == ("relabel" if record.counter_offered else "explain")
        assert "cross-validated without" in query.note
        if record.follow_up:
            assert query.note.startswith("You kept the label of example #")


def test_table_after_an_audit(digits):
    X, y_true, y_noisy, _ = digits
    auditor = LabelAuditor(
        lr(), oracle=SimulatedOracle(y_true), budget=40, random_state=0
    ).fit(X, y_noisy)
    issues = auditor.label_issues_
    asked = {r.example_id for r in auditor.history_} | {
        r.counter_example_id for r in auditor.history_ if r.counter_offered
    }
    inspected = issues["inspected"].to_numpy()
    assert set(np.flatnonzero(inspected)) == asked
    # where inspected, is_label_issue is the person's verdict
    verdict = (issues["given_label"] != issues["cleaned_label"]).to_numpy()
    np.testing.assert_array_equal(
        issues["is_label_issue"].to_numpy()[inspected], verdict[inspected]
    )
    np.testing.assert_array_equal(issues["given_label"].to_numpy(), y_noisy)
    np.testing.assert_array_equal(issues["cleaned_label"].to_numpy(), auditor.y_)
    for r in auditor.history_:
        assert issues.loc[r.example_id, "counter_example"] == r.counter_example_id
    # the last ranking is on the cleaned labels: its flags skip what was asked
    np.testing.assert_allclose(
        issues["label_quality"],
        label_quality(auditor.proba_, np.searchsorted(auditor.classes_, y_noisy)),
    )


def test_counter_example_offers(digits):
    X, y_true, y_noisy, noisy = digits
    kw = dict(
        oracle=SimulatedOracle(y_true),
        budget=60,
        random_state=0,
        refit_every=20,
        explain_issues=False,
    )
    never = LabelAuditor(lr(), counter_threshold=None, follow_up=False, **kw).fit(
        X, y_noisy
    )
    assert not any(r.counter_offered for r in never.history_)
    assert never.n_queries_ == 60 and never.n_relabeled_counter_examples_ == 0
    assert all(r.counter_label_after == r.counter_label_before for r in never.history_)

    every = LabelAuditor(lr(), counter_threshold=0.0, follow_up=False, **kw).fit(
        X, y_noisy
    )
    offered = [r for r in every.history_ if r.counter_offered]
    assert offered and every.n_queries_ == 60 - len(offered)
    # offered only when the counter-example is itself out-of-sample suspicious
    assert all(r.counter_margin > 0 for r in offered)
    # ... and then it is wrong far more often than a label at random (20%)
    assert np.mean([noisy[r.counter_example_id] for r in offered]) >= 0.5

    auto = LabelAuditor(lr(), follow_up=False, **kw).fit(X, y_noisy)
    n_auto = sum(r.counter_offered for r in auto.history_)
    assert 0 < n_auto <= len(offered)
    # an "auto" offer only shows a label the block would ask about anyway
    assert fixed(y_noisy, auto.y_, y_true) >= fixed(y_noisy, never.y_, y_true) - 1


def test_follow_ups_ask_about_the_counter_example_of_a_kept_label(digits):
    X, y_true, y_noisy, noisy = digits
    auditor = LabelAuditor(
        lr(),
        oracle=SimulatedOracle(y_true),
        budget=100,
        counter_threshold=None,
        refit_every=25,
        random_state=0,
        explain_issues=False,
    ).fit(X, y_noisy)
    history = auditor.history_
    follow_ups = [i for i, r in enumerate(history) if r.follow_up]
    assert follow_ups
    for i in follow_ups:
        # the question before kept its label; this one is its counter-example
        before = history[i - 1]
        assert not before.relabeled_example and not before.skipped
        assert before.counter_example_id == history[i].example_id
        assert history[i].round == before.round
    # the example that supported a wrong doubt is mostly mislabeled itself
    assert np.mean([noisy[history[i].example_id] for i in follow_ups]) > 0.6
    plain = LabelAuditor(
        lr(),
        oracle=SimulatedOracle(y_true),
        budget=25,
        counter_threshold=None,
        refit_every=25,
        follow_up=False,
        random_state=0,
        explain_issues=False,
    ).fit(X, y_noisy)
    assert not any(r.follow_up for r in plain.history_)


def test_an_offer_never_overspends_the_budget(digits):
    X, y_true, y_noisy, _ = digits
    for budget in (1, 2, 7):
        auditor = LabelAuditor(
            lr(),
            oracle=SimulatedOracle(y_true),
            budget=budget,
            counter_threshold=0.0,
            refit_every=3,
            explain_issues=False,
            random_state=0,
        ).fit(X, y_noisy)
        assert auditor.n_inspected_ == budget


def test_budget_none_asks_until_nothing_is_suspicious():
    X, y = load_iris(return_X_y=True)
    y_noisy, noisy = make_label_noise(y, 0.1, random_state=0)
    auditor = LabelAuditor(lr(), oracle=SimulatedOracle(y), random_state=0)
    auditor.fit(X, y_noisy)
    issues = auditor.label_issues_
    # everything the last ranking flags was asked about already
    assert not (issues["is_label_issue"] & ~issues["inspected"]).any()
    assert fixed(y_noisy, auditor.y_, y) == noisy.sum()


def test_refits_change_the_questions(digits):
    X, y_true, y_noisy, _ = digits
    kw = dict(
        oracle=SimulatedOracle(y_true),
        budget=60,
        counter_threshold=None,
        follow_up=False,
        random_state=0,
        explain_issues=False,
    )
    once = LabelAuditor(lr(), refit_every=60, **kw).fit(X, y_noisy)
    often = LabelAuditor(lr(), refit_every=20, **kw).fit(X, y_noisy)
    assert once.n_rankings_ == 2 and often.n_rankings_ == 4
    assert [r.example_id for r in once.history_] != [
        r.example_id for r in often.history_
    ]
    # a static ranking asks the top 60 of the first cross-validation
    first = find_label_issues(lr(), X, y_noisy, explain_issues=False)
    top = first.sort_values("label_quality", kind="stable").index[:60]
    assert [r.example_id for r in once.history_] == list(top)


def test_incremental_refits_reach_the_same_ranking(digits):
    X, y_true, y_noisy, _ = digits
    X, y_true, y_noisy = X[:300], y_true[:300], y_noisy[:300]
    kw = dict(
        oracle=SimulatedOracle(y_true), budget=20, random_state=0, explain_issues=False
    )
    # converged tightly, a convex model has one solution however it starts
    tight = LogisticRegression(max_iter=5000, tol=1e-9)
    scratch = LabelAuditor(tight, **kw).fit(X, y_noisy)
    warm = LabelAuditor(tight, refit="incremental", **kw).fit(X, y_noisy)
    assert [r.example_id for r in scratch.history_] == [
        r.example_id for r in warm.history_
    ]
    np.testing.assert_allclose(scratch.proba_, warm.proba_, atol=1e-4)


def test_same_seed_same_questions(digits):
    X, y_true, y_noisy, _ = digits
    kw = dict(
        oracle=SimulatedOracle(y_true),
        budget=25,
        random_state=3,
        selector=NearestNeighborSelector(),
        explain_issues=False,
        cv=KFold(4, shuffle=True, random_state=1),
    )
    a = LabelAuditor(lr(), **kw).fit(X, y_noisy)
    b = LabelAuditor(lr(), **kw).fit(X, y_noisy)
    assert a.history_ == b.history_


def test_skipped_questions_keep_labels_and_are_not_asked_again(digits):
    X, y_true, y_noisy, _ = digits

    def skipper(query):
        return Answer(
            label=query.label, counter_label=query.counter_label, skipped=True
        )

    auditor = LabelAuditor(
        lr(), oracle=skipper, budget=20, refit_every=5, random_state=0
    ).fit(X, y_noisy)
    assert (auditor.y_ == y_noisy).all()
    ids = [r.example_id for r in auditor.history_]
    assert len(ids) == len(set(ids))
    assert all(r.skipped for r in auditor.history_)
    assert not auditor.label_issues_["inspected"].any()


# ------------------------------------------------------------ failures


def test_bad_input_and_oracle_errors_leave_the_auditor_as_it_was(digits):
    X, y_true, y_noisy, _ = digits
    auditor = LabelAuditor(lr(), oracle=Spy(y_true, fail_after=3), budget=10)
    with pytest.raises(OracleError, match="ConnectionError"):
        auditor.fit(X, y_noisy)
    assert not hasattr(auditor, "n_features_in_")
    assert not hasattr(auditor, "y_")

    auditor.set_params(oracle=SimulatedOracle(y_true)).fit(X, y_noisy)
    before = auditor.y_.copy()
    auditor.set_params(oracle=lambda q: Answer(label=99))
    with pytest.raises(OracleError, match="not one of the classes"):
        auditor.fit(X[:300], y_noisy[:300])
    np.testing.assert_array_equal(auditor.y_, before)
    assert auditor.n_features_in_ == 64

    with pytest.raises(ValueError, match="budget"):
        LabelAuditor(lr(), budget=1.5).fit(X, y_noisy)
    with pytest.raises(ValueError, match="only one class"):
        LabelAuditor(lr()).fit(X[:10], np.zeros(10))
    with pytest.raises(ValueError, match="out of every test fold"):
        LabelAuditor(lr(), cv=[(np.arange(300), np.arange(300, 500))]).fit(X, y_noisy)


def test_a_session_resumes_an_interrupted_audit(digits, tmp_path):
    X, y_true, y_noisy, _ = digits
    kw = dict(budget=30, random_state=0, refit_every=10, explain_issues=False)
    full = LabelAuditor(lr(), oracle=SimulatedOracle(y_true), **kw).fit(X, y_noisy)

    store = AnnotationStore(tmp_path / "audit.sqlite")
    first = AnnotationSession(Spy(y_true, fail_after=7), store)
    with pytest.raises(OracleError):
        LabelAuditor(lr(), oracle=first, **kw).fit(X, y_noisy)
    assert store.n_answered == 7

    again = AnnotationSession(SimulatedOracle(y_true), store)
    resumed = LabelAuditor(lr(), oracle=again, **kw).fit(X, y_noisy)
    assert again.n_replayed_ == 7
    assert again.n_asked_ == full.n_queries_ - 7
    assert resumed.history_ == full.history_
    np.testing.assert_array_equal(resumed.y_, full.y_)
    # the store's audit log holds each question once, with its strategy
    records = store.records(status="answered")
    assert len(records) == full.n_queries_
    assert {r["strategy"] for r in records} <= {"relabel", "explain"}


# ------------------------------------------------------------- progress


def test_progress_bar_and_plain_lines(digits, capsys, monkeypatch):
    pytest.importorskip("tqdm")
    X, y_true, y_noisy, _ = digits
    kw = dict(
        oracle=SimulatedOracle(y_true), budget=20, random_state=0, explain_issues=False
    )
    LabelAuditor(lr(), verbose=1, **kw).fit(X, y_noisy)
    err = capsys.readouterr().err
    assert "LabelAuditor" in err and "20/20" in err

    import sklearn_cincer._progress as progress_module

    monkeypatch.setattr(progress_module, "_tqdm_class", lambda: None)
    LabelAuditor(lr(), verbose=1, **kw).fit(X, y_noisy)
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("[LabelAuditor] 20/20: questions")
    assert 1 < len(out) <= 12  # about every tenth
    LabelAuditor(lr(), **kw).fit(X, y_noisy)
    assert capsys.readouterr() == ("", "")
    # ranking only: the folds and the counter-examples
    find_label_issues(lr(), X, y_noisy, verbose=1)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "[cross-validation] 1/5" and "[cross-validation] 5/5" in out
    assert out[-1].startswith("[counter-examples] ")


# ---------------------------------------------------------------- browser


def test_the_browser_page_shows_why_the_pair_was_chosen(digits):
    pytest.importorskip("bottle", reason="BrowserOracle needs the 'browser' extra")
    import threading
    import time

    from test_oracles_browser_http import request  # the page's HTTP client

    from sklearn_cincer.oracles import BrowserOracle

    X, y_true, y_noisy, _ = digits
    oracle = BrowserOracle(open_browser=False, annotator="ana", timeout=120)
    oracle.start()
    auditor = LabelAuditor(
        lr(), oracle=oracle, budget=1, random_state=0, explain_issues=False
    )
    thread = threading.Thread(target=auditor.fit, args=(X, y_noisy))
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            _, _, state = request(oracle, "GET", "state")
            if state["status"] == "question" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert state["status"] == "question"
        # the auditor's reason follows the page's own sentence
        assert "supports the model's doubt" in state["why"]
        assert "cross-validated without example" in state["why"]
        assert f"#{state['counter']['id']} explains the doubt" in state["why"]
        # one label left in the budget: no relabel offer for the counter-example
        assert state["counter_editable"] is False
        truth = int(y_true[state["example"]["id"]])
        status, _, _ = request(
            oracle,
            "POST",
            "answer",
            {"qid": state["qid"], "label": truth, "counter_label": None, "skip": False},
        )
        assert status == 200
        thread.join(60)
    finally:
        oracle.close()
    assert not thread.is_alive()
    record = auditor.history_[0]
    assert record.label_after == truth and record.annotator == "ana"
    assert record.counter_label_after == record.counter_label_before
