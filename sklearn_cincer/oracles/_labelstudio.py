"""An oracle whose questions are tasks of a Label Studio project."""

import os
import time
from collections import Counter
from numbers import Integral, Real

from ._base import AnnotationStopped, Answer, OracleError, plain
from ._labels import Choices, check_class_names
from ._lsclient import LabelStudioClient, NotFound
from ._lsconfig import control_name, label_config, task_data, task_key
from ._render import Renderer, inert

#: Where the API key is read from when none is given.
API_KEY_VARIABLE = "LABEL_STUDIO_API_KEY"

_INSTRUCTIONS = (
    "<p>A model trained by sklearn-cincer doubts the label of the example on the "
    "left. The examples beside it are training examples that support its doubt "
    "(counter-examples). Pick the right label of each example; a counter-example "
    "left blank keeps its label. Skip a task you cannot decide.</p>"
)


class LabelStudioOracle:
    """Asks a team in a Label Studio project: one task per question.

    Each question becomes a task of a Label Studio project: its interface
    shows the suspicious example and each counter-example side by side (a
    table ranking the features that differ most for tabular rows, a picture
    for image rows, the raw text for text rows), the model's reason in
    words, and one choice of class per example. The oracle waits until the
    task has ``annotations_per_question`` annotations (it polls the server)
    and answers with their majority. The server is reached over plain HTTP
    with an API key; no Label Studio package is needed on this side.

    Parameters
    ----------
    url : str
        The Label Studio server, ``"http://127.0.0.1:8080"``.
    api_key : str, default=None
        An access token of a Label Studio account (Account & Settings). None
        reads the environment variable ``LABEL_STUDIO_API_KEY``. It is never
        printed, and left out of the ``repr``.
    project : int, default=None
        The id of an existing project to put the tasks in. None finds the
        project titled ``project_title``, or creates it.
    project_title : str, default="sklearn-cincer label check"
        The title of the project found or created when ``project`` is None.
    class_names : dict, list or None, default=None
        What the team sees for each class (see
        :class:`~sklearn_cincer.oracles.BrowserOracle`); ``str`` of each
        class otherwise. Any name works: it is escaped in the interface.
    annotations_per_question : int, default=1
        How many annotators answer each task (the project's overlap). The
        answer is the majority of their labels, example by example; a tie
        keeps the current label. Who answered what, and every disagreement,
        is in ``votes_`` and in the answer's ``annotator``.
    poll_interval : float, default=2.0
        Seconds between two looks at a task waiting for its annotations.
    timeout : float, default=None
        Seconds to wait for a task's annotations before raising
        :class:`OracleError` (the task stays, and a later run picks it up);
        None waits as long as it takes.
    display, render, texts, image_shape, feature_names, n_highlight, max_features, example_name
        How an example is shown, as for
        :class:`~sklearn_cincer.oracles.BrowserOracle`.
    request_timeout : float, default=30.0
        Seconds one HTTP request may take.
    verbose : int, default=1
        1 prints where the questions go (the project's address, once) and
        which task each answer waits for; 0 prints nothing.

    Attributes
    ----------
    project_id_ : int
        The project the tasks are in, once the first question was asked.
    answers_ : list of (Query, Answer)
        Every answer given, in order.
    votes_ : list of dict
        For each answer: the task's id and every annotation counted, with its
        annotator's Label Studio user, labels and whether it was a skip, and
        the examples on which the annotators disagreed or tied.

    Notes
    -----
    **One task per question, durably.** A task's data holds a key of its
    question (the examples, their features and current labels, the
    strategy: the key an :class:`AnnotationSession` gives it). Before it
    creates a task the oracle looks for one with that key in the project,
    so that a run that was killed and runs again finds the task it created
    (answered meanwhile or not) instead of creating a second one.

    **Skips and failures.** A skipped task (Label Studio's Skip, a cancelled
    annotation) keeps both labels, like a skip on the cleaner's own page;
    with several annotators the question is skipped when all of them
    skipped. A server that cannot be reached, a wrong key or a task deleted
    while waiting raise one :class:`OracleError`; the cleaner is then left
    as it was, and answers already given stay in Label Studio (and in the
    store of an :class:`AnnotationSession`).

    Examples
    --------
    >>> from sklearn_cincer.oracles import LabelStudioOracle
    >>> oracle = LabelStudioOracle("http://127.0.0.1:8080", api_key="...",
    ...                            annotations_per_question=2)
    >>> oracle
    LabelStudioOracle(url='http://127.0.0.1:8080', project=None)
    """

    def __init__(
        self,
        url,
        api_key=None,
        *,
        project=None,
        project_title="sklearn-cincer label check",
        class_names=None,
        annotations_per_question=1,
        poll_interval=2.0,
        timeout=None,
        display="auto",
        render=None,
        texts=None,
        image_shape=None,
        feature_names=None,
        n_highlight=3,
        max_features=20,
        example_name=None,
        request_timeout=30.0,
        verbose=1,
    ):
        api_key = os.environ.get(API_KEY_VARIABLE) if api_key is None else api_key
        _check_arguments(
            url,
            api_key,
            project,
            project_title,
            annotations_per_question,
            poll_interval,
            timeout,
            request_timeout,
        )
        self._class_names = check_class_names(class_names)
        self.url = url
        self.project = project
        self.project_title = project_title
        self.class_names = class_names
        self.annotations_per_question = int(annotations_per_question)
        self.poll_interval = float(poll_interval)
        self.timeout = timeout
        self.verbose = verbose
        self._renderer = Renderer(
            display=display,
            render=render,
            texts=texts,
            image_shape=image_shape,
            feature_names=feature_names,
            n_highlight=n_highlight,
            max_features=max_features,
            example_name=example_name,
        )
        self._client = LabelStudioClient(url, api_key, timeout=request_timeout)
        self.project_id_ = None
        self._config = None  # (names, n_counter) of the project's interface
        self._tasks = None  # question key -> task id, read once per project
        self.answers_ = []
        self.votes_ = []

    def __repr__(self):
        return f"LabelStudioOracle(url={self.url!r}, project={self.project!r})"

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_tasks"] = None  # read again from the server: it may have changed
        # the key stays out of a pickled cleaner: a copy reads it from the
        # environment (LABEL_STUDIO_API_KEY) when it next asks
        state["_client"] = None
        state["_request_timeout"] = self._client.timeout if self._client else None
        return state

    def __setstate__(self, state):
        timeout = state.pop("_request_timeout", None) or 30.0
        self.__dict__.update(state)
        key = os.environ.get(API_KEY_VARIABLE)
        self._client = (
            LabelStudioClient(self.url, key, timeout=timeout) if key else None
        )

    @property
    def _server(self):
        if self._client is None:
            raise OracleError(
                "This LabelStudioOracle was unpickled without its API key (a "
                f"pickle never holds it): set {API_KEY_VARIABLE} before "
                "unpickling it."
            )
        return self._client

    # ----------------------------------------------------------- questions

    def __call__(self, query):
        choices = self._choices(query)
        task_id = self.push([query])[0]
        self._say(
            f"Waiting for {self.annotations_per_question} annotation(s) of "
            f"task {task_id} (example {int(query.example_id)})."
        )
        annotations = self._wait(task_id, query)
        answer, votes = self._decide(query, choices, annotations)
        self.answers_.append((query, answer))
        self.votes_.append(
            {"task": task_id, "example_id": int(query.example_id), **votes}
        )
        return answer

    def push(self, queries):
        """Put questions in the project as tasks, at once; returns their ids.

        A question whose task is already there (the same key) is not created
        again: its task's id is returned. So a team can work on a block of
        questions in parallel, and asking them one by one afterwards (the
        cleaner or auditor calling this oracle) finds their tasks and their
        annotations.

        Parameters
        ----------
        queries : list of Query

        Returns
        -------
        task_ids : list of int
            One per query, in order.
        """
        queries = list(queries)
        if not queries:
            return []
        views = [self._views(query) for query in queries]  # bad input fails here
        self._ensure_project(queries)
        tasks = self._known_tasks()
        keys = [task_key(query) for query in queries]
        new = [
            (key, query, view)
            for key, query, view in zip(keys, queries, views)
            if key not in tasks
        ]
        names, n_counter = self._config
        for key, query, view in dict((item[0], item) for item in new).values():
            data = task_data(
                query,
                view,
                self._choices(query),
                self._renderer.naming,
                n_counter,
                asked=len(self.answers_) + 1,
            )
            created = self._server.request(
                "POST", "/api/tasks", {"project": self.project_id_, "data": data}
            )
            tasks[key] = int(created["id"])
        return [tasks[key] for key in keys]

    def _choices(self, query):
        choices = Choices(query.classes, self._class_names)
        if len(set(choices.names)) != len(choices.names):
            raise ValueError(
                f"The classes {choices.classes} read the same as text "
                f"({choices.names}); give class_names that tell them apart."
            )
        return choices

    def _views(self, query):
        if self._renderer.kind == "text":
            ids = [query.example_id] + [ce.example_id for ce in query.counter_examples]
            return [self._renderer.text_of(i) for i in ids]
        example, counters = self._renderer.html_views(query)
        return [example, *counters]

    # ------------------------------------------------------------- project

    def _ensure_project(self, queries):
        """Find or create the project; widen its interface when needed."""
        names = self._choices(queries[0]).names
        for query in queries[1:]:
            if self._choices(query).names != names:
                raise ValueError("The questions of one push must share classes.")
        n_counter = max(len(query.counter_examples) for query in queries)
        if self._config is not None:
            n_counter = max(n_counter, self._config[1])
        if self.project_id_ is None:
            self.project_id_, have = self._find_project()
            self._tasks = None
        elif self._config == (names, n_counter):
            return
        else:
            have = {}
        wanted = label_config(names, n_counter, self._renderer.kind)
        settings = {
            "label_config": wanted,
            "maximum_annotations": self.annotations_per_question,
        }
        if self.project_id_ is None:
            body = self._server.request(
                "POST",
                "/api/projects",
                {
                    "title": self.project_title,
                    "expert_instruction": _INSTRUCTIONS,
                    "show_instruction": True,
                    "show_skip_button": True,
                    "sampling": "Sequential sampling",
                    **settings,
                },
            )
            self.project_id_ = int(body["id"])
            self._say(
                f"Created the Label Studio project {self.project_id_} "
                f"{inert(self.project_title, keep='')!r}."
            )
        elif any(have.get(name) != value for name, value in settings.items()):
            self._server.request("PATCH", f"/api/projects/{self.project_id_}", settings)
        if self._config is None:
            self._say(
                "The questions go to "
                f"{self.url.rstrip('/')}/projects/{self.project_id_}/"
            )
        self._config = (names, n_counter)

    def _say(self, text):
        if self.verbose:
            print(text, flush=True)

    def _find_project(self):
        """``(id, settings)`` of the project to use, or ``(None, {})``."""
        if self.project is not None:
            try:
                body = self._server.request("GET", f"/api/projects/{self.project}")
            except NotFound:
                raise OracleError(
                    f"Label Studio at {self.url} has no project {self.project}: "
                    "give the id of an existing project, or none to create "
                    "one."
                ) from None
            return int(body["id"]), body
        found = [
            p
            for p in self._server.pages("/api/projects")
            if p.get("title") == self.project_title
        ]
        if not found:
            return None, {}
        first = min(found, key=lambda p: p["id"])
        return int(first["id"]), first

    def _known_tasks(self):
        """Question key -> task id of the project's tasks made by this oracle."""
        if self._tasks is None:
            self._tasks = {}
            for task in self._server.pages(
                "/api/tasks", {"project": self.project_id_}, key="tasks"
            ):
                key = (task.get("data") or {}).get("cincer_key")
                if isinstance(key, str):
                    self._tasks.setdefault(key, int(task["id"]))
        return self._tasks

    # ------------------------------------------------------------- answers

    def _wait(self, task_id, query):
        """The task's annotations, once there are enough; raises OracleError."""
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        try:
            while True:
                try:
                    task = self._server.request("GET", f"/api/tasks/{task_id}")
                except NotFound:
                    self._tasks.pop(task_key(query), None)
                    raise OracleError(
                        f"The Label Studio task {task_id} about example "
                        f"{query.example_id} was deleted before it was answered; "
                        "run again to create it anew."
                    ) from None
                done = [
                    a
                    for a in task.get("annotations") or []
                    if a.get("result") or a.get("was_cancelled")
                ]
                if len(done) >= self.annotations_per_question:
                    return done[: self.annotations_per_question]
                if deadline is not None and time.monotonic() >= deadline:
                    raise OracleError(
                        f"No annotation of the Label Studio task {task_id} about "
                        f"example {query.example_id} within {self.timeout} s; the "
                        "task stays there, and a later run picks up its answer."
                    )
                time.sleep(self.poll_interval)
        except KeyboardInterrupt:
            raise AnnotationStopped(
                f"Stopped waiting for the Label Studio task {task_id} (question "
                f"about example {query.example_id}); it stays there, and a later "
                "run picks up its answer.",
                interrupted=True,
            ) from None

    def _decide(self, query, choices, annotations):
        """The majority answer of ``annotations``, and the votes behind it."""
        shown = query.counter_examples
        ballots = [_ballot(a, choices, len(shown), query) for a in annotations]
        voted = [b for b in ballots if not b["skipped"]]
        votes = {"annotations": ballots, "disagreements": [], "ties": []}
        if not voted:
            who = ", ".join(b["user"] for b in ballots)
            labels = tuple(plain(ce.label) for ce in shown)
            return Answer(
                label=plain(query.label),
                counter_label=labels[0] if labels else None,
                counter_labels=labels if len(labels) > 1 else None,
                annotator=who + " (skipped)",
                skipped=True,
            ), votes
        who = ", ".join(b["user"] + " (skipped)" * b["skipped"] for b in ballots)
        current = [plain(query.label)] + [plain(ce.label) for ce in shown]
        relabel = query.strategy == "relabel"
        decided = []
        for k, keep in enumerate(current):
            if k and not relabel:
                decided.append(keep)
                continue
            picks = [b["labels"][k] for b in voted]
            decided.append(_majority(picks, keep, k, votes, voted))
        labels = tuple(decided[1:])
        answer = Answer(
            label=decided[0],
            counter_label=labels[0] if labels else None,
            counter_labels=labels if len(labels) > 1 else None,
            annotator=who + _disagreement_text(votes, choices, query),
        )
        return answer, votes


def _ballot(annotation, choices, n_counter, query):
    """One annotation as ``{"user", "skipped", "labels"}``: a label (or None,
    left blank) for the example and for each counter-example."""
    user = annotation.get("completed_by")
    if isinstance(user, dict):
        user = user.get("email") or user.get("username") or f"user {user.get('id')}"
    user = f"user {user}" if not isinstance(user, str) else user
    labels = [None] * (n_counter + 1)
    if annotation.get("was_cancelled"):
        return {"user": user, "skipped": True, "labels": labels}
    controls = {control_name(k): k for k in range(n_counter + 1)}
    for item in annotation.get("result") or []:
        k = controls.get(item.get("from_name"))
        picked = (item.get("value") or {}).get("choices") or []
        if k is None or not picked:
            continue
        if picked[0] not in choices.names:
            raise OracleError(
                f"{user} answered {picked[0]!r} about example {query.example_id}, "
                f"which is not one of the classes ({', '.join(choices.names)}): "
                "was the project's interface edited?"
            )
        labels[k] = choices.classes[choices.names.index(picked[0])]
    if labels[0] is None:
        raise OracleError(
            f"{user}'s annotation about example {query.example_id} gives no "
            "label for it: the project's interface must require one."
        )
    return {"user": user, "skipped": False, "labels": labels}


def _majority(picks, keep, k, votes, voted):
    """The label most picked; a blank keeps ``keep``, and so does a tie."""
    picks = [keep if p is None else p for p in picks]
    counts = Counter(picks).most_common()
    if len(counts) > 1:
        votes["disagreements"].append(
            {"example": k, "labels": {b["user"]: p for b, p in zip(voted, picks)}}
        )
    top = [label for label, n in counts if n == counts[0][1]]
    if len(top) > 1:
        votes["ties"].append({"example": k, "labels": top, "kept": keep})
        return keep
    return top[0]


def _disagreement_text(votes, choices, query):
    """`` (disagreed on the example: a 'cat', b 'dog'; tie, kept 'cat')``."""
    parts = []
    ties = {t["example"]: t for t in votes["ties"]}
    for item in votes["disagreements"]:
        k = item["example"]
        what = (
            "the example"
            if k == 0
            else (f"counter-example {query.counter_examples[k - 1].example_id}")
        )
        said = ", ".join(
            f"{user} '{choices.name(label)}'" for user, label in item["labels"].items()
        )
        tie = f"; tie, kept '{choices.name(ties[k]['kept'])}'" if k in ties else ""
        parts.append(f"{what}: {said}{tie}")
    return f" (disagreed on {'; '.join(parts)})" if parts else ""


def _check_arguments(
    url,
    api_key,
    project,
    project_title,
    per_question,
    poll_interval,
    timeout,
    request_timeout,
):
    """One clear error for a bad argument, before anything is sent."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError(
            f"url must be the http:// or https:// address of a Label Studio "
            f"server, got {url!r}."
        )
    if not isinstance(api_key, str) or not api_key.strip():
        raise ValueError(
            "No Label Studio API key: pass api_key=..., or set the environment "
            f"variable {API_KEY_VARIABLE} (the token under Account & Settings)."
        )
    if project is not None and (
        not isinstance(project, Integral) or isinstance(project, bool) or project < 1
    ):
        raise ValueError(
            f"project must be a project id (an int >= 1), got {project!r}."
        )
    if not isinstance(project_title, str) or len(project_title.strip()) < 3:
        raise ValueError(
            "project_title must be a str of at least 3 characters, "
            f"got {project_title!r}."
        )
    if (
        not isinstance(per_question, Integral)
        or isinstance(per_question, bool)
        or per_question < 1
    ):
        raise ValueError(
            f"annotations_per_question must be an int >= 1, got {per_question!r}."
        )
    for name, value, none_ok in (
        ("poll_interval", poll_interval, False),
        ("timeout", timeout, True),
        ("request_timeout", request_timeout, False),
    ):
        if value is None and none_ok:
            continue
        if (
            not isinstance(value, Real)
            or isinstance(value, bool)
            or not value > 0
            or value != value
        ):
            raise ValueError(
                f"{name} must be a positive number of seconds, got {value!r}."
            )
