from flask import Blueprint, jsonify

from blog.services.health import readiness

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    checks = readiness()
    ready = all(c["ok"] for c in checks.values())
    failing = sorted(name for name, c in checks.items() if not c["ok"])
    return jsonify(status="ready" if ready else "unavailable", failing=failing, checks=checks), 200 if ready else 503
