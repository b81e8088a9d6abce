from flask import Blueprint, jsonify

from blog.services.health import ADVISORY, readiness

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    checks = readiness()
    failing = sorted(name for name, c in checks.items() if not c["ok"] and name not in ADVISORY)
    ready = not failing
    return jsonify(status="ready" if ready else "unavailable", failing=failing, checks=checks), 200 if ready else 503
