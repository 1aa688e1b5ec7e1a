"""What a Label Studio task of the cleaner looks like: its interface and data.

The labelling interface shows the suspicious example and each
counter-example side by side, with the model's reason above them, and one
``Choices`` control per example: ``label`` for the suspicious example,
``counter_label``, ``counter_label_2``... for the counter-examples. Every
class name and every text of the data goes through an XML or HTML escape, so
that any class name makes a valid interface and nothing in the data is read
as markup.
"""

import hashlib
from xml.sax.saxutils import escape, quoteattr

from ._render import Naming, counter_title, progress_text, why_sentence
from ._store import question_key

#: Styles of the task: the two tables side by side, the highlighted rows.
_STYLE = """
.cincer-row { display: flex; gap: 1.5em; align-items: flex-start; flex-wrap: wrap; }
.cincer-col { flex: 1 1 18em; min-width: 0; }
.cincer-col table.features { border-collapse: collapse; }
.cincer-col table.features th, .cincer-col table.features td {
  padding: 0.15em 0.6em; border-bottom: 1px solid #ddd; text-align: left; }
.cincer-col tr.diff { background: #fff3b0; font-weight: bold; }
.cincer-col p.more { color: #555; font-size: 90%; }
.cincer-col .text { white-space: pre-wrap; }
"""


def control_name(k):
    """The ``Choices`` of the k-th example: 0 is the suspicious one."""
    if k == 0:
        return "label"
    return "counter_label" if k == 1 else f"counter_label_{k}"


def view_name(k):
    """The data field (and object tag) that shows the k-th example."""
    if k == 0:
        return "example"
    return "counter" if k == 1 else f"counter_{k}"


def label_config(names, n_counter, kind):
    """The labelling interface for classes named ``names`` and ``n_counter``
    counter-examples; ``kind`` is "text" for raw texts (shown with ``Text``,
    which shows markup as inert text) and anything else for the renderer's
    escaped HTML (tables, pictures)."""
    tag = "Text" if kind == "text" else "HyperText"
    extra = "" if kind == "text" else ' inline="true"'
    choices = "".join(f"<Choice value={quoteattr(name)}/>" for name in names)
    columns = []
    for k in range(n_counter + 1):
        required = ' required="true"' if k == 0 else ""
        columns.append(
            '<View className="cincer-col">'
            f'<Header value="${view_name(k)}_title" size="6"/>'
            f'<{tag} name="{view_name(k)}" value="${view_name(k)}"{extra}/>'
            f'<Choices name="{control_name(k)}" toName="{view_name(k)}" '
            f'choice="single-radio" showInline="true"{required}>{choices}'
            "</Choices></View>"
        )
    return (
        "<View><Style>" + escape(_STYLE) + "</Style>"
        '<Header value="$why" size="5"/>'
        '<Text name="progress" value="$progress"/>'
        '<View className="cincer-row">' + "".join(columns) + "</View></View>"
    )


def task_key(query):
    """The question's key in the task data: one task per question.

    The hash of the key an :class:`AnnotationStore` gives the question (the
    same examples, features, current labels and strategy), so that a run
    that resumes finds the task its earlier self created.
    """
    return hashlib.sha256(question_key(query).encode("utf-8")).hexdigest()[:32]


def task_data(query, views, choices, naming, n_counter, asked):
    """The task's ``data``: what the interface shows, and the question's ids.

    ``views`` are the example's and the counter-examples' views (HTML or raw
    text); ``n_counter`` is the number of counter-example columns of the
    interface (those past the query's own are empty).
    """
    naming = naming or Naming()
    shown = query.counter_examples
    data = {
        "example_id": int(query.example_id),
        "counter_example_id": (
            None if query.counter_example_id is None else int(query.counter_example_id)
        ),
        "counter_example_ids": [int(ce.example_id) for ce in shown],
        "cincer_key": task_key(query),
        "strategy": query.strategy,
        "why": why_sentence(query, name=choices.name, naming=naming) + _asking(query),
        "progress": progress_text(query, asked),
        "example": views[0],
        "example_title": (
            f"Suspicious {naming.noun(query.example_id)}: labeled "
            f"'{choices.name(query.label)}', the model says "
            f"'{choices.name(query.prediction)}' ({float(query.margin):.2f})"
        ),
    }
    for k in range(1, n_counter + 1):
        name = view_name(k)
        if k <= len(shown):
            ce = shown[k - 1]
            data[name] = views[k]
            data[name + "_title"] = (
                f"{counter_title(query, k - 1).capitalize()}: "
                f"{naming.noun(ce.example_id)}, labeled '{choices.name(ce.label)}'"
            )
        else:
            data[name], data[name + "_title"] = "", ""
    return data


def _asking(query):
    """What to pick, in words: the control of a counter-example is not read
    unless the strategy relabels it."""
    if query.strategy == "relabel" and query.has_counter_example:
        return (
            " Pick the right label of each example; a counter-example "
            "left blank keeps its label."
        )
    return (
        " Pick the right label of the suspicious example (left); the "
        "counter-examples' labels are not changed by this question."
    )
