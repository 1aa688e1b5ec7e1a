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
    AnnotationStopped,
    AnnotationStore,
    Answer,
    OracleError,
    Query,
    TerminalOracle,
)

DIGITS = np.arange(10)
DIGIT_NAMES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
]


def _query(example_id=42, counter_id=7, strategy="relabel", **kw):
    params = dict(
        x=np.array([1.0, 5.0, 0.5, 9.0]),
        label="spam",
        prediction="ham",
        margin=0.6,
        classes=np.array(["ham", "spam", "eggs"]),
        counter_x=np.array([1.0, 2.0, 0.6, 1.0]),
        counter_label="ham",
        score=2.5,
        round=3,
        feature_names=np.array(["links", "words", "caps", "exclaims"]),
    )
    params.update(kw)
    if counter_id is None:
        params.update(counter_x=None, counter_label=None, score=None)
    return Query(
        example_id=example_id,
        counter_example_id=counter_id,
        strategy=strategy,
        **params,
    )


def _oracle(keys, **kw):
    return TerminalOracle(
        stdin=io.StringIO("".join(k + "\n" for k in keys)),
        stdout=io.StringIO(),
        annotator="ana",
        **kw,
    )


def _digit_query(label=3, prediction=4, counter_label=4, classes=DIGITS, **kw):
    return _query(
        label=label,
        prediction=prediction,
        counter_label=counter_label,
        classes=classes,
        **kw,
    )


def test_shows_the_pair_in_plain_words_and_the_most_different_features():
    oracle = _oracle(["", ""], n_highlight=2)
    oracle(_query())
    out = oracle.stdout.getvalue()
    assert (
        "#42 (suspicious): label 'spam', the model says 'ham', how sure the "
        "model is: 0.60 (0 = unsure, 1 = certain)"
    ) in out
    assert (
        "#7 (counter-example): label 'ham', how much it supports the doubt: "
        "2.5 (higher = more)"
    ) in out
    assert "supports the model's doubt" in out
    assert "margin" not in out and "score" not in out  # no jargon
    lines = out.splitlines()
    marked = [line.split()[1] for line in lines if line.startswith("  * ")]
    assert marked == ["exclaims", "words"]  # |9-1| and |5-2|, largest first
    assert "(raw differences)" in out  # the query carries no spread
    assert "Classes: ham  spam  eggs" in out


def test_features_are_ranked_in_units_of_their_spread():
    # raw differences: exclaims 8, words 3, caps 0.1; in SDs caps leads (2)
    scale = np.array([1.0, 10.0, 0.05, 100.0])
    oracle = _oracle(["", ""], n_highlight=2)
    oracle(_query(feature_scale=scale))
    out = oracle.stdout.getvalue()
    lines = out.splitlines()
    marked = [line.split()[1:] for line in lines if line.startswith("  * ")]
    assert marked[0] == ["caps", "0.5", "0.6", "2"]  # 0.1 / 0.05 SD
    assert marked[1] == ["words", "5", "2", "0.3"]  # 3 / 10 SD
    assert len(marked) == 2
    assert "apart (SD)" in out and "in standard deviations (SD)" in out


def test_progress_shows_the_question_the_round_and_a_guess_of_what_is_left():
    oracle = _oracle(["", ""])
    oracle(_query(round=30, question=4, n_rounds=300))
    # 4 questions in 30 rounds, 270 rounds left: about 36 more
    assert (
        "Question 4 \u00b7 30 of 300 examples seen \u00b7 about 36 more questions"
    ) in oracle.stdout.getvalue()
    oracle = _oracle(["", ""])
    oracle(_query(round=3, question=2, n_rounds=300))  # too early to guess
    assert "Question 2 \u00b7 3 of 300 examples seen\n" in oracle.stdout.getvalue()
    # the stream's progress is a count: "round 3" read as a row's number
    assert "round" not in oracle.stdout.getvalue()


def test_enter_keeps_both_labels():
    answer = _oracle(["", ""])(_query())
    assert answer == Answer(label="spam", counter_label="ham", annotator="ana")
    assert not answer.skipped


@pytest.mark.parametrize("digit", range(10))
def test_the_digit_typed_is_the_class_itself(digit):
    # before: "4" picked the 4th class of the list, the digit 3
    other = (digit + 1) % 10
    oracle = _oracle([str(digit), str(other)])
    assert oracle(_digit_query()) == Answer(digit, other, "ana")
    assert "Classes: 0  1  2  3  4  5  6  7  8  9" in oracle.stdout.getvalue()


def test_a_subset_of_the_digits_and_string_digits_are_typed_as_themselves():
    query = _digit_query(
        label=3, prediction=7, counter_label=7, classes=np.array([3, 7, 9])
    )
    assert _oracle(["9", "3"])(query) == Answer(9, 3, "ana")
    query = _digit_query(
        label="3", prediction="7", counter_label="7", classes=np.array(["3", "7", "9"])
    )
    assert _oracle(["9", ""])(query) == Answer("9", "7", "ana")
    oracle = _oracle(["1", "7", ""])  # 1 is no class here: refused, not the 1st
    assert oracle(query) == Answer("7", "7", "ana")
    assert "'1' is not one of the classes (3, 7, 9)" in oracle.stdout.getvalue()


def test_labels_are_typed_out_or_by_an_unambiguous_first_part():
    assert _oracle(["eggs", "spam"])(_query()) == Answer("eggs", "spam", "ana")
    assert _oracle(["EG", "Sp"])(_query()) == Answer("eggs", "spam", "ana")
    classes = np.array(["cat", "cow", "dog"])
    oracle = _oracle(["c", "co", ""])
    query = _query(label="cat", prediction="dog", counter_label="dog", classes=classes)
    assert oracle(query) == Answer("cow", "dog", "ana")
    assert "'c' could be cat, cow: type more of it" in oracle.stdout.getvalue()


def test_numbers_are_never_completed():
    query = _query(
        label=42, prediction=7, counter_label=7, classes=np.array([7, 42, 420])
    )
    oracle = _oracle(["4", "42", "420"])
    assert oracle(query) == Answer(42, 420, "ana")
    assert "'4' is not one of the classes (7, 42, 420)" in oracle.stdout.getvalue()


def test_the_choice_is_echoed_as_read():
    oracle = _oracle(["4", ""])
    oracle(_digit_query(example_id=12, counter_id=77))
    out = oracle.stdout.getvalue()  # a terminal echoes the keys and Enter too
    assert "Enter keeps '3' [s skip, u undo, ? help]:   #12 -> 4 (was 3)\n" in out
    assert "Enter keeps '4' [s skip, u undo, ? help]:   #77 -> 4 (kept)\n" in out
    assert out.splitlines()[-1] == "answer: #12 -> 4 (was 3), #77 -> 4 (kept)"
    oracle = _oracle(["s"])
    oracle(_digit_query())
    assert oracle.stdout.getvalue().endswith(
        "[s skip, u undo, ? help]: skipped: both labels stay as they are\n"
    )


def test_class_names_are_shown_and_both_names_and_codes_are_typed():
    oracle = _oracle(["fo", "9"], class_names=DIGIT_NAMES)
    answer = oracle(_digit_query(example_id=12, counter_id=77))
    assert answer == Answer(4, 9, "ana")  # answers hold the classes, not names
    out = oracle.stdout.getvalue()
    assert "Classes: 0 zero  1 one  2 two" in out
    assert "label 'three', the model says 'four'" in out
    assert out.splitlines()[-1] == (
        "answer: #12 -> four (was three), #77 -> nine (was four)"
    )
    names = {"ham": "Ham (fine)", "spam": "Spam!", "eggs": "Eggs"}
    oracle = _oracle(["spam!", "ham"], class_names=names)
    assert oracle(_query()) == Answer("spam", "ham", "ana")
    assert "Classes: Ham (fine) (ham)  Spam! (spam)  Eggs (eggs)" in (
        oracle.stdout.getvalue()
    )


@pytest.mark.parametrize(
    "class_names, error, match",
    [
        ("abc", TypeError, "a dict"),
        (["a", ""], ValueError, "non-empty strings"),
        (["a", 2], ValueError, "non-empty strings"),
        (["Cat", "cat"], ValueError, "same name"),
    ],
)
def test_class_names_are_checked_when_the_oracle_is_made(class_names, error, match):
    with pytest.raises(error, match=match):
        TerminalOracle(class_names=class_names)


@pytest.mark.parametrize(
    "class_names, match",
    [
        (["a", "b"], "2 names for 3 classes"),
        ({"ham": "h", "spam": "s"}, r"no name for the classes \['eggs'\]"),
        ({"ham": "spam", "spam": "ham", "eggs": "e"}, "code of class"),
    ],
)
def test_class_names_that_do_not_fit_the_classes_fail_before_asking(class_names, match):
    oracle = _oracle([""], class_names=class_names)
    with pytest.raises(ValueError, match=match):
        oracle(_query())
    assert oracle.stdout.getvalue() == ""  # nothing was asked


def test_bad_keystrokes_get_readable_errors_and_the_prompt_again():
    oracle = _oracle(["x", "7", "0", "u", "?", "spam", "h"])
    answer = oracle(_query())
    out = oracle.stdout.getvalue()
    assert "'x' is not one of the classes (ham, spam, eggs)" in out
    assert "'7' is not one of the classes" in out
    assert "'0' is not one of the classes" in out
    assert "There is no earlier answer to revise." in out
    assert "Enter: keep the current label" in out  # the help
    assert answer == Answer("spam", "ham", "ana")
    assert out.count("Label for #42") == 6 and out.count("Label for #7") == 1


def test_skip_keeps_both_labels_and_says_so():
    answer = _oracle(["s"])(_query())
    assert answer == Answer("spam", "ham", "ana", skipped=True)


def test_no_counter_example_and_drop_strategy_ask_one_label():
    oracle = _oracle(["ham"])
    assert oracle(_query(counter_id=None)) == Answer("ham", None, "ana")
    assert "Label for #7" not in oracle.stdout.getvalue()
    assert oracle.stdout.getvalue().endswith("answer: #42 -> ham (was spam)\n")
    oracle = _oracle(["ham"])
    assert oracle(_query(strategy="drop")) == Answer("ham", "ham", "ana")
    assert "leaves the training set" in oracle.stdout.getvalue()


def test_end_of_input_stops_with_one_line():
    oracle = _oracle(["ham", ""])
    oracle(_query())
    with pytest.raises(
        AnnotationStopped, match="stopped at question 2 .end of input.: 1 answer given"
    ) as info:
        oracle(_query(example_id=43))
    assert isinstance(info.value, OracleError)
    assert info.value.__suppress_context__  # no traceback of the reading code
    assert str(info.value).startswith(
        "The annotator stopped at question 2 (end of input): 1 answer given, "
        "kept in oracle.answers_; with an AnnotationSession"
    )
    # said once, by the exception: the oracle only ends the prompt's line
    out = oracle.stdout.getvalue()
    assert "stopped" not in out.lower() and out.endswith("help]: \n")
    assert len(oracle.answers_) == 1


def test_end_of_input_stops_the_cleaner_cleanly_and_a_session_resumes(tmp_path):
    with threadpool_limits(1):
        X, y = make_classification(n_samples=70, n_features=4, random_state=3)
        y_noisy, _ = make_label_noise(y, noise_rate=0.3, random_state=3)
        reference = SkepticalCleaner(
            LogisticRegression(),
            oracle=SimulatedOracle(y),
            n_bootstrap=30,
            random_state=0,
        ).fit(X, y_noisy)
        assert reference.n_queries_ >= 3
        # two questions answered (Enter keeps both labels), then Ctrl-D
        oracle = _oracle(["", "", "", ""])
        session = AnnotationSession(oracle, tmp_path / "s.sqlite")
        cleaner = SkepticalCleaner(
            LogisticRegression(), oracle=session, n_bootstrap=30, random_state=0
        )
        with pytest.raises(AnnotationStopped) as info:
            cleaner.fit(X, y_noisy)
        message = str(info.value)
        assert message.startswith(
            "The annotator stopped at question 3 (end of "
            "input): 2 answers given, kept in the session's "
            "store: run the same fit again to resume here."
        )
        assert message.endswith("This fit changed nothing; the cleaner is as it was.")
        assert "\n" not in message
        # the cleaner's error hides the oracle's internals: no chained traceback
        assert info.value.__cause__ is None and info.value.__suppress_context__
        assert not hasattr(cleaner, "history_")  # left as it was
        again = AnnotationSession(_oracle([""] * 40), tmp_path / "s.sqlite")
        resumed = SkepticalCleaner(
            LogisticRegression(), oracle=again, n_bootstrap=30, random_state=0
        ).fit(X, y_noisy)
    assert again.n_replayed_ == 2 and again.n_asked_ == resumed.n_queries_ - 2


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
    oracle = _oracle(["ham", "", "u", "eggs", "eggs", "spam", ""])
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
    oracle = _oracle(["ham", "", "u", "u", "", ""])
    oracle(_query(example_id=42))
    assert oracle(_query(example_id=43)) == Answer("spam", "ham", "ana")
    assert "Revision cancelled." in oracle.stdout.getvalue()
    assert oracle.revisions_ == []


def test_terminal_oracle_drives_a_cleaner_and_pickles():
    with threadpool_limits(1):
        X, y = make_classification(n_samples=70, n_features=4, random_state=3)
        y_noisy, _ = make_label_noise(y, noise_rate=0.3, random_state=3)
        truth = SimulatedOracle(y)
        # answer every question with the truth, typed as the class itself
        reference = SkepticalCleaner(
            LogisticRegression(), oracle=truth, n_bootstrap=30, random_state=0
        ).fit(X, y_noisy)
        keys = []
        for r in reference.history_:
            answer = truth(
                _query(
                    example_id=r.example_id,
                    counter_id=r.counter_example_id,
                    classes=np.array([0, 1]),
                )
            )
            keys.append(str(answer.label))
            if r.counter_example_id is not None:
                keys.append(str(answer.counter_label))
        oracle = _oracle(keys)
        cleaner = SkepticalCleaner(
            LogisticRegression(), oracle=oracle, n_bootstrap=30, random_state=0
        ).fit(X, y_noisy)
    assert cleaner.n_queries_ == reference.n_queries_ > 0
    np.testing.assert_array_equal(cleaner.y_, reference.y_)
    assert [r.annotator for r in cleaner.history_] == ["ana"] * cleaner.n_queries_
    clone = pickle.loads(pickle.dumps(cleaner))
    assert clone.oracle.stdin is None and clone.oracle.annotator == "ana"
    np.testing.assert_array_equal(clone.predict(X), cleaner.predict(X))


def test_the_cleaner_tells_people_the_progress_and_the_features_spread():
    asked = []

    def record(query):
        asked.append(query)
        return Answer(query.label, query.counter_label)

    with threadpool_limits(1):
        X, y = make_classification(n_samples=90, n_features=4, random_state=3)
        X[:, 0] *= 1000  # a large-unit feature
        y_noisy, _ = make_label_noise(y, noise_rate=0.3, random_state=3)
        cleaner = SkepticalCleaner(
            LogisticRegression(), oracle=record, n_bootstrap=30, random_state=0
        )
        cleaner.fit(X[:70], y_noisy[:70])
        n_fit = len(asked)
        cleaner.partial_fit(X[70:], y_noisy[70:])
    assert n_fit >= 2 and len(asked) > n_fit
    assert [q.question for q in asked] == list(range(1, len(asked) + 1))
    assert [r.round for r in cleaner.history_] == [q.round for q in asked]
    assert {q.n_rounds for q in asked[:n_fit]} == {40}  # rows 30-69 stream in fit
    assert {q.n_rounds for q in asked[n_fit:]} == {60}  # then 20 more
    for q in asked:  # the spread of the rows given to fit, computed once
        np.testing.assert_allclose(q.feature_scale, X[:70].std(axis=0))
        assert q.feature_scale is asked[0].feature_scale
        assert not q.feature_scale.flags.writeable


def _two(example_id=42, strategy="relabel"):
    from sklearn_cincer.oracles import CounterExample

    base = _query(example_id=example_id, strategy=strategy)
    shown = base.counter_examples + (
        CounterExample(9, np.array([0.0, 5.0, 0.4, 3.0]), "ham", score=1.5),
    )
    return Query(**{**vars(base), "counter_examples": shown})


def test_two_counter_examples_are_asked_in_turn():
    oracle = _oracle(["ham", "", "eggs"])
    answer = oracle(_two())
    assert answer == Answer("ham", "ham", "ana", counter_labels=("ham", "eggs"))
    out = oracle.stdout.getvalue()
    assert "Examples #7 ('ham'), #9 ('ham'), best first, are 2 training" in out
    assert "#7 (counter-example 1 of 2): label 'ham', how much it supports" in out
    assert "#9 (counter-example 2 of 2): label 'ham', how much it supports" in out
    header = next(line for line in out.splitlines() if "feature" in line)
    assert header.split() == ["feature", "#42", "#7", "apart", "#9", "apart"]
    prompts = [
        line.split(" - ")[0]
        for line in out.splitlines()
        if line.startswith("Label for")
    ]
    assert prompts == ["Label for #42", "Label for #7", "Label for #9"]
    assert out.splitlines()[-1] == (
        "answer: #42 -> ham (was spam), #7 -> ham (kept), #9 -> eggs (was ham)"
    )


def test_skip_at_any_counter_example_keeps_every_label():
    oracle = _oracle(["ham", "eggs", "s"])
    answer = oracle(_two())
    assert answer.skipped and answer.counter_labels == ("ham", "ham")
    assert answer.label == "spam"
    assert "skipped: every label stays as it is" in oracle.stdout.getvalue()


def test_drop_with_two_asks_only_the_example():
    oracle = _oracle(["spam"])
    assert oracle(_two(strategy="drop")) == Answer(
        "spam", "ham", "ana", counter_labels=("ham", "ham")
    )
    assert "those 2 examples leave the training set" in oracle.stdout.getvalue()


def test_undo_revises_every_counter_example_into_the_store(tmp_path):
    q1, q2 = _two(example_id=42), _query(example_id=43, counter_id=8)
    oracle = _oracle(["ham", "eggs", "", "u", "eggs", "", "spam", "spam", ""])
    session = AnnotationSession(oracle, tmp_path / "s.sqlite")
    assert session(q1) == Answer("ham", "eggs", "ana", counter_labels=("eggs", "ham"))
    assert session(q2) == Answer("spam", "ham", "ana")
    out = oracle.stdout.getvalue()
    assert "Revising your answer about #42 (was 'ham', #7 'eggs', #9 'ham')" in out
    store = AnnotationStore(tmp_path / "s.sqlite")
    assert store.find_answer(q1) == Answer(
        "eggs", "ham", "ana", counter_labels=("ham", "spam")
    )
