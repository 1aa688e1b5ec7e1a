"""Crash trials: SIGKILL a labeling session at random moments, resume, check.

Each trial runs a CINCER session in a child process, with an
``AnnotationSession`` writing to a fresh SQLite store. The annotator answers
at random (from ``os.urandom``, so a question asked twice would very likely
get another answer: only the store can make a resumed run agree with the
first). The parent kills the child with SIGKILL, up to ``--kills`` times,
then lets a last child run to the end. It checks:

1. no answer is lost: every answer in the store right after a kill is still
   there, unchanged, at the end;
2. none is applied twice: the store holds one live answer per question, and
   the final run's history holds each question once, with the stored answer;
3. the final cleaned labels (``ids_``, ``y_``) equal those of an
   uninterrupted run fed the same answers (from a plain dict, no store).

Two ways to answer:

- by default the annotator is a function in the child, and kills come at
  random moments;
- with ``--page`` the child serves a ``BrowserOracle`` page and the parent
  answers through the page's HTTP interface, as a person's browser does;
  each kill comes right after the page confirmed an answer (the HTTP reply),
  the moment where a write made after the reply would be lost. Then also

  4. every answer the page confirmed is in the store at the kill.

Usage::

    python benchmarks/crash_trials.py --trials 20
    python benchmarks/crash_trials.py --trials 20 --page
"""

import argparse
import http.client
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

N_SAMPLES, N_BOOTSTRAP, SEED = 150, 30, 0
CLEANER_PARAMS = dict(n_bootstrap=N_BOOTSTRAP, random_state=SEED, threshold=0.2)


def _data(n_samples=N_SAMPLES):
    from sklearn.datasets import make_classification

    from sklearn_cincer.datasets import make_label_noise

    X, y = make_classification(
        n_samples=n_samples,
        n_features=8,
        n_informative=5,
        n_classes=3,
        random_state=SEED,
    )
    y_noisy, _ = make_label_noise(y, noise_rate=0.3, random_state=SEED)
    return X, y_noisy


def _cleaner(oracle):
    from sklearn.linear_model import LogisticRegression

    from sklearn_cincer import SkepticalCleaner

    return SkepticalCleaner(LogisticRegression(), oracle=oracle, **CLEANER_PARAMS)


class RandomAnnotator:
    """Answers at random (not reproducible), a little slowly, like a person."""

    def __init__(self, delay=0.015):
        self.rng = random.Random(os.urandom(16))
        self.delay = delay

    def __call__(self, query):
        from sklearn_cincer.oracles import Answer

        time.sleep(self.rng.uniform(0, 2 * self.delay))
        classes = [c.item() for c in query.classes]
        counter = self.rng.choice(classes) if query.has_counter_example else None
        return Answer(
            label=self.rng.choice(classes), counter_label=counter, annotator="random"
        )


def _pair_key(example_id, counter_id, label, counter_label):
    """A question within one trial (one data set): ids and current labels."""
    return json.dumps([example_id, counter_id, label, counter_label])


class DictOracle:
    """Answers from recorded answers, keyed by question."""

    def __init__(self, answers):
        self.answers = answers

    def __call__(self, query):
        return self.answers[
            _pair_key(
                int(query.example_id),
                query.counter_example_id,
                query.label,
                query.counter_label,
            )
        ]


def child(store_path, out_path, n_samples=N_SAMPLES, page=False):
    """One (re)run of the session; writes the result when it gets to the end."""
    from sklearn_cincer.oracles import AnnotationSession, BrowserOracle

    X, y = _data(n_samples)
    if page:
        annotator = BrowserOracle(open_browser=False, annotator="page")
        url = annotator.start()
    else:
        annotator, url = RandomAnnotator(), ""
    session = AnnotationSession(annotator, store_path)
    print("ready", url, flush=True)
    cleaner = _cleaner(session).fit(X, y)
    result = {
        "ids": cleaner.ids_.tolist(),
        "y": cleaner.y_.tolist(),
        "history": [
            (
                r.example_id,
                r.counter_example_id,
                r.label_before,
                r.counter_label_before,
                r.label_after,
                r.counter_label_after,
            )
            for r in cleaner.history_
        ],
        "n_replayed": session.n_replayed_,
        "n_asked": session.n_asked_,
    }
    tmp = out_path + ".tmp"
    with open(tmp, "wb") as fh:
        pickle.dump(result, fh)
    os.replace(tmp, out_path)
    if page:
        annotator.close()


def _answered(store_path):
    """Live answers in the store, by question key."""
    from sklearn_cincer.oracles import AnnotationStore

    with AnnotationStore(store_path) as store:
        rows = store.records()
    keys = {}
    for r in rows:
        if r["status"] != "answered":
            continue
        key = _pair_key(
            r["example_id"],
            r["counter_example_id"],
            r["label_before"],
            r["counter_label_before"],
        )
        if key in keys:
            raise AssertionError(f"two live answers for question {key}")
        keys[key] = (r["question_id"], r["label_after"], r["counter_label_after"])
    return keys, len(rows)


def _spawn(store_path, out_path, n_samples, page=False):
    """Start a child; returns it and the page's address (page mode)."""
    env = dict(
        os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1"
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            os.path.abspath(__file__),
            "--child",
            store_path,
            out_path,
            "--n-samples",
            str(n_samples),
        ]
        + (["--page"] if page else []),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    while True:  # "ready URL": imports and data done (the page prints its address)
        line = proc.stdout.readline()
        if line.startswith("ready") or not line:
            break
    if not line.startswith("ready"):
        proc.wait()
        raise RuntimeError(f"child failed to start: {proc.stderr.read()}")
    return proc, line.split()[1] if page else None


class PageAnnotator:
    """Answers through the page's HTTP interface at random, as a browser would.

    ``confirmed`` maps each question to the labels of every answer the page
    confirmed (HTTP 200), in the trial's key (see ``_pair_key``).
    """

    def __init__(self, url):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port, self.base = parts.hostname, parts.port, parts.path
        self.rng = random.Random(os.urandom(16))
        self.confirmed = {}
        self.odd = []  # replies that were not a state (for the record)

    def _request(self, method, path, body=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        headers = {}
        if body is not None:
            headers = {
                "Content-Type": "application/json",
                "X-Cincer-Token": self.base.strip("/"),
            }
        conn.request(
            method,
            self.base + path,
            headers=headers,
            body=None if body is None else json.dumps(body),
        )
        resp = conn.getresponse()
        body = resp.read()
        try:
            data = json.loads(body or b"null")
        except ValueError:
            data = body
        conn.close()
        return resp.status, data

    def answer(self, proc, stop_after=None):
        """Answer until the child ends, or right after ``stop_after`` replies.

        Returns True when it stopped after ``stop_after`` confirmed answers
        (the caller kills the child at once).
        """
        n = 0
        while proc.poll() is None:
            try:
                status, state = self._request("GET", "state")
            except OSError:  # the page is closing: the child is ending
                time.sleep(0.02)
                continue
            if status != 200 or not isinstance(state, dict):
                self.odd.append((status, state))
                time.sleep(0.02)
                continue
            if state.get("status") != "question":
                time.sleep(0.005)
                continue
            classes = [int(c) for c in state["classes"]]
            label = self.rng.randrange(len(classes))
            counter = state["counter"]
            counter_label = (
                self.rng.randrange(len(classes)) if state["counter_editable"] else None
            )
            try:
                status, _ = self._request(
                    "POST",
                    "answer",
                    {
                        "qid": state["qid"],
                        "label": label,
                        "counter_label": counter_label,
                    },
                )
            except OSError:
                continue
            if status != 200:
                continue
            key = _pair_key(
                state["example"]["id"],
                None if counter is None else counter["id"],
                classes[state["example"]["label_index"]],
                None if counter is None else classes[counter["label_index"]],
            )
            after = (
                classes[label],
                classes[counter_label]
                if counter_label is not None
                else None
                if counter is None
                else classes[counter["label_index"]],
            )
            self.confirmed[key] = after
            n += 1
            if stop_after is not None and n >= stop_after:
                return True
        return False


def _kill(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    proc.stderr.close()


def trial(
    workdir,
    rng,
    kills=2,
    max_delay=1.5,
    n_samples=N_SAMPLES,
    page=False,
    max_answers=40,
):
    """One trial; returns what happened. Raises AssertionError on a failure.

    With ``page=True`` each kill comes right after the page confirmed the
    k-th answer of that run, k uniform in 1..``max_answers``.
    """
    from sklearn_cincer.oracles import Answer

    store_path = os.path.join(workdir, "session.sqlite")
    out_path = os.path.join(workdir, "result.pkl")
    snapshots, killed_after, lost, checked = [], [], 0, 0
    for _ in range(kills):
        proc, url = _spawn(store_path, out_path, n_samples, page)
        if page:
            annotator = PageAnnotator(url)
            if not annotator.answer(proc, stop_after=rng.randint(1, max_answers)):
                break  # the session ended first
            _kill(proc)  # right after the reply: the confirmed answer must be kept
        else:
            time.sleep(rng.uniform(0, max_delay))
            if proc.poll() is not None:  # finished before the kill
                break
            _kill(proc)
        snapshot, _ = _answered(store_path)
        snapshots.append(snapshot)
        if page:
            # 4. what the page confirmed is in the store
            checked += len(annotator.confirmed)
            for key, labels in annotator.confirmed.items():
                if key not in snapshot or snapshot[key][1:] != labels:
                    lost += 1
        if os.path.exists(out_path):
            # the kill landed after the session had written its result (while
            # the interpreter was exiting): nothing was interrupted, so it does
            # not count as a kill and there is nothing to resume
            break
        killed_after.append(len(snapshot))
    if not os.path.exists(out_path):
        proc, url = _spawn(store_path, out_path, n_samples, page)
        if page:
            PageAnnotator(url).answer(proc)
        _, err = proc.communicate(timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"the resumed session failed: {err}")
    with open(out_path, "rb") as fh:
        result = pickle.load(fh)
    final, n_rows = _answered(store_path)

    # 4. what the page confirmed was in the store at each kill
    assert lost == 0, (
        f"{lost} of {checked} answers the page confirmed were not "
        "in the store at the kill"
    )
    # 1. no recorded answer is lost (nor changed)
    for snapshot in snapshots:
        for key, value in snapshot.items():
            assert final.get(key) == value, f"answer to {key} lost or changed"
    # 2. none applied twice: one history entry per stored answer, and they agree
    asked = [_pair_key(*h[:4]) for h in result["history"]]
    assert len(asked) == len(set(asked)), "a question was applied twice"
    assert set(asked) == set(final), "history and store disagree on the questions"
    for h, key in zip(result["history"], asked):
        assert (h[4], h[5]) == final[key][1:], f"another answer applied to {key}"
    # 3. same labels as an uninterrupted run with the same answers
    X, y = _data(n_samples)
    answers = {k: Answer(label=v[1], counter_label=v[2]) for k, v in final.items()}
    reference = _cleaner(DictOracle(answers)).fit(X, y)
    assert reference.ids_.tolist() == result["ids"], "training sets differ"
    assert reference.y_.tolist() == result["y"], "cleaned labels differ"
    return {
        "kills": len(killed_after),
        "answers_at_kills": killed_after,
        "confirmed_at_kills": checked,
        "answers": len(final),
        "store_rows": n_rows,
        "replayed_in_last_run": result["n_replayed"],
        "asked_in_last_run": result["n_asked"],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument(
        "--max-delay",
        type=float,
        default=None,
        help="longest wait before a kill, in seconds; default: "
        "the duration of an uninterrupted session, measured first",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-samples", type=int, default=N_SAMPLES)
    parser.add_argument(
        "--page",
        action="store_true",
        help="answer through the BrowserOracle page's HTTP "
        "interface; kill right after a confirmed answer",
    )
    parser.add_argument(
        "--max-answers",
        type=int,
        default=40,
        help="with --page: kill after the k-th confirmed answer of "
        "a run, k uniform in 1..this",
    )
    parser.add_argument("--child", nargs=2, metavar=("STORE", "OUT"))
    args = parser.parse_args(argv)
    if args.child:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
        child(*args.child, n_samples=args.n_samples, page=args.page)
        return 0
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # the reference runs: BLAS threads only fight on small data
    rng = random.Random(args.seed)
    if args.max_delay is None and not args.page:
        with tempfile.TemporaryDirectory() as workdir:
            start = time.perf_counter()
            proc, _ = _spawn(
                os.path.join(workdir, "s.sqlite"),
                os.path.join(workdir, "r.pkl"),
                args.n_samples,
            )
            ready = time.perf_counter()
            proc.communicate(timeout=600)
            args.max_delay = time.perf_counter() - ready
        print(
            f"an uninterrupted session takes {args.max_delay:.1f} s after start-up "
            f"({ready - start:.1f} s); kills come uniformly within that",
            flush=True,
        )
    failures, mid, n_kills, n_confirmed = 0, 0, 0, 0
    for i in range(args.trials):
        with tempfile.TemporaryDirectory() as workdir:
            try:
                info = trial(
                    workdir,
                    rng,
                    kills=args.kills,
                    max_delay=args.max_delay,
                    n_samples=args.n_samples,
                    page=args.page,
                    max_answers=args.max_answers,
                )
            except AssertionError as exc:
                failures += 1
                print(f"trial {i + 1}: FAILED: {exc}", flush=True)
                continue
        if any(0 < n < info["answers"] for n in info["answers_at_kills"]):
            mid += 1
        n_kills += info["kills"]
        n_confirmed += info["confirmed_at_kills"]
        print(f"trial {i + 1}: ok  {info}", flush=True)
    print(
        f"{args.trials - failures}/{args.trials} trials passed; {mid} killed in "
        f"the middle of the answers (some answered, some not); {n_kills} kills in "
        "the passed trials"
        + (
            f", right after {n_confirmed} answers the page confirmed, none lost"
            if args.page
            else ""
        )
        + "."
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main())
