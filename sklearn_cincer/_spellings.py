"""Label spellings that differ only in case or whitespace (``Adelie``, ``Adelie ``).

A classifier takes each spelling for a class of its own, so the rows of one
class are split in two and each part looks mislabeled to the other. This is
a fault of the file, not of any row's label: it is reported before any
cleaning, by :func:`~sklearn_cincer.health_summary` and ``sklearn-cincer
clean``.
"""

import numpy as np


def spelling_key(label):
    """The label without case and without any whitespace, or None if not text.

    Examples
    --------
    >>> from sklearn_cincer._spellings import spelling_key
    >>> spelling_key(" Adelie  Penguin"), spelling_key("adeliepenguin"), spelling_key(3)
    ('adeliepenguin', 'adeliepenguin', None)
    """
    if not isinstance(label, str):
        return None
    return "".join(label.split()).casefold()


def spelling_variants(labels):
    """Groups of distinct labels that differ only in case or whitespace.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        The labels as given; values that are not text (numbers, missing
        values) are never grouped.

    Returns
    -------
    groups : list of dict
        One ``{spelling: count}`` per group of two or more spellings, the
        most frequent spelling first; groups with more rows first.

    Examples
    --------
    >>> from sklearn_cincer._spellings import spelling_variants
    >>> spelling_variants(["Adelie", "Gentoo", "Adelie ", "Adelie", "gentoo", 1])
    [{'Adelie': 2, 'Adelie ': 1}, {'Gentoo': 1, 'gentoo': 1}]
    """
    values, counts = np.unique(
        np.array(
            [str(v) if isinstance(v, str) else "" for v in labels] + [""], dtype=object
        ).astype(str),
        return_counts=True,
    )
    groups = {}
    for value, count in zip(values.tolist(), counts.tolist()):
        key = spelling_key(value)
        if key:  # "" holds every value that is not text, and the padding
            groups.setdefault(key, {})[value] = count
    found = [
        dict(sorted(group.items(), key=lambda item: (-item[1], item[0])))
        for group in groups.values()
        if len(group) > 1
    ]
    return sorted(found, key=lambda group: -sum(group.values()))


def describe_variants(groups):
    """One line per group, for a person: ``'Adelie' (152 rows), 'Adelie ' (3 rows)``.

    Examples
    --------
    >>> from sklearn_cincer._spellings import describe_variants
    >>> describe_variants([{"Adelie": 2, "Adelie ": 1}])
    ["'Adelie' (2 rows), 'Adelie ' (1 row)"]
    """
    return [
        ", ".join(
            f"{spelling!r} ({count} row{'s' if count != 1 else ''})"
            for spelling, count in group.items()
        )
        for group in groups
    ]
