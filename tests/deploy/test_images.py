"""The container images, read from their Dockerfiles (no Docker here to build them): multi-stage
from a pinned slim Python, servicekit and the service installed from the repository root, a
non-root numeric user, the web server (gunicorn; the gateway's Granian) configured from the environment,
the same image for every process."""
import fnmatch
import json
import re

import pytest
import yaml

from . import manifests

ROOT = manifests.ROOT


def instructions(service):
    text = (ROOT / "services" / service / "Dockerfile").read_text(encoding="utf-8")
    logical = re.sub(r"\\\n", " ", text)
    result = []
    for line in logical.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def ignore_patterns():
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str) -> bool:
    """Whether Docker leaves path out of the build context (.dockerignore; later rules win)."""
    parts = path.split("/")
    result = False
    for pattern in ignore_patterns():
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        for end in range(1, len(parts) + 1):
            prefix = "/".join(parts[:end])
            if fnmatch.fnmatchcase(prefix, pattern) or (
                    pattern.startswith("**/") and any(fnmatch.fnmatchcase("/".join(parts[i:end]), pattern[3:])
                                                      for i in range(end))):
                result = not negate
                break
    return result


@pytest.mark.parametrize("service", manifests.SERVICES)
def test_dockerfile_builds_a_pinned_multi_stage_non_root_image(service):
    steps = instructions(service)
    args = dict(rest.split("=", 1) for keyword, rest in steps if keyword == "ARG" and "=" in rest)
    froms = [rest for keyword, rest in steps if keyword == "FROM"]
    assert len(froms) >= 2, "multi-stage: build stage and runtime stage"
    for line in froms:
        image = line.split()[0]
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
        match = re.fullmatch(r"python:(\d+)\.(\d+)\.(\d+)-slim-[a-z]+", image)
        assert match, f"{image}: not a slim Python base pinned to a patch version"
        assert (int(match.group(1)), int(match.group(2))) >= (3, 11)
    runtime = steps[max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM"):]
    users = [rest for keyword, rest in runtime if keyword == "USER"]
    assert users and re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", users[-1]), "numeric non-root USER in the runtime stage"
    assert any(keyword == "COPY" and rest.startswith("--from=") for keyword, rest in runtime)
    env = " ".join(rest for keyword, rest in runtime if keyword == "ENV")
    assert "BIND=0.0.0.0:8000" in env and "PYTHONDONTWRITEBYTECODE=1" in env
    assert ("EXPOSE", "8000") in runtime
    cmd = [rest for keyword, rest in runtime if keyword == "CMD"][-1]
    assert json.loads(cmd) == manifests.web_command(service)
    installs = " ".join(rest for keyword, rest in steps if keyword == "RUN" and "pip install" in rest)
    assert "/src/libs/servicekit" in installs and f"/src/services/{service}" in installs


@pytest.mark.parametrize("service", manifests.SERVICES)
def test_build_context_holds_what_the_dockerfile_copies(service):
    for keyword, rest in instructions(service):
        if keyword == "COPY" and not rest.startswith("--from="):
            source = rest.split()[0]
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository (context is the root)"
            assert not ignored(source), f"COPY {source}: excluded by .dockerignore"
            for needed in (ROOT / source).rglob("*"):
                relative = needed.relative_to(ROOT).as_posix()
                if needed.is_file() and needed.suffix in (".py", ".toml", ".json", ".mako", ".j2", ".html", ".css") \
                        and "/tests/" not in f"/{relative}" and ".egg-info" not in relative:
                    assert not ignored(relative), f"{relative} would be missing from the image"
    for local_state in (".venv/bin/python", ".git/HEAD", ".data/bus.db", f"services/{service}/tests/x.py",
                        "services/identity/identity/__pycache__/app.cpython-311.pyc"):
        assert ignored(local_state), f"{local_state} would be sent to the daemon"


@pytest.mark.parametrize("overlay", manifests.OVERLAYS)
def test_kubernetes_runs_the_processes_the_images_provide(overlay):
    """The web Deployment's command is the image's CMD; every other command is python -m <service>."""
    for workload, template in manifests.pod_templates(manifests.render(overlay)):
        for container in manifests.containers(template["spec"]):
            service = manifests.service_of(container["image"])
            command = container["command"]
            if command == manifests.web_command(service):
                cmd = [rest for keyword, rest in instructions(service) if keyword == "CMD"][-1]
                assert command == yaml.safe_load(cmd)
            else:
                assert command[:3] == ["python", "-m", service], workload["metadata"]["name"]
