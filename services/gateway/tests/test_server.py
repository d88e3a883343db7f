"""`python -m gateway serve` (Granian): the environment it reads, the process environment kept out
of requests, and a real server process — request id and log line, graceful stop on SIGTERM."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from gateway.server import WithoutProcessEnvironment, parse_bind, server_options
from servicekit.principal import generate_keypair

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("bind, expected", [
    ("127.0.0.1:8080", ("127.0.0.1", 8080)),
    ("0.0.0.0:8000", ("0.0.0.0", 8000)),
    ("[::1]:9000", ("::1", 9000)),
    ("localhost", ("localhost", 8000)),
])
def test_bind_is_read_as_gunicorn_reads_it(bind, expected):
    assert parse_bind(bind) == expected


@pytest.mark.parametrize("bind", ["127.0.0.1:0", "127.0.0.1:70000", "127.0.0.1:x", "::1:80", ""])
def test_a_bind_that_is_not_host_port_is_refused(bind):
    with pytest.raises(ValueError, match="BIND"):
        parse_bind(bind)


def test_options_come_from_the_same_environment_as_the_other_services():
    options = server_options({"BIND": "0.0.0.0:8000", "WEB_CONCURRENCY": "1", "WEB_THREADS": "12",
                              "DANBIO_LOG_LEVEL": "WARNING"})
    assert (options["address"], options["port"], options["workers"], options["blocking_threads"]) == (
        "0.0.0.0", 8000, 1, 12)
    assert options["log_level"] == "warning"
    defaults = server_options({})
    assert (defaults["address"], defaults["port"], defaults["workers"], defaults["blocking_threads"]) == (
        "127.0.0.1", 8000, 1, 16)
    with pytest.raises(ValueError, match="WEB_THREADS"):
        server_options({"WEB_THREADS": "0"})
    with pytest.raises(ValueError, match="WEB_CONCURRENCY"):
        server_options({"WEB_CONCURRENCY": "two"})


def test_process_variables_are_taken_out_of_the_request_environ():
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        return []

    wrapped = WithoutProcessEnvironment(app, ["GATEWAY_PRINCIPAL_SIGNING_KEY", "PATH", "ABSENT"])
    wrapped({"GATEWAY_PRINCIPAL_SIGNING_KEY": "secret", "PATH": "/usr/bin", "PATH_INFO": "/api/x",
             "HTTP_HOST": "gw"}, None)
    assert seen == {"PATH_INFO": "/api/x", "HTTP_HOST": "gw"}


# --- a real server process ----------------------------------------------------------------------

class SlowService:
    """Stands in for the patients service: answers after a pause, with the headers it received."""

    def __init__(self):
        self.received = threading.Event()
        self.pause = 0.0
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    @Request.application
    def app(self, request: Request) -> Response:
        self.received.set()
        time.sleep(self.pause)
        return Response(json.dumps({"headers": dict(request.headers)}), mimetype="application/json")


@pytest.fixture
def service():
    slow = SlowService()
    yield slow
    slow.server.shutdown()


def free_port() -> int:
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def gateway(service, tmp_path):
    port = free_port()
    env = {**os.environ, "BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1", "WEB_THREADS": "4",
           "DANBIO_DATA_DIR": str(tmp_path),  # the embedded broker, as `make run` without RabbitMQ
           "GATEWAY_PRINCIPAL_SIGNING_KEY": generate_keypair()[0], "GATEWAY_PATIENTS_URL": service.url,
           # A process variable named like a request header must not turn into one.
           "HTTP_X_INJECTED": "from-the-environment"}
    env.pop("DANBIO_BROKER_URL", None)
    log_path = tmp_path / "gateway.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "gateway", "serve"], cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, log_path.read_text()
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, f"the gateway did not start:\n{log_path.read_text()}"
        time.sleep(0.1)
    yield url, process, log_path
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def log_lines(path: Path) -> list[dict]:
    lines = []
    for line in path.read_text().splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return lines


def test_a_forwarded_request_keeps_its_request_id_and_is_logged_once(gateway, service):
    url, process, log_path = gateway
    answer = requests.get(f"{url}/api/patients/public/ping?secret=1", headers={"X-Request-ID": "req-abc.1"},
                          timeout=10)
    assert answer.status_code == 200
    assert answer.headers["X-Request-ID"] == "req-abc.1"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    forwarded = {name.lower(): value for name, value in answer.json()["headers"].items()}
    assert forwarded["x-request-id"] == "req-abc.1"
    assert "x-injected" not in forwarded
    assert any(line.get("variable") == "HTTP_X_INJECTED" for line in log_lines(log_path))
    time.sleep(0.2)
    requests_logged = [line for line in log_lines(log_path) if line.get("msg") == "request"]
    assert [(r["correlation_id"], r["path"], r["status"]) for r in requests_logged] == [
        ("req-abc.1", "/api/patients/public/ping", 200)]


def test_sigterm_lets_the_request_in_progress_finish_then_exits(gateway, service):
    url, process, log_path = gateway
    service.pause = 1.5
    result = {}

    def call():
        try:
            result["answer"] = requests.get(f"{url}/api/patients/public/slow", timeout=15)
        except requests.RequestException as exc:  # pragma: no cover - reported below
            result["error"] = exc

    caller = threading.Thread(target=call)
    caller.start()
    assert service.received.wait(10), log_path.read_text()
    os.killpg(process.pid, signal.SIGTERM)
    caller.join(15)
    assert "error" not in result, f"{result.get('error')}\n{log_path.read_text()}"
    assert result["answer"].status_code == 200
    assert process.wait(timeout=25) == 0, log_path.read_text()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/healthz", timeout=2)
    assert any(line.get("msg") == "access-change consumer stopped" for line in log_lines(log_path)), (
        log_path.read_text())
