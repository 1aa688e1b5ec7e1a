"""TerminalOracle at a real terminal: a Python process in tmux, typed into.

The injected-stream tests (test_oracles_terminal.py) cannot see what only a
terminal does: readline's Tab completion, the echo of what was typed, Ctrl-D
as the end of input, the traceback a person sees. Here a script runs in a
tmux pane on a private tmux server; the test types with ``send-keys``, reads
the screen with ``capture-pane`` and checks the answers the script's
AnnotationSession stored. Without tmux they are skipped, with the reason.
"""

import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from sklearn_cincer.oracles import AnnotationStore, Answer

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(
    TMUX is None, reason="tmux is not installed (apt-get install tmux)"
)
if sys.platform == "win32":  # pragma: no cover
    pytestmark = pytest.mark.skip(reason="tmux and readline need a POSIX system")

# The questions the script asks (built the same way in the script and here).
QUESTIONS = textwrap.dedent("""
    import numpy as np
    from sklearn_cincer.oracles import Query

    def digit(i, truth):
        # labeled one above its truth, the counter-example labeled as the truth
        return Query(example_id=i, x=np.array([float(i), 1.0]), label=(truth + 1) % 10,
                     prediction=truth, margin=0.5, classes=np.arange(10),
                     counter_example_id=100 + i, counter_x=np.array([0.0, 1.0]),
                     counter_label=truth, round=i + 1)

    def animal(i):
        return Query(example_id=50 + i, x=np.array([1.0, 2.0]), label="cat",
                     prediction="dog", margin=0.4,
                     classes=np.array(["bird", "cat", "dog", "fox"]),
                     counter_example_id=60 + i, counter_x=np.array([2.0, 2.0]),
                     counter_label="dog", round=20 + i)
""")
namespace = {}
exec(QUESTIONS, namespace)
digit, animal = namespace["digit"], namespace["animal"]

ASK = QUESTIONS + textwrap.dedent("""
    import sys
    from sklearn_cincer.oracles import AnnotationSession, TerminalOracle

    kind, store = sys.argv[1], sys.argv[2]
    if kind == "digits":
        oracle = TerminalOracle(annotator="ana")
        queries = [digit(d, d) for d in range(10)]
    elif kind == "names":
        oracle = TerminalOracle(annotator="ana", class_names={
            "bird": "Bird", "cat": "Cat", "dog": "Dog", "fox": "Red fox"})
        queries = [animal(0), animal(1)]
    session = AnnotationSession(oracle, store)
    for query in queries:
        session(query)
    print("ALL ASKED")
""")

FIT = textwrap.dedent("""
    import sys
    from threadpoolctl import threadpool_limits
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn_cincer import SkepticalCleaner
    from sklearn_cincer.datasets import make_label_noise
    from sklearn_cincer.oracles import AnnotationSession, TerminalOracle

    X, y = make_classification(n_samples=70, n_features=4, random_state=3)
    y_noisy, _ = make_label_noise(y, noise_rate=0.3, random_state=3)
    session = AnnotationSession(TerminalOracle(annotator="ana"), sys.argv[1])
    with threadpool_limits(1):
        SkepticalCleaner(LogisticRegression(), oracle=session, n_bootstrap=30,
                         random_state=0).fit(X, y_noisy)
""")


class Pane:
    """A tmux pane on a private server, running ``python script args``."""

    def __init__(self, tmp_path, script, *args):
        path = tmp_path / "script.py"
        path.write_text(script)
        self.socket = f"cincer-{uuid.uuid4().hex[:12]}"
        env = dict(
            os.environ,
            OMP_NUM_THREADS="1",
            OPENBLAS_NUM_THREADS="1",
            MKL_NUM_THREADS="1",
            PYTHONUNBUFFERED="1",
            TERM="xterm",
        )
        env.pop("TMUX", None)
        command = " ".join([sys.executable, str(path)] + [str(a) for a in args])
        self._tmux(
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "200",
            "-y",
            "50",
            f"{command}; echo EXIT=$?; sleep 60",
            env=env,
        )
        self._tmux("set-option", "-t", "t", "history-limit", "20000")

    def _tmux(self, *args, env=None):
        return subprocess.run(
            [TMUX, "-L", self.socket, *args],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def send(self, *keys):
        self._tmux("send-keys", "-t", "t", *keys)

    def type(self, text):
        """Type ``text`` literally, then Enter."""
        if text:
            self._tmux("send-keys", "-t", "t", "-l", text)
        self.send("Enter")

    def screen(self):
        return self._tmux("capture-pane", "-p", "-J", "-t", "t", "-S", "-20000")

    def wait_for(self, text, count=1, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if screen.count(text) >= count:
                return screen
            if "EXIT=" in screen and text != "EXIT=":
                break
            time.sleep(0.05)
        raise AssertionError(f"{text!r} did not appear {count} times:\n{self.screen()}")

    def close(self):
        subprocess.run([TMUX, "-L", self.socket, "kill-server"], capture_output=True)


@pytest.fixture
def pane_of(tmp_path):
    panes = []

    def make(script, *args):
        panes.append(Pane(tmp_path, script, *args))
        return panes[-1]

    yield make
    for pane in panes:
        pane.close()


def test_typing_the_true_digit_stores_that_digit(pane_of, tmp_path):
    # Before: typing 4 for a digit 4 recorded 3, with no echo.
    store = tmp_path / "s.sqlite"
    pane = pane_of(ASK, "digits", store)
    counters = [(d + 3) % 10 for d in range(10)]
    for i, d in enumerate(range(10)):  # example i is the digit i
        pane.wait_for(f"Label for #{i} - Enter keeps")
        pane.type(str(d))
        screen = pane.wait_for(f"Label for #{100 + i} - Enter keeps")
        assert f"#{i} -> {d} (was {(d + 1) % 10})" in screen  # echoed at once
        pane.type(str(counters[i]))
        pane.wait_for(f"answer: #{i} -> {d} (was {(d + 1) % 10}), #{100 + i} -> ")
    pane.wait_for("EXIT=0")
    stored = AnnotationStore(store)
    for i, d in enumerate(range(10)):
        assert stored.find_answer(digit(i, d)) == Answer(d, counters[i], "ana")


def test_class_names_with_tab_completion_and_prefixes(pane_of, tmp_path):
    store = tmp_path / "s.sqlite"
    pane = pane_of(ASK, "names", store)
    screen = pane.wait_for("Label for #50 - Enter keeps 'Cat'")
    assert "Classes: Bird (bird)  Cat (cat)  Dog (dog)  Red fox (fox)" in screen
    pane.send("-l", "Re")
    pane.send("Tab")  # readline completes the name, space included
    pane.wait_for("Enter keeps 'Cat' [s skip, u undo, ? help]: Red fox")
    pane.send("Enter")
    pane.wait_for("Label for #60 - Enter keeps 'Dog'")
    pane.type("d")  # a first part that names one class
    pane.wait_for("answer: #50 -> Red fox (was Cat), #60 -> Dog (kept)")
    pane.wait_for("Label for #51 - Enter keeps 'Cat'")
    pane.type("bird")  # the code works too
    pane.wait_for("Label for #61 - Enter keeps 'Dog'")
    pane.type("CAT")
    pane.wait_for("EXIT=0")
    stored = AnnotationStore(store)
    assert stored.find_answer(animal(0)) == Answer("fox", "dog", "ana")
    assert stored.find_answer(animal(1)) == Answer("bird", "cat", "ana")


def test_ctrl_d_stops_with_a_short_message_and_the_session_keeps_the_answers(
    pane_of, tmp_path
):
    store = tmp_path / "s.sqlite"
    pane = pane_of(FIT, store)
    pane.wait_for("Label for #")
    pane.type("")  # question 1: Enter keeps both labels
    pane.type("")
    pane.wait_for("Question 2")
    pane.wait_for("Label for #", count=3)
    pane.send("C-d")
    screen = pane.wait_for("EXIT=")
    assert "EXIT=1" in screen
    # said once: in the exception's line, not printed by the oracle too
    assert screen.count("stopped at question") == 1
    assert "Stopped at question" not in screen
    traceback = screen[screen.index("Traceback") : screen.index("EXIT=")]
    last = traceback.strip().splitlines()[-1]
    assert last.startswith(
        "sklearn_cincer.oracles._base.AnnotationStopped: The "
        "annotator stopped at question 2 (end of input): 1 "
        "answer given, kept in the session's store: run the "
        "same fit again to resume here."
    )
    assert last.endswith("This fit changed nothing; the cleaner is as it was.")
    # the traceback ends in the cleaner: nothing of the oracle's reading code
    assert "_terminal.py" not in traceback and "EOFError" not in traceback
    assert "During handling" not in traceback and "direct cause" not in traceback
    assert AnnotationStore(store).n_answered == 1


FIT_TWO = textwrap.dedent("""
    import sys
    from threadpoolctl import threadpool_limits
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn_cincer import SkepticalCleaner
    from sklearn_cincer.datasets import make_label_noise
    from sklearn_cincer.oracles import AnnotationSession, TerminalOracle

    X, y = make_classification(n_samples=70, n_features=4, random_state=3)
    y_noisy, _ = make_label_noise(y, noise_rate=0.3, random_state=3)
    session = AnnotationSession(TerminalOracle(annotator="ana"), sys.argv[1])
    with threadpool_limits(1):
        cleaner = SkepticalCleaner(LogisticRegression(), oracle=session,
                                   n_bootstrap=30, random_state=0,
                                   n_counter_examples=2).fit(X, y_noisy)
    print("RELABELED", cleaner.n_relabeled_counter_examples_)
""")


def test_two_counter_examples_are_asked_in_turn_and_stored(pane_of, tmp_path):
    import re

    from sklearn.datasets import make_classification

    _, y = make_classification(n_samples=70, n_features=4, random_state=3)
    store = tmp_path / "s.sqlite"
    pane = pane_of(FIT_TWO, store)
    asked, n = [], 0
    while True:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            screen = pane.screen()
            prompts = re.findall(r"Label for #(\d+) - Enter keeps", screen)
            if len(prompts) > n or "No more questions in this fit" in screen:
                break
            time.sleep(0.05)
        if len(prompts) <= n:
            pane.type("")  # Enter finishes: the last answer stays as given
            screen = pane.wait_for("EXIT=")
            break
        example_id = int(prompts[n])
        asked.append(example_id)
        pane.type(str(y[example_id]))  # the truth, typed as the class itself
        n += 1
    assert "EXIT=0" in screen
    questions = [asked[i : i + 3] for i in range(0, len(asked), 3)]
    assert len(questions) >= 3 and all(len(q) == 3 for q in questions)
    # each question shows both counter-examples, in a column pair each
    for example_id, first, second in questions:
        assert f"#{first} (counter-example 1 of 2): label" in screen
        assert f"#{second} (counter-example 2 of 2): label" in screen
        assert re.search(
            rf"feature +#{example_id} +#{first} +apart \(SD\) +"
            rf"#{second} +apart \(SD\)",
            screen,
        )
    rows = AnnotationStore(store, read_only=True).records()
    assert [[r["example_id"]] + r["counter_example_ids"] for r in rows] == questions
    for r in rows:
        assert r["label_after"] == y[r["example_id"]]
        assert r["counter_labels_after"] == [y[i] for i in r["counter_example_ids"]]
    relabeled = sum(
        after != before
        for r in rows
        for before, after in zip(r["counter_labels_before"], r["counter_labels_after"])
    )
    assert relabeled > 0 and f"RELABELED {relabeled}" in screen


def test_ctrl_c_and_ctrl_d_after_a_resume_say_what_stopped_and_where(pane_of, tmp_path):
    # Before: Ctrl-C gave a KeyboardInterrupt traceback; Ctrl-D after a resume
    # named the question by this run's count (1), not the cleaner's.
    store = tmp_path / "s.sqlite"
    pane = pane_of(FIT, store)
    pane.wait_for("Label for #")
    pane.type("")
    pane.type("")  # question 1 answered, into the store
    pane.wait_for("Question 2")
    pane.wait_for("Label for #", count=3)
    pane.send("C-c")
    screen = pane.wait_for("EXIT=")
    assert "EXIT=1" in screen and "KeyboardInterrupt" not in screen
    last = screen[: screen.index("EXIT=")].strip().splitlines()[-1]
    assert last.startswith(
        "sklearn_cincer.oracles._base.AnnotationStopped: The "
        "annotator stopped at question 2 (interrupted: "
        "Ctrl-C): 1 answer given, kept in the session's store"
    )
    assert screen.count("stopped at question") == 1
    pane.close()

    again = pane_of(FIT, store)  # question 1 comes from the store
    screen = again.wait_for("Label for #")
    assert "Question 2 \u00b7 " in screen and "Question 1" not in screen
    again.send("C-d")
    screen = again.wait_for("EXIT=")
    assert "EXIT=1" in screen and screen.count("stopped at question") == 1
    assert (
        "stopped at question 2 (end of input): 0 answers given in this "
        "run, kept in the session's store"
    ) in screen
    assert AnnotationStore(store).n_answered == 1


FIT_UNDO = textwrap.dedent("""
    import sys
    from threadpoolctl import threadpool_limits
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn_cincer import SkepticalCleaner
    from sklearn_cincer.datasets import make_label_noise
    from sklearn_cincer.oracles import AnnotationSession, TerminalOracle

    X, y = make_classification(n_samples=70, n_features=4, random_state=3)
    y_noisy, _ = make_label_noise(y, noise_rate=0.3, random_state=3)
    session = AnnotationSession(TerminalOracle(annotator="ana"), sys.argv[1])
    cleaner = SkepticalCleaner(LogisticRegression(), oracle=session,
                               n_bootstrap=30, random_state=0)
    with threadpool_limits(1):
        cleaner.fit(X, y_noisy)
    first = cleaner.history_[0]
    print("FIRST", first.example_id, first.label_before, first.label_after,
          first.revised_round is not None, cleaner.n_revised_,
          bool((cleaner.y_cleaned_ == y_noisy).all()))
""")


def _wait(pane, done, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        screen = pane.screen()
        if done(screen):
            return screen
        time.sleep(0.05)
    raise AssertionError(f"the pane never got there:\n{pane.screen()}")


def test_undo_at_a_real_terminal_applies_in_the_same_fit(pane_of, tmp_path):
    store = tmp_path / "s.sqlite"
    pane = pane_of(FIT_UNDO, store)
    prompt = r"Label for #\d+ - Enter keeps '(\d)'"
    screen = _wait(pane, lambda s: re.search(prompt, s))  # the whole line
    label = int(re.findall(prompt, screen)[0])
    pane.type(str(1 - label))  # question 1: a wrong label
    pane.type("")  # its counter-example kept
    pane.wait_for("Question 2")
    pane.wait_for("Label for #", count=3)
    pane.type("u")  # at question 2: undo; question 1 is asked again
    pane.wait_for("Revising your answer about #")
    pane.wait_for("Label for #", count=4)
    pane.type(str(label))  # rightly, this time
    pane.type("")
    screen = pane.wait_for("The cleaner applies it before it goes on.")
    n = screen.count("Enter keeps")
    while "No more questions in this fit" not in screen:
        pane.type("")  # keep every other label
        screen = _wait(
            pane,
            lambda s, n=n: (
                s.count("Enter keeps") > n or "No more questions in this fit" in s
            ),
        )
        n = screen.count("Enter keeps")
    pane.type("")  # Enter finishes
    screen = pane.wait_for("EXIT=0")
    first = re.findall(r"FIRST (\d+) (\d) (\d) (\w+) (\d+) (\w+)", screen)[0]
    assert first[1] == first[2] == str(label)  # the right (kept) label
    assert first[3:] == ("True", "1", "True")  # revised, applied: labels as given
