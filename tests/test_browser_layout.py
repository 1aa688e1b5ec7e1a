"""The page as a person sees it, in headless Chromium (Playwright).

Narrow screens (the feature values stay on screen), missing values, long
texts, one name per example, and a foreign page that tries to frame it.
"""

import threading

import numpy as np
import test_browser as chromium  # skips the module without Chromium/Playwright

browser, page = chromium.browser, chromium.page  # the fixtures

from sklearn_cincer.oracles import BrowserOracle, CounterExample, Query  # noqa: E402

NAMES = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native_country_of_the_person_as_reported_at_the_census_interview",
]


def _table_query(n_counter_examples):
    x = np.array([39, 2, 77516, 9, 13, np.nan, 1, 1, 4, 1, 2174, 0, 40, 39.0])
    counters = tuple(
        CounterExample(
            268 + k,
            np.r_[50.0 + k, 3, 83311, 9, 13, 2, 4, 0, 4, 1, 0, 0, 13, np.nan],
            1,
            0.8 - k / 10,
        )
        for k in range(n_counter_examples)
    )
    return Query(
        example_id=106,
        x=x,
        label=0,
        prediction=1,
        margin=0.62,
        classes=np.array([0, 1]),
        round=7,
        question=3,
        n_rounds=244,
        feature_names=np.array(NAMES),
        feature_scale=np.ones(14),
        counter_examples=counters,
    )


class Showing:
    """A question open on the page, asked in a thread; closed on leaving."""

    def __init__(self, page, query, **options):
        self.oracle = BrowserOracle(open_browser=False, annotator="ana", **options)
        self.oracle.start()
        self.thread = threading.Thread(target=self._ask, args=(query,), daemon=True)
        self.thread.start()
        page.goto(self.oracle.url)
        page.wait_for_selector("#question:not([hidden])")

    def _ask(self, query):
        try:
            self.oracle(query)
        except Exception:  # closed by the test
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.oracle.close()
        self.thread.join(10)


def _boxes(page, selector):
    """Each element's text and box, and the box of the view that clips it."""
    return page.eval_on_selector_all(
        selector,
        """cells => cells.map(c => {
        const r = c.getBoundingClientRect();
        const v = (c.closest(".view") || document.body).getBoundingClientRect();
        return {text: c.textContent, left: r.left, right: r.right, width: r.width,
                view_left: v.left, view_right: v.right};
    })""",
    )


def test_at_420_px_the_panels_stack_and_every_value_is_on_screen(page):
    page.set_viewport_size({"width": 420, "height": 900})
    for n in (1, 2):
        with Showing(page, _table_query(n)):
            cells = _boxes(page, "table.features td")
            # the value of every feature, and how far apart, in each panel
            # a head row and 14 features: a value, and "apart" beside a
            # counter-example's
            assert len(cells) == (1 + 2 * n) * 15
            width = page.evaluate("document.documentElement.clientWidth")
            for cell in cells:
                assert cell["width"] > 0 and cell["text"].strip(), cell
                assert 0 <= cell["left"] and cell["right"] <= width, cell
                # not cut off by its panel's view (which scrolls what overflows)
                assert cell["view_left"] <= cell["left"], cell
                assert cell["right"] <= cell["view_right"] + 0.5, cell
            panels = _boxes(page, "#pair .panel:not([hidden])")
            assert len(panels) == 1 + n
            assert len({round(p["left"]) for p in panels}) == 1  # one column
            # nothing scrolls sideways
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            assert "missing" in page.text_content("#view-example")
            assert "nan" not in page.text_content("#pair").lower()


def test_at_1280_px_the_panels_stand_side_by_side(page):
    page.set_viewport_size({"width": 1280, "height": 900})
    with Showing(page, _table_query(2)):
        panels = _boxes(page, "#pair .panel:not([hidden])")
        assert len({round(p["left"]) for p in panels}) == 3
        width = page.evaluate("document.documentElement.clientWidth")
        for cell in _boxes(page, "table.features td"):
            assert cell["width"] > 0 and cell["right"] <= width


def _text_query(texts):
    return Query(
        example_id=1,
        x=np.zeros(2),
        label="spam",
        prediction="ham",
        margin=0.5,
        classes=np.array(["ham", "spam"]),
        counter_examples=(CounterExample(0, np.zeros(2), "ham", 1.0),),
    )


def test_a_long_text_says_how_much_more_and_shows_it_on_a_click(page):
    long = " ".join(f"word{i}" for i in range(600)) + " THE-END"
    texts = ["short text", long]
    with Showing(page, _text_query(texts), texts=texts):
        view = page.locator("#view-example")
        summary = view.locator("details summary")
        rest = len(long) - len(
            view.locator(".text").evaluate("t => t.firstChild.textContent")
        )
        assert summary.text_content() == f"\u2026 ({rest:,} more characters) show all"
        assert rest > 1000
        shown = "v => v.innerText"  # what is rendered: not a closed <details>
        assert "word100 " in view.evaluate(shown)
        assert "THE-END" not in view.evaluate(shown)
        summary.click()
        assert "THE-END" in view.evaluate(shown)
        # the whole text, once, in order
        assert (
            view.locator(".text").text_content().replace(summary.text_content(), "")
            == long
        )
        # a short text has no marker
        assert page.locator("#view-counter details").count() == 0


def test_one_name_per_example_in_titles_sentence_and_will_save(page):
    query = _table_query(1)
    with Showing(page, query, example_name=lambda i: f"line {i + 2}"):
        assert page.text_content("#title-example") == "Suspicious example: line 108"
        assert page.text_content("#title-counter") == "Counter-example: line 270"
        why = page.text_content("#why")
        assert why.startswith(
            "The model thinks line 108 is '1', but it is "
            "labeled '0'. Line 270, labeled '1' as the model "
            "predicts, is a training example"
        )
        save = page.text_content("#will-save")
        assert "example line 108 \u2192" in save
        assert "counter-example line 270 \u2192" in save
        text = page.evaluate("document.body.innerText")  # what is shown
        assert "#106" not in text and "#268" not in text and "round" not in text
        assert "Question 3 \u00b7 7 of 244 examples seen" in page.text_content(
            "#progress"
        )


def test_another_site_cannot_frame_the_page(page):
    with Showing(page, _table_query(1)) as showing:
        # a page of another origin (about:blank here) framing the oracle's
        page.set_content(
            f'<iframe id="f" src="{showing.oracle.url}" '
            'width="800" height="600"></iframe>'
        )
        page.wait_for_timeout(1000)
        frame = page.frame_locator("#f")
        assert frame.locator("#why").count() == 0  # blocked: nothing to click
        assert page.frames[1].url != showing.oracle.url or (
            page.frames[1].query_selector("#why") is None
        )
