"""What writing the answer before the reply costs the person: the page's answer.

Times the page's answer request (POST to the BrowserOracle's server, over
HTTP, until the reply) with an ``AnnotationSession`` writing a SQLite store
(``synchronous=FULL``: the write reaches the disk before "Saved.") and
without a store, alternating, in one process.

Usage::

    python benchmarks/answer_latency.py --answers 40
"""

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time


def _time_answers(oracle, asker, n):
    import http.client
    import json
    import urllib.parse

    from http_attacks import _query

    parts = urllib.parse.urlsplit(oracle.url)
    token = parts.path.strip("/")
    times = []
    for i in range(n):
        thread = threading.Thread(target=asker, args=(_query(i + 1),), daemon=True)
        thread.start()
        while True:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            conn.request("GET", f"/{token}/state")
            state = json.loads(conn.getresponse().read())
            conn.close()
            if state["status"] == "question" and state["example"]["id"] == i + 1:
                break
            time.sleep(0.002)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        start = time.perf_counter()
        conn.request(
            "POST",
            f"/{token}/answer",
            body=json.dumps({"qid": state["qid"]}),
            headers={"Content-Type": "application/json", "X-Cincer-Token": token},
        )
        assert conn.getresponse().status == 200
        times.append(time.perf_counter() - start)
        conn.close()
        thread.join(10)
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=40)
    args = parser.parse_args(argv)
    from sklearn_cincer.oracles import AnnotationSession, BrowserOracle

    results = {"with a store": [], "without a store": []}
    with tempfile.TemporaryDirectory() as workdir:
        for rep in range(4):  # alternate, so that the load affects both alike
            for name in results:
                oracle = BrowserOracle(open_browser=False, annotator="ana")
                oracle.start()
                asker = oracle
                if name == "with a store":
                    asker = AnnotationSession(
                        oracle, os.path.join(workdir, f"s{rep}.sqlite")
                    )
                results[name] += _time_answers(oracle, asker, args.answers // 4)
                oracle.close()
    for name, times in results.items():
        ms = sorted(1000 * t for t in times)
        print(
            f"{name:16}: median {statistics.median(ms):.1f} ms, 90th percentile "
            f"{ms[int(0.9 * len(ms))]:.1f} ms, max {ms[-1]:.1f} ms "
            f"({len(ms)} answers)"
        )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main())
