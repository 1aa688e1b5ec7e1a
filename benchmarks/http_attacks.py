"""HTTP attacks on the BrowserOracle's page, as a hostile local process would try.

Serves a ``BrowserOracle`` (with an ``AnnotationSession`` on a fresh store)
with a question open, then runs each attack over plain sockets and
``http.client``. An attack *holds* when it gets the refusal it should (a 4xx,
never a 500), answers nothing it should not, prints no traceback, and the
person can still answer. The Chromium-level checks (XSS running, CSRF from a
real page) are in ``tests/test_browser.py``.

The connection floods come from another process, and the page's process
runs with a soft limit of 256 open files (``--nofile``; macOS's default),
where a server that keeps every half-sent request open runs out of file
descriptors.

Usage::

    python benchmarks/http_attacks.py
"""

import argparse
import contextlib
import http.client
import io
import json
import os
import secrets
import socket
import sqlite3
import sys
import tempfile
import threading
import time
import urllib.parse

import numpy as np

PAYLOAD = '<script>window.__pwned=1</script><img src=x onerror="alert(1)">'


def _query(example_id):
    from sklearn_cincer.oracles import Query

    return Query(
        example_id=example_id,
        x=np.array([1.0, 5.0, 0.5]),
        label="spam",
        prediction="ham",
        margin=0.6,
        classes=np.array(["ham", "spam", PAYLOAD]),
        counter_example_id=example_id + 1000,
        counter_x=np.array([1.0, 2.0, 0.6]),
        counter_label="ham",
        score=2.5,
        round=3,
        feature_names=np.array([PAYLOAD, "b", "c"]),
    )


class Page:
    """The page with one question open at a time, asked from a thread."""

    def __init__(self, store_path):
        from sklearn_cincer.oracles import AnnotationSession, BrowserOracle

        self.oracle = BrowserOracle(open_browser=False, annotator="ana")
        self.oracle.start()
        self.session = AnnotationSession(self.oracle, store_path)
        parts = urllib.parse.urlsplit(self.oracle.url)
        self.host, self.port = parts.hostname, parts.port
        self.token = parts.path.strip("/")
        self.next_id, self.thread, self.result = 0, None, None

    def ask(self):
        self.next_id += 1
        query = _query(self.next_id)
        self.thread = threading.Thread(target=self._run, args=(query,), daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            state = self.get("state")[1]
            if state.get("status") == "question" and state["example"]["id"] == (
                self.next_id
            ):
                return state
            time.sleep(0.01)
        raise RuntimeError("no question")

    def _run(self, query):
        try:
            self.result = self.session(query)
        except Exception as exc:
            self.result = exc

    def request(self, method, path, body=None, headers=None, raw_body=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        hdrs = {}
        if method == "POST":
            hdrs = {
                "Content-Type": "application/json",
                "X-Cincer-Token": self.token,
                "Origin": f"http://127.0.0.1:{self.port}",
            }
        hdrs.update(headers or {})
        hdrs = {k: v for k, v in hdrs.items() if v is not None}
        data = (
            raw_body
            if raw_body is not None
            else (None if body is None else json.dumps(body))
        )
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        text = resp.read()
        conn.close()
        try:
            text = json.loads(text)
        except ValueError:
            text = text.decode("utf-8", "replace")
        return resp.status, text

    def get(self, path, **kw):
        return self.request("GET", f"/{self.token}/{path}", **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", f"/{self.token}/{path}", body=body, **kw)

    def raw(self, data, timeout=10):
        with socket.create_connection((self.host, self.port), timeout=timeout) as s:
            s.sendall(data)
            reply = b""
            with contextlib.suppress(socket.timeout):
                while chunk := s.recv(65536):
                    reply += chunk
        return int(reply.split(b" ", 2)[1]) if reply else 0

    def person_answers(self, state, label=0):
        """The person's answer goes through, in seconds (status, elapsed)."""
        start = time.monotonic()
        try:
            status, _ = self.post("answer", {"qid": state["qid"], "label": label})
        except OSError:  # e.g. no file descriptor left for the connection
            status = 0
        return status, time.monotonic() - start

    def close(self):
        self.oracle.close()
        getattr(self.session, "close", lambda: None)()  # older versions: none


ATTACKER = """
import resource, socket, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
host, port, n, line = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
socks = []
for _ in range(n):
    try:
        s = socket.create_connection((host, port), timeout=10)
        if line:
            s.sendall(line.encode())
        socks.append(s)
    except OSError:
        break
print(len(socks), flush=True)
sys.stdin.read()
"""


class _Attacker:
    """Another process holding ``n`` connections open until stopped."""

    def __init__(self, page, n, half_sent):
        import subprocess

        line = f"GET /{page.token}/state HTTP/1.1\r\nHost: " if half_sent else ""
        self.proc = subprocess.Popen(
            [sys.executable, "-c", ATTACKER, page.host, str(page.port), str(n), line],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.opened = int(self.proc.stdout.readline() or 0)
        time.sleep(0.5)

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(10)
        self.proc.stdout.close()


def attacks(page):
    """Yield (name, held, detail)."""
    t = page.token
    hp = f"{page.host}:{page.port}"
    state = page.ask()

    # token and origin checks
    yield "no token", page.request("GET", "/state")[0] == 404, ""
    guesses = [
        page.request("GET", f"/{secrets.token_urlsafe(24)}/state")[0]
        for _ in range(200)
    ]
    yield "200 guessed tokens", set(guesses) == {404}, f"{set(guesses)}"
    for name, bad in (
        ("token one char short", t[:-1]),
        ("token one char long", t + "a"),
    ):
        yield name, page.request("GET", f"/{bad}/state")[0] == 404, ""
    good = {"qid": state["qid"], "label": 0}
    refusals = [
        ("DNS rebinding (foreign Host)", {"Host": "evil.example"}),
        ("cross-origin POST", {"Origin": "http://evil.example"}),
        ("Origin: null", {"Origin": "null"}),
        ("Sec-Fetch-Site: cross-site", {"Sec-Fetch-Site": "cross-site"}),
        ("no token header", {"X-Cincer-Token": None}),
        ("wrong token header", {"X-Cincer-Token": "x" * len(t)}),
        ("text/plain (a CSRF form)", {"Content-Type": "text/plain"}),
    ]
    for name, headers in refusals:
        status, _ = page.post("answer", good, headers=headers)
        yield name, status in (403, 415), f"HTTP {status}"
    # malformed input
    post = (
        f"POST /{t}/answer HTTP/1.1\r\nHost: {hp}\r\nContent-Type: application/json\r\n"
    ).encode()
    auth = f"X-Cincer-Token: {t}\r\n".encode()
    raw = {
        "non-ASCII token in the path": f"GET /{t[:-1]}\u00e9/state HTTP/1.1\r\n"
        f"Host: {hp}\r\n\r\n".encode(),
        "percent-encoded non-ASCII token": f"GET /%C3%A9{t[2:]}/state HTTP/1.1\r\n"
        f"Host: {hp}\r\n\r\n".encode(),
        "invalid UTF-8 in the path": f"GET /%FF{t[1:]}/state HTTP/1.1\r\n"
        f"Host: {hp}\r\n\r\n".encode(),
        "non-ASCII token header": post
        + "X-Cincer-Token: \u00e9\r\nContent-Length: 2\r\n\r\n{}".encode(),
        "non-ASCII Host": f"GET /{t}/state HTTP/1.1\r\nHost: h\u00f4te\r\n\r\n".encode(),
        "50,000-deep JSON": (
            post
            + auth
            + b"Content-Length: 100000\r\n\r\n"
            + b"[" * 50000
            + b"]" * 50000
        ),
        "30,000-deep JSON (under the size cap)": post
        + auth
        + b"Content-Length: 60000\r\n\r\n"
        + b"[" * 30000
        + b"]" * 30000,
        "Content-Length 10**12": post + auth + b"Content-Length: 1000000000000\r\n\r\n",
        "negative Content-Length": post + auth + b"Content-Length: -5\r\n\r\n",
        "chunked body": post + auth + b"Transfer-Encoding: chunked\r\n\r\n"
        b"2\r\n{}\r\n0\r\n\r\n",
        "invalid UTF-8 JSON": post + auth + b"Content-Length: 2\r\n\r\n\xff\xfe",
    }
    for name, data in raw.items():
        status = page.raw(data)
        yield name, 400 <= status < 500, f"HTTP {status}"
    for name, body in (
        ("label out of range", dict(good, label=99)),
        ("label true", dict(good, label=True)),
        ("label as text", dict(good, label="ham")),
        ("skip as text 'false'", dict(good, skip="false")),
        ("qid as an object", dict(good, qid={"a": 1})),
        ("a JSON array", [1, 2]),
    ):
        status, _ = page.post("answer", body)
        yield name, 400 <= status < 500, f"HTTP {status}"
    alive = page.thread.is_alive()
    yield "the question is still open after all of the above", alive, ""
    # what the page shows is escaped
    html = state["example"]["html"] + state["counter"]["html"]
    yield (
        "XSS payloads in names and labels are escaped",
        "<script" not in html and "<img" not in html and "&lt;script" in html,
        "",
    )
    # answer once, not twice
    status, _ = page.post("answer", good)
    again, _ = page.post("answer", good)
    page.thread.join(10)
    yield (
        "the same answer twice",
        status == 200 and again == 409,
        (f"HTTP {status} then {again}"),
    )

    # connections that never finish, from another process
    for n, half_sent in ((300, True), (500, False)):
        try:
            state = page.ask()
        except Exception as exc:
            yield f"{n} connections: a question is shown", False, repr(exc)[:100]
            continue
        attacker = _Attacker(page, n, half_sent)
        try:
            status, elapsed = page.person_answers(state)
            page.thread.join(10)
            n_open = getattr(page.oracle._server, "n_connections", "?")
        finally:
            attacker.stop()
        what = "half-sent requests" if half_sent else "idle connections"
        yield (
            f"{n} {what} from another process: the person answers within 1 s",
            status == 200 and elapsed < 1.0,
            f"HTTP {status} in {elapsed:.3f} s; {attacker.opened} opened; the "
            f"server holds {n_open} connections",
        )
    slow = socket.create_connection((page.host, page.port), timeout=30)
    start = time.monotonic()
    closed_after = None
    try:
        for ch in f"GET /{t}/state HTTP/1.1\r\nHost: {hp}\r\nX-Pad: ".encode() * 5:
            slow.sendall(bytes([ch]))
            time.sleep(0.5)
            if time.monotonic() - start > 25:
                break
        slow.settimeout(1)
        slow.recv(100)
    except OSError:
        closed_after = time.monotonic() - start
    else:
        closed_after = time.monotonic() - start if slow.recv(1) == b"" else None
    slow.close()
    yield (
        "slowloris (a byte every 0.5 s)",
        closed_after is not None and closed_after < 15,
        f"closed after {closed_after:.1f} s" if closed_after else "still open",
    )

    # the store locked by another program while the person answers
    state = page.ask()
    other = sqlite3.connect(page.session.store.path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        status, reply = page.post("answer", {"qid": state["qid"]})
        still = page.get("state")[1]
    finally:
        other.execute("ROLLBACK")
        other.close()
    yield (
        "store locked by another program: 'not saved', question open",
        status == 503 and still.get("qid") == state["qid"],
        f"HTTP {status}: {str(reply)[:90]}",
    )
    status, _ = page.post("answer", {"qid": state["qid"]})
    page.thread.join(10)
    yield "then submitted again: saved", status == 200, f"HTTP {status}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--nofile",
        type=int,
        default=256,
        help="the page's process runs with this soft limit on open "
        "files (256: macOS's default; 0 keeps this machine's)",
    )
    args = parser.parse_args(argv)
    if args.nofile:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (args.nofile, hard))
        print(f"open-file limit of the page's process: {args.nofile}")
    from sklearn_cincer.oracles import _store

    _store._BUSY_TIMEOUT = 1.0  # the locked-store case: fail in 1 s, not 30
    held = total = 0
    err = io.StringIO()
    with tempfile.TemporaryDirectory() as workdir:
        page = Page(os.path.join(workdir, "s.sqlite"))
        try:
            with contextlib.redirect_stderr(err):
                for name, ok, detail in attacks(page):
                    total += 1
                    held += bool(ok)
                    print(
                        f"{'held' if ok else 'FAILED':6}  {name}"
                        + (f": {detail}" if detail else ""),
                        flush=True,
                    )
        finally:
            page.close()
    total += 1
    clean = "Traceback" not in err.getvalue()
    held += clean
    print(
        f"{'held' if clean else 'FAILED':6}  no traceback on stderr"
        + ("" if clean else f": {err.getvalue()[-300:]!r}")
    )
    print(f"{held} of {total} HTTP attacks held.")
    return 0 if held == total else 1


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main())
