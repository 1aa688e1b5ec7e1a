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


def test_confusion_follows_the_rows_of_the_matrix():
    # class 0 is taken for 1 three times as often as for 2; class 1 only for
    # 2; class 2 never confused: uniform over the others
    confusion = np.array([[50, 30, 10], [0, 50, 20], [0, 0, 50]])
    y = np.repeat(np.arange(3), 4000)
    y_noisy, is_noisy = make_label_noise(
        y, 0.5, kind="confusion", confusion=confusion, random_state=0
    )
    assert is_noisy.sum() == 6000
    np.testing.assert_array_equal(is_noisy, y_noisy != y)
    from_0 = np.bincount(y_noisy[is_noisy & (y == 0)], minlength=3)
    assert from_0[0] == 0 and abs(from_0[1] / from_0[2] - 3.0) < 0.4
    from_1 = np.bincount(y_noisy[is_noisy & (y == 1)], minlength=3)
    assert from_1[0] == 0 and from_1[1] == 0 and from_1[2] > 0
    from_2 = np.bincount(y_noisy[is_noisy & (y == 2)], minlength=3)
    assert from_2[2] == 0 and abs(from_2[0] / from_2[1] - 1.0) < 0.2


def test_confusion_learnt_from_a_model_on_clean_labels():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    y_noisy, is_noisy = make_label_noise(y, 0.2, kind="confusion", X=X, random_state=0)
    assert is_noisy.sum() == round(0.2 * len(y))
    np.testing.assert_array_equal(is_noisy, y_noisy != y)
    # the flips follow what a model confuses: far from uniform, each class
    # goes mostly to a few others (uniform would spread over 9)
    pairs = np.zeros((10, 10), int)
    np.add.at(pairs, (y[is_noisy], y_noisy[is_noisy]), 1)
    top2 = np.sort(pairs, axis=1)[:, -2:].sum(axis=1) / pairs.sum(axis=1)
    assert np.median(top2) > 0.5  # uniform gives about 2/9
    again, _ = make_label_noise(y, 0.2, kind="confusion", X=X, random_state=0)
    np.testing.assert_array_equal(again, y_noisy)


def test_confusion_bad_input_fails_before_any_draw():
    y = np.arange(30) % 3
    with pytest.raises(ValueError, match="confusion matrix"):
        make_label_noise(y, 0.2, kind="confusion")
    with pytest.raises(ValueError, match="shape"):
        make_label_noise(y, 0.2, kind="confusion", confusion=np.ones((2, 2)))
    with pytest.raises(ValueError, match="non-negative"):
        make_label_noise(y, 0.2, kind="confusion", confusion=-np.ones((3, 3)))
    with pytest.raises(ValueError, match="two examples of every class"):
        make_label_noise(
            np.array([0, 1, 1, 2, 2]), 0.2, kind="confusion", X=np.ones((5, 2))
        )


def test_uniform_and_pairwise_draws_unchanged():
    # the benchmarks' noise, seed for seed, is what it was before
    # kind="confusion" existed: the same draws in the same order
    y = np.arange(200) % 7
    for kind in ("uniform", "pairwise"):
        rng = np.random.RandomState(3)
        noisy = rng.choice(200, size=40, replace=False)
        shift = rng.randint(1, 7, size=40) if kind == "uniform" else 1
        expected = y.copy()
        expected[noisy] = (y[noisy] + shift) % 7
        got, _ = make_label_noise(y, 0.2, kind=kind, random_state=3)
        np.testing.assert_array_equal(got, expected)
