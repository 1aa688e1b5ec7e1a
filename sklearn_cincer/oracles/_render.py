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
    """A label as the person reads it."""
    return "" if label is None else str(plain(label))


def inert(text):
    """``text`` with control characters other than line breaks and tabs
    written as escapes (``\\x1b``), so that what the data holds cannot move
    the cursor, clear the screen or retitle the person's terminal."""
    return "".join(c if c.isprintable() or c in "\n\t" else repr(c)[1:-1]
                   for c in str(text))


def fmt(value):
    """A feature value, short."""
    value = plain(value)
    if isinstance(value, float):
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


def why_sentence(query, name=label_text):
    """Why the cleaner asks, and why the pair is shown, in plain words.

    ``name(label)`` is what the person sees for a label (its class name).
    """
    label, pred = name(query.label), name(query.prediction)
    doubt = (f"The model thinks example #{query.example_id} is '{pred}', but it "
             f"is labeled '{label}'.")
    shown = query.counter_examples
    if not shown:
        return (doubt + " No counter-example is shown, so only this label is in "
                "question." + _note(query))
    if len(shown) == 1:
        sentence = (
            f"{doubt} Example #{query.counter_example_id}, labeled "
            f"'{name(query.counter_label)}' as the model predicts, is a "
            "training example that supports the model's doubt"
        )
    else:
        listing = ", ".join(f"#{ce.example_id} ('{name(ce.label)}')"
                            for ce in shown)
        sentence = (
            f"{doubt} Examples {listing}, best first, are {len(shown)} "
            "training examples that support the model's doubt"
        )
    # "explain" shows the counter-examples without offering their labels
    if query.strategy == "explain":
        sentence += "."
    else:
        sentence += (": check both labels." if len(shown) == 1
                     else ": check every label.")
    if query.strategy == "drop":
        them = (f"example #{query.counter_example_id} leaves" if len(shown) == 1
                else f"those {len(shown)} examples leave")
        sentence += (
            f" If you keep the label of #{query.example_id}, {them} the "
            "training set."
        )
    return sentence + _note(query)


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
    """``"question k · round r of n · about m more questions"``.

    ``asked`` is the number of questions this oracle has shown, this one
    included: the question's number when the query does not carry the
    cleaner's own count (``query.question``). The guess of what is left
    extrapolates the questions per round so far over the rounds left.
    """
    question = query.question or asked
    parts = [f"question {question}"]
    n_rounds, current = query.n_rounds, int(query.round)
    if current and not n_rounds:
        parts.append(f"round {current}")
    elif current:
        parts.append(f"round {current} of {n_rounds}")
        left = max(0, n_rounds - current)
        if left == 0:
            parts.append("the last round")
        elif current >= _MIN_ROUNDS_FOR_GUESS and query.question:
            more = round(query.question / current * left)
            parts.append(f"about {more} more question{'s' * (more != 1)}")
    return " \u00b7 ".join(parts)


def spread_note(query, n_hot):
    """How the highlighted features were chosen, for a person."""
    if not n_hot:
        return ""
    what = (f"the {n_hot} features that differ most" if n_hot > 1
            else "the feature that differs most")
    if query.feature_scale is None:
        return f"Highlighted: {what} (raw differences)."
    return (f"Highlighted: {what}, counted in standard deviations (SD) of each "
            "feature over the training data, not in its own units.")


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
    """

    def __init__(self, display="auto", render=None, texts=None, image_shape=None,
                 feature_names=None, n_highlight=3, max_features=20):
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
            if len(image_shape) not in (2, 3) or min(image_shape) < 1 or (
                len(image_shape) == 3 and image_shape[2] not in (1, 3, 4)
            ):
                raise ValueError(
                    "image_shape must be (height, width) or (height, width, c) "
                    f"with c in 1, 3, 4; got {image_shape}."
                )
        for name, value in (("n_highlight", n_highlight),
                            ("max_features", max_features)):
            if not isinstance(value, Integral) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}.")
        self.display = display
        self.render = render
        self.texts = texts
        self.image_shape = image_shape
        self.feature_names = feature_names
        self.n_highlight = n_highlight
        self.max_features = max_features

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
            raise ValueError(
                f"{len(names)} feature names for {n_features} features."
            )
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
        diffs = [_differences(x, np.asarray(ce.x).ravel(), query.feature_scale)
                 for ce in query.counter_examples]
        order, hot = self._ranked(np.max(diffs, axis=0))
        return order, hot, diffs

    def _ranked(self, diff):
        """The features to list, most different first, and those to highlight."""
        ranked = np.where(np.isnan(diff), np.inf, diff)
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
            (ce.example_id, ce.x) for ce in query.counter_examples]
        if kind == "tabular":
            order, hot, diffs = self.feature_order(query)
            names = self.names(query, np.asarray(query.x).size)
            out = [self._html_table(np.asarray(query.x).ravel(), names, order, hot,
                                    head=query.has_counter_example)]
            for ce, diff in zip(query.counter_examples, diffs):
                own = self._ranked(diff)[1] if len(diffs) > 1 else hot
                out.append(self._html_table(
                    np.asarray(ce.x).ravel(), names, order, own,
                    diff=diff, note=spread_note(query, len(own)),
                    unit=query.feature_scale is not None))
        elif kind == "text":
            out = [
                '<div class="text">' + html.escape(self.text_of(i)) + "</div>"
                for i, _ in ids
            ]
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

    def _html_table(self, x, names, order, hot, diff=None, note="", unit=True,
                    head=True):
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
            more = (f'<p class="more">{len(order)} of {x.shape[0]} features '
                    "shown, those that differ most first.</p>")
        if note:
            more += f'<p class="more">{html.escape(note)}</p>'
        return ('<table class="features"><tbody>' + "".join(rows)
                + "</tbody></table>" + more)

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
        return (f'<img class="image" alt="example {int(example_id)}" '
                f'width="{w * scale}" height="{h * scale}" '
                f'src="data:image/png;base64,{data}">')

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
            (ce.example_id, ce.x) for ce in query.counter_examples]
        if kind == "text":
            out = [_shorten(self.text_of(i), 600) for i, _ in ids]
        elif kind == "custom":
            out = [str(self.render(x, i)) for i, x in ids]
        else:
            return self._text_table(query), ()
        return out[0], tuple(out[1:])

    def _text_table(self, query):
        order, hot, diffs = self.feature_order(query)
        x = np.asarray(query.x).ravel()
        names = self.names(query, x.shape[0])
        cols = [f"#{query.example_id}"]
        apart = "apart (SD)" if query.feature_scale is not None else "apart"
        for ce in query.counter_examples:
            cols += [f"#{ce.example_id}", apart]
        counters = [np.asarray(ce.x).ravel() for ce in query.counter_examples]
        name_w = max([len("feature")] + [len(names[j][:30]) for j in order])
        lines = ["  " + "feature".ljust(name_w) + "".join(c.rjust(12) for c in cols)]
        for j in order:
            mark = "* " if j in hot else "  "
            vals = [fmt(x[j])]
            for cx, diff in zip(counters, diffs):
                vals += [fmt(cx[j]), _apart(diff[j])]
            lines.append(mark + names[j][:30].ljust(name_w)
                         + "".join(v[:11].rjust(12) for v in vals))
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
    infinite; NaN where a value is missing.
    """
    try:
        diff = np.abs(x.astype(float) - cx.astype(float))
    except (TypeError, ValueError):
        return (x != cx).astype(float)
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
    return np.where(diff == 0, 0.0, np.where(scale > 0, scaled, np.inf))


def _shorten(text, n):
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "\u2026"


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
        return struct.pack(">I", len(data)) + body + struct.pack(
            ">I", zlib.crc32(body) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))
