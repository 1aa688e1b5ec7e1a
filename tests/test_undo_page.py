"""An undo on the page applies in the running fit (plain HTTP, no browser)."""

import threading
import time

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from sklearn_cincer import SkepticalCleaner
from sklearn_cincer.datasets import make_label_noise
from sklearn_cincer.oracles import AnnotationSession

pytest.importorskip("bottle", reason="BrowserOracle needs bottle (the 'browser' extra)")

from test_oracles_browser_http import request  # noqa: E402

from sklearn_cincer.oracles import BrowserOracle  # noqa: E402


def _data():
    X, y = make_classification(n_samples=100, n_features=5, random_state=1)
    y_noisy, _ = make_label_noise(y, noise_rate=0.25, random_state=1)
    return X, y_noisy


def _cleaner(oracle):
    return SkepticalCleaner(
        LogisticRegression(),
        oracle=oracle,
        n_bootstrap=40,
        random_state=0,
        threshold=0.1,
    )


class Fit:
    """Fits the cleaner in a thread, as a notebook or the CLI would."""

    def __init__(self, cleaner, X, y):
        self.cleaner, self.error = cleaner, None
        self.thread = threading.Thread(target=self._run, args=(X, y))
        self.thread.start()

    def _run(self, X, y):
        try:
            self.cleaner.fit(X, y)
        except Exception as exc:  # the test looks at it
            self.error = exc


def _next_question(page, fit, after):
    """The page's next question after qid ``after``, or None once the fit ended."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        _, _, state = request(page, "GET", "state")
        if state["status"] == "question" and state["qid"] > after:
            return state
        if not fit.thread.is_alive():
            return None
        time.sleep(0.02)
    raise AssertionError("no question came")


def test_wrong_answer_undo_right_answer_on_the_page(tmp_path):
    X, y_noisy = _data()
    path = tmp_path / "s.sqlite"
    page = BrowserOracle(open_browser=False, annotator="ana")
    page.start()
    try:
        session = AnnotationSession(page, path)
        fit = Fit(_cleaner(session), X, y_noisy)
        first = _next_question(page, fit, 0)
        right = first["example"]["label_index"]  # the classes are 0 and 1
        request(page, "POST", "answer", body={"qid": first["qid"], "label": 1 - right})
        second = _next_question(page, fit, first["qid"])
        _, _, reply = request(page, "POST", "undo", body={})
        assert reply["state"]["qid"] == first["qid"]
        status, _, reply = request(
            page, "POST", "answer", body={"qid": first["qid"], "label": right}
        )
        assert status == 200
        assert "The cleaner applies it before it goes on." in reply["state"]["message"]
        state = second
        while state is not None:  # keep every other label
            request(page, "POST", "answer", body={"qid": state["qid"]})
            state = _next_question(page, fit, state["qid"])
        fit.thread.join(60)
    finally:
        page.close()
    assert fit.error is None
    cleaner = fit.cleaner
    record = cleaner.history_[0]
    assert record.example_id == first["example"]["id"]
    assert record.label_after == right and record.revised_round is not None
    assert record.annotator == "ana"
    np.testing.assert_array_equal(cleaner.y_cleaned_, y_noisy)
    np.testing.assert_array_equal(cleaner.y_, y_noisy[cleaner.ids_])
    assert len(cleaner.label_changes()) == 0 and cleaner.n_revised_ == 1
    assert not session.needs_rerun_
    session.close()

    # the same fit from the store asks nothing and ends the same
    again = AnnotationSession(lambda q: pytest.fail("asked again"), path)
    rerun = _cleaner(again).fit(X, y_noisy)
    assert rerun.history_ == cleaner.history_
    np.testing.assert_array_equal(rerun.y_cleaned_, cleaner.y_cleaned_)
