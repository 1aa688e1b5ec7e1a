"""Latency of the annotation page: from an answer to the next question.

A cleaner with ``LogisticRegression`` and ``refit="incremental"`` starts
from a 10,000-example training set (the bootstrap) and streams more
examples; a :class:`~sklearn_cincer.oracles.BrowserOracle` asks about the
suspicious ones. A simulated person answers each question (with the true
labels) the moment it appears, and the benchmark measures the time from
sending an answer to the next question's arrival at the page: the cleaner's
work between two questions (refits of the rounds in between, the selector)
plus the server's.

Two clients can play the person:

- ``--client http`` (default): the page's own protocol (long-poll of the
  state, JSON POST of the answer) from Python, no browser needed;
- ``--client browser``: the real page in headless Chromium via Playwright,
  answering by keyboard; the time runs until the new question is drawn.

Usage::

    python benchmarks/bench_hitl.py                     # 10,000 + 300 streamed
    python benchmarks/bench_hitl.py --client browser
"""

import argparse
import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse

import numpy as np


def make_data(n_train, n_stream, n_features, seed):
    from sklearn.datasets import make_classification

    from sklearn_cincer.datasets import make_label_noise

    X, y = make_classification(
        n_samples=n_train + n_stream,
        n_features=n_features,
        n_informative=n_features // 2,
        random_state=seed,
    )
    y_noisy, _ = make_label_noise(y, noise_rate=0.3, random_state=seed)
    return X, y, y_noisy


class HttpPerson:
    """Answers on the page's protocol; returns latencies in seconds."""

    def __init__(self, oracle, truth):
        self.oracle, self.truth = oracle, truth
        parts = urllib.parse.urlsplit(oracle.url)
        self.host, self.port, self.path = parts.hostname, parts.port, parts.path
        self.latencies, self.stop = [], False

    def _request(self, method, path, body=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        headers = {}
        if method == "POST":
            headers = {
                "Content-Type": "application/json",
                "X-Cincer-Token": self.path.strip("/"),
                "Origin": f"http://127.0.0.1:{self.port}",
            }
        conn.request(
            method,
            self.path + path,
            body=None if body is None else json.dumps(body),
            headers=headers,
        )
        data = json.loads(conn.getresponse().read())
        conn.close()
        return data

    def run(self):
        version, sent_at = -1, None
        while not self.stop:
            state = self._request("GET", f"state?since={version}")
            version = state["version"]
            if state["status"] == "closed":
                return
            if state["status"] != "question":
                continue
            if sent_at is not None:
                self.latencies.append(time.perf_counter() - sent_at)
            classes = state["classes"]
            label = self.truth[state["example"]["id"]]
            counter = self.truth[state["counter"]["id"]] if state["counter"] else None
            body = {
                "qid": state["qid"],
                "label": classes.index(str(label)),
                "counter_label": None
                if counter is None
                else classes.index(str(counter)),
            }
            sent_at = time.perf_counter()
            reply = self._request("POST", "answer", body)
            version = reply["state"]["version"]


def run_browser_person(oracle, truth, fit_thread, chromium):
    from playwright.sync_api import TimeoutError, sync_playwright

    args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    latencies = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=args)
        page = browser.new_page()
        page.goto(oracle.url)
        qid, sent_at = -1, None
        while True:
            selector = f'body[data-status="question"]:not([data-qid="{qid}"])'
            try:
                page.wait_for_selector(selector, timeout=250, state="attached")
            except TimeoutError:
                if not fit_thread.is_alive():
                    break
                continue
            now = time.perf_counter()
            if sent_at is not None:
                latencies.append(now - sent_at)
            qid = int(page.get_attribute("body", "data-qid"))
            example = int(page.text_content("#title-example").split("#")[1])
            classes = [
                b.get_attribute("data-index")
                for b in page.query_selector_all("#labels-example button")
            ]
            names = [
                t.split(". ", 1)[-1].split("(")[0]
                for t in page.locator("#labels-example button").all_text_contents()
            ]
            page.keyboard.press(f"Digit{names.index(str(truth[example])) + 1}")
            if page.is_visible("#panel-counter"):
                counter = int(page.text_content("#title-counter").split("#")[1])
                page.keyboard.press(
                    f"Shift+Digit{names.index(str(truth[counter])) + 1}"
                )
            assert len(classes) == len(names)
            sent_at = time.perf_counter()
            page.keyboard.press("Enter")
        browser.close()
    return latencies


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--n-stream", type=int, default=300)
    parser.add_argument("--n-features", type=int, default=20)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS threads (default 1; 0 leaves the default)",
    )
    parser.add_argument("--client", choices=["http", "browser"], default="http")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    from sklearn_cincer import SkepticalCleaner
    from sklearn_cincer.oracles import BrowserOracle

    if args.threads:
        threadpool_limits(args.threads)
    X, y, y_noisy = make_data(args.n_train, args.n_stream, args.n_features, args.seed)
    oracle = BrowserOracle(open_browser=False, annotator="bench")
    calls = []  # (time the cleaner asked, time it got the answer back)

    def timed(query):
        asked = time.perf_counter()
        answer = oracle(query)
        calls.append((asked, time.perf_counter()))
        return answer

    cleaner = SkepticalCleaner(
        LogisticRegression(),
        oracle=timed,
        n_bootstrap=args.n_train,
        refit="incremental",
        threshold=0.2,
        random_state=args.seed,
    )
    oracle.start()
    t0 = time.perf_counter()
    fit = threading.Thread(target=cleaner.fit, args=(X, y_noisy), daemon=True)
    fit.start()
    if args.client == "http":
        person = HttpPerson(oracle, y)
        runner = threading.Thread(target=person.run, daemon=True)
        runner.start()
        fit.join()
        total = time.perf_counter() - t0
        oracle.close()
        runner.join(5)
        latencies = person.latencies
    else:
        latencies = run_browser_person(oracle, y, fit, args.chromium)
        fit.join()
        total = time.perf_counter() - t0
        oracle.close()
    ms = np.array(latencies) * 1000
    print(
        f"training set {args.n_train} (+{args.n_stream} streamed), "
        f"{args.n_features} features, LogisticRegression, refit='incremental' "
        f"({cleaner.refit_method_}), client={args.client}, BLAS threads="
        f"{args.threads or 'default'}"
    )
    print(
        f"{cleaner.n_queries_} questions, {len(ms)} answer-to-next-question "
        f"latencies; whole fit {total:.1f} s"
    )
    print(
        f"latency ms: median {statistics.median(ms):.1f}, p90 "
        f"{np.percentile(ms, 90):.1f}, min {ms.min():.1f}, max {ms.max():.1f}"
    )
    # the cleaner's share: from getting an answer back to asking the next question
    compute = (
        np.array([calls[k + 1][0] - calls[k][1] for k in range(len(calls) - 1)]) * 1000
    )
    if len(compute) == len(ms):
        print(
            f"  of which the cleaner's rounds (refits, selector): median "
            f"{np.median(compute):.1f} ms; the page and server: median "
            f"{np.median(ms - compute):.1f} ms"
        )
    try:
        import os

        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    except (AttributeError, OSError):
        pass
    return 0 if statistics.median(ms) < 200 else 1


if __name__ == "__main__":
    sys.exit(main())
