"""The BrowserOracle's local web server, hardened against a hostile local process.

``wsgiref``'s threaded server, with what it lacks to keep the person's page
answering while another process on the machine misbehaves:

- every socket read times out (``_READ_TIMEOUT``), and a connection that has
  not sent a whole request within ``_HEADER_TIMEOUT`` is closed, so
  half-sent requests do not hold a thread and a file descriptor for ever;
- at most ``_MAX_CONNECTIONS`` connections are open: a new one makes room
  by closing the oldest that has not yet proven it knows the page's token,
  so idle connections can never lock the person out (their requests carry
  the token and take milliseconds);
- a listen backlog of ``_BACKLOG`` (wsgiref's is 5);
- errors of the network (timeouts, resets) are not printed as tracebacks.

Why not another server: ``waitress`` (the obvious well-kept choice) stops
accepting connections when its ``connection_limit`` is reached, which is the
lock-out this module avoids, and serves the page's 20 s long polls from a
fixed pool of threads; the standard library needs no new dependency.
"""

import collections
import socket
import sys
import threading
import time
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

_READ_TIMEOUT = 10.0
_HEADER_TIMEOUT = 10.0
_MAX_CONNECTIONS = 64
_BACKLOG = 128


class Server(ThreadingMixIn, WSGIServer):
    """A thread per connection, with timeouts and a cap on connections."""

    daemon_threads = True
    allow_reuse_address = False
    request_queue_size = _BACKLOG

    def server_bind(self):
        # accepted socket -> [accepted at (monotonic s), token proven]
        self._connections = collections.OrderedDict()
        self._connections_lock = threading.Lock()
        super().server_bind()

    @property
    def n_connections(self):
        """Connections open now."""
        with self._connections_lock:
            return len(self._connections)

    def get_request(self):
        sock, address = super().get_request()
        sock.settimeout(_READ_TIMEOUT)
        with self._connections_lock:
            self._connections[sock] = [time.monotonic(), False]
            while len(self._connections) > _MAX_CONNECTIONS:
                victim = next(
                    (s for s, (_, trusted) in self._connections.items() if not trusted),
                    None,
                )
                if victim is None:
                    break
                self._drop(victim)
        return sock, address

    def _drop(self, sock):
        """Close a connection from outside its thread (lock held)."""
        del self._connections[sock]
        try:
            sock.shutdown(socket.SHUT_RDWR)  # its thread reads EOF and ends
        except OSError:
            pass

    def trust(self, sock):
        """The request on ``sock`` carried the token: never dropped to make room."""
        with self._connections_lock:
            if sock in self._connections:
                self._connections[sock][1] = True

    def service_actions(self):
        # serve_forever calls this between polls: close half-sent requests
        super().service_actions()
        deadline = time.monotonic() - _HEADER_TIMEOUT
        with self._connections_lock:
            late = [
                s
                for s, (at, trusted) in self._connections.items()
                if not trusted and at < deadline
            ]
            for sock in late:
                self._drop(sock)

    def shutdown_request(self, request):
        with self._connections_lock:
            self._connections.pop(request, None)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], OSError):
            return  # a timeout, a reset, a dropped connection: nothing to report
        super().handle_error(request, client_address)


class QuietHandler(WSGIRequestHandler):
    """No access log; tells the application how to trust its connection."""

    def log_message(self, *args):  # no access log on the console
        pass

    def get_environ(self):
        environ = super().get_environ()
        server, sock = self.server, self.connection
        environ["cincer.trust"] = lambda: server.trust(sock)
        return environ


#: Who may show the page in a frame: nobody, or only this computer's own
#: pages (a Jupyter notebook's output cell, which frames it by design).
NO_FRAMES = "'none'"
LOCAL_FRAMES = (
    "'self' http://localhost:* http://127.0.0.1:* https://localhost:* "
    "https://127.0.0.1:* vscode-webview:"
)


def refuse_framing(app, ancestors):
    """Wrap a WSGI ``app`` so that no other site can show its pages in a frame.

    Every response, refusals and errors included, gets a
    Content-Security-Policy ``frame-ancestors`` (added to the response's own
    policy, if it has one) and, when nobody may frame it, ``X-Frame-Options:
    DENY`` for browsers that do not read the policy: a page of another
    origin cannot lay the buttons under its own (clickjacking).

    Parameters
    ----------
    app : callable
        The WSGI application.
    ancestors : callable
        ``ancestors() -> str``: the source list, read at each response
        (:data:`NO_FRAMES` or :data:`LOCAL_FRAMES`).
    """

    def framed(environ, start_response):
        def start(status, headers, exc_info=None):
            allowed = ancestors()
            kept, policy = [], None
            for name, value in headers:
                lower = name.lower()
                if lower == "content-security-policy":
                    policy = value
                elif lower != "x-frame-options":
                    kept.append((name, value))
            rule = f"frame-ancestors {allowed}"
            kept.append(
                (
                    "Content-Security-Policy",
                    rule if policy is None else f"{policy}; {rule}",
                )
            )
            if allowed == NO_FRAMES:
                kept.append(("X-Frame-Options", "DENY"))
            return start_response(status, kept, exc_info)

        return app(environ, start)

    return framed
