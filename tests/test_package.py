"""Packaging: the public API, lazy heavy imports, the console entry point."""

import subprocess
import sys

import sklearn_cincer


def test_public_names():
    expected = {
        "SkepticalCleaner", "TopFisherSelector", "FullFisherSelector",
        "PracticalFisherSelector", "InfluenceSelector", "NearestNeighborSelector",
        "RandomSelector", "SimulatedOracle",
    }
    assert expected <= set(sklearn_cincer.__all__)
    for name in sklearn_cincer.__all__:
        assert hasattr(sklearn_cincer, name), name
    assert sklearn_cincer.__version__


def test_import_does_not_load_torch_or_plotting():
    # (pandas is not checked: scikit-learn itself imports it when installed.)
    code = (
        "import sys, sklearn_cincer, sklearn_cincer.oracles, sklearn_cincer.selectors, "
        "sklearn_cincer.datasets\n"
        "heavy = [m for m in ('torch', 'skorch', 'matplotlib') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"importing sklearn_cincer loaded {out}"
