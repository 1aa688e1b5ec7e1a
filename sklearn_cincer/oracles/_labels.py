"""How a person names and picks a class: shown names, keys, typed labels.

A misrecorded answer is the worst thing a labeling tool can do, so the rule
is that what a person types is the class itself wherever that is possible:

- When every class is one of the integers 0-9 (or the strings "0"-"9"), the
  digit key of a class picks that class: ``4`` is the class 4, never "the
  fourth class".
- Otherwise the page gives each class a letter (shown on its button) and the
  terminal takes the label typed out, or an unambiguous first part of it,
  with Tab completion.

``class_names`` shows names instead of codes; the codes still work as input.
"""

from numbers import Integral, Real

from ._base import plain
from ._render import label_text

#: Letters the page gives to classes, in order; "s" and "u" stay skip and undo.
LETTERS = "abcdefghijklmnopqrtvwxyz"
#: What the terminal reads as commands rather than labels.
COMMANDS = {
    "s": "skip",
    "skip": "skip",
    "u": "undo",
    "undo": "undo",
    "?": "help",
    "help": "help",
}


def check_class_names(class_names):
    """Validate ``class_names`` on its own; the classes are checked per query.

    Returns a dict ``{class value: name}``, a list of names (in the order of
    the sorted classes), or None.
    """
    if class_names is None:
        return None
    if isinstance(class_names, dict):
        pairs = list(class_names.items())
        names = [name for _, name in pairs]
    elif isinstance(class_names, (list, tuple)) or (
        hasattr(class_names, "__array__") and hasattr(class_names, "__len__")
    ):
        names = list(class_names)
    else:
        raise TypeError(
            "class_names must be a dict {class: name} or a sequence of names in "
            f"the order of the sorted classes, got {type(class_names).__name__}."
        )
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(
                f"class_names must hold non-empty strings, got {plain(name)!r}."
            )
    folded = [name.strip().casefold() for name in names]
    twice = sorted({n for n in names if folded.count(n.strip().casefold()) > 1})
    if twice:
        raise ValueError(
            f"class_names gives the same name to several classes: {twice}; a "
            "person could not tell them apart."
        )
    if isinstance(class_names, dict):
        return {plain(c): name.strip() for c, name in pairs}
    return [name.strip() for name in names]


def _digit(value):
    """The digit 0-9 that ``value`` is, or None."""
    value = plain(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return int(value) if len(value) == 1 and value in "0123456789" else None
    if isinstance(value, Integral) or (
        isinstance(value, Real) and float(value).is_integer()
    ):
        number = int(value)
        return number if 0 <= number <= 9 else None
    return None


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


class Choices:
    """The classes of one query as a person sees and picks them.

    Parameters
    ----------
    classes : array-like
        The classes of the query (``query.classes``).
    class_names : dict, list or None
        As returned by :func:`check_class_names`.

    Attributes
    ----------
    classes : list
        The classes as plain Python values.
    codes : list of str
        Each class as text.
    names : list of str
        What the person sees for each class: its name, else its code.
    keys : list of str or None
        The key that picks each class on the page (None: no key).
    digits : bool
        Whether the keys are the classes themselves (digits 0-9).
    """

    def __init__(self, classes, class_names=None):
        self.classes = [plain(c) for c in classes]
        self.codes = [label_text(c) for c in self.classes]
        self.names = self._names(class_names)
        digits = [_digit(c) for c in self.classes]
        self.digits = None not in digits and len(set(digits)) == len(digits)
        if self.digits:
            self.keys = [str(d) for d in digits]
        else:
            self.keys = [
                LETTERS[i] if i < len(LETTERS) else None
                for i in range(len(self.classes))
            ]

    def _names(self, class_names):
        if class_names is None:
            return list(self.codes)
        if isinstance(class_names, dict):
            missing = [c for c in self.classes if c not in class_names]
            if missing:
                raise ValueError(
                    f"class_names has no name for the classes {missing} (its keys "
                    f"are {list(class_names)}); name every class."
                )
            names = [class_names[c] for c in self.classes]
        else:
            if len(class_names) != len(self.classes):
                raise ValueError(
                    f"class_names holds {len(class_names)} names for "
                    f"{len(self.classes)} classes {self.classes}; give one name "
                    "per class, in the order of the sorted classes, or a dict."
                )
            names = list(class_names)
        for i, name in enumerate(names):
            for j, code in enumerate(self.codes):
                if i != j and name == code:
                    raise ValueError(
                        f"class_names names class {self.classes[i]!r} {name!r}, "
                        f"which is the code of class {self.classes[j]!r}: a person "
                        "typing it could mean either."
                    )
        return names

    def index(self, label):
        """The position of ``label`` among the classes, or None."""
        if label is None:
            return None
        label = plain(label)
        for i, c in enumerate(self.classes):
            if c == label:
                return i
        return None

    def name(self, label):
        """What the person sees for ``label``."""
        i = self.index(label)
        return label_text(label) if i is None else self.names[i]

    def resolve(self, text):
        """Read what a person typed.

        Returns
        -------
        kind : {"class", "skip", "undo", "help", "error"}
        value : int or str
            The class's position for "class", an explanation for "error".
        """
        text = text.strip()
        # The class itself comes first: its code, then its name.
        for names in (self.codes, self.names):
            if text in names:
                return "class", names.index(text)
        folded = text.casefold()
        if folded in COMMANDS:
            return COMMANDS[folded], None
        exact = [i for i, n in enumerate(self.names) if n.casefold() == folded]
        if len(exact) == 1:
            return "class", exact[0]
        unknown = f"{text!r} is not one of the classes ({', '.join(self.names)})"
        if _is_number(text):
            # a number is a class only when it is one exactly: 4 never means 42
            return "error", unknown
        starts = [
            i for i, n in enumerate(self.names) if n.casefold().startswith(folded)
        ]
        if len(starts) == 1:
            return "class", starts[0]
        if starts:
            options = ", ".join(self.names[i] for i in starts)
            return "error", f"{text!r} could be {options}: type more of it"
        return "error", unknown

    def complete(self, prefix):
        """The names that start with ``prefix`` (ignoring case), for Tab."""
        folded = prefix.casefold()
        return [n for n in self.names if n.casefold().startswith(folded)]

    def listing(self):
        """The classes on one line, each with its code where a name hides it."""
        if self.digits:
            return "  ".join(
                key if name == key else f"{key} {name}"
                for key, name in zip(self.keys, self.names)
            )
        return "  ".join(
            name if code == name else f"{name} ({code})"
            for code, name in zip(self.codes, self.names)
        )
