"""Label noise: corrupt a known fraction of labels, reproducibly."""

from numbers import Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params


@validate_params(
    {
        "y": ["array-like"],
        "noise_rate": [Interval(Real, 0, 1, closed="both")],
        "kind": [StrOptions({"uniform", "pairwise"})],
        "classes": ["array-like", None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_label_noise(y, noise_rate=0.2, *, kind="uniform", classes=None,
                     random_state=None):
    """Corrupt a fraction of labels, as the paper's experiments do.

    Exactly ``round(noise_rate * n_samples)`` examples, drawn uniformly
    without replacement, get a wrong label:

    - ``kind="uniform"`` (the paper's setting): a label drawn uniformly among
      the other classes;
    - ``kind="pairwise"`` (class-dependent): the next class in sorted order,
      the last class flipping to the first, so each class is confused with one
      other.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        The true labels.
    noise_rate : float, default=0.2
        Fraction of labels to corrupt, in ``[0, 1]``.
    kind : {"uniform", "pairwise"}, default="uniform"
        How a corrupted label is chosen.
    classes : array-like, default=None
        All labels a corrupted label may take; defaults to those in ``y``.
    random_state : int, RandomState instance or None, default=None
        Seeds which examples are corrupted and how.

    Returns
    -------
    y_noisy : ndarray of shape (n_samples,)
        The labels with noise.
    is_noisy : ndarray of bool of shape (n_samples,)
        Which labels were corrupted (``y_noisy != y`` exactly there).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer.datasets import make_label_noise
    >>> y = np.array([0, 1, 2] * 10)
    >>> y_noisy, is_noisy = make_label_noise(y, noise_rate=0.2, random_state=0)
    >>> int(is_noisy.sum()), bool(np.all((y_noisy != y) == is_noisy))
    (6, True)
    """
    y = np.asarray(y)
    classes = np.unique(y) if classes is None else np.unique(classes)
    if classes.shape[0] < 2 and noise_rate > 0:
        raise ValueError("Label noise needs at least two classes.")
    rng = check_random_state(random_state)
    n_noisy = int(round(noise_rate * y.shape[0]))
    noisy = rng.choice(y.shape[0], size=n_noisy, replace=False)
    current = np.searchsorted(classes, y[noisy])
    if kind == "uniform":
        # A shift in 1..c-1 lands uniformly on the other classes.
        shift = rng.randint(1, classes.shape[0], size=n_noisy)
    else:
        shift = np.ones(n_noisy, dtype=int)
    y_noisy = y.copy()
    y_noisy[noisy] = classes[(current + shift) % classes.shape[0]]
    is_noisy = np.zeros(y.shape[0], dtype=bool)
    is_noisy[noisy] = True
    return y_noisy, is_noisy
