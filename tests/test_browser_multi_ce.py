"""Several counter-examples on the page, in headless Chromium (Playwright).

One panel per counter-example; the class keys label the example, Shift + a
key the active counter-example (the first, until Tab, Shift+Tab or a click
on another panel moves it); the "Will save" line lists every label, and the
store keeps each one.
"""

import numpy as np
import test_browser as chromium  # skips the module without Chromium/Playwright
from test_browser import asking, digits_stream, each_question, next_question

browser, page = chromium.browser, chromium.page  # the fixtures
_one_blas_thread = chromium._one_blas_thread

from sklearn.linear_model import LogisticRegression  # noqa: E402

from sklearn_cincer import SkepticalCleaner  # noqa: E402
from sklearn_cincer.oracles import (  # noqa: E402
    AnnotationSession,
    AnnotationStore,
    Answer,
    BrowserOracle,
    CounterExample,
    Query,
)


def counter_ids(page):
    """The stream ids in the counter-example panels, in order."""
    titles = page.eval_on_selector_all(
        "#pair .panel.counter:not([hidden]) h2", "hs => hs.map(h => h.textContent)"
    )
    return [int(t.split("#")[1]) for t in titles]


def active_panel(page):
    return page.eval_on_selector_all(
        "#pair .panel.counter",
        "ps => ps.findIndex(p => p.classList.contains('active'))",
    )


def test_a_cleaner_with_two_counter_examples_stores_every_label(page, tmp_path):
    X, y_true, y_noisy = digits_stream()
    oracle = BrowserOracle(open_browser=False, annotator="ana", image_shape=(8, 8))
    session = AnnotationSession(oracle, tmp_path / "s.sqlite")
    cleaner = SkepticalCleaner(
        LogisticRegression(max_iter=300),
        oracle=session,
        n_bootstrap=200,
        threshold=0.2,
        random_state=0,
        n_counter_examples=2,
    )
    typed = []
    for n, example_id in enumerate(each_question(page, oracle, cleaner, X, y_noisy)):
        first, second = counter_ids(page)
        assert page.text_content("#title-counter").startswith(
            "Counter-example 1 of 2 #"
        )
        assert "Tab" in page.text_content("#help")
        d, c1, c2 = y_true[example_id], y_true[first], y_true[second]
        assert active_panel(page) == 0
        if n % 2 == 0:  # keyboard: Shift labels the active panel
            page.keyboard.press(f"Digit{d}")
            page.keyboard.press(f"Shift+Digit{c1}")
            page.keyboard.press("Tab")
            assert active_panel(page) == 1
            page.keyboard.press(f"Shift+Digit{c2}")
        else:  # mouse: a button in a panel labels that counter-example
            page.click(f"#labels-example button[data-index='{d}']")
            page.click(f"#labels-counter-2 button[data-index='{c2}']")
            assert active_panel(page) == 1  # the click made it active
            page.click(f"#labels-counter button[data-index='{c1}']")
            assert active_panel(page) == 0
        line = page.text_content("#will-save")
        assert line.count("counter-example #") == 2
        assert f"counter-example #{first} \u2192 {c1} (" in line
        assert f"counter-example #{second} \u2192 {c2} (" in line
        page.keyboard.press("Enter")
        typed.append((example_id, d, (c1, c2)))
    session.close()
    assert len(typed) >= 4 and not page.errors
    got = [
        (r.example_id, r.label_after, r.counter_labels_after) for r in cleaner.history_
    ]
    assert got == [(i, d, c) for i, d, c in typed]
    rows = AnnotationStore(tmp_path / "s.sqlite", read_only=True).records()
    assert [
        (r["example_id"], r["label_after"], tuple(r["counter_labels_after"]))
        for r in rows
    ] == [(i, d, c) for i, d, c in typed]
    assert cleaner.n_relabeled_counter_examples_ == sum(
        (before != after)
        for r in cleaner.history_
        for before, after in zip(r.counter_labels_before, r.counter_labels_after)
    )


ANIMALS = np.array(["bird", "cat", "dog", "fox"])  # keys a, b, c, d


def three_query(i):
    shown = tuple(
        CounterExample(
            100 + 10 * i + k, np.array([float(k), 1.0]), "dog", score=3.0 - k
        )
        for k in range(3)
    )
    return Query(
        example_id=i,
        x=np.array([float(i), 1.0]),
        label="cat",
        prediction="dog",
        margin=0.5,
        classes=ANIMALS,
        round=i + 1,
        counter_examples=shown,
    )


def test_three_panels_tab_shift_tab_skip_and_undo(page, tmp_path):
    queries = [three_query(1), three_query(2)]
    oracle = BrowserOracle(open_browser=False, annotator="ana")
    with asking(page, oracle, queries, tmp_path) as (asker, results):
        first = next_question(page, asker, -1)
        assert counter_ids(page) == [110, 111, 112]
        # the Shift keys show on the active panel only
        visible = page.eval_on_selector_all(
            "#pair .panel.counter",
            "ps => ps.map(p => getComputedStyle("
            "p.querySelector('.labels kbd')).visibility)",
        )
        assert visible == ["visible", "hidden", "hidden"]
        page.keyboard.press("Shift+Tab")  # backwards: from the first to the last
        assert active_panel(page) == 2
        page.keyboard.press("Shift+D")  # fox
        page.keyboard.press("Tab")
        assert active_panel(page) == 0
        page.keyboard.press("Shift+A")  # bird
        page.click("#panel-counter-2 h2")  # a click anywhere in a panel
        assert active_panel(page) == 1
        page.keyboard.press("c")  # the example: dog
        assert page.text_content("#will-save") == (
            "Will save: example #1 \u2192 dog (was cat) \u00b7 counter-example #110 "
            "\u2192 bird (was dog) \u00b7 counter-example #111 \u2192 dog "
            "(unchanged) \u00b7 counter-example #112 \u2192 fox (was dog)"
        )
        page.keyboard.press("Enter")
        second = next_question(page, asker, first)
        assert active_panel(page) == 0  # a new question starts at the first
        # undo: the page shows the answer given, in every panel
        page.keyboard.press("u")
        page.wait_for_selector('body[data-status="revising"]')
        pressed = page.eval_on_selector_all(
            "#pair .panel.counter",
            "ps => ps.map(p => p.querySelector("
            "'.labels button[aria-pressed=\"true\"]').dataset.index)",
        )
        assert pressed == ["0", "2", "3"]
        page.keyboard.press("Tab")
        page.keyboard.press("Shift+B")  # the second: cat
        page.keyboard.press("Enter")
        page.wait_for_selector(f'body[data-status="question"][data-qid="{second}"]')
        page.keyboard.press("s")  # skip keeps every label
    assert results[0] == Answer(
        "dog", "bird", "ana", counter_labels=("bird", "dog", "fox")
    )
    assert results[1].skipped and results[1].counter_labels == ("dog",) * 3
    store = AnnotationStore(tmp_path / "s.sqlite", read_only=True)
    assert store.find_answer(queries[0]).counter_labels == ("bird", "cat", "fox")
    assert store.find_answer(queries[1]) == Answer(
        "cat", "dog", "ana", skipped=True, counter_labels=("dog",) * 3
    )
    assert [r["status"] for r in store.records()] == ["revised", "answered", "answered"]
