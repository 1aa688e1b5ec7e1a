"""How the human oracles show an example: tables, images, texts.

Everything that ends up in a page goes through :func:`html.escape` here; the
one exception is the HTML that a user-supplied ``render`` callable returns,
which is the user's own markup and is inserted as is.
"""

import base64
import html
import struct
import zlib
from numbers import Integral

import numpy as np

from ._base import plain  # noqa: F401  (used by the page and the human oracles)

_DISPLAYS = ("auto", "tabular", "text", "image")


def label_text(label):
    """A label as the person reads it: its code, without class names."""
    return "" if label is None else str(plain(label))


def inert(text, keep="\n\t"):
    """``text`` with control characters other than those in ``keep`` (line
    breaks and tabs) written as escapes (``\\x1b``), so that what the data
    holds cannot move the cursor, clear the screen or retitle the person's
    terminal; ``keep=""`` escapes line breaks too, for one-line messages."""
    return "".join(
        c if c.isprintable() or c in keep else repr(c)[1:-1] for c in str(text)
    )


#: What a person sees for a value that is not there (NaN, None, pandas' NA).
MISSING = "missing"


def is_missing(value):
    """Whether ``value`` is a missing value: None, NaN or pandas' NA."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN and pandas' NA are not equal to themselves
    except (TypeError, ValueError):  # NA's truth is ambiguous: it is NA
        return True


def fmt(value):
    """A feature value, short; "missing" where there is none (never "nan")."""
    value = plain(value)
    if is_missing(value):
        return MISSING
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e10:
            return str(int(value))  # 77516, not 7.752e+04: a count reads whole
        return f"{value:.4g}"
    return str(value)


def sure_text(margin):
    """The margin in plain words, with the number."""
    return f"how sure the model is: {margin:.2f} (0 = unsure, 1 = certain)"


def support_text(score, text=None):
    """The selector's score in plain words, with the number; '' without one.

    ``text`` is the selector's own words for it (``CounterExample.score_text``).
    """
    if text:
        return text
    if score is None:
        return ""
    return f"how much it supports the doubt: {score:.3g} (higher = more)"


class Naming:
    """How the person reads the name of an example: one name per row, everywhere.

    Parameters
    ----------
    example_name : callable or None
        ``example_name(example_id) -> str``: the oracle's ``example_name``,
        e.g. ``"line 268"`` for the row on line 268 of the user's file.
        None names an example by its stream id: ``"#106"`` where the role is
        said around it, ``"example #106"`` in a sentence.
    """

    def __init__(self, example_name=None):
        self.example_name = example_name

    def short(self, example_id):
        """``"#106"``, or the user's name for it."""
        if self.example_name is None:
            return f"#{int(example_id)}"
        name = self.example_name(example_id)
        if not isinstance(name, str) or not name.strip():
            raise TypeError(
                f"example_name({int(example_id)}) must return a non-empty str, "
                f"got {name!r}."
            )
        return " ".join(name.split())  # one line, whatever it held

    def noun(self, example_id):
        """``"example #106"``: the name as it reads in a sentence."""
        if self.example_name is None:
            return f"example #{int(example_id)}"
        return self.short(example_id)

    def titled(self, role, example_id):
        """``"Counter-example #268"``, or ``"Counter-example: line 57"``."""
        if self.example_name is None:
            return f"{role} {self.short(example_id)}"
        return f"{role}: {self.short(example_id)}"


def _capital(text):
    return text[:1].upper() + text[1:]


def why_sentence(query, name=label_text, naming=None):
    """Why the cleaner asks, and why the pair is shown, in plain words.

    ``name(label)`` is what the person sees for a label (its class name);
    ``naming`` (a :class:`Naming`) names the examples. The sentence says
    what the model doubts, which training examples back the doubt and why
    (they carry the label the model predicts, or another one), and what the
    person is asked to check, which depends on the strategy.
    """
    naming = Naming() if naming is None else naming
    label, pred = name(query.label), name(query.prediction)
    example = naming.noun(query.example_id)
    doubt = f"The model thinks {example} is '{pred}', but it is labeled '{label}'."
    shown = query.counter_examples
    if not shown:
        return (
            doubt + " No counter-example is shown, so only this label is in "
            "question." + _note(query)
        )
    if len(shown) == 1:
        ce = shown[0]
        sentence = (
            f"{doubt} {_capital(naming.noun(ce.example_id))}, "
            f"{_labeled(ce, query, name)}, is a training example that "
            "supports the model's doubt"
        )
    else:
        listing = ", ".join(
            f"{naming.short(ce.example_id)} ('{name(ce.label)}')" for ce in shown
        )
        sentence = (
            f"{doubt} Examples {listing}, best first, are {len(shown)} "
            "training examples that support the model's doubt"
        )
    return sentence + _asked(query, naming) + _note(query)


def _labeled(ce, query, name):
    """``"labeled 'dog' as the model predicts"``, or only the label."""
    text = f"labeled '{name(ce.label)}'"
    if plain(ce.label) == plain(query.prediction):
        text += " as the model predicts"
    return text


def _asked(query, naming):
    """What the person is asked to check, and what follows, by strategy."""
    n = len(query.counter_examples)
    if query.strategy == "explain":  # the counter-examples explain; kept
        return "."
    if query.strategy == "relabel":
        return ": check both labels." if n == 1 else ": check every label."
    # "drop": only the example's label is asked; the answer decides the rest
    them = (
        f"{naming.short(query.counter_examples[0].example_id)} leaves"
        if n == 1
        else f"those {n} examples leave"
    )
    return (
        f". Check the label of {naming.short(query.example_id)}: if you "
        f"keep it, {them} the training set."
    )


def _note(query):
    """The asker's own words on why, after a space (empty without them)."""
    note = getattr(query, "note", None)
    return f" {note}" if note else ""


def counter_title(query, k):
    """``"counter-example"``, or ``"counter-example 2 of 3"`` among several."""
    n = len(query.counter_examples)
    return "counter-example" if n == 1 else f"counter-example {k + 1} of {n}"


#: Rounds seen before the page guesses how many questions are left.
_MIN_ROUNDS_FOR_GUESS = 10


def progress_text(query, asked):
    """``"question k · r of n examples seen · about m more questions"``.

    ``asked`` is the number of questions this oracle has shown, this one
    included: the question's number when the query does not carry the
    cleaner's own count (``query.question``). The stream's progress is a
    count, never an example's number, so that it is not read as a name: an
    example is named by :class:`Naming` alone. The guess of what is left
    extrapolates the questions per round so far over the rounds left.
    """
    question = query.question or asked
    parts = [f"question {question}"]
    n_rounds, current = query.n_rounds, int(query.round)
    if current and n_rounds:
        parts.append(f"{current} of {n_rounds} examples seen")
        left = max(0, n_rounds - current)
        if left == 0:
            parts.append("the last example")
        elif current >= _MIN_ROUNDS_FOR_GUESS and query.question:
            more = round(query.question / current * left)
            parts.append(f"about {more} more question{'s' * (more != 1)}")
    return " \u00b7 ".join(parts)


def spread_note(query, n_hot):
    """How the highlighted features were chosen, for a person."""
    if not n_hot:
        return ""
    what = (
        f"the {n_hot} features that differ most"
        if n_hot > 1
        else "the feature that differs most"
    )
    if query.feature_scale is None:
        return f"Highlighted: {what} (raw differences)."
    return (
        f"Highlighted: {what}, counted in standard deviations (SD) of each "
        "feature over the training data, not in its own units."
    )


class Renderer:
    """Turns the examples of a query into HTML (browser) or text (terminal).

    Parameters
    ----------
    display : {"auto", "tabular", "text", "image"}
        How to show an example. "auto" is "text" when ``texts`` is given,
        "image" when ``image_shape`` is given, "tabular" otherwise.
    render : callable or None
        ``render(x, example_id) -> str``: the user's own view of an example
        (HTML in a browser, text in a terminal). Overrides ``display``.
    texts : sequence of str or None
        The raw text of every example, indexed by stream id (the features the
        cleaner sees are usually a vectorization of it).
    image_shape : tuple of int or None
        ``(height, width)`` or ``(height, width, channels)`` to reshape ``x``
        into an image.
    feature_names : sequence of str or None
        Names of the features; defaults to ``query.feature_names`` or
        ``x[0], x[1], ...``.
    n_highlight : int
        How many of the features that differ most between the example and the
        counter-example are highlighted.
    max_features : int
        At most this many features are listed (those that differ most first
        when there is a counter-example).
    example_name : callable or None
        ``example_name(example_id) -> str``: how an example is named (see
        :class:`Naming`).
    """

    def __init__(
        self,
        display="auto",
        render=None,
        texts=None,
        image_shape=None,
        feature_names=None,
        n_highlight=3,
        max_features=20,
        example_name=None,
    ):
        if display not in _DISPLAYS:
            raise ValueError(
                f"display must be one of {list(_DISPLAYS)}, got {display!r}."
            )
        if render is not None and not callable(render):
            raise TypeError(
                f"render must be a callable render(x, example_id) -> str, got "
                f"{type(render).__name__}."
            )
        if display == "text" and texts is None and render is None:
            raise ValueError(
                "display='text' needs texts: the raw text of every example, "
                "indexed by stream id."
            )
        if display == "image" and image_shape is None and render is None:
            raise ValueError("display='image' needs image_shape=(height, width).")
        if image_shape is not None:
            image_shape = tuple(int(s) for s in image_shape)
            if (
                len(image_shape) not in (2, 3)
                or min(image_shape) < 1
                or (len(image_shape) == 3 and image_shape[2] not in (1, 3, 4))
            ):
                raise ValueError(
                    "image_shape must be (height, width) or (height, width, c) "
                    f"with c in 1, 3, 4; got {image_shape}."
                )
        for name, value in (
            ("n_highlight", n_highlight),
            ("max_features", max_features),
        ):
            if not isinstance(value, Integral) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}.")
        self.display = display
        self.render = render
        self.texts = texts
        self.image_shape = image_shape
        self.feature_names = feature_names
        self.n_highlight = n_highlight
        self.max_features = max_features
        if example_name is not None and not callable(example_name):
            raise TypeError(
                "example_name must be a callable example_name(example_id) -> "
                f"str, got {type(example_name).__name__}."
            )
        self.naming = Naming(example_name)

    @property
    def kind(self):
        if self.render is not None:
            return "custom"
        if self.display != "auto":
            return self.display
        if self.texts is not None:
            return "text"
        if self.image_shape is not None:
            return "image"
        return "tabular"

    # ------------------------------------------------------------- helpers

    def text_of(self, example_id):
        try:
            text = self.texts[example_id]
        except (IndexError, KeyError) as exc:
            raise IndexError(
                f"texts has no entry for stream id {example_id}: give the raw "
                "text of every example of the stream, indexed by stream id."
            ) from exc
        return str(text)

    def names(self, query, n_features):
        names = self.feature_names
        if names is None:
            names = query.feature_names
        if names is None:
            return [f"x[{j}]" for j in range(n_features)]
        names = [str(n) for n in names]
        if len(names) != n_features:
            raise ValueError(f"{len(names)} feature names for {n_features} features.")
        return names

    def feature_order(self, query):
        """Indices of the features to list, the set to highlight, the differences.

        With a counter-example, features are ranked by how far apart the two
        examples are in units of each feature's spread over the training data
        (``query.feature_scale``, a standard deviation), so that a feature
        measured in large units does not win by its units alone. A feature
        constant over the training data that differs here ranks first. With
        several counter-examples, a feature ranks by the largest of its
        differences, so that every table lists the same rows. The differences
        (in those units; raw without a scale) are returned with the order,
        one array per counter-example, none without one.
        """
        x = np.asarray(query.x).ravel()
        n = x.shape[0]
        if not query.has_counter_example:
            order = np.arange(n)[: self.max_features]
            return [int(j) for j in order], set(), []
        diffs = [
            _differences(x, np.asarray(ce.x).ravel(), query.feature_scale)
            for ce in query.counter_examples
        ]
        order, hot = self._ranked(np.fmax.reduce(diffs))  # fmax: NaN only if all
        return order, hot, diffs

    def _ranked(self, diff):
        """The features to list, most different first, and those to highlight."""
        # a value missing on one side is unknown: listed, never the most different
        ranked = np.where(np.isnan(diff), 0.0, diff)
        order = np.argsort(-ranked, kind="stable")
        hot = {int(j) for j in order[: self.n_highlight] if ranked[j] > 0}
        return [int(j) for j in order[: self.max_features]], hot

    # ----------------------------------------------------------------- HTML

    def html_views(self, query):
        """``(example_html, counter_htmls)``, every string escaped.

        ``counter_htmls`` holds one view per counter-example, in order (none
        without one). Each counter-example's table highlights the features
        in which it differs most from the example.
        """
        kind = self.kind
        ids = [(query.example_id, query.x)] + [
            (ce.example_id, ce.x) for ce in query.counter_examples
        ]
        if kind == "tabular":
            order, hot, diffs = self.feature_order(query)
            names = self.names(query, np.asarray(query.x).size)
            out = [
                self._html_table(
                    np.asarray(query.x).ravel(),
                    names,
                    order,
                    hot,
                    head=query.has_counter_example,
                )
            ]
            for ce, diff in zip(query.counter_examples, diffs):
                own = self._ranked(diff)[1] if len(diffs) > 1 else hot
                out.append(
                    self._html_table(
                        np.asarray(ce.x).ravel(),
                        names,
                        order,
                        own,
                        diff=diff,
                        note=spread_note(query, len(own)),
                        unit=query.feature_scale is not None,
                    )
                )
        elif kind == "text":
            out = [_html_text(self.text_of(i)) for i, _ in ids]
        elif kind == "image":
            out = [self._html_image(x, i) for i, x in ids]
        else:
            out = []
            for i, x in ids:
                rendered = self.render(x, i)
                if not isinstance(rendered, str):
                    raise TypeError(
                        f"render(x, {i}) must return a str of HTML, got "
                        f"{type(rendered).__name__}."
                    )
                out.append(rendered)
        return out[0], tuple(out[1:])

    def _html_table(
        self, x, names, order, hot, diff=None, note="", unit=True, head=True
    ):
        """A table of features; the counter-example's says how far apart.

        Both tables of a pair have a head row, so that their rows line up.
        """
        rows = []
        if head or diff is not None:
            apart = ""
            if diff is not None:
                apart = f"<td>{'apart (SD)' if unit else 'apart'}</td>"
            rows.append(f'<tr class="head"><th>feature</th><td>value</td>{apart}</tr>')
        for j in order:
            cls = ' class="diff"' if j in hot else ""
            apart = ""
            if diff is not None:
                apart = f'<td class="apart">{html.escape(_apart(diff[j]))}</td>'
            rows.append(
                f"<tr{cls}><th>{html.escape(names[j])}</th>"
                f"<td>{html.escape(fmt(x[j]))}</td>{apart}</tr>"
            )
        more = ""
        if len(order) < x.shape[0]:
            more = (
                f'<p class="more">{len(order)} of {x.shape[0]} features '
                "shown, those that differ most first.</p>"
            )
        if note:
            more += f'<p class="more">{html.escape(note)}</p>'
        return (
            '<table class="features"><tbody>'
            + "".join(rows)
            + "</tbody></table>"
            + more
        )

    def _html_image(self, x, example_id):
        x = np.asarray(x, dtype=float)
        if x.size != int(np.prod(self.image_shape)):
            raise ValueError(
                f"Example {example_id} has {x.size} features, which cannot be "
                f"reshaped to image_shape {self.image_shape}."
            )
        img = x.reshape(self.image_shape)
        lo, hi = np.nanmin(img), np.nanmax(img)
        scaled = np.zeros_like(img) if hi <= lo else (img - lo) / (hi - lo)
        pixels = np.nan_to_num(np.round(scaled * 255)).astype(np.uint8)
        data = base64.b64encode(png_bytes(pixels)).decode("ascii")
        h, w = self.image_shape[:2]
        scale = max(1, 224 // max(h, w))
        return (
            f'<img class="image" alt="example {int(example_id)}" '
            f'width="{w * scale}" height="{h * scale}" '
            f'src="data:image/png;base64,{data}">'
        )

    # ----------------------------------------------------------------- text

    def text_views(self, query):
        """``(example_text, counter_texts)`` for a terminal.

        A table of features shows every example in one text, with no
        counter-example texts apart; texts and custom views come one per
        counter-example, in order.
        """
        kind = self.kind
        if kind == "image":
            raise ValueError(
                "A terminal cannot show images: use BrowserOracle, or pass "
                "render=... to describe an example in text."
            )
        ids = [(query.example_id, query.x)] + [
            (ce.example_id, ce.x) for ce in query.counter_examples
        ]
        if kind == "text":
            out = [_shorten(self.text_of(i), _TERMINAL_CHARS) for i, _ in ids]
        elif kind == "custom":
            out = [str(self.render(x, i)) for i, x in ids]
        else:
            return self._text_table(query), ()
        return out[0], tuple(out[1:])

    def _text_table(self, query):
        order, hot, diffs = self.feature_order(query)
        x = np.asarray(query.x).ravel()
        names = self.names(query, x.shape[0])
        short = self.naming.short
        cols = [short(query.example_id)]
        apart = "apart (SD)" if query.feature_scale is not None else "apart"
        for ce in query.counter_examples:
            cols += [short(ce.example_id), apart]
        counters = [np.asarray(ce.x).ravel() for ce in query.counter_examples]
        name_w = max([len("feature")] + [len(names[j][:30]) for j in order])
        lines = ["  " + "feature".ljust(name_w) + "".join(c.rjust(12) for c in cols)]
        for j in order:
            mark = "* " if j in hot else "  "
            vals = [fmt(x[j])]
            for cx, diff in zip(counters, diffs):
                vals += [fmt(cx[j]), _apart(diff[j])]
            lines.append(
                mark
                + names[j][:30].ljust(name_w)
                + "".join(v[:11].rjust(12) for v in vals)
            )
        if hot:
            lines.append("  * " + spread_note(query, len(hot)))
        if len(order) < x.shape[0]:
            lines.append(f"  ({len(order)} of {x.shape[0]} features shown)")
        return "\n".join(lines)


def _apart(value):
    """A difference for the table: short; infinite for a feature constant over
    the training data."""
    if np.isnan(value):
        return "?"
    if np.isinf(value):
        return "\u221e"  # the feature never varies in the training data
    return f"{value:.2g}" if value < 10 else f"{value:.0f}"


def _differences(x, cx, scale):
    """``|x - cx|`` per feature, divided by ``scale`` where one is given.

    Features that do not subtract (strings) count 1 where they differ.
    Where the scale is 0 (constant over the training data) a difference is
    infinite. A value missing on both sides is no difference (0), on one
    side an unknown one (NaN).
    """
    try:
        x, cx = x.astype(float), cx.astype(float)
    except (TypeError, ValueError):
        return np.array(
            [
                0.0
                if is_missing(a) and is_missing(b)
                else np.nan
                if is_missing(a) or is_missing(b)
                else float(a != b)
                for a, b in zip(x, cx)
            ]
        )
    # missing on both sides: no difference; on one: unknown (NaN)
    diff = np.where(np.isnan(x) & np.isnan(cx), 0.0, np.abs(x - cx))
    if scale is None:
        return diff
    scale = np.asarray(scale, dtype=float).ravel()
    if scale.shape != diff.shape:
        raise ValueError(
            f"query.feature_scale has {scale.shape[0]} entries for "
            f"{diff.shape[0]} features."
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = diff / scale
    return np.where(
        diff == 0, 0.0, np.where(np.isnan(diff) | (scale > 0), scaled, np.inf)
    )


#: Characters of a text shown at once: on the page (the rest one click away)
#: and at a terminal (where the rest is cut).
_PAGE_CHARS = 1500
_TERMINAL_CHARS = 600


def _more(n):
    """``"… (1,234 more characters)"``: what a shortened text leaves out."""
    return f"\u2026 ({n:,} more character{'s' * (n != 1)})"


def _html_text(text, n=_PAGE_CHARS):
    """A text, escaped; past ``n`` characters the rest opens on a click.

    The rest is in the page already, in a ``<details>`` element that the
    browser opens and closes without any script: nothing is hidden from the
    person, and a long text does not push the labels off the screen.
    """
    if len(text) <= n:
        return '<div class="text">' + html.escape(text) + "</div>"
    # cut at a space near the limit, so that no word is split
    cut = text.rfind(" ", n - 200, n)
    cut = n if cut < 0 else cut
    head, rest = text[:cut], text[cut:]
    return (
        '<div class="text">'
        + html.escape(head)
        + '<details class="more-text"><summary>'
        + html.escape(_more(len(rest)))
        + " show all</summary>"
        + html.escape(rest)
        + "</details></div>"
    )


def _shorten(text, n):
    """The text on few lines; past ``n`` characters, cut, saying how much was."""
    text = " ".join(text.split())
    if len(text) <= n:
        return text
    cut = text.rfind(" ", n - 100, n)
    cut = n if cut < 0 else cut
    return text[:cut] + " " + _more(len(text) - cut)


def png_bytes(pixels):
    """Encode a uint8 array (h, w) or (h, w, c) as PNG, with the stdlib."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    h, w, c = pixels.shape
    color = {1: 0, 3: 2, 4: 6}[c]
    raw = b"".join(b"\x00" + pixels[r].tobytes() for r in range(h))

    def chunk(kind, data):
        body = kind + data
        return (
            struct.pack(">I", len(data))
            + body
            + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )
