"""What a newcomer meets first: the README's install notes and the test output."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_readme_says_how_to_get_the_cpu_build_of_torch_and_point_tests_at_data():
    readme = (ROOT / "README.md").read_text()
    assert "pip install . && sklearn-cincer demo" in readme
    assert re.search(
        r"pip install torch==[\d.]+ --index-url "
        r"https://download\.pytorch\.org/whl/cpu",
        readme,
    )
    tests = readme[readme.index("Run the test suite with") :]
    tests = tests[: tests.index("## Use")]
    assert "SKLEARN_CINCER_DATA" in tests


def test_pytest_prints_skip_reasons(tmp_path):
    test = tmp_path / "test_skips.py"
    test.write_text(
        "import pytest\n\n"
        "def test_needs_data():\n"
        "    pytest.skip('the reason a newcomer needs to read')\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-c",
            str(ROOT / "setup.cfg"),
            "--rootdir",
            str(tmp_path),
            str(test),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert "the reason a newcomer needs to read" in done.stdout, done.stdout


def test_pip_install_brings_what_the_clean_command_needs():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needed = {re.split(r"[<>=\[ ]", dep)[0] for dep in project["dependencies"]}
    # reading the CSV file, and the page of --oracle browser
    assert {"pandas", "bottle"} <= needed
    assert project["scripts"]["sklearn-cincer"] == "sklearn_cincer._cli:main"


def test_readme_says_the_suite_time_and_lists_the_data_files_the_tests_read(
    monkeypatch,
):
    import os

    from sklearn_cincer.datasets import (
        _files,
        _loaders,
        load_20newsgroups,
        load_adult,
        load_fashion_mnist,
        load_mnist,
    )

    readme = (ROOT / "README.md").read_text()
    tests = readme[readme.index("Run the test suite with") : readme.index("## Use")]
    tests = " ".join(tests.split())
    assert "about 6 minutes on 2 cores" in tests
    files = tests[
        tests.index("They read these files") : tests.index("The browser tests")
    ]
    listed = set(re.findall(r"`(\w+/[\w.-]+\.\w+)`", files))
    # the folder the data tests use (tests/test_datasets.py's _shared_data)
    home = Path(os.environ.get("SKLEARN_CINCER_DATA") or ROOT.parent / "shared/data")
    if not (home / "adult").is_dir():
        home = ROOT.parent / "shared" / "data"
    if not home.is_dir():
        pytest.skip("the data folder is not here: the data tests skip too")
    read = set()
    real = _loaders.fetch_file

    def recording(remote, *args, **kwargs):
        path = real(remote, *args, **kwargs)
        read.add(remote.path)
        return path

    monkeypatch.setattr(_loaders, "fetch_file", recording)
    load_adult(data_home=home)
    load_mnist(data_home=home)
    load_fashion_mnist(data_home=home)
    load_20newsgroups(data_home=home, n_components=None)
    # test_shared_checksums_match_registry reads these without a loader
    read |= {
        f.path
        for f in (
            _files.ADULT_DATA,
            _files.MNIST_5K,
            _files.FASHION_TEST_LABELS,
            _files.NEWSGROUPS_ARCHIVE,
        )
    }
    assert listed == read
