"""Label noise: exact fraction, uniform or pairwise flips, reproducible."""

import numpy as np
import pytest

from sklearn_cincer.datasets import make_label_noise


@pytest.mark.parametrize("kind", ["uniform", "pairwise"])
def test_exact_fraction_and_mask(kind):
    y = np.repeat(np.arange(5), 40)
    y_noisy, is_noisy = make_label_noise(y, 0.2, kind=kind, random_state=0)
    assert is_noisy.sum() == 40
    np.testing.assert_array_equal(is_noisy, y_noisy != y)
    assert set(np.unique(y_noisy)) <= set(range(5))


def test_pairwise_flips_to_the_next_class():
    y = np.array(["a", "b", "c"] * 20)
    y_noisy, is_noisy = make_label_noise(y, 0.5, kind="pairwise", random_state=1)
    nxt = {"a": "b", "b": "c", "c": "a"}
    assert all(y_noisy[i] == nxt[y[i]] for i in np.flatnonzero(is_noisy))


def test_uniform_reaches_every_other_class():
    y = np.zeros(3000, dtype=int)
    y_noisy, _ = make_label_noise(y, 1.0, classes=[0, 1, 2, 3], random_state=0)
    counts = np.bincount(y_noisy, minlength=4)
    assert counts[0] == 0
    assert np.all(np.abs(counts[1:] - 1000) < 120)


def test_reproducible_and_seed_dependent():
    y = np.arange(100) % 3
    a = make_label_noise(y, 0.3, random_state=5)
    b = make_label_noise(y, 0.3, random_state=5)
    c = make_label_noise(y, 0.3, random_state=6)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[1], c[1])
    np.testing.assert_array_equal(y, np.arange(100) % 3)  # input untouched


def test_no_noise_and_bad_input():
    y = np.arange(10) % 2
    y_noisy, is_noisy = make_label_noise(y, 0.0, random_state=0)
    np.testing.assert_array_equal(y_noisy, y)
    assert not is_noisy.any()
    with pytest.raises(ValueError):
        make_label_noise(y, 1.5)
    with pytest.raises(ValueError, match="two classes"):
        make_label_noise(np.zeros(5), 0.2)
