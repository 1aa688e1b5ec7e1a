"""The few calls of Label Studio's REST API the oracle needs, over plain HTTP.

Plain :mod:`urllib`, so that the oracle needs no package of its own (neither
Label Studio's server nor its SDK). Every failure becomes one
:class:`~sklearn_cincer.oracles.OracleError` that says what went wrong in
words a team lead can act on; the API key is never part of a message.
"""

import json
import urllib.error
import urllib.parse
import urllib.request

from ._base import OracleError

#: Characters of a server's error body quoted in a message.
_QUOTED = 300


class NotFound(OracleError):
    """The server answered 404: the project or task is not (or no longer) there."""


class _Refused(OracleError):
    """The server refused the key (401, 403)."""


class LabelStudioClient:
    """A Label Studio server, reached with an API key.

    Parameters
    ----------
    url : str
        The server's address, ``http://127.0.0.1:8080``.
    api_key : str
        An access token, sent as ``Authorization: Token ...`` (Label Studio's
        legacy tokens) or, for a personal access token (a JWT refresh token),
        exchanged for an access token first.
    timeout : float
        Seconds a request may take.
    """

    def __init__(self, url, api_key, timeout=30.0):
        self.url = url.rstrip("/")
        self._api_key = api_key
        self.timeout = timeout
        self._access = None

    def __repr__(self):  # no key in any repr
        return f"LabelStudioClient({self.url!r})"

    def _authorization(self):
        key = self._api_key
        if key.count(".") != 2:  # a legacy token
            return f"Token {key}"
        if self._access is None:  # a personal access token: a JWT refresh token
            body = self._send("POST", "/api/token/refresh", {"refresh": key}, auth=None)
            self._access = body.get("access")
        return f"Bearer {self._access}"

    def request(self, method, path, body=None, params=None):
        """The decoded JSON of ``method path``; raises OracleError (NotFound)."""
        try:
            return self._send(
                method, path, body, params=params, auth=self._authorization()
            )
        except _Refused:
            if self._access is None:
                raise
        # a personal access token's short-lived access token expired: once more
        self._access = None
        return self._send(method, path, body, params=params, auth=self._authorization())

    def _send(self, method, path, body, params=None, auth=None):
        url = self.url + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if auth is not None:
            headers["Authorization"] = auth
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise self._http_error(exc, method, path) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise OracleError(
                f"Label Studio at {self.url} cannot be reached ({reason}): is the "
                "server running at that address? Nothing was lost: the answers "
                "given so far are kept, and the questions stay in Label Studio."
            ) from None
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise OracleError(
                f"{self.url}{path} did not answer JSON: is {self.url} a Label "
                "Studio server?"
            ) from None

    def _http_error(self, exc, method, path):
        try:
            text = exc.read().decode("utf-8", "replace")[:_QUOTED]
        except Exception:  # the body could not be read: the status says enough
            text = ""
        where = f"{method} {self.url}{path}"
        if exc.code in (401, 403):
            return _Refused(
                f"Label Studio at {self.url} refused the API key (HTTP {exc.code} "
                f"on {where}): give the access token of a Label Studio account "
                "(Account & Settings, or LABEL_STUDIO_API_KEY), with legacy "
                "tokens enabled for a legacy one."
            )
        if exc.code == 404:
            return NotFound(f"Label Studio has no {path} (HTTP 404 on {where}).")
        return OracleError(
            f"Label Studio answered HTTP {exc.code} on {where}: {text.strip()}"
        )

    def pages(self, path, params=None, key="results"):
        """Every item of a paginated listing, page after page."""
        params = dict(params or {})
        params.setdefault("page_size", 100)
        page = 1
        while True:
            params["page"] = page
            try:
                body = self.request("GET", path, params=params)
            except NotFound:  # past the last page
                return
            items = (
                body.get(key, body.get("tasks", [])) if isinstance(body, dict) else body
            )
            yield from items
            if (
                not isinstance(body, dict)
                or not items
                or (key == "results" and not body.get("next"))
            ):
                return
            total = body.get("total")
            if total is not None and page * params["page_size"] >= total:
                return
            page += 1
