"""BrowserOracle's server under a hostile local process (issue 13, item 7).

Half-sent requests are closed after a read timeout, connections are capped
(the oldest that has not sent a request makes room), the listen backlog is
large, and malformed input gets a 4xx, never a 500 with a traceback.
"""

import http.client
import json
import socket
import time
import urllib.parse

import pytest

pytest.importorskip("bottle", reason="BrowserOracle needs bottle (the 'browser' extra)")

import test_oracles_browser_http as http_tests  # noqa: E402
from test_oracles_browser_http import Asker, _query, request, wait_state  # noqa: E402

oracle = http_tests.oracle  # the fixture: a started BrowserOracle

from sklearn_cincer.oracles import (  # noqa: E402
    Answer,
    BrowserOracle,
    _server,  # noqa: E402
)


def _address(oracle):
    parts = urllib.parse.urlsplit(oracle.url)
    return parts.hostname, parts.port, parts.path.strip("/")


def _raw(oracle, data, timeout=5):
    """Send raw bytes; returns the status line's code (0 when none came)."""
    host, port, _ = _address(oracle)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(data)
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except TimeoutError:
            pass
    if not reply:
        return 0, b""
    return int(reply.split(b" ", 2)[1]), reply


def test_malformed_input_gets_4xx_without_a_traceback(oracle, capfd):
    host, port, token = _address(oracle)
    asker = Asker(oracle, _query())
    state = wait_state(oracle, "question")
    post = (
        f"POST /{token}/answer HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Content-Type: application/json\r\n"
    ).encode()
    cases = {
        # a non-ASCII token, raw and percent-encoded, in the path
        "path": (
            f"GET /{token[:-1]}\u00e9/state HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n"
        ).encode(),
        "path-quoted": (
            f"GET /%C3%A9{token[2:]}/state HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n"
        ).encode(),
        "path-bad-utf8": (
            f"GET /%FF%FE{token[2:]}/state HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n"
        ).encode(),
        # a non-ASCII token header, and a non-ASCII Host
        "token-header": post
        + "X-Cincer-Token: \u00e9t\u00e9\r\nContent-Length: 2\r\n\r\n{}".encode(
            "utf-8"
        ),
        "host": (
            f"GET /{token}/state HTTP/1.1\r\nHost: h\u00f4te:{port}\r\n\r\n"
        ).encode(),
        # 50,000-deep JSON
        "deep-json": post
        + (f"X-Cincer-Token: {token}\r\nContent-Length: 100000\r\n\r\n").encode()
        + b"[" * 50000
        + b"]" * 50000,
        "deep-json-small": post
        + (f"X-Cincer-Token: {token}\r\nContent-Length: 60000\r\n\r\n").encode()
        + b"[" * 30000
        + b"]" * 30000,
        "bad-length": post
        + (f"X-Cincer-Token: {token}\r\nContent-Length: -5\r\n\r\n").encode(),
        "huge-length": post
        + (f"X-Cincer-Token: {token}\r\nContent-Length: {10**12}\r\n\r\n").encode(),
        "chunked": post
        + (
            f"X-Cincer-Token: {token}\r\nTransfer-Encoding: "
            'chunked\r\n\r\n5\r\n{"a":\r\n0\r\n\r\n'
        ).encode(),
        "not-utf8-json": post
        + (f"X-Cincer-Token: {token}\r\nContent-Length: 4\r\n\r\n").encode()
        + b"\xff\xfe\xfd\xfc",
        "qid-object": post
        + (f"X-Cincer-Token: {token}\r\nContent-Length: 27\r\n\r\n").encode()
        + b'{"qid": {"a": [1, 2, 3.5]}}',
        "since": (
            f"GET /{token}/state?since=%C3%A9%FF HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\n\r\n"
        ).encode(),
    }
    statuses = {name: _raw(oracle, data)[0] for name, data in cases.items()}
    assert statuses.pop("since") == 200  # a bad "since" just means "now"
    assert all(400 <= s < 500 for s in statuses.values()), statuses
    assert statuses["deep-json-small"] == 400 and statuses["huge-length"] == 413
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Exception" not in err, err
    assert asker.thread.is_alive()  # none of it answered the question
    request(oracle, "POST", "answer", body={"qid": state["qid"]})
    assert asker.join() == Answer("spam", "ham", "ana")


def test_half_sent_requests_are_closed_after_a_timeout(monkeypatch, capfd):
    monkeypatch.setattr(_server, "_HEADER_TIMEOUT", 0.5)
    oracle = BrowserOracle(open_browser=False)
    oracle.start()
    try:
        host, port, token = _address(oracle)
        socks = []
        for _ in range(5):
            sock = socket.create_connection((host, port), timeout=5)
            sock.sendall(f"GET /{token}/state HTTP/1.1\r\nHost: ".encode())
            socks.append(sock)
        time.sleep(1.5)
        for sock in socks:
            assert sock.recv(100) == b""  # closed by the server
            sock.close()
        assert request(oracle, "GET", "state")[0] == 200
        assert "Traceback" not in capfd.readouterr().err
    finally:
        oracle.close()


def test_the_listen_backlog_is_large(oracle):
    assert oracle._server.request_queue_size >= 128


def test_the_person_answers_within_a_second_with_500_idle_connections(oracle):
    host, port, token = _address(oracle)
    asker = Asker(oracle, _query())
    state = wait_state(oracle, "question")
    idle = [socket.create_connection((host, port), timeout=5) for _ in range(500)]
    try:
        for sock in idle[::2]:
            sock.sendall(b"GET / HTTP/1.1\r\n")  # half of them half-sent
        time.sleep(0.5)
        start = time.monotonic()
        conn = http.client.HTTPConnection(host, port, timeout=5)
        conn.request("GET", f"/{token}/state")
        assert json.loads(conn.getresponse().read())["qid"] == state["qid"]
        conn.close()
        status, _, _ = request(oracle, "POST", "answer", body={"qid": state["qid"]})
        elapsed = time.monotonic() - start
        assert status == 200 and elapsed < 1.0, elapsed
        assert asker.join() == Answer("spam", "ham", "ana")
        # the server holds no more connections than its cap
        assert oracle._server.n_connections <= _server._MAX_CONNECTIONS
    finally:
        for sock in idle:
            sock.close()
