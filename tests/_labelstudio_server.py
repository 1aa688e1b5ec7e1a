"""A real Label Studio server for the tests, and annotators that use its REST API.

The server is the one named by the environment variable
SKLEARN_CINCER_LABEL_STUDIO (the ``label-studio`` executable of its own
virtual environment; .ci/run installs it). Its database is migrated once
into a cache folder (SKLEARN_CINCER_LABEL_STUDIO_DATA, by default
~/.cache/sklearn-cincer/label-studio-VERSION) with a second annotator
account; each test session starts from a copy of that folder, on 127.0.0.1
at a free port, and stops the server by its own process group at the end.
"""

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

VERSION = "1.23.2"
VARIABLE = "SKLEARN_CINCER_LABEL_STUDIO"
LEAD = ("lead@example.com", "lead-password-1", "leadtoken0123456789abcdef")
SECOND = ("carol@example.com", "carol-password-1", "caroltoken0123456789abcd")

_SECOND_USER = f"""
from organizations.models import Organization
from rest_framework.authtoken.models import Token
from users.models import User
org = Organization.objects.first()
user, _ = User.objects.get_or_create(email={SECOND[0]!r}, defaults={{"username": "carol"}})
user.set_password({SECOND[1]!r})
user.save()
org.add_user(user)
user.active_organization = org
user.save(update_fields=["active_organization"])
Token.objects.filter(user=user).delete()
Token.objects.create(user=user, key={SECOND[2]!r})
print("second user ready")
"""


def executable():
    """The label-studio executable, or None with the reason."""
    path = os.environ.get(VARIABLE)
    if not path:
        return None, (
            f"Label Studio is not installed here: set {VARIABLE} to the "
            "label-studio executable of its own virtual environment "
            "(.ci/run does)"
        )
    if not os.access(path, os.X_OK):
        return None, f"{VARIABLE}={path} is not an executable"
    return path, ""


def environment(data, home, port):
    """The server's environment: local only, a preset lead account and token."""
    env = {
        k: v
        for k, v in os.environ.items()
        # Label Studio reads these unprefixed names too
        if k not in ("HOST", "PORT", "USERNAME", "PASSWORD")
    }
    env.update(
        {
            "HOME": str(home),
            "LABEL_STUDIO_BASE_DATA_DIR": str(data),
            "LABEL_STUDIO_USERNAME": LEAD[0],
            "LABEL_STUDIO_PASSWORD": LEAD[1],
            "LABEL_STUDIO_USER_TOKEN": LEAD[2],
            "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
            "SENTRY_DSN": "",
            "FRONTEND_SENTRY_DSN": "",
            "COLLECT_ANALYTICS": "false",
            "LATEST_VERSION_CHECK": "false",
            "LABEL_STUDIO_PORT": str(port),
        }
    )
    return env


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A started server: ``url``, its lead's token, and ``stop()``."""

    def __init__(self, exe, data, home, log):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = LEAD[2]
        self.data, self.home = data, home
        self._log = open(log, "ab")  # noqa: SIM115  (closed by stop)
        self.process = subprocess.Popen(
            [
                exe,
                "start",
                "--no-browser",
                "--internal-host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            env=environment(data, home, self.port),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=str(home),
        )
        self.pid = self.process.pid

    def wait_up(self, timeout=300):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Label Studio exited ({self.process.returncode}); "
                    f"see {self._log.name}"
                )
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"Label Studio did not start within {timeout} s")

    def stop(self):
        """Stop the server's own process group (the server and its children)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.process.wait(20)
        self._log.close()


def template(exe):
    """The cache folder of a migrated database with both accounts (made once)."""
    root = Path(
        os.environ.get(
            "SKLEARN_CINCER_LABEL_STUDIO_DATA",
            Path.home() / ".cache" / "sklearn-cincer" / f"label-studio-{VERSION}",
        )
    )
    data, home = root / "data", root / "home"
    marker = root / "ready"
    data.mkdir(parents=True, exist_ok=True)
    home.mkdir(exist_ok=True)
    with open(root / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one session migrates, the others wait
        if not marker.exists():
            server = Server(exe, data, home, root / "migrate.log")
            try:
                server.wait_up()
            finally:
                server.stop()
            subprocess.run(
                [exe, "shell"],
                input=_SECOND_USER.encode(),
                check=True,
                env=environment(data, home, 0),
                cwd=str(home),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=300,
            )
            marker.write_text(VERSION)
    return data


def start(exe, folder):
    """A server on a copy of the migrated database in ``folder``."""
    source = template(exe)
    data, home = folder / "data", folder / "home"
    shutil.copytree(source, data)
    home.mkdir()
    return Server(exe, data, home, folder / "server.log").wait_up()


# --------------------------------------------------------------- the REST API


def api(server, method, path, body=None, token=None):
    """The JSON of a request as the account of ``token`` (the lead's)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        server.url + path,
        data=data,
        method=method,
        headers={
            "Authorization": f"Token {token or server.token}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def tasks(server, project):
    return api(server, "GET", f"/api/tasks?project={project}&page_size=1000")["tasks"]


def annotate(server, task_id, picks, token=None, skip=False):
    """Submit an annotation: ``picks`` maps a control name to the class name."""
    task = api(server, "GET", f"/api/tasks/{task_id}")
    result = [
        {
            "from_name": name,
            "to_name": name.replace("_label", "").replace("label", "example"),
            "type": "choices",
            "value": {"choices": [value]},
        }
        for name, value in picks.items()
    ]
    return api(
        server,
        "POST",
        f"/api/tasks/{task['id']}/annotations",
        {"result": [] if skip else result, "was_cancelled": skip},
        token=token,
    )


@contextlib.contextmanager
def annotator(server, project, policy, token=None, every=0.1):
    """A person who answers each new task of ``project`` with ``policy(task)``.

    ``project`` is an id or a callable that returns it (None until the
    project exists); ``policy`` returns the picks, or "skip". Yields the
    list of tasks answered.
    """
    done, stop, errors = [], threading.Event(), []

    def work():
        while not stop.is_set():
            try:
                pid = project() if callable(project) else project
                for task in tasks(server, pid) if pid else []:
                    if task["id"] in done:
                        continue
                    picks = policy(task)
                    annotate(
                        server,
                        task["id"],
                        {} if picks == "skip" else picks,
                        token=token,
                        skip=picks == "skip",
                    )
                    done.append(task["id"])
            except (urllib.error.URLError, OSError):
                pass  # the server going away is what some tests do
            except Exception as exc:  # a mistake of the test's policy: told
                errors.append(exc)
                return
            stop.wait(every)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        yield done
    finally:
        stop.set()
        thread.join(10)
        if errors:
            raise errors[0]
