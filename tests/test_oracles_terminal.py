"""TerminalOracle, driven through injected input and output streams."""

import io
import pickle

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from sklearn_cincer import SimulatedOracle, SkepticalCleaner
from sklearn_cincer.datasets import make_label_noise
from sklearn_cincer.oracles import (
    AnnotationSession,
    AnnotationStore,
    Answer,
    OracleError,
    Query,
    TerminalOracle,
)


def _query(example_id=42, counter_id=7, strategy="relabel", **kw):
    params = dict(x=np.array([1.0, 5.0, 0.5, 9.0]), label="spam", prediction="ham",
                  margin=0.6, classes=np.array(["ham", "spam", "eggs"]),
                  counter_x=np.array([1.0, 2.0, 0.6, 1.0]), counter_label="ham",
                  score=2.5, round=3,
                  feature_names=np.array(["links", "words", "caps", "exclaims"]))
    params.update(kw)
    if counter_id is None:
        params.update(counter_x=None, counter_label=None, score=None)
    return Query(example_id=example_id, counter_example_id=counter_id,
                 strategy=strategy, **params)


def _oracle(keys, **kw):
    return TerminalOracle(stdin=io.StringIO("".join(k + "\n" for k in keys)),
                          stdout=io.StringIO(), annotator="ana", **kw)


def test_shows_the_pair_and_highlights_the_most_different_features():
    oracle = _oracle(["", ""], n_highlight=2)
    oracle(_query())
    out = oracle.stdout.getvalue()
    assert "#42 (suspicious): label 'spam', model predicts 'ham', margin 0.60" in out
    assert "#7 (counter-example): label 'ham', score 2.5" in out
    assert "most supports the model's doubt" in out
    lines = out.splitlines()
    marked = [line.split()[1] for line in lines if line.startswith("  * ")]
    assert marked == ["exclaims", "words"]  # |9-1| and |5-2|, largest first
    assert "Classes: [1] ham  [2] spam  [3] eggs" in out


def test_enter_keeps_both_labels():
    answer = _oracle(["", ""])(_query())
    assert answer == Answer(label="spam", counter_label="ham", annotator="ana")
    assert not answer.skipped


def test_numbers_and_names_pick_classes():
    assert _oracle(["1", "3"])(_query()) == Answer("ham", "eggs", "ana")
    assert _oracle(["eggs", "spam"])(_query()) == Answer("eggs", "spam", "ana")


def test_bad_keystrokes_get_readable_errors_and_the_prompt_again():
    oracle = _oracle(["x", "7", "0", "u", "?", "2", "1"])
    answer = oracle(_query())
    out = oracle.stdout.getvalue()
    assert "'x' is not a choice: type a number from 1 to 3" in out
    assert "7 is not in the list: type a number from 1 to 3." in out
    assert "0 is not in the list" in out
    assert "There is no earlier answer to revise." in out
    assert "Enter: keep the current label" in out  # the help
    assert answer == Answer("spam", "ham", "ana")
    assert out.count("Label for #42") == 6


def test_skip_keeps_both_labels_and_says_so():
    answer = _oracle(["s"])(_query())
    assert answer == Answer("spam", "ham", "ana", skipped=True)


def test_no_counter_example_and_drop_strategy_ask_one_label():
    oracle = _oracle(["1"])
    assert oracle(_query(counter_id=None)) == Answer("ham", None, "ana")
    assert "Label for #7" not in oracle.stdout.getvalue()
    oracle = _oracle(["1"])
    assert oracle(_query(strategy="drop")) == Answer("ham", "ham", "ana")
    assert "leaves the training set" in oracle.stdout.getvalue()


def test_end_of_input_stops_with_an_oracle_error():
    with pytest.raises(OracleError, match="closed the input"):
        _oracle([])(_query())


def test_text_display_shows_the_texts():
    texts = {42: "WIN a FREE   prize now", 7: "see you at lunch"}
    oracle = _oracle(["", ""], texts=texts)
    oracle(_query())
    out = oracle.stdout.getvalue()
    assert "--- #42:\n  WIN a FREE prize now" in out
    assert "--- #7:\n  see you at lunch" in out
    with pytest.raises(IndexError, match="no entry for stream id 42"):
        _oracle(["", ""], texts={})(_query())


def test_custom_render_and_refusals():
    oracle = _oracle(["", ""], render=lambda x, i: f"example {i} sums to {x.sum()}")
    oracle(_query())
    assert "example 42 sums to 15.5" in oracle.stdout.getvalue()
    with pytest.raises(ValueError, match="use BrowserOracle"):
        TerminalOracle(display="image")
    with pytest.raises(ValueError, match="display must be one of"):
        TerminalOracle(display="pixels")
    with pytest.raises(ValueError, match="needs texts"):
        TerminalOracle(display="text")


def test_undo_revises_the_previous_answer_and_reaches_the_store(tmp_path):
    q1, q2 = _query(example_id=42), _query(example_id=43, counter_id=8)
    # q1: ham/keep; q2: undo -> revise q1 to eggs/eggs -> then answer q2 spam/keep
    oracle = _oracle(["1", "", "u", "3", "3", "2", ""])
    session = AnnotationSession(oracle, tmp_path / "s.sqlite")
    assert session(q1) == Answer("ham", "ham", "ana")
    assert session(q2) == Answer("spam", "ham", "ana")
    out = oracle.stdout.getvalue()
    assert "Revising your answer about #42 (was 'ham', #7 'ham')" in out
    assert "Revision saved" in out
    assert [a for _, a in oracle.revisions_] == [Answer("eggs", "eggs", "ana")]
    store = AnnotationStore(tmp_path / "s.sqlite")
    assert store.find_answer(q1) == Answer("eggs", "eggs", "ana")
    assert [r["status"] for r in store.records()] == ["revised", "answered", "answered"]
    assert session.n_revisions_ == 1 and session.needs_rerun_


def test_undo_can_be_cancelled():
    oracle = _oracle(["1", "", "u", "u", "", ""])
    oracle(_query(example_id=42))
    assert oracle(_query(example_id=43)) == Answer("spam", "ham", "ana")
    assert "Revision cancelled." in oracle.stdout.getvalue()
    assert oracle.revisions_ == []


def test_terminal_oracle_drives_a_cleaner_and_pickles():
    with threadpool_limits(1):
        X, y = make_classification(n_samples=70, n_features=4, random_state=3)
        y_noisy, _ = make_label_noise(y, noise_rate=0.3, random_state=3)
        truth = SimulatedOracle(y)
        # answer every question with the truth, typed by number
        reference = SkepticalCleaner(LogisticRegression(), oracle=truth,
                                     n_bootstrap=30, random_state=0).fit(X, y_noisy)
        keys = []
        for r in reference.history_:
            answer = truth(_query(example_id=r.example_id,
                                  counter_id=r.counter_example_id,
                                  classes=np.array([0, 1])))
            keys.append(str(answer.label + 1))
            if r.counter_example_id is not None:
                keys.append(str(answer.counter_label + 1))
        oracle = _oracle(keys)
        cleaner = SkepticalCleaner(LogisticRegression(), oracle=oracle, n_bootstrap=30,
                                   random_state=0).fit(X, y_noisy)
    assert cleaner.n_queries_ == reference.n_queries_ > 0
    np.testing.assert_array_equal(cleaner.y_, reference.y_)
    assert [r.annotator for r in cleaner.history_] == ["ana"] * cleaner.n_queries_
    clone = pickle.loads(pickle.dumps(cleaner))
    assert clone.oracle.stdin is None and clone.oracle.annotator == "ana"
    np.testing.assert_array_equal(clone.predict(X), cleaner.predict(X))
