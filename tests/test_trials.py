"""The robustness trials of ``benchmarks/``, run end to end as slow tests.

Each script tries one kind of harm against a labeling session and prints,
case by case, whether it held; it exits with 1 when one did not. Here each
runs as a person would run it (a fresh process, from the repository root),
on small settings: the full runs are the scripts' defaults.
``python -m pytest -m "not slow"`` leaves them out.
"""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def run_trial(script, *args, timeout=300):
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p]
        ),
    }
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return out.returncode, out.stdout + out.stderr


def test_bad_inputs_change_nothing():
    code, out = run_trial("bad_inputs.py")
    assert code == 0, out
    assert "FAILED" not in out
    held, total = out.split(" bad calls")[0].rsplit("\n", 1)[-1].split(" of ")
    assert held == total and int(total) > 10


def test_a_damaged_store_is_refused_or_safe():
    code, out = run_trial("store_damage.py")
    assert code == 0, out
    assert "FAILED" not in out and "store cases held." in out


def test_the_page_holds_against_a_hostile_local_process():
    pytest.importorskip("bottle", reason="the page needs bottle ('browser' extra)")
    code, out = run_trial("http_attacks.py")
    assert code == 0, out
    assert "FAILED" not in out and "HTTP attacks held." in out
    assert re.search(r"^held +no traceback on stderr$", out, re.MULTILINE)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL is POSIX only")
def test_crash_trials_from_the_command_line():
    # tests/test_crash.py runs single trials in this process; this is the
    # script's own loop and summary, with two kills a trial
    code, out = run_trial(
        "crash_trials.py",
        "--trials",
        "2",
        "--kills",
        "2",
        "--n-samples",
        "80",
        "--max-delay",
        "1.0",
    )
    assert code == 0, out
    assert "2/2 trials passed" in out
