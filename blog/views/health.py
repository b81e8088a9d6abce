from flask import Blueprint, abort, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST

from blog.services import monitoring
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


@bp.get("/metrics")
def metrics():
    # Not public: without METRICS_TOKEN, or with a wrong one, the page does not exist.
    if not monitoring.token_accepted(request.headers.get("Authorization")):
        abort(404)
    return monitoring.exposition(), 200, {"Content-Type": CONTENT_TYPE_LATEST}
