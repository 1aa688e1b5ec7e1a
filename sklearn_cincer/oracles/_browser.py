"""An oracle that asks a person on a local web page."""

import hmac
import json
import secrets
import sys
import threading
import time
import webbrowser
from wsgiref.simple_server import make_server

from ._base import OracleError, answer_labels
from ._human import _HumanOracle
from ._page import PAGE
from ._render import (
    counter_title,
    plain,
    progress_text,
    support_text,
    sure_text,
    why_sentence,
)
from ._server import LOCAL_FRAMES, NO_FRAMES, QuietHandler, Server, refuse_framing

_POLL_SECONDS = 20.0
_MAX_BODY = 65536  # bytes of a request's body; the page's answers are < 200


def _same_secret(given, token):
    """Constant-time comparison of any text with the token (non-ASCII is no match)."""
    return hmac.compare_digest(
        str(given).encode("utf-8", "surrogatepass"), token.encode("ascii")
    )


def _in_notebook():
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()
    except Exception:
        return False
    return ip is not None and hasattr(ip, "kernel")


def _refusal(bottle, status, text):
    """The JSON refusal of a request, never cached."""
    return bottle.HTTPResponse(
        status=status,
        body=json.dumps({"error": text}),
        headers={"Content-Type": "application/json", "Cache-Control": "no-store"},
    )


def _guarded(bottle, oracle, token, write=False):
    """None when the request may go on, else the refusal.

    The token in the path, the Host, and for a write its origin, its token
    header and its JSON type; sets the headers of every answered request.
    """
    request, response = bottle.request, bottle.response

    if not _same_secret(token, oracle._token):
        return _refusal(bottle, 404, "Not found.")
    if request.get_header("Host", "") not in oracle._hosts:
        return _refusal(bottle, 403, "Unexpected Host header.")
    # it knows the token: the server never drops it to make room
    request.environ.get("cincer.trust", lambda: None)()
    response.set_header("Cache-Control", "no-store")
    response.set_header("X-Content-Type-Options", "nosniff")
    response.set_header("Referrer-Policy", "no-referrer")
    if not write:
        return None
    origin = request.get_header("Origin")
    if origin is not None and origin not in oracle._origins:
        return _refusal(bottle, 403, "Cross-origin writes are refused.")
    site = request.get_header("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return _refusal(bottle, 403, "Cross-site writes are refused.")
    if not _same_secret(request.get_header("X-Cincer-Token", ""), oracle._token):
        return _refusal(bottle, 403, "Missing session token header.")
    if not request.content_type.startswith("application/json"):
        return _refusal(bottle, 415, "Send JSON.")
    return None


def _posted_object(bottle):
    """The JSON object posted, or the refusal (an HTTPResponse)."""
    request = bottle.request

    environ = request.environ
    if environ.get("HTTP_TRANSFER_ENCODING"):
        return _refusal(bottle, 411, "Send a Content-Length, not chunks.")
    length = environ.get("CONTENT_LENGTH") or "0"
    if not (length.isascii() and length.isdigit()):
        return _refusal(bottle, 400, "Bad Content-Length.")
    if int(length) > _MAX_BODY:
        return _refusal(bottle, 413, "The request is too large.")
    try:
        raw = environ["wsgi.input"].read(int(length)) if int(length) else b""
    except OSError:  # a read timeout: the body never came
        return _refusal(bottle, 408, "The request's body did not arrive.")
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, RecursionError):  # RecursionError: deep nesting
        data = None
    if not isinstance(data, dict):
        return _refusal(bottle, 400, "The answer must be a JSON object.")
    return data


class BrowserOracle(_HumanOracle):
    """Asks a person on a web page served on this computer.

    On the first question (or :meth:`start`) it serves a page on
    ``127.0.0.1`` at a free port, prints its address, and opens it: in the
    default web browser, or inside the output cell when running in a Jupyter
    notebook (see ``open_browser``). Each call then shows the question on the
    page and blocks until the person answers.

    The page shows how far the session has come (the question, how many
    examples of the stream it has seen, a guess of how many questions are
    left), the suspicious example and its counter-example side by side
    with their current labels,
    what the model predicts and how sure it is (the margin), how much the
    counter-example supports the doubt (the selector's score), and one
    sentence on why they are paired. Tabular rows are tables with the
    features that differ most highlighted, ranked in standard deviations of
    each feature over the training data (``Query.feature_scale``); images are
    images, texts are texts (a long one shows how much more there is, the
    rest a click away); ``render`` replaces the default view. A missing
    value reads "missing". Each example has one name (``#106``, or
    ``example_name``'s) in titles, sentences and "Will save" alike. On a
    narrow screen the panels stack.

    The person keeps or changes each label (a button per class), skips, or
    undoes the last answer, by mouse or keyboard. **A key types the class
    itself**: when the classes are integers 0-9 (or a subset), the digit
    key of a class picks it (``4`` is the class 4); otherwise each button
    shows a letter (``a``, ``b``, ... without ``s`` and ``u``). The key
    alone labels the suspicious example, ``Shift`` + the key the
    counter-example; ``Enter`` submits, ``S`` skips, ``U`` undoes, ``Esc``
    leaves an undo. The chosen buttons are highlighted and a line says what
    Submit will save ("Will save: example #12 -> 4 (was 3) ..."). The
    counter on the page counts answers; a skip is counted apart.

    **Several counter-examples** (the cleaner's ``n_counter_examples``) get
    a panel each, best first, side by side. One of them is active (outlined,
    its buttons show the ``Shift`` keys): ``Shift`` + a key labels the
    active one, which is the first until ``Tab`` (``Shift+Tab`` back) or a
    click on another panel moves it. The "Will save" line lists every label.

    **Skip** keeps both labels as they are: the answer carries the current
    labels and ``skipped=True``. **Undo** reopens the previous question with
    the answer given, to revise it. The revision goes to ``revisions_`` and
    to the revision listeners (an :class:`AnnotationSession` writes it to
    its store at once); the running cleaner applies it before it goes on. Once
    the fit has no more questions the page says so: an undo made after the
    fit ended applies when the session is run again from its store.

    **Security.** The server listens on the loopback interface only. Each
    oracle draws a random token; every address of the page holds it, and
    requests without it get 404. Writes must be JSON POSTs that carry the
    token in an ``X-Cincer-Token`` header and, when the browser sends an
    ``Origin``, come from the page's own origin: a page of another site cannot
    answer. Requests with a foreign ``Host`` are refused (DNS rebinding).
    Every label, feature name and text is escaped; the page runs only its
    own script (a Content-Security-Policy with a per-page nonce) and never
    sends its address as a referrer. No other site may show the page in a
    frame (every response says ``frame-ancestors 'none'`` and
    ``X-Frame-Options: DENY``), so none can lay its own page over the
    buttons; once :meth:`show` puts it in a notebook's cell, pages of this
    computer (``localhost``) may frame it. The HTML that a user's ``render``
    returns is trusted as it is.

    Parameters
    ----------
    display : {"auto", "tabular", "text", "image"}, default="auto"
        How to show an example: "auto" shows text when ``texts`` is given, an
        image when ``image_shape`` is given, a table otherwise.
    render : callable, default=None
        ``render(x, example_id) -> str``: your own HTML for an example
        (inserted as is: escape what you put in it).
    texts : sequence of str, default=None
        The raw text of every example of the stream, indexed by stream id.
    image_shape : tuple of int, default=None
        ``(height, width)`` or ``(height, width, channels)``: the shape of an
        example as an image (pixels scaled to its own min and max).
    feature_names : sequence of str, default=None
        Feature names; defaults to those the cleaner was fitted with.
    n_highlight : int, default=3
        How many of the most different features are highlighted.
    max_features : int, default=20
        At most this many features are listed.
    class_names : dict or sequence of str, default=None
        Names shown instead of the class codes: a dict ``{class: name}``
        naming every class, or one name per class in the order of the sorted
        classes. Names must differ (ignoring case). The keys stay those of
        the codes (digits for the classes 0-9).
    annotator : str, default=None
        Who answers, written into each answer; ``None`` writes the login
        name of the user running Python.
    example_name : callable, default=None
        ``example_name(example_id) -> str``: the one name the page gives an
        example, in titles and sentences alike (``sklearn-cincer clean``
        names a row by its line in the file: ``"line 268"``). ``None`` names
        it by its stream id: ``#106``.
    port : int, default=0
        The port; 0 picks a free one.
    open_browser : {"auto", True, False}, default="auto"
        "auto" shows the page in the output cell inside a Jupyter notebook and
        opens the default browser elsewhere (when there is one); ``True``
        always opens the browser; ``False`` only prints the address.
    timeout : float, default=None
        Seconds to wait for an answer before giving up with an
        :class:`OracleError`; ``None`` waits for ever.

    Attributes
    ----------
    url : str
        The page's address, token included (after :meth:`start`).
    answers_ : list of (Query, Answer)
        Every answer given, in order (revisions not included).
    revisions_ : list of (Query, Answer)
        Every revised answer (undo), in order.

    See Also
    --------
    TerminalOracle : The same questions at a prompt.
    AnnotationSession : Records the answers and resumes a session.

    Examples
    --------
    >>> from sklearn_cincer.oracles import BrowserOracle
    >>> oracle = BrowserOracle(open_browser=False, annotator="ana")
    >>> url = oracle.start()  # doctest: +ELLIPSIS
    BrowserOracle: answer the questions at http://127.0.0.1:.../
    >>> oracle.url.startswith("http://127.0.0.1:")
    True
    >>> oracle.close()

    In a session, give it to the cleaner (this blocks until you answer):

    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_cincer import SkepticalCleaner
    >>> cleaner = SkepticalCleaner(LogisticRegression(), oracle=oracle)
    >>> cleaner.fit(X, y)  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        display="auto",
        render=None,
        texts=None,
        image_shape=None,
        feature_names=None,
        n_highlight=3,
        max_features=20,
        class_names=None,
        annotator=None,
        example_name=None,
        port=0,
        open_browser="auto",
        timeout=None,
    ):
        super().__init__(
            display=display,
            render=render,
            texts=texts,
            image_shape=image_shape,
            feature_names=feature_names,
            n_highlight=n_highlight,
            max_features=max_features,
            annotator=annotator,
            class_names=class_names,
            example_name=example_name,
        )
        if open_browser not in ("auto", True, False):
            raise ValueError(
                f"open_browser must be 'auto', True or False, got {open_browser!r}."
            )
        if not (isinstance(port, int) and 0 <= port < 65536):
            raise ValueError(f"port must be an int in [0, 65535], got {port!r}.")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be positive or None, got {timeout!r}.")
        self.port = port
        self.open_browser = open_browser
        self.timeout = timeout
        self._reset_runtime()

    def _reset_runtime(self):
        self._server = None
        self._thread = None
        self._token = None
        self._nonce = None
        self.url = None
        self._cv = threading.Condition()
        self._version = 0
        self._next_qid = 0
        self._current = None  # (qid, query) waiting for an answer
        self._last = None  # (qid, query, answer) the last answer given
        self._revising = False
        self._saving = None  # qid of the answer being written, outside the lock
        self._delivered = {}
        self._views = {}
        self._closed = False
        self._message = None
        self._in_cell = False  # shown in a notebook's cell: local frames allowed

    def __repr__(self):
        return f"BrowserOracle(annotator={self.annotator!r}, url={self.url!r})"

    def __getstate__(self):
        state = super().__getstate__()
        for key in (
            "_server",
            "_thread",
            "_cv",
            "_token",
            "_nonce",
            "url",
            "_current",
            "_last",
            "_delivered",
            "_views",
        ):
            state.pop(key, None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        self._reset_runtime()

    # -------------------------------------------------------------- server

    def start(self):
        """Serve the page (if not served yet), print its address and open it.

        Returns
        -------
        url : str
            The page's address, token included.
        """
        if self._server is not None:
            return self.url
        try:
            import bottle
        except ImportError as exc:
            raise ImportError(
                "BrowserOracle needs the bottle web framework: "
                "pip install 'sklearn-cincer[browser]' (or pip install bottle)."
            ) from exc
        self._closed = False
        self._token = secrets.token_urlsafe(24)
        # no other site may frame the page; a notebook's cell (show()) may
        app = refuse_framing(
            self._make_app(bottle), lambda: LOCAL_FRAMES if self._in_cell else NO_FRAMES
        )
        self._server = make_server(
            "127.0.0.1", self.port, app, server_class=Server, handler_class=QuietHandler
        )
        port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{port}/{self._token}/"
        self._origins = {f"http://127.0.0.1:{port}", f"http://localhost:{port}"}
        self._hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="BrowserOracle",
            daemon=True,
        )
        self._thread.start()
        print(f"BrowserOracle: answer the questions at {self.url}", flush=True)
        self._open()
        return self.url

    def _open(self):
        if self.open_browser is False:
            return
        if self.open_browser == "auto" and _in_notebook():
            from IPython.display import display

            display(self.show())
            return
        try:
            webbrowser.get()
        except webbrowser.Error:
            return  # no browser here: the printed address is the way in
        webbrowser.open(self.url)

    def show(self, width="100%", height=760):
        """The page as an ``IPython.display.IFrame``, for a notebook cell.

        Parameters
        ----------
        width : int or str, default="100%"
        height : int or str, default=760

        Returns
        -------
        iframe : IPython.display.IFrame
        """
        from IPython.display import IFrame

        self._in_cell = True
        if self.url is None:
            self.start()
        return IFrame(self.url, width=width, height=height)

    def close(self):
        """Stop serving; the page says the session is over.

        A question still waiting raises :class:`OracleError` in the cleaner.
        """
        with self._cv:
            self._closed = True
            self._version += 1
            self._cv.notify_all()
        server, self._server = self._server, None
        if server is not None:
            time.sleep(0.05)  # let waiting pages learn that the session ended
            server.shutdown()
            server.server_close()
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    # -------------------------------------------------------------- asking

    def __call__(self, query):
        if self._server is None:
            self.start()
        views = self._renderer.html_views(query)  # bad renderers fail here, early
        self._choices(query)  # and class_names that do not fit the classes
        why_sentence(query, naming=self._naming)  # and an example_name that fails
        with self._cv:
            if self._message == _FINISHING:  # a new fit asks again
                self._message = None
            self._next_qid += 1
            qid = self._next_qid
            self._views[qid] = views
            self._current = (qid, query)
            self._bump()
            deadline = None if self.timeout is None else time.monotonic() + self.timeout
            while qid not in self._delivered:
                if self._closed:
                    self._current = None
                    raise OracleError(
                        "The BrowserOracle was closed before the "
                        f"question about example {query.example_id} "
                        "was answered."
                    )
                if (
                    deadline is not None
                    and time.monotonic() > deadline
                    and self._saving != qid
                ):  # an answer being saved wins
                    self._current = None
                    self._bump()
                    raise OracleError(
                        f"No answer within {self.timeout} s about "
                        f"example {query.example_id}."
                    )
                self._cv.wait(0.25)
            answer = self._delivered.pop(qid)
            # keep the last two views: the current question and the one undo reopens
            for old in [k for k in self._views if k < qid - 1]:
                del self._views[old]
        return answer

    def _bump(self):
        self._version += 1
        self._cv.notify_all()

    # --------------------------------------------------------------- state

    def _state(self):
        """The page's view of the session, as JSON-able data (lock held)."""
        answered, skipped = self._tally()  # a skip is not an answer
        base = {
            "version": self._version,
            "n_answered": answered,
            "n_skipped": skipped,
            "annotator": self.annotator,
            "message": self._message,
            "can_undo": self._last is not None,
            "saving": self._saving is not None,
            "waiting_text": self._waiting_text(),
        }
        if self._closed:
            return dict(base, status="closed")
        if self._revising:
            qid, query, answer = self._last
            preset = answer_labels(answer, query)
            status = "revising"
            progress = (
                f"revising your answer about {self._naming.noun(query.example_id)}"
            )
        elif self._current is not None:
            qid, query = self._current
            preset = (query.label, tuple(ce.label for ce in query.counter_examples))
            status = "question"
            progress = progress_text(query, qid)
        else:
            return dict(base, status="waiting")
        choices = self._choices(query)
        index, name = choices.index, choices.name

        example_html, counter_htmls = self._views[qid]
        naming = self._naming
        counters = self._counter_views(query, counter_htmls, choices)
        return dict(
            base,
            status=status,
            qid=qid,
            round=int(query.round),
            progress=progress[0].upper() + progress[1:],
            why=why_sentence(query, name, naming),
            classes=choices.names,
            keys=choices.keys,
            digit_keys=choices.digits,
            prediction=name(query.prediction),
            prediction_index=index(query.prediction),
            margin=float(query.margin),
            sure=sure_text(query.margin),
            score=None if query.score is None else float(query.score),
            support=support_text(
                query.score,
                query.counter_examples[0].score_text
                if query.counter_examples
                else None,
            ),
            counter_editable=self._asks_counter_label(query),
            example={
                "id": int(query.example_id),
                "label": name(query.label),
                "label_index": index(query.label),
                "html": example_html,
                "name": naming.short(query.example_id),
                "title": naming.titled("Suspicious example", query.example_id),
            },
            # the first counter-example as ever; every one in "counters"
            counter=counters[0] if counters else None,
            counters=counters,
            preset={
                "label": index(preset[0]),
                "counter": index(preset[1][0]) if preset[1] else None,
                "counters": [index(label) for label in preset[1]],
            },
        )

    def _counter_views(self, query, counter_htmls, choices):
        """The page's view of each counter-example of ``query``."""
        name, index, naming = choices.name, choices.index, self._naming
        return [
            {
                "id": int(ce.example_id),
                "label": name(ce.label),
                "label_index": index(ce.label),
                "html": html,
                "name": naming.short(ce.example_id),
                "title": naming.titled(
                    counter_title(query, k).capitalize(), ce.example_id
                ),
                "score": None if ce.score is None else float(ce.score),
                "support": support_text(ce.score, ce.score_text),
            }
            for k, (ce, html) in enumerate(zip(query.counter_examples, counter_htmls))
        ]

    def _waiting_text(self):
        """What the page says between questions: "Saved." only when it is."""
        if not self.answers_:
            return "Waiting for the first question\u2026"
        if self.durable:
            return "Saved. Waiting for the next question\u2026"
        return (
            "Sent. Waiting for the next question\u2026 (answers are not saved "
            "to a file: no AnnotationSession records them)"
        )

    def end_of_questions(self):
        """Called by the cleaner when its fit has no more questions: the page
        says that an undo from now on waits for a rerun."""
        self.notify(_FINISHING)

    def notify(self, text):
        """Show ``text`` on the page until the next answer (e.g. "Resumed: ...").

        Parameters
        ----------
        text : str
        """
        with self._cv:
            self._message = str(text)
            self._bump()

    # ----------------------------------------------------------------- web

    def _make_app(self, bottle):
        app = bottle.Bottle(catchall=True)
        request, response = bottle.request, bottle.response
        oracle = self

        def refuse(status, text):
            return _refusal(bottle, status, text)

        def guard(token, write=False):
            return _guarded(bottle, oracle, token, write)

        def body():
            return _posted_object(bottle)

        @app.get("/<token>/")
        def page(token):
            refused = guard(token)
            if refused is not None:
                return refused
            nonce = secrets.token_urlsafe(16)
            response.set_header(
                "Content-Security-Policy",
                f"default-src 'none'; script-src 'nonce-{nonce}'; "
                f"style-src 'nonce-{nonce}' 'unsafe-inline'; img-src data:; "
                "connect-src 'self'; base-uri 'none'; form-action 'none'",
            )
            response.content_type = "text/html; charset=utf-8"
            return PAGE.replace("__NONCE__", nonce)

        @app.get("/<token>/state")
        def state(token):
            refused = guard(token)
            if refused is not None:
                return refused
            try:
                since = int(request.query.get("since", "-1"))
            except ValueError:
                since = -1
            deadline = time.monotonic() + _POLL_SECONDS
            with oracle._cv:
                while (
                    oracle._version == since
                    and not oracle._closed
                    and time.monotonic() < deadline
                ):
                    oracle._cv.wait(min(1.0, deadline - time.monotonic()))
                return oracle._state()

        @app.post("/<token>/answer")
        def answer(token):
            refused = guard(token, write=True)
            if refused is not None:
                return refused
            data = body()
            if not isinstance(data, dict):
                return data  # refused
            with oracle._cv:
                taken = oracle._take_answer(data, refuse)
            if not isinstance(taken, tuple):
                return taken  # refused
            # written to the store without the lock: other tabs keep polling
            return oracle._save(*taken, refuse)

        @app.post("/<token>/undo")
        def undo(token):
            refused = guard(token, write=True)
            if refused is not None:
                return refused
            return oracle._start_revising(refuse)

        @app.post("/<token>/cancel")
        def cancel(token):
            refused = guard(token, write=True)
            if refused is not None:
                return refused
            return oracle._stop_revising(refuse)

        return app

    def _start_revising(self, refuse):
        """Reopen the last answer for revision (``/undo``); the new state or the refusal."""
        with self._cv:
            if self._saving is not None:
                return refuse(409, _BEING_SAVED)
            if self._last is None:
                return refuse(409, "There is no answer to undo yet.")
            self._revising = True
            # once saved, the page says whether the running fit applies it
            self._message = "You are revising your last answer. Esc goes back."
            self._bump()
            return {"state": self._state()}

    def _stop_revising(self, refuse):
        """Leave the revision (``/cancel``); the new state or the refusal."""
        with self._cv:
            if self._saving is not None:
                return refuse(409, _BEING_SAVED)
            self._revising = False
            self._message = None
            self._bump()
            return {"state": self._state()}

    def _take_answer(self, data, refuse):
        """Check a posted answer (lock held).

        Returns ``(revising, qid, query, answer)`` with the question marked as
        being saved, or the refusal.
        """
        if self._saving is not None:
            return refuse(409, _BEING_SAVED)
        if self._revising:
            qid, query, _ = self._last
        elif self._current is not None:
            qid, query = self._current
        else:
            return refuse(409, "No question is open.")
        if data.get("qid") != qid:
            return refuse(409, "That question is no longer open.")
        classes = [plain(c) for c in query.classes]

        def label_at(value, default, key):
            if value is None:
                return default
            if (
                not isinstance(value, int)
                or isinstance(value, bool)
                or not (0 <= value < len(classes))
            ):
                raise ValueError(key)
            return classes[value]

        current = [plain(ce.label) for ce in query.counter_examples]
        try:
            label = label_at(data.get("label"), plain(query.label), "label")
            counters = list(current)
            if current:
                counters[0] = label_at(
                    data.get("counter_label"), current[0], "counter_label"
                )
            given = data.get("counter_labels")
            if given is not None:
                # one index (or null: keep) per counter-example, in order
                if not isinstance(given, list) or len(given) != len(current):
                    raise ValueError("counter_labels")
                every = [
                    label_at(v, c, "counter_labels") for v, c in zip(given, current)
                ]
                if data.get("counter_label") is not None and every[0] != counters[0]:
                    return refuse(400, "counter_label and counter_labels[0] disagree.")
                counters = every
        except ValueError as exc:
            what = exc.args[0]
            if what == "counter_labels":
                return refuse(
                    400,
                    "counter_labels must be a list with the index "
                    f"of a class (or null) for each of the "
                    f"{len(current)} counter-examples.",
                )
            return refuse(400, f"{what} must be the index of a class.")
        skip = data.get("skip", False)
        if not isinstance(skip, bool):  # "false" or null is not a boolean
            return refuse(400, "skip must be true or false.")
        if not self._asks_counter_label(query):
            counters = current
        answer = self._make_answer(query, label, counters, skipped=skip)
        # no version bump: the page would draw the question anew and lose the
        # person's choice if the write fails
        self._saving = qid
        return self._revising, qid, query, answer

    def _save(self, revising, qid, query, answer, refuse):
        """Write the answer through the listeners (lock not held), then confirm.

        The reply says "saved" only after every listener (the store) took the
        answer; when one fails, the person is told so and the question stays
        open, undelivered.
        """
        live = False
        try:
            if revising:
                live = self._revised(query, answer)
            else:
                self._commit(query, answer)
        except Exception as exc:
            with self._cv:
                self._saving = None  # the page keeps the person's choice
            what = "revision" if revising else "answer"
            return refuse(
                503,
                f"Your {what} was not saved ({exc}). It is still "
                "open: submit it again (or stop the session and resume "
                "it later: nothing unsaved was used).",
            )
        with self._cv:
            self._saving = None
            self._last = (qid, query, answer)
            if revising:
                self._revising = False
                self._message = self._revision_text(live)
            else:
                self.answers_.append((query, answer))
                self._delivered[qid] = answer
                if self._current is not None and self._current[0] == qid:
                    self._current = None
                self._message = None
            self._bump()
            return {"ok": True, "state": self._state()}


_BEING_SAVED = "An answer is being saved; wait a moment and try again."
_FINISHING = (
    "No more questions in this fit: it is finishing. An undo from now "
    "on applies when the session is run again from its store."
)
