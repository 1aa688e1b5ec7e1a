"""The page's server refuses to be framed by another site, on every response."""

import pytest

pytest.importorskip("bottle", reason="BrowserOracle needs bottle (the 'browser' extra)")

from test_oracles_browser_http import Asker, _query, request, wait_state  # noqa: E402

from sklearn_cincer.oracles import BrowserOracle  # noqa: E402


@pytest.fixture
def oracle():
    oracle = BrowserOracle(open_browser=False, annotator="ana")
    oracle.start()
    yield oracle
    oracle.close()


def _framing(headers):
    """``(frame-ancestors sources, X-Frame-Options)`` of a response."""
    policies = [v for k, v in headers.items() if k.lower() == "content-security-policy"]
    assert len(policies) == 1, headers  # one policy, the page's own extended
    rules = [r.strip() for r in policies[0].split(";")]
    ancestors = [r for r in rules if r.startswith("frame-ancestors")]
    assert len(ancestors) == 1, policies
    return ancestors[0], headers.get("X-Frame-Options")


def _every_response(oracle):
    asker = Asker(oracle, _query())
    wait_state(oracle, "question")
    qid = request(oracle, "GET", "state")[2]["qid"]
    responses = {
        "page": request(oracle, "GET", ""),
        "state": request(oracle, "GET", "state?since=-1"),
        "no token": request(oracle, "GET", "", token=False),
        "unknown path": request(oracle, "GET", "nothing/here"),
        "bad write": request(oracle, "POST", "answer", body={"qid": "x"}),
        "cross-origin": request(
            oracle, "POST", "undo", headers={"Origin": "http://evil.example"}
        ),
        "answer": request(oracle, "POST", "answer", body={"qid": qid, "label": 0}),
    }
    asker.join()
    return responses


def test_no_response_may_be_framed_by_another_site(oracle):
    responses = _every_response(oracle)
    statuses = {name: r[0] for name, r in responses.items()}
    assert statuses["page"] == 200 and statuses["answer"] == 200
    assert statuses["no token"] == 404 and statuses["cross-origin"] == 403
    for name, (_, headers, _) in responses.items():
        assert _framing(headers) == ("frame-ancestors 'none'", "DENY"), name
    # the page keeps its own policy, the rule added to it
    policy = responses["page"][1]["Content-Security-Policy"]
    assert "script-src 'nonce-" in policy and "default-src 'none'" in policy


def test_a_notebook_cell_may_frame_it_once_shown_there(oracle, monkeypatch):
    import sys
    import types

    display = types.ModuleType("IPython.display")  # IPython need not be here
    display.IFrame = lambda src, width, height: src
    ipython = types.ModuleType("IPython")
    ipython.display = display
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    assert _framing(request(oracle, "GET", "")[1])[1] == "DENY"
    assert oracle.show() == oracle.url
    headers = request(oracle, "GET", "")[1]
    ancestors, deny = _framing(headers)
    # this computer's pages (a local Jupyter) only; no X-Frame-Options, which
    # cannot say so and would win in browsers that read only it
    assert "http://localhost:*" in ancestors and "'none'" not in ancestors
    assert "https://" in ancestors and "*.example" not in ancestors
    assert deny is None
