"""BrowserOracle's server, spoken to over plain HTTP (no browser needed)."""

import base64
import http.client
import json
import pickle
import re
import struct
import threading
import time
import urllib.parse

import numpy as np
import pytest

pytest.importorskip("bottle", reason="BrowserOracle needs bottle (the 'browser' extra)")

from sklearn_cincer.oracles import (  # noqa: E402
    AnnotationSession,
    AnnotationStore,
    Answer,
    BrowserOracle,
    OracleError,
    Query,
)

PAYLOAD = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">'


def _query(example_id=42, counter_id=7, **kw):
    params = dict(
        x=np.array([1.0, 5.0, 0.5]),
        label="spam",
        prediction="ham",
        margin=0.6,
        classes=np.array(["ham", "spam", "eggs"]),
        counter_x=np.array([1.0, 2.0, 0.6]),
        counter_label="ham",
        score=2.5,
        round=3,
        feature_names=np.array(["a", "b", "c"]),
    )
    params.update(kw)
    return Query(example_id=example_id, counter_example_id=counter_id, **params)


class Asker:
    """Asks the oracle in a thread, like a cleaner would."""

    def __init__(self, oracle, query):
        self.result = None
        self.thread = threading.Thread(target=self._run, args=(oracle, query))
        self.thread.start()

    def _run(self, oracle, query):
        try:
            self.result = oracle(query)
        except Exception as exc:  # the test looks at it
            self.result = exc

    def join(self):
        self.thread.join(10)
        assert not self.thread.is_alive()
        return self.result


def request(oracle, method, path, body=None, headers=None, token=True):
    parts = urllib.parse.urlsplit(oracle.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    full = (parts.path if token else "/") + path
    hdrs = {}
    if method == "POST":
        hdrs = {
            "Content-Type": "application/json",
            "X-Cincer-Token": parts.path.strip("/"),
            "Origin": f"http://127.0.0.1:{parts.port}",
        }
    hdrs.update(headers or {})
    hdrs = {k: v for k, v in hdrs.items() if v is not None}
    conn.request(
        method, full, body=None if body is None else json.dumps(body), headers=hdrs
    )
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    try:
        data = json.loads(data)
    except ValueError:
        data = data.decode()
    return resp.status, dict(resp.getheaders()), data


def wait_state(oracle, status, qid=None):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        _, _, state = request(oracle, "GET", "state")
        if state["status"] == status and (qid is None or state.get("qid") == qid):
            return state
        time.sleep(0.02)
    raise AssertionError(f"the page never showed {status}")


@pytest.fixture
def oracle():
    oracle = BrowserOracle(open_browser=False, annotator="ana")
    oracle.start()
    yield oracle
    oracle.close()


def test_listens_on_loopback_with_a_random_token(oracle, capsys):
    assert oracle._server.server_address[0] == "127.0.0.1"
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/[A-Za-z0-9_-]{32}/", oracle.url)
    other = BrowserOracle(open_browser=False)
    other.start()
    try:
        assert other.url != oracle.url
        assert other._token != oracle._token
        assert other.url in capsys.readouterr().out  # printed for the person
    finally:
        other.close()


def test_refuses_requests_without_the_token(oracle):
    token = urllib.parse.urlsplit(oracle.url).path.strip("/")
    assert request(oracle, "GET", "", token=False)[0] == 404
    assert request(oracle, "GET", "state", token=False)[0] == 404
    for bad in ("x" * len(token), token[:-1], token + "a"):
        status, _, _ = request(oracle, "GET", f"{bad}/state", token=False)
        assert status == 404
        status, _, _ = request(oracle, "POST", f"{bad}/answer", body={}, token=False)
        assert status == 404
    status, headers, body = request(oracle, "GET", "")
    assert status == 200 and "Is this label right?" in body
    assert "script-src 'nonce-" in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "no-referrer"


def test_refuses_foreign_host_and_cross_origin_writes(oracle):
    asker = Asker(oracle, _query())
    state = wait_state(oracle, "question")
    good = {"qid": state["qid"], "label": 0, "counter_label": 2}
    assert request(oracle, "GET", "state", headers={"Host": "evil.example"})[0] == 403
    refusals = [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"X-Cincer-Token": None},
        {"X-Cincer-Token": "wrong"},
        {"Content-Type": "text/plain"},
        {"Host": "attacker.example:80"},
    ]
    for headers in refusals:
        status, _, _ = request(oracle, "POST", "answer", body=good, headers=headers)
        assert status in (403, 415), headers
    assert (
        request(
            oracle, "POST", "undo", headers={"Origin": "http://evil.example"}, body={}
        )[0]
        == 403
    )
    assert asker.thread.is_alive()  # nothing got through
    assert request(oracle, "POST", "answer", body=dict(good, qid=999))[0] == 409
    assert request(oracle, "POST", "answer", body=dict(good, label=3))[0] == 400
    assert request(oracle, "POST", "answer", body=dict(good, label=True))[0] == 400
    status, _, reply = request(oracle, "POST", "answer", body=good)
    assert status == 200 and reply["state"]["status"] == "waiting"
    assert asker.join() == Answer("ham", "eggs", "ana")
    # a second submission of the same question is refused, not applied twice
    assert request(oracle, "POST", "answer", body=good)[0] == 409


def test_skip_must_be_a_real_boolean(oracle):
    asker = Asker(oracle, _query())
    state = wait_state(oracle, "question")
    for bad in ("false", "true", 1, 0, None, [], {}):
        body = {"qid": state["qid"], "label": 0, "skip": bad}
        status, _, reply = request(oracle, "POST", "answer", body=body)
        assert status == 400 and "skip" in reply["error"], bad
    assert asker.thread.is_alive()  # nothing was taken as an answer, nor a skip
    body = {"qid": state["qid"], "label": 0, "skip": False}
    assert request(oracle, "POST", "answer", body=body)[0] == 200
    assert asker.join() == Answer("ham", "ham", "ana", skipped=False)


def test_state_shows_the_pair(oracle):
    asker = Asker(oracle, _query())
    state = wait_state(oracle, "question")
    assert state["example"]["id"] == 42 and state["counter"]["id"] == 7
    assert state["example"]["label"] == "spam" and state["prediction"] == "ham"
    assert state["classes"] == ["ham", "spam", "eggs"]
    assert state["example"]["label_index"] == 1 and state["prediction_index"] == 0
    assert state["preset"] == {"label": 1, "counter": 0, "counters": [0]}
    assert state["margin"] == pytest.approx(0.6) and state["score"] == 2.5
    assert "supports the model's doubt" in state["why"]
    # b differs most (5 vs 2), then a is equal: only differing ones highlighted
    assert re.search(r'<tr class="diff"><th>b</th><td>5</td>', state["example"]["html"])
    assert '<tr class="diff"><th>a</th>' not in state["example"]["html"]
    request(
        oracle, "POST", "answer", body={"qid": state["qid"], "skip": True, "label": 0}
    )
    answer = asker.join()
    assert answer == Answer("spam", "ham", "ana", skipped=True)


def test_long_poll_returns_when_the_question_changes(oracle):
    _, _, first = request(oracle, "GET", "state")
    assert first["status"] == "waiting"
    result = {}
    poll = threading.Thread(
        target=lambda: result.update(
            request(oracle, "GET", f"state?since={first['version']}")[2]
        )
    )
    poll.start()
    time.sleep(0.3)
    assert poll.is_alive()  # waiting for news
    asker = Asker(oracle, _query())
    poll.join(5)
    assert result["status"] == "question" and result["version"] > first["version"]
    request(oracle, "POST", "answer", body={"qid": result["qid"]})
    assert asker.join() == Answer("spam", "ham", "ana")


def test_undo_revises_the_last_answer_into_the_store(oracle, tmp_path):
    session = AnnotationSession(oracle, tmp_path / "s.sqlite")
    q1, q2 = _query(example_id=42), _query(example_id=43, counter_id=8)
    asker = Asker(session, q1)
    s1 = wait_state(oracle, "question")
    assert s1["can_undo"] is False
    assert request(oracle, "POST", "undo", body={})[0] == 409  # nothing to undo
    request(
        oracle,
        "POST",
        "answer",
        body={"qid": s1["qid"], "label": 0, "counter_label": 0},
    )
    assert asker.join() == Answer("ham", "ham", "ana")
    asker = Asker(session, q2)
    s2 = wait_state(oracle, "question", qid=s1["qid"] + 1)
    assert s2["can_undo"] is True
    _, _, reply = request(oracle, "POST", "undo", body={})
    rev = reply["state"]
    assert rev["status"] == "revising" and rev["qid"] == s1["qid"]
    assert rev["example"]["id"] == 42 and rev["preset"] == {
        "label": 0,
        "counter": 0,
        "counters": [0],
    }
    assert "revising your last answer" in rev["message"]
    # the revised question's answer is a revision; the current question still waits
    request(
        oracle,
        "POST",
        "answer",
        body={"qid": rev["qid"], "label": 2, "counter_label": 2},
    )
    back = wait_state(oracle, "question", qid=s2["qid"])
    assert back["example"]["id"] == 43 and "Revision saved" in back["message"]
    # no cleaner runs here to apply it: the page says it waits for a rerun
    assert "applies when the session is run again" in back["message"]
    assert asker.thread.is_alive()
    request(oracle, "POST", "answer", body={"qid": s2["qid"]})
    assert asker.join() == Answer("spam", "ham", "ana")
    assert [a for _, a in oracle.revisions_] == [Answer("eggs", "eggs", "ana")]
    store = AnnotationStore(tmp_path / "s.sqlite")
    assert store.find_answer(q1) == Answer("eggs", "eggs", "ana")
    assert [r["status"] for r in store.records()] == ["revised", "answered", "answered"]
    assert session.needs_rerun_


def test_cancel_leaves_the_undo(oracle):
    asker = Asker(oracle, _query(example_id=1))
    s1 = wait_state(oracle, "question")
    request(oracle, "POST", "answer", body={"qid": s1["qid"]})
    asker.join()
    asker = Asker(oracle, _query(example_id=2))
    wait_state(oracle, "question", qid=s1["qid"] + 1)
    request(oracle, "POST", "undo", body={})
    _, _, reply = request(oracle, "POST", "cancel", body={})
    assert reply["state"]["status"] == "question"
    assert reply["state"]["qid"] == s1["qid"] + 1
    request(oracle, "POST", "answer", body={"qid": s1["qid"] + 1, "label": 2})
    assert asker.join().label == "eggs" and oracle.revisions_ == []


def test_close_and_timeout_raise_oracle_errors(oracle):
    asker = Asker(oracle, _query())
    wait_state(oracle, "question")
    oracle.close()
    assert isinstance(asker.join(), OracleError)
    quick = BrowserOracle(open_browser=False, timeout=0.3)
    try:
        with pytest.raises(OracleError, match="No answer within 0.3 s"):
            quick(_query())
    finally:
        quick.close()


def test_everything_is_escaped(oracle):
    q = _query(
        label=PAYLOAD,
        classes=np.array(["ham", PAYLOAD]),
        feature_names=np.array([PAYLOAD, "b", "c"]),
    )
    texts = {42: PAYLOAD + " & more", 7: "plain"}
    text_oracle = BrowserOracle(open_browser=False, texts=texts)
    text_oracle.start()
    for o, query in ((oracle, q), (text_oracle, q)):
        asker = Asker(o, query)
        state = wait_state(o, "question")
        for html in (state["example"]["html"], state["counter"]["html"]):
            assert "<script" not in html and "<img" not in html
        assert "&lt;script&gt;" in state["example"]["html"]
        assert PAYLOAD in state["classes"]  # plain data, set with textContent
        request(o, "POST", "answer", body={"qid": state["qid"]})
        asker.join()
    text_oracle.close()


def test_images_are_drawn_as_png():
    x = np.arange(12, dtype=float)
    q = _query(x=x, counter_x=x[::-1].copy(), feature_names=None)
    oracle = BrowserOracle(open_browser=False, image_shape=(3, 4))
    example_html, (counter_html,) = oracle._renderer.html_views(q)
    src = re.search(r'src="data:image/png;base64,([^"]+)"', example_html).group(1)
    png = base64.b64decode(src)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (4, 3)  # width, height
    with pytest.raises(ValueError, match="cannot be reshaped"):
        BrowserOracle(image_shape=(5, 5))._renderer.html_views(q)


def test_user_renderer_and_bad_parameters():
    oracle = BrowserOracle(render=lambda x, i: f"<b>#{i}: {x.sum():g}</b>")
    assert oracle._renderer.html_views(_query()) == (
        "<b>#42: 6.5</b>",
        ("<b>#7: 3.6</b>",),
    )
    with pytest.raises(TypeError, match="must return a str"):
        BrowserOracle(render=lambda x, i: 3)._renderer.html_views(_query())
    with pytest.raises(ValueError, match="open_browser"):
        BrowserOracle(open_browser="yes")
    with pytest.raises(ValueError, match="port"):
        BrowserOracle(port=-1)
    with pytest.raises(ValueError, match="image_shape"):
        BrowserOracle(image_shape=(2, 2, 2))


def test_pickles_without_its_server(oracle):
    clone = pickle.loads(pickle.dumps(oracle))
    assert clone.url is None and clone._server is None
    assert clone.annotator == "ana"
    clone.start()
    try:
        assert clone.url != oracle.url
        assert request(clone, "GET", "state")[2]["status"] == "waiting"
    finally:
        clone.close()


def test_opens_in_a_notebook_cell_or_the_browser(monkeypatch):
    import sys
    import types
    import webbrowser

    shown, opened = [], []
    ipython = types.ModuleType("IPython")
    display_mod = types.ModuleType("IPython.display")

    class IFrame:
        def __init__(self, src, width, height):
            self.src, self.width, self.height = src, width, height

    display_mod.IFrame = IFrame
    display_mod.display = shown.append
    ipython.display = display_mod
    ipython.get_ipython = lambda: types.SimpleNamespace(kernel=object())
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display_mod)
    monkeypatch.setattr(webbrowser, "get", lambda: object())
    monkeypatch.setattr(webbrowser, "open", opened.append)

    in_notebook = BrowserOracle()  # open_browser="auto"
    in_notebook.start()
    in_notebook.close()
    assert [f.src for f in shown] == [in_notebook.url] and opened == []
    assert shown[0].width == "100%"

    ipython.get_ipython = lambda: None  # IPython loaded, but no kernel
    elsewhere = BrowserOracle()
    elsewhere.start()
    elsewhere.close()
    assert opened == [elsewhere.url] and len(shown) == 1

    quiet = BrowserOracle(open_browser=False)
    quiet.start()
    quiet.close()
    assert len(opened) == 1 and len(shown) == 1


def _three_counter_examples():
    from sklearn_cincer.oracles import CounterExample

    shown = tuple(
        CounterExample(110 + k, np.array([float(k), 1.0]), 4) for k in range(3)
    )
    return Query(
        example_id=1,
        x=np.array([1.0, 1.0]),
        label=3,
        prediction=4,
        margin=0.5,
        classes=np.arange(10),
        round=2,
        counter_examples=shown,
    )


def test_a_posted_list_of_the_wrong_length_is_refused():
    # the server checks what a client posts, whatever the page sends
    oracle = BrowserOracle(open_browser=False, annotator="ana")
    oracle.start()
    results = []
    query = _three_counter_examples()
    asker = threading.Thread(target=lambda: results.append(oracle(query)))
    asker.start()
    try:
        state = wait_state(oracle, "question")
        assert [c["id"] for c in state["counters"]] == [110, 111, 112]
        for bad in ([4, 4], [4, 4, 4, 4], [4, "4", 4], [4, 10, 4], "444", [4, True, 4]):
            status, _, reply = request(
                oracle,
                "POST",
                "answer",
                body={"qid": state["qid"], "label": 4, "counter_labels": bad},
            )
            assert status == 400 and "counter_labels" in reply["error"], bad
        status, _, reply = request(
            oracle,
            "POST",
            "answer",
            body={
                "qid": state["qid"],
                "label": 4,
                "counter_label": 5,
                "counter_labels": [6, None, None],
            },
        )
        assert status == 400 and "disagree" in reply["error"]
        assert asker.is_alive()
        status, _, _ = request(
            oracle,
            "POST",
            "answer",
            body={"qid": state["qid"], "label": 4, "counter_labels": [None, 9, None]},
        )
        assert status == 200
        asker.join(10)
    finally:
        oracle.close()
    assert results == [Answer(4, 4, "ana", counter_labels=(4, 9, 4))]
