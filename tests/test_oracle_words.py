"""What the human oracles say, in the person's words: names, progress, why, more."""

import io

import numpy as np
import pytest

from sklearn_cincer.oracles import CounterExample, Query, TerminalOracle
from sklearn_cincer.oracles._render import progress_text, why_sentence


def _query(strategy="relabel", n=1, counter_label="ham", **kw):
    shown = tuple(
        CounterExample(7 + 2 * k, np.array([1.0, 2.0]), counter_label, 1.0 - k / 10)
        for k in range(n)
    )
    params = dict(
        example_id=42,
        x=np.array([1.0, 5.0]),
        label="spam",
        prediction="ham",
        margin=0.6,
        classes=np.array(["ham", "spam"]),
        strategy=strategy,
        counter_examples=shown,
    )
    params.update(kw)
    return Query(**params)


@pytest.mark.parametrize(
    "strategy, n, expected",
    [
        (
            "relabel",
            1,
            "The model thinks example #42 is 'ham', but it is labeled "
            "'spam'. Example #7, labeled 'ham' as the model predicts, is a training "
            "example that supports the model's doubt: check both labels.",
        ),
        (
            "relabel",
            2,
            "The model thinks example #42 is 'ham', but it is labeled "
            "'spam'. Examples #7 ('ham'), #9 ('ham'), best first, are 2 training "
            "examples that support the model's doubt: check every label.",
        ),
        (
            "drop",
            1,
            "The model thinks example #42 is 'ham', but it is labeled "
            "'spam'. Example #7, labeled 'ham' as the model predicts, is a training "
            "example that supports the model's doubt. Check the label of #42: if you "
            "keep it, #7 leaves the training set.",
        ),
        (
            "drop",
            3,
            "The model thinks example #42 is 'ham', but it is labeled "
            "'spam'. Examples #7 ('ham'), #9 ('ham'), #11 ('ham'), best first, are 3 "
            "training examples that support the model's doubt. Check the label of "
            "#42: if you keep it, those 3 examples leave the training set.",
        ),
        (
            "explain",
            1,
            "The model thinks example #42 is 'ham', but it is labeled "
            "'spam'. Example #7, labeled 'ham' as the model predicts, is a training "
            "example that supports the model's doubt.",
        ),
        (
            "none",
            0,
            "The model thinks example #42 is 'ham', but it is labeled "
            "'spam'. No counter-example is shown, so only this label is in question.",
        ),
    ],
)
def test_the_why_sentence_for_each_strategy_and_count(strategy, n, expected):
    # "drop" asks one label only: it no longer says "check both labels"
    assert why_sentence(_query(strategy, n)) == expected


def test_the_why_sentence_says_as_the_model_predicts_only_when_it_does():
    # candidates="all" may show a counter-example labeled otherwise
    query = _query(counter_label="spam")
    assert "Example #7, labeled 'spam', is a training example" in why_sentence(query)
    assert "as the model predicts" not in why_sentence(query)


def test_progress_is_a_count_never_an_example_number():
    assert progress_text(_query(round=7, question=3, n_rounds=244), 1) == (
        "question 3 \u00b7 7 of 244 examples seen"
    )
    assert progress_text(_query(round=244, question=9, n_rounds=244), 1) == (
        "question 9 \u00b7 244 of 244 examples seen \u00b7 the last example"
    )
    # the auditor's queries carry no stream: the question alone
    assert progress_text(_query(round=2, question=5), 1) == "question 5"


def _terminal(lines, **options):
    return TerminalOracle(
        annotator="ana",
        stdin=io.StringIO("\n".join(lines) + "\n"),
        stdout=io.StringIO(),
        **options,
    )


def test_the_terminal_names_each_example_once_by_example_name():
    oracle = _terminal(["h", ""], example_name=lambda i: f"line {i + 2}")
    oracle(_query(round=7, question=3, n_rounds=244))
    out = oracle.stdout.getvalue()
    assert "#" not in out.replace("=" * 72, "")
    assert "The model thinks line 44 is 'ham'" in out
    assert "Line 9, labeled 'ham' as the model predicts" in out
    assert "  line 44 (suspicious): label 'spam'" in out
    assert "Label for line 44 - Enter keeps 'spam'" in out
    assert "Label for line 9 - Enter keeps 'ham'" in out
    assert "answer: line 44 -> ham (was spam), line 9 -> ham (kept)" in out
    assert "Question 3 \u00b7 7 of 244 examples seen" in out


def test_a_bad_example_name_is_refused_before_anything_is_asked():
    with pytest.raises(TypeError, match="example_name must be a callable"):
        TerminalOracle(example_name="line")
    oracle = _terminal(["h", ""], example_name=lambda i: None)
    with pytest.raises(
        TypeError,
        match=r"example_name\(42\) must return a "
        "non-empty str, got None",
    ):
        oracle(_query())
    assert oracle.answers_ == []


def test_a_long_text_at_the_terminal_says_how_much_was_cut():
    long = " ".join(f"w{i}" for i in range(400)) + " THE-END"
    texts = {42: long, 7: "short"}
    oracle = _terminal(["", ""], texts=texts)
    oracle(_query())
    out = oracle.stdout.getvalue()
    shown = out[out.index("--- #42:") : out.index("--- #7:")]
    cut = len(long) - len(shown.split("\u2026")[0].strip().split(":", 1)[1].strip())
    assert f"\u2026 ({cut:,} more characters)" in shown and cut > 1000
    assert "THE-END" not in out and "short" in out
