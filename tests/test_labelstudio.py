"""LabelStudioOracle against a real Label Studio server, driven as annotators.

The server tests are marked ``labelstudio`` (deselect them with
``-m "not labelstudio"``); they skip, saying why, where Label Studio is not
installed (see tests/_labelstudio_server.py). The tests before them need no
server.
"""

import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from _labelstudio_server import (
    LEAD,
    SECOND,
    annotate,
    annotator,
    api,
    executable,
    start,
    tasks,
)
from sklearn.linear_model import LogisticRegression

from sklearn_cincer import LabelAuditor, SkepticalCleaner
from sklearn_cincer.oracles import (
    AnnotationSession,
    AnnotationStore,
    CounterExample,
    LabelStudioOracle,
    OracleError,
    Query,
)
from sklearn_cincer.oracles._lsconfig import label_config, task_key

HOSTILE = np.array(["a<b", "R&D", 'say "hi"', "it's", "</Choices><View>"])


def _query(
    classes=np.array([0, 1]),
    n_counter=1,
    example_id=7,
    label=None,
    counter_label=None,
    strategy="relabel",
    n_features=3,
):
    rng = np.random.RandomState(example_id)
    label = classes[0] if label is None else label
    other = classes[1] if counter_label is None else counter_label
    shown = tuple(
        CounterExample(100 + k, rng.rand(n_features), other, score=2.0 - k)
        for k in range(n_counter)
    )
    return Query(
        example_id=example_id,
        x=rng.rand(n_features),
        label=label,
        prediction=other,
        margin=0.6,
        classes=classes,
        counter_examples=shown,
        strategy=strategy,
        feature_scale=np.ones(n_features),
        feature_names=np.array([f"f<{j}>" for j in range(n_features)]),
    )


def _toy():
    """One noisy point among two clean clusters: the cleaner asks about it."""
    X = np.r_[np.linspace(0, 1, 20), np.linspace(2, 3, 20), [0.1]][:, None]
    y = np.r_[np.zeros(20, int), np.ones(21, int)]
    return X, y


# ------------------------------------------------------------ no server


def test_config_is_valid_xml_for_any_class_name():
    config = label_config(list(HOSTILE), 3, "tabular")
    root = ET.fromstring(config)  # raises on an unescaped name
    controls = {
        c.get("name"): [o.get("value") for o in c] for c in root.iter("Choices")
    }
    assert list(controls) == [
        "label",
        "counter_label",
        "counter_label_2",
        "counter_label_3",
    ]
    assert all(values == list(HOSTILE) for values in controls.values())
    assert [c.get("required") for c in root.iter("Choices")] == ["true"] + [None] * 3
    text = ET.fromstring(label_config(["a", "b"], 1, "text"))
    assert [t.get("name") for t in text.iter("Text")] == [
        "progress",
        "example",
        "counter",
    ]


def test_task_key_tells_questions_apart():
    assert task_key(_query()) == task_key(_query())
    assert task_key(_query()) != task_key(_query(label=1, counter_label=0))
    assert task_key(_query()) != task_key(_query(strategy="drop"))
    assert task_key(_query()) != task_key(_query(example_id=8))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"url": "127.0.0.1:8080"}, "http"),
        ({"api_key": " "}, "API key"),
        ({"project": 0}, "project id"),
        ({"project": True}, "project id"),
        ({"project_title": "ab"}, "3 characters"),
        ({"annotations_per_question": 0}, "annotations_per_question"),
        ({"poll_interval": float("nan")}, "poll_interval"),
        ({"timeout": -1}, "timeout"),
        ({"display": "video"}, "display"),
    ],
)
def test_bad_arguments_fail_before_anything_is_sent(kwargs, match):
    params = {"url": "http://127.0.0.1:9", "api_key": "key"} | kwargs
    with pytest.raises(ValueError, match=match):
        LabelStudioOracle(**params)


def test_key_from_the_environment_and_never_shown(monkeypatch):
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    with pytest.raises(ValueError, match="LABEL_STUDIO_API_KEY"):
        LabelStudioOracle("http://127.0.0.1:9")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "sekrit-token-123")
    oracle = LabelStudioOracle("http://127.0.0.1:9", timeout=1)
    assert "sekrit" not in repr(oracle)
    with pytest.raises(OracleError, match="cannot be reached") as info:
        oracle(_query())  # nothing listens on port 9
    assert "sekrit" not in str(info.value)
    assert oracle.answers_ == [] and oracle.project_id_ is None


@pytest.mark.parametrize(
    "more, message",
    [
        (["--oracle", "labelstudio"], "needs --ls-url"),
        (["--ls-url", "http://127.0.0.1:9"], "option of --oracle labelstudio"),
        (
            ["--oracle", "labelstudio", "--ls-url", "http://127.0.0.1:9"],
            "LABEL_STUDIO_API_KEY",
        ),
    ],
)
def test_clean_command_options(tmp_path, monkeypatch, capsys, more, message):
    from sklearn_cincer._cli import main

    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    data = tmp_path / "rows.csv"
    data.write_text("a,y\n" + "".join(f"{k},{k % 2}\n" for k in range(20)))
    status = main(
        [
            "clean",
            str(data),
            "--label",
            "y",
            "--output",
            str(tmp_path / "out.csv"),
            *more,
        ]
    )
    assert status == 1 and message in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.csv"]


def test_clean_command_never_prints_the_token(tmp_path, monkeypatch, capsys):
    from sklearn_cincer._cli import main

    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "sekrit-token-456")
    data = tmp_path / "rows.csv"
    rows = [(k / 40 + 3 * (k % 2), k % 2) for k in range(40)] + [(0.1, 1)]
    data.write_text("a,y\n" + "".join(f"{a:.3f},{y}\n" for a, y in rows))
    status = main(
        [
            "clean",
            str(data),
            "--label",
            "y",
            "--output",
            str(tmp_path / "out.csv"),
            "--no-shuffle",
            "--oracle",
            "labelstudio",
            "--ls-url",
            "http://127.0.0.1:9",
        ]
    )
    out = capsys.readouterr()
    assert status == 1 and "cannot be reached" in out.err  # a question was sent
    assert "sekrit" not in out.out + out.err
    assert not (tmp_path / "out.csv").exists()


def test_a_pickle_never_holds_the_key(monkeypatch):
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    oracle = LabelStudioOracle("http://127.0.0.1:9", "sekrit-token-789", timeout=1)
    dumped = pickle.dumps(oracle)
    assert b"sekrit" not in dumped
    with pytest.raises(OracleError, match="LABEL_STUDIO_API_KEY"):
        pickle.loads(dumped)(_query())
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "another-token")
    with pytest.raises(OracleError, match="cannot be reached"):
        pickle.loads(dumped)(_query())  # a key again: it tries the server


# ------------------------------------------------------------ a real server


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory):
    exe, why = executable()
    if exe is None:
        pytest.skip(why)
    server = start(exe, tmp_path_factory.mktemp("label-studio"))
    yield server
    server.stop()


def _oracle(server, **kwargs):
    kwargs.setdefault("project_title", f"test {uuid.uuid4().hex[:12]}")
    return LabelStudioOracle(
        server.url, server.token, poll_interval=0.1, timeout=60, **kwargs
    )


def _project(oracle):
    return lambda: oracle.project_id_


@pytest.mark.labelstudio
def test_tabular_rows_with_several_counter_examples(label_studio):
    oracle = _oracle(label_studio, class_names=["healthy", "sick"])
    query = _query(n_counter=3)
    with annotator(
        label_studio,
        _project(oracle),
        lambda task: {"label": "sick", "counter_label_2": "healthy"},
    ):
        answer = oracle(query)
    assert (answer.label, answer.counter_labels) == (1, (1, 0, 1))
    assert answer.annotator == "lead@example.com"
    project = api(label_studio, "GET", f"/api/projects/{oracle.project_id_}")
    controls = ET.fromstring(project["label_config"]).iter("Choices")
    assert [c.get("name") for c in controls] == [
        "label",
        "counter_label",
        "counter_label_2",
        "counter_label_3",
    ]
    (task,) = tasks(label_studio, oracle.project_id_)
    data = task["data"]
    assert (data["example_id"], data["counter_example_id"]) == (7, 100)
    assert type(data["example_id"]) is int and data["counter_example_ids"] == [
        100,
        101,
        102,
    ]
    # the page's table: feature names escaped, the most different rows marked
    assert "f&lt;0&gt;" in data["example"] and 'class="diff"' in data["counter"]
    assert "sick" in data["why"] and "healthy" in data["example_title"]


@pytest.mark.labelstudio
def test_image_rows_are_pictures(label_studio):
    oracle = _oracle(label_studio, image_shape=(4, 4))
    query = _query(n_features=16)
    with annotator(label_studio, _project(oracle), lambda task: {"label": "1"}):
        answer = oracle(query)
    assert (answer.label, answer.counter_label) == (1, 1)
    (task,) = tasks(label_studio, oracle.project_id_)
    for field in ("example", "counter"):
        assert task["data"][field].startswith('<img class="image"')
        assert "data:image/png;base64," in task["data"][field]


@pytest.mark.labelstudio
def test_text_rows_show_the_raw_text_inert(label_studio):
    texts = {7: "great <img src=x onerror=alert(1)> film", 100: "awful & long"}
    oracle = _oracle(label_studio, texts=texts, class_names=["neg", "pos"])
    with annotator(
        label_studio,
        _project(oracle),
        lambda task: {"label": "pos", "counter_label": "neg"},
    ):
        answer = oracle(_query())
    assert (answer.label, answer.counter_label) == (1, 0)
    (task,) = tasks(label_studio, oracle.project_id_)
    assert task["data"]["example"] == texts[7]  # shown by <Text>, as text
    project = api(label_studio, "GET", f"/api/projects/{oracle.project_id_}")
    assert "<HyperText" not in project["label_config"]


@pytest.mark.labelstudio
def test_hostile_class_names_make_a_valid_project(label_studio):
    oracle = _oracle(label_studio)
    query = _query(classes=HOSTILE, label=HOSTILE[0], counter_label=HOSTILE[1])
    with annotator(
        label_studio,
        _project(oracle),
        lambda task: {"label": HOSTILE[4], "counter_label": 'say "hi"'},
    ):
        answer = oracle(query)
    assert (answer.label, answer.counter_label) == (HOSTILE[4], 'say "hi"')
    project = api(label_studio, "GET", f"/api/projects/{oracle.project_id_}")
    values = [
        c.get("value") for c in ET.fromstring(project["label_config"]).iter("Choice")
    ]
    assert values[:5] == list(HOSTILE)


@pytest.mark.labelstudio
def test_two_annotators_tie_and_disagree(label_studio):
    oracle = _oracle(
        label_studio, annotations_per_question=2, class_names=["cat", "dog"]
    )
    query = _query()  # labeled cat (0); its counter-example dog (1)
    with (
        annotator(
            label_studio,
            _project(oracle),
            lambda task: {"label": "dog", "counter_label": "dog"},
        ),
        annotator(
            label_studio,
            _project(oracle),
            lambda task: {"label": "cat", "counter_label": "dog"},
            token=SECOND[2],
        ),
    ):
        answer = oracle(query)
    # a tie on the example keeps its label; both agree on the counter-example
    assert (answer.label, answer.counter_label) == (0, 1)
    assert "lead@example.com" in answer.annotator
    assert "carol@example.com" in answer.annotator
    assert "tie, kept 'cat'" in answer.annotator
    (votes,) = oracle.votes_
    assert {b["user"] for b in votes["annotations"]} == {
        "lead@example.com",
        "carol@example.com",
    }
    assert votes["ties"] == [{"example": 0, "labels": [1, 0], "kept": 0}] or votes[
        "ties"
    ] == [{"example": 0, "labels": [0, 1], "kept": 0}]
    assert [d["example"] for d in votes["disagreements"]] == [0]
    project = api(label_studio, "GET", f"/api/projects/{oracle.project_id_}")
    assert project["maximum_annotations"] == 2


@pytest.mark.labelstudio
def test_majority_of_two_who_agree(label_studio):
    oracle = _oracle(label_studio, annotations_per_question=2)
    with (
        annotator(label_studio, _project(oracle), lambda task: {"label": "1"}),
        annotator(
            label_studio, _project(oracle), lambda task: {"label": "1"}, token=SECOND[2]
        ),
    ):
        answer = oracle(_query())
    assert answer.label == 1 and "disagreed" not in answer.annotator
    assert oracle.votes_[0]["disagreements"] == []


@pytest.mark.labelstudio
def test_a_skipped_task_is_a_skip(label_studio):
    oracle = _oracle(label_studio)
    with annotator(label_studio, _project(oracle), lambda task: "skip"):
        answer = oracle(_query(n_counter=2))
    assert answer.skipped
    assert (answer.label, answer.counter_labels) == (0, (1, 1))
    assert oracle.votes_[0]["annotations"][0]["skipped"]


@pytest.mark.labelstudio
def test_the_task_is_found_again_not_created_twice(label_studio):
    oracle = _oracle(label_studio)
    query = _query()
    first = oracle.push([query, query])
    assert first[0] == first[1]
    again = _oracle(label_studio, project=oracle.project_id_)
    annotate(label_studio, first[0], {"label": "1"})
    assert again(query).label == 1  # a new oracle, as after a restart
    assert len(tasks(label_studio, oracle.project_id_)) == 1


@pytest.mark.labelstudio
def test_wrong_key_and_deleted_task_are_one_clear_error(label_studio):
    wrong = LabelStudioOracle(label_studio.url, "not-the-key", poll_interval=0.1)
    with pytest.raises(OracleError, match="refused the API key") as info:
        wrong(_query())
    assert "not-the-key" not in str(info.value)
    oracle = _oracle(label_studio)
    (task_id,) = oracle.push([_query()])

    def delete():
        time.sleep(0.5)
        api(label_studio, "DELETE", f"/api/tasks/{task_id}")

    threading.Thread(target=delete).start()
    with pytest.raises(OracleError, match="deleted"):
        oracle(_query())
    assert oracle.answers_ == []
    with annotator(label_studio, oracle.project_id_, lambda task: {"label": "1"}):
        assert oracle(_query()).label == 1  # asked again: a new task


@pytest.mark.labelstudio
def test_a_cleaner_under_a_session_records_who_answered(label_studio, tmp_path):
    X, y = _toy()
    oracle = _oracle(label_studio)
    session = AnnotationSession(oracle, tmp_path / "answers.sqlite")
    with annotator(label_studio, _project(oracle), lambda task: {"label": "0"}):
        cleaner = SkepticalCleaner(
            LogisticRegression(), n_bootstrap=40, oracle=session
        ).fit(X, y)
    (record,) = cleaner.history_
    assert (record.example_id, record.label_after) == (40, 0)
    assert record.annotator == "lead@example.com"
    session.close()
    rows = AnnotationStore(tmp_path / "answers.sqlite").records()
    assert [r["annotator"] for r in rows] == ["lead@example.com"]


_RESUME = textwrap.dedent("""
    import sys
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn_cincer import SkepticalCleaner
    from sklearn_cincer.oracles import AnnotationSession, LabelStudioOracle
    url, title, store = sys.argv[1:4]
    X = np.r_[np.linspace(0, 1, 20), np.linspace(2, 3, 20), [0.1]][:, None]
    y = np.r_[np.zeros(20, int), np.ones(21, int)]
    oracle = LabelStudioOracle(url, project_title=title, poll_interval=0.1)
    session = AnnotationSession(oracle, store)
    cleaner = SkepticalCleaner(LogisticRegression(), n_bootstrap=40,
                               oracle=session).fit(X, y)
    print("LABELS", [(r.example_id, r.label_after, r.annotator)
                     for r in cleaner.history_])
""")


@pytest.mark.labelstudio
def test_killed_after_the_task_was_created_resumes(label_studio, tmp_path):
    script = tmp_path / "run.py"
    script.write_text(_RESUME)
    title = f"resume {uuid.uuid4().hex[:10]}"
    store = tmp_path / "answers.sqlite"
    env = dict(
        os.environ,
        LABEL_STUDIO_API_KEY=label_studio.token,
        PYTHONPATH=os.pathsep.join(sys.path),
    )
    command = [sys.executable, str(script), label_studio.url, title, str(store)]
    first = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 120
        project = None
        while time.monotonic() < deadline:
            found = [
                p
                for p in api(label_studio, "GET", "/api/projects")["results"]
                if p["title"] == title
            ]
            if found and tasks(label_studio, found[0]["id"]):
                project = found[0]["id"]
                break
            time.sleep(0.2)
        assert project is not None, "the first run created no task"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert first.returncode == -signal.SIGKILL
    # the team answers while nothing runs
    (task,) = tasks(label_studio, project)
    annotate(label_studio, task["id"], {"label": "0"})
    second = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120
    )
    assert second.returncode == 0, second.stdout + second.stderr
    assert "LABELS [(40, 0, 'lead@example.com')]" in second.stdout
    assert len(tasks(label_studio, project)) == 1  # found, not created again


@pytest.mark.labelstudio
def test_server_stopped_mid_question(label_studio, tmp_path):
    own = start(executable()[0], tmp_path)  # its own server: this one stops
    try:
        X, y = _toy()
        oracle = LabelStudioOracle(
            own.url, own.token, project_title="stopped run", poll_interval=0.1
        )
        cleaner = SkepticalCleaner(LogisticRegression(), n_bootstrap=40, oracle=oracle)
        stopper = threading.Thread(
            target=lambda: (_wait_for_task(own, oracle), own.stop())
        )
        stopper.start()
        with pytest.raises(OracleError, match="cannot be reached"):
            cleaner.fit(X, y)
        stopper.join()
        assert not hasattr(cleaner, "history_")  # the failed fit changed nothing
        assert oracle.answers_ == []
    finally:
        own.stop()


def _wait_for_task(server, oracle):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if oracle.project_id_ and tasks(server, oracle.project_id_):
            return
        time.sleep(0.1)


@pytest.mark.labelstudio
@pytest.mark.parametrize("wrapped", [False, True])
def test_auditor_pushes_a_block_of_questions(label_studio, tmp_path, wrapped):
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(0, 1, (40, 2)), rng.normal(4, 1, (40, 2))]
    y = np.r_[np.zeros(40, int), np.ones(40, int)]
    y[[3, 50, 60]] = 1 - y[[3, 50, 60]]
    oracle = _oracle(label_studio)
    # through a session, push passes on to the oracle
    asker = AnnotationSession(oracle, tmp_path / "a.sqlite") if wrapped else oracle
    auditor = LabelAuditor(
        LogisticRegression(), oracle=asker, budget=3, refit_every=3, random_state=0
    )
    seen = []

    def policy(task):
        seen.append(len(tasks(label_studio, oracle.project_id_)))
        return {"label": str(y[task["data"]["example_id"]] ^ 0)}

    with annotator(label_studio, _project(oracle), policy):
        auditor.fit(X, y)
    assert seen and seen[0] >= 2  # the block was there before the first answer
    data = [t["data"] for t in tasks(label_studio, oracle.project_id_)]
    assert all(isinstance(d["example_id"], int) for d in data)
    asked = [r.example_id for r in auditor.history_]
    assert set(asked) <= {d["example_id"] for d in data}
    if wrapped:
        asker.close()
        rows = AnnotationStore(tmp_path / "a.sqlite").records()
        assert [r["example_id"] for r in rows] == asked


@pytest.mark.labelstudio
@pytest.mark.parametrize(
    "command", [["clean", "--counter-examples", "none"], ["audit", "--budget", "6"]]
)
def test_command_with_labelstudio(label_studio, tmp_path, command):
    rng = np.random.RandomState(0)
    truth = ["no" if k < 30 else "yes" for k in range(60)]
    given = list(truth)
    for k in (5, 12, 40, 47):  # wrong labels
        given[k] = "yes" if truth[k] == "no" else "no"
    centre = [0 if t == "no" else 3 for t in truth]
    lines = ["a,b,y"] + [
        f"{rng.normal(c):.3f},{rng.normal(c):.3f},{g}" for c, g in zip(centre, given)
    ]
    data = tmp_path / "rows.csv"
    data.write_text("\n".join(lines) + "\n")
    env = dict(
        os.environ,
        LABEL_STUDIO_API_KEY=label_studio.token,
        PYTHONPATH=os.pathsep.join(sys.path),
    )

    def project():
        found = [
            p
            for p in api(label_studio, "GET", "/api/projects")["results"]
            if p["title"] == "sklearn-cincer: rows.csv"
        ]
        return found[0]["id"] if found else None

    def line(title):  # "Suspicious line 6: labeled ..." -> 6
        return int(re.search(r"line (\d+)", title).group(1))

    asked = []

    def team(task):  # knows the truth of every line (line 2 is row 0)
        asked.append(line(task["data"]["example_title"]))
        picks = {"label": truth[asked[-1] - 2]}
        if task["data"]["strategy"] == "relabel" and task["data"]["counter_title"]:
            counter = line(task["data"]["counter_title"])
            picks["counter_label"] = truth[counter - 2]
        return picks

    with annotator(label_studio, project, team):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "sklearn_cincer._cli",
                command[0],
                str(data),
                "--label",
                "y",
                "--output",
                str(tmp_path / "out.csv"),
                "--oracle",
                "labelstudio",
                "--ls-url",
                label_studio.url,
                *command[1:],
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert label_studio.token not in done.stdout + done.stderr
    assert asked, "no question reached Label Studio"
    # the person who runs it is told where the questions went
    assert (
        f"The questions go to {label_studio.url}/projects/{project()}/" in done.stdout
    )
    assert "Waiting for 1 annotation(s) of task" in done.stdout
    out = [
        row.rsplit(",", 1)[1]
        for row in (tmp_path / "out.csv").read_text().splitlines()[1:]
    ]
    assert [out[n - 2] for n in asked] == [truth[n - 2] for n in asked]
    assert sum(out[k] != given[k] for k in range(60)) >= 1  # a label fixed
    assert len(tasks(label_studio, project())) >= len(set(asked))


@pytest.mark.labelstudio
def test_a_personal_access_token_works(label_studio):
    token = api(label_studio, "POST", "/api/token/")["token"]
    oracle = LabelStudioOracle(
        label_studio.url,
        token,
        poll_interval=0.1,
        timeout=60,
        project_title=f"pat {uuid.uuid4().hex}",
    )
    with annotator(label_studio, _project(oracle), lambda task: {"label": "1"}):
        assert oracle(_query()).label == 1
    assert token not in repr(oracle)


@pytest.mark.labelstudio
def test_no_annotation_within_the_timeout(label_studio):
    oracle = LabelStudioOracle(
        label_studio.url,
        label_studio.token,
        poll_interval=0.1,
        timeout=0.5,
        project_title=f"timeout {uuid.uuid4().hex[:8]}",
    )
    with pytest.raises(OracleError, match="within 0.5 s"):
        oracle(_query())
    (task,) = tasks(label_studio, oracle.project_id_)  # it stays, for later
    annotate(label_studio, task["id"], {"label": "0"})
    assert oracle(_query()).label == 0
    assert len(tasks(label_studio, oracle.project_id_)) == 1


SCREENSHOT = (
    Path(__file__).resolve().parents[1] / "docs" / "_static" / "labelstudio_task.png"
)


@pytest.mark.labelstudio
def test_a_person_answers_in_label_studio_itself(label_studio):
    """Label Studio's own page shows the task and takes the answer (Chromium).

    ``CINCER_UPDATE_SCREENSHOT=1`` refreshes the user guide's picture.
    """
    playwright_api = pytest.importorskip("playwright.sync_api")
    chromium = (
        os.environ.get("CINCER_CHROMIUM")
        or shutil.which("chromium")
        or ("/usr/bin/chromium")
    )
    if not os.path.exists(chromium):
        pytest.skip(f"no Chromium at {chromium}")
    from sklearn.datasets import load_breast_cancer

    cancer = load_breast_cancer()
    X = cancer.data
    query = Query(
        example_id=13,
        x=X[13],
        label=1,
        prediction=0,
        margin=0.72,
        classes=np.array([0, 1]),
        feature_names=cancer.feature_names,
        feature_scale=X.std(0),
        question=4,
        round=212,
        n_rounds=569,
        counter_examples=(
            CounterExample(40, X[40], 0, score=3.1),
            CounterExample(86, X[86], 0, score=2.4),
        ),
    )
    oracle = _oracle(
        label_studio,
        class_names=["malignant", "benign"],
        project_title="Breast cancer label check",
        max_features=8,
    )
    (task_id,) = oracle.push([query])
    got = []
    asking = threading.Thread(target=lambda: got.append(oracle(query)))
    asking.start()
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, args=["--headless", "--no-sandbox"]
        )
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 860})
            page.goto(label_studio.url + "/user/login")
            page.fill("input[name=email]", LEAD[0])
            page.fill("input[name=password]", LEAD[1])
            page.click("button[type=submit]")
            page.wait_for_load_state("networkidle")
            page.goto(
                f"{label_studio.url}/projects/{oracle.project_id_}/data"
                f"?labeling=1&task={task_id}"
            )
            page.get_by_text("Counter-example 2 of 2").wait_for(timeout=60000)
            page.mouse.click(1200, 120)  # closes the instructions
            page.wait_for_timeout(1000)
            if os.environ.get("CINCER_UPDATE_SCREENSHOT"):
                page.screenshot(path=str(SCREENSHOT))
            choices = page.locator("label", has_text="malignant")
            assert choices.count() == 3  # one choice per example
            assert page.locator("input[type=radio]").count() == 6
            choices.nth(0).click()  # the suspicious example is malignant
            page.get_by_test_id("bottombar-submit-button").click()
            asking.join(60)
        finally:
            browser.close()
    (answer,) = got
    assert (answer.label, answer.counter_labels) == (0, (0, 0))
    assert answer.annotator == LEAD[0]
