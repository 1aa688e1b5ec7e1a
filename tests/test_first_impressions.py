"""What a newcomer meets first: the README's install notes and the test output."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_says_how_to_get_the_cpu_build_of_torch_and_point_tests_at_data():
    readme = (ROOT / "README.md").read_text()
    assert "pip install . && sklearn-cincer demo" in readme
    assert re.search(r"pip install torch==[\d.]+ --index-url "
                     r"https://download\.pytorch\.org/whl/cpu", readme)
    tests = readme[readme.index("Run the test suite with"):]
    tests = tests[:tests.index("## Use")]
    assert "SKLEARN_CINCER_DATA" in tests


def test_pytest_prints_skip_reasons(tmp_path):
    test = tmp_path / "test_skips.py"
    test.write_text(
        "import pytest\n\n"
        "def test_needs_data():\n"
        "    pytest.skip('the reason a newcomer needs to read')\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(ROOT / "setup.cfg"),
         "--rootdir", str(tmp_path), str(test)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert "the reason a newcomer needs to read" in done.stdout, done.stdout


def test_pip_install_brings_what_the_clean_command_needs():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needed = {re.split(r"[<>=\[ ]", dep)[0] for dep in project["dependencies"]}
    # reading the CSV file, and the page of --oracle browser
    assert {"pandas", "bottle"} <= needed
    assert project["scripts"]["sklearn-cincer"] == "sklearn_cincer._cli:main"
