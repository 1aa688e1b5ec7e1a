"""The page confirms only what is durable (issue 13, items 1 and 2).

An answer given on the page is in the SQLite store before the page says
"Saved."; a write that fails says so and leaves the question open; store
writes never run while the oracle's lock is held, so a slow write does not
block another tab.
"""

import contextlib
import io
import sqlite3
import threading
import time

import numpy as np
import pytest

pytest.importorskip("bottle", reason="BrowserOracle needs bottle (the 'browser' extra)")

import test_oracles_browser_http as http_tests  # noqa: E402
from test_oracles_browser_http import Asker, _query, request, wait_state  # noqa: E402

oracle = http_tests.oracle  # the fixture: a started BrowserOracle

from sklearn_cincer.oracles import (  # noqa: E402
    AnnotationSession,
    AnnotationStore,
    Answer,
    BrowserOracle,
    TerminalOracle,
    _store,  # noqa: E402
)


def _slow(monkeypatch, name, seconds):
    """Make ``AnnotationStore.<name>`` take ``seconds`` longer."""
    real = getattr(AnnotationStore, name)

    def slow(self, *args, **kw):
        time.sleep(seconds)
        return real(self, *args, **kw)

    monkeypatch.setattr(AnnotationStore, name, slow)


def _failing(monkeypatch, name, message="database is locked"):
    def fail(self, *args, **kw):
        raise sqlite3.OperationalError(message)

    monkeypatch.setattr(AnnotationStore, name, fail)


def _fails_once(monkeypatch, name="record_answer", message="disk I/O error"):
    """``AnnotationStore.<name>`` fails on its first call only."""
    real, calls = getattr(AnnotationStore, name), []

    def fails_once(self, *args, **kw):
        calls.append(args)
        if len(calls) == 1:
            raise sqlite3.OperationalError(message)
        return real(self, *args, **kw)

    monkeypatch.setattr(AnnotationStore, name, fails_once)


def test_saved_means_in_the_store(oracle, tmp_path, monkeypatch):
    # the cleaner's side is slow to write: the reply must wait for the write
    _slow(monkeypatch, "record_answer", 0.5)
    path = tmp_path / "s.sqlite"
    session = AnnotationSession(oracle, path)
    query = _query()
    asker = Asker(session, query)
    state = wait_state(oracle, "question")
    status, _, reply = request(
        oracle, "POST", "answer", body={"qid": state["qid"], "label": 0}
    )
    assert status == 200
    # read by another connection, as after a SIGKILL right after the reply
    assert AnnotationStore(path).find_answer(query) == Answer("ham", "ham", "ana")
    assert reply["state"]["status"] == "waiting"
    assert reply["state"]["waiting_text"].startswith("Saved.")
    assert asker.join() == Answer("ham", "ham", "ana")
    assert AnnotationStore(path).n_answered == 1  # written once


def test_a_failed_write_says_so_and_keeps_the_question_open(
    oracle, tmp_path, monkeypatch
):
    path = tmp_path / "s.sqlite"
    session = AnnotationSession(oracle, path)
    query = _query()
    asker = Asker(session, query)
    state = wait_state(oracle, "question")
    with monkeypatch.context() as patch:
        _failing(patch, "record_answer")
        status, _, reply = request(
            oracle, "POST", "answer", body={"qid": state["qid"], "label": 2}
        )
    assert status == 503
    assert "not saved" in reply["error"] and "database is locked" in reply["error"]
    assert "Saved" not in str(reply)
    again = wait_state(oracle, "question", qid=state["qid"])  # still open
    assert again["n_answered"] == 0 and asker.thread.is_alive()
    # the same version: the page does not redraw, the person's choice stays
    assert again["version"] == state["version"] and not again["saving"]
    assert AnnotationStore(path).find_answer(query) is None
    assert oracle.answers_ == []
    # the person submits again once the store works
    status, _, reply = request(
        oracle, "POST", "answer", body={"qid": state["qid"], "label": 2}
    )
    assert status == 200
    assert asker.join() == Answer("eggs", "ham", "ana")
    assert AnnotationStore(path).find_answer(query) == Answer("eggs", "ham", "ana")


def test_a_store_locked_by_another_program_is_reported_not_saved(
    oracle, tmp_path, monkeypatch
):
    monkeypatch.setattr(_store, "_BUSY_TIMEOUT", 0.3)
    path = tmp_path / "s.sqlite"
    session = AnnotationSession(oracle, path)
    asker = Asker(session, _query())
    state = wait_state(oracle, "question")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # e.g. a database browser left open
    try:
        start = time.monotonic()
        status, _, reply = request(oracle, "POST", "answer", body={"qid": state["qid"]})
        assert status == 503 and "locked" in reply["error"]
        assert time.monotonic() - start < 5
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert request(oracle, "POST", "answer", body={"qid": state["qid"]})[0] == 200
    assert asker.join() == Answer("spam", "ham", "ana")


def test_without_a_store_the_page_does_not_claim_saved(oracle):
    _, _, first = request(oracle, "GET", "state")
    assert "Saved" not in first["waiting_text"]
    asker = Asker(oracle, _query())
    state = wait_state(oracle, "question")
    _, _, reply = request(oracle, "POST", "answer", body={"qid": state["qid"]})
    assert asker.join() == Answer("spam", "ham", "ana")
    text = reply["state"]["waiting_text"]
    assert text.startswith("Sent.") and "Saved" not in text


def _answer_then_undo(oracle, session):
    q1, q2 = _query(example_id=42), _query(example_id=43, counter_id=8)
    asker = Asker(session, q1)
    s1 = wait_state(oracle, "question")
    request(oracle, "POST", "answer", body={"qid": s1["qid"], "label": 0})
    asker.join()
    asker = Asker(session, q2)
    s2 = wait_state(oracle, "question", qid=s1["qid"] + 1)
    _, _, reply = request(oracle, "POST", "undo", body={})
    assert reply["state"]["status"] == "revising"
    return q1, s1, s2, asker


def test_a_failed_revision_is_not_reported_saved(oracle, tmp_path, monkeypatch):
    path = tmp_path / "s.sqlite"
    session = AnnotationSession(oracle, path)
    q1, s1, s2, asker = _answer_then_undo(oracle, session)
    with monkeypatch.context() as patch:
        _failing(patch, "record_revision", "disk I/O error")
        status, _, reply = request(
            oracle, "POST", "answer", body={"qid": s1["qid"], "label": 2}
        )
    assert status == 503 and "not saved" in reply["error"]
    state = wait_state(oracle, "revising", qid=s1["qid"])  # still revising
    assert "Revision saved" not in str(state["message"])
    assert oracle.revisions_ == [] and session.n_revisions_ == 0
    assert AnnotationStore(path).find_answer(q1) == Answer("ham", "ham", "ana")
    # once the store works, the same revision goes through
    status, _, reply = request(
        oracle, "POST", "answer", body={"qid": s1["qid"], "label": 2}
    )
    assert status == 200 and "Revision saved" in reply["state"]["message"]
    assert AnnotationStore(path).find_answer(q1) == Answer("eggs", "ham", "ana")
    request(oracle, "POST", "answer", body={"qid": s2["qid"]})
    asker.join()


def test_a_slow_write_does_not_block_another_tab(oracle, tmp_path, monkeypatch):
    session = AnnotationSession(oracle, tmp_path / "s.sqlite")
    asker = Asker(session, _query())
    state = wait_state(oracle, "question")
    _slow(monkeypatch, "record_answer", 3.0)
    first = {}
    post = threading.Thread(
        target=lambda: first.update(
            reply=request(oracle, "POST", "answer", body={"qid": state["qid"]})
        )
    )
    post.start()
    time.sleep(0.3)  # the first tab's answer is being written
    start = time.monotonic()
    status, _, other_tab = request(oracle, "GET", "state")
    assert status == 200 and time.monotonic() - start < 1.0
    assert other_tab["status"] == "question" and other_tab["saving"]
    # the same answer from the second tab is refused, not written twice
    status, _, reply = request(oracle, "POST", "answer", body={"qid": state["qid"]})
    assert status == 409 and time.monotonic() - start < 1.5
    post.join(10)
    assert first["reply"][0] == 200
    assert asker.join() == Answer("spam", "ham", "ana")


def test_the_revision_is_written_outside_the_lock(oracle, tmp_path, monkeypatch):
    session = AnnotationSession(oracle, tmp_path / "s.sqlite")
    _, s1, s2, asker = _answer_then_undo(oracle, session)
    _slow(monkeypatch, "record_revision", 3.0)
    post = threading.Thread(
        target=request,
        args=(oracle, "POST", "answer"),
        kwargs={"body": {"qid": s1["qid"], "label": 2}},
    )
    post.start()
    time.sleep(0.3)
    start = time.monotonic()
    assert request(oracle, "GET", "state")[0] == 200
    assert time.monotonic() - start < 1.0
    post.join(10)
    request(oracle, "POST", "answer", body={"qid": s2["qid"]})
    asker.join()


# ---------------------------------------------------------------- terminal


def _terminal_query():
    from sklearn_cincer.oracles import Query

    return Query(
        example_id=42,
        x=np.array([1.0, 5.0]),
        label="spam",
        prediction="ham",
        margin=0.6,
        classes=np.array(["ham", "spam"]),
        counter_example_id=7,
        counter_x=np.array([1.0, 2.0]),
        counter_label="ham",
    )


def test_the_terminal_says_saved_only_after_the_write(tmp_path, monkeypatch):
    path = tmp_path / "s.sqlite"
    out = io.StringIO()
    # class names, not digits: the same keys in every version of the prompt
    terminal = TerminalOracle(
        annotator="ana", stdout=out, stdin=io.StringIO("ham\n\nspam\n\n")
    )
    session = AnnotationSession(terminal, path)
    _fails_once(monkeypatch)
    answer = session(_terminal_query())
    text = out.getvalue()
    # the first answer (ham) was not saved: said so, asked again, then saved
    assert "not saved" in text and "disk I/O error" in text
    assert text.index("not saved") < text.index("Saved")
    assert answer == Answer("spam", "ham", "ana")
    assert AnnotationStore(path).find_answer(_terminal_query()) == answer
    assert [a for _, a in terminal.answers_] == [answer]


# ------------------------------------------------------- in a real browser


@contextlib.contextmanager
def _chromium_page(browser_tests, url):
    """A Chromium page at ``url``, as test_browser launches it; closed after."""
    with browser_tests.playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=browser_tests.CHROMIUM, args=browser_tests.ARGS
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(browser_tests.TIMEOUT_MS)
            page.goto(url)
            yield page
        finally:
            browser.close()


def test_in_chromium_a_failed_write_keeps_the_choice_and_says_not_saved(
    tmp_path, monkeypatch
):
    """The page shows "not saved", keeps the person's pick, and a second
    Submit sends that pick (never the current labels it would redraw)."""
    browser_tests = pytest.importorskip(
        "test_browser", reason="needs Playwright and Chromium (see test_browser)"
    )
    from sklearn_cincer.oracles import Query

    classes = np.array(["cat", "dog", "fox"])
    query = Query(
        example_id=1,
        x=np.array([1.0, 2.0]),
        label="cat",
        prediction="dog",
        margin=0.5,
        classes=classes,
        counter_example_id=9,
        counter_x=np.array([1.0, 1.0]),
        counter_label="dog",
        score=1.0,
        round=1,
    )
    path = tmp_path / "s.sqlite"
    oracle = BrowserOracle(open_browser=False, annotator="ana")
    session = AnnotationSession(oracle, path)
    _fails_once(monkeypatch)
    oracle.start()
    with _chromium_page(browser_tests, oracle.url) as page:
        asker = Asker(session, query)
        try:
            page.wait_for_selector('body[data-status="question"]')
            page.click("#labels-example button[data-index='2']")  # fox
            page.click("#submit")
            page.wait_for_selector("#error:has-text('not saved')")
            assert "disk I/O error" in page.text_content("#error")
            assert (
                page.get_attribute(
                    "#labels-example button[data-index='2']", "aria-pressed"
                )
                == "true"
            )  # still picked
            assert asker.thread.is_alive()
            page.click("#submit")
            page.wait_for_selector('body[data-status="waiting"]')
            assert page.text_content("#waiting").startswith("Saved.")
        finally:
            oracle.close()
    assert asker.join() == Answer("fox", "dog", "ana")
    assert AnnotationStore(path).find_answer(query) == Answer("fox", "dog", "ana")


def test_in_chromium_the_page_says_saving_while_the_answer_is_written(
    tmp_path, monkeypatch
):
    """During a slow write the submit button says "saving"; then "Saved."."""
    browser_tests = pytest.importorskip(
        "test_browser", reason="needs Playwright and Chromium (see test_browser)"
    )
    path = tmp_path / "s.sqlite"
    oracle = BrowserOracle(open_browser=False, annotator="ana")
    session = AnnotationSession(oracle, path)
    _slow(monkeypatch, "record_answer", 2.0)
    oracle.start()
    with _chromium_page(browser_tests, oracle.url) as page:
        asker = Asker(session, _query())
        try:
            page.wait_for_selector('body[data-status="question"]')
            page.click("#submit")
            page.wait_for_selector("body.saving")
            after = page.evaluate(
                "getComputedStyle(document.querySelector('#submit'), '::after').content"
            )
            assert "saving" in after
            assert asker.thread.is_alive()  # not delivered before the write
            page.wait_for_selector('body[data-status="waiting"]')
            assert not page.evaluate("document.body.classList.contains('saving')")
            assert page.text_content("#waiting").startswith("Saved.")
        finally:
            oracle.close()
    assert asker.join() == Answer("spam", "ham", "ana")


def test_the_page_says_how_many_answers_were_replayed(oracle, tmp_path, capsys):
    path = tmp_path / "s.sqlite"
    q1, q2 = _query(example_id=1), _query(example_id=2)
    store = AnnotationStore(path)
    store.record_answer(store.record_question(q1), Answer("ham", "ham", "bo"))
    store.close()
    session = AnnotationSession(oracle, path)
    assert session(q1) == Answer("ham", "ham", "bo")  # replayed, nobody asked
    asker = Asker(session, q2)
    state = wait_state(oracle, "question")
    assert state["message"] == f"Resumed: replayed 1 answer from {path}."
    assert capsys.readouterr().out.count("Resumed: replayed 1 answer from") == 1
    request(oracle, "POST", "answer", body={"qid": state["qid"]})
    asker.join()
    assert request(oracle, "GET", "state")[2]["message"] is None  # shown once
