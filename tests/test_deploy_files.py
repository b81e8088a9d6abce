"""Procfile, worker.py, Dockerfile and docker-compose.yml describe processes that really exist."""
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from rq import Queue

from tests.job_helpers import write_marker

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def procfile():
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            entries[name.strip()] = shlex.split(command.strip())
    return entries


def test_procfile_has_web_worker_and_release():
    entries = procfile()
    assert set(entries) == {"web", "worker", "release"}
    assert entries["web"] == ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
    assert entries["worker"] == ["python", "worker.py"]
    assert entries["release"] == ["flask", "--app", "wsgi", "db", "upgrade"]


@pytest.mark.parametrize("name", ["web", "worker", "release"])
def test_every_procfile_command_resolves(name):
    argv = procfile()[name]
    assert (BIN / argv[0]).exists() or shutil.which(argv[0]), argv[0]
    for arg in argv[1:]:
        if arg.endswith(".py"):
            assert (ROOT / arg).is_file(), arg  # worker.py, gunicorn.conf.py
        if arg.endswith(":app") or arg == "wsgi":
            assert (ROOT / f"{arg.split(':')[0]}.py").is_file(), arg


def test_gunicorn_loads_the_wsgi_app(tmp_path):
    env = {**os.environ, "INSTANCE_PATH": str(tmp_path)}
    result = subprocess.run([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--check-config", "wsgi:app"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_worker_refuses_unknown_queues():
    result = subprocess.run([sys.executable, "worker.py", "bulk"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and "unknown queue(s): bulk" in result.stderr


def test_worker_runs_a_queued_job_inside_an_app_context(tmp_path, redis, redis_url):
    marker = tmp_path / "marker.txt"
    Queue("default", connection=redis).enqueue(write_marker, str(marker), "ran")
    env = {**os.environ, "REDIS_URL": redis_url, "INSTANCE_PATH": str(tmp_path / "instance"),
           "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "worker.py", "--burst", "default"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert marker.read_text() == "ran from blog"


def test_compose_topology_has_every_service_with_healthchecks():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"nginx", "web", "worker", "migrate", "postgres", "redis", "minio", "createbucket", "mailpit"} <= set(services)
    for name in ("postgres", "redis", "minio"):
        assert "healthcheck" in services[name], name
    assert services["worker"]["command"] == ["python", "worker.py"]


def test_dockerfile_runs_as_non_root_with_a_healthcheck():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.count("FROM python:3.11-slim") == 2  # multi-stage
    assert "\nUSER blog\n" in dockerfile
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile
