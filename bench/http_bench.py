"""HTTP throughput and latency of the blog under gunicorn with production settings (issue 12).

    .venv/bin/python bench/http_bench.py [--duration 10] [--runs 3] [--connections 16] [--posts 10000]
                                         [--warmup 2] [--skip-jobs] [--skip-rss] [--json out.json]

1. Creates its own PostgreSQL database (``blog_bench_<random>``, dropped at the end), migrates it with the
   app's own Alembic scripts and seeds it fast with bulk inserts (bench/seed_bench.py): 100 authors, ~200
   tags, ``--posts`` published posts with 1-4 tags and 0-5 approved comments each. Then the app's own
   ``related.refresh_all()`` and ``search_index.reindex_all()``. Redis database 13
   (``--redis``) must be empty (a test run may have claimed it) and is emptied at the end; S3 is moto's server, in this process.
2. SQL statements per page, in-process (Flask test client, ``before_cursor_execute``), at 10 posts (a
   second scratch database) and at ``--posts``: with the page cache off (every request renders), and with
   it on (the first request after FLUSHDB, then the cached one).
3. Starts gunicorn (``gunicorn -c gunicorn.conf.py wsgi:app``, ``BLOG_ENV=production``) and the same
   gunicorn settings around a bare Flask hello app (bench/hello_app.py), each on a free loopback port with
   the same number of workers. gunicorn's access log goes to /dev/null (``GUNICORN_ACCESS_LOG``; an empty
   value makes gunicorn refuse to start); the app's own JSON request log (on in production) goes to a
   file, as both processes' stdout and stderr do.
4. wrk (``-t2 -c<connections> -d<duration>s --latency``) on the hello app and on the home, post, tag,
   author, search and Atom feed pages, for an anonymous reader and for a reader signed in through the real
   login form (session cookie passed with ``-H "Cookie: ..."``). Every URL is warmed up first; then
   ``--runs`` rounds, each running every URL once in turn (interleaved, so drift hits all alike); medians.
   Before each run it waits until the servers are idle (no gunicorn CPU, no active query): requests wrk had
   sent when it stopped are still served, and a slow page would otherwise delay the next run's first ones.
   CPU time per request is the utime+stime of the gunicorn master and all its workers (reaped workers
   count through the master's cutime/cstime) over the requests wrk made. PostgreSQL's and Redis's CPU is
   not included.
5. Worker memory: a separate gunicorn with ``WEB_CONCURRENCY=1`` and ``GUNICORN_MAX_REQUESTS=0`` (by default
   gunicorn.conf.py recycles a worker after 2000-2200 requests, so no worker would live to 20,000), driven
   with 20,000 requests over many distinct reader URLs (anonymous and signed in); VmRSS/VmHWM at 5,000 and
   at 20,000.
6. Unless ``--skip-jobs``: bench/media_bench.py (12-megapixel JPEG: the media job vs a bare Pillow script)
   and bench/jobs_bench.py (enqueue-to-finish latency of the email job) as subprocesses; figures relayed.

Prints one table and a PASS/FAIL line per target. Exits 1 when a target fails or a measurement errs.
Stops every process it starts (process groups), pass or fail, and drops its databases.
"""
from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import random
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(BENCH))

import psycopg  # noqa: E402
from redis import Redis  # noqa: E402

from tests.support import REGION, create_bucket, delete_bucket, free_port, s3_client, start_moto_server  # noqa: E402

WRK = shutil.which("wrk") or "/usr/bin/wrk"
USER_AGENT = "blog-http-bench/1"  # the same for the login and for wrk: Flask-Login's session protection hashes it
READER_PASSWORD = "bench-reader-password-2718"
PAGES = ("home", "post", "tag", "author", "search", "feed")
NEW_SEARCH = "search*"  # the search page, a query never asked before on every request (wrk script)
READER_PAGES = ("home", "post", "tag", "author")  # the issue's "anonymous reader pages"
ANON_RATIO_TARGET = 0.50
SIGNED_IN_RATIO_TARGET = 0.20
TAIL_TARGET = 4.0
SQL_TARGET = 4
RSS_GROWTH_TARGET = 0.10
MEDIA_RATIO_TARGET = 1.5
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Settings the app or gunicorn.conf.py read that must not leak in from the caller's environment.
SCRUBBED = ("FLASK_DEBUG", "SENTRY_DSN", "METRICS_TOKEN", "PAGE_CACHE", "PAGE_CACHE_TTL", "USER_CACHE_TTL",
            "LOG_REQUESTS", "LOG_FORMAT", "POSTS_PER_PAGE", "PROXY_COUNT", "INTERNAL_HOSTS", "PORT", "WEB_CONCURRENCY",
            "PROMETHEUS_MULTIPROC_DIR", "DATABASE_URL", "REDIS_URL", "STORAGE_BACKEND", "S3_BUCKET",
            "S3_ENDPOINT_URL", "S3_REGION", "MEDIA_ROOT", "BASE_URL", "MAIL_SERVER", "MAIL_PORT", "INSTANCE_PATH",
            "SECRET_KEY", "BLOG_ENV", "DEFAULT_LOCALE", "DEFAULT_TIMEZONE", "HTTP_PROXY", "HTTPS_PROXY",
            "http_proxy", "https_proxy", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_S3")

def say(message: str = "") -> None:
    print(message, flush=True)


# --- processes ----------------------------------------------------------------------------------------------

def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return raw[raw.rindex(")") + 2:].split()  # fields from 3 (state) on; the name may hold spaces


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def tree_cpu_seconds(master: int) -> float:
    """utime+stime of the master, of its reaped children (cutime+cstime) and of its live children."""
    fields = _stat_fields(master)
    if fields is None:
        return 0.0
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime (fields 14-17)
    for child in children(master):
        child_fields = _stat_fields(child)
        if child_fields is not None:
            ticks += int(child_fields[11]) + int(child_fields[12])
    return ticks / CLK_TCK


def memory_kb(pid: int) -> dict:
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _sep, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                found["Pss"] = int(line.split()[1])
    except (FileNotFoundError, PermissionError):
        pass
    return found


def stop_group(process: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM the process group (gunicorn master and workers, or a bench script and its children)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # stragglers (a worker stuck in a request), if any
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


class Gunicorn:
    """``gunicorn -c gunicorn.conf.py <app>`` in its own process group, output to a file."""

    def __init__(self, label: str, app_target: str, env: dict, log_path: Path, ready_path: str):
        self.label = label
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**env, "GUNICORN_BIND": f"127.0.0.1:{self.port}", "BASE_URL": self.base}
        self.log_path = log_path
        self.log = log_path.open("w")
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        self.process = subprocess.Popen([gunicorn, "-c", "gunicorn.conf.py", app_target], cwd=ROOT, env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{label}: gunicorn exited with {self.process.returncode}; "
                                       f"log:\n{self.tail()}")
                try:
                    status, _h, _b = http_get(self.base + ready_path, timeout=2)
                    if status == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{label}: gunicorn did not answer {ready_path} within 60 s; "
                                       f"log:\n{self.tail()}")
                time.sleep(0.2)
            # Wait for every worker to have booted (the master forks them one after another).
            want = int(env.get("WEB_CONCURRENCY") or 2 * (os.cpu_count() or 1) + 1)  # gunicorn.conf.py's default
            while len(self.workers()) < want and time.monotonic() < deadline:
                time.sleep(0.1)
        except BaseException:
            self.stop()
            raise

    def workers(self) -> list[int]:
        return children(self.process.pid)

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.process.pid)

    def tail(self, lines: int = 30) -> str:
        self.log.flush()
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        stop_group(self.process)
        self.log.close()


# --- HTTP -------------------------------------------------------------------------------------------------

def http_request(method: str, url: str, headers: dict | None = None, body: bytes | None = None,
                 timeout: float = 30) -> tuple[int, http.client.HTTPMessage, bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, path, body=body, headers={"User-Agent": USER_AGENT, **(headers or {})})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def http_get(url: str, headers: dict | None = None, timeout: float = 30):
    return http_request("GET", url, headers=headers, timeout=timeout)


def session_cookie(headers: http.client.HTTPMessage) -> str | None:
    for raw in headers.get_all("Set-Cookie") or []:
        jar = SimpleCookie()
        jar.load(raw)
        if "session" in jar:
            return jar["session"].value
    return None


def sign_in(base: str, login: str, password: str) -> str:
    """Sign in through the real form; returns a ``Cookie`` header value with no flashed message pending.

    The production session cookie is ``Secure``, which an HTTP client would not send back over plain HTTP,
    so the cookie is carried by hand.
    """
    status, headers, body = http_get(base + "/login")
    if status != 200:
        raise RuntimeError(f"GET /login answered {status}")
    field = re.search(rb'<input[^>]*name="csrf_token"[^>]*>', body)
    token = re.search(rb'value="([^"]+)"', field.group(0)) if field else None
    cookie = session_cookie(headers)
    if not token or not cookie:
        raise RuntimeError("GET /login gave no CSRF token or no session cookie")
    form = urlencode({"csrf_token": token.group(1).decode(), "login": login, "password": password, "next": ""})
    status, headers, body = http_request("POST", base + "/login", body=form.encode(), headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"session={cookie}"})
    cookie = session_cookie(headers)
    if status not in (302, 303) or not cookie:
        raise RuntimeError(f"POST /login answered {status} (expected a redirect with a session): "
                           f"{body[:300]!r}")
    # The redirect target shows (and so pops) the "You are signed in." flash: keep the cookie without it,
    # or every request of the run would render that message and set a new cookie.
    status, headers, body = http_get(base + "/", headers={"Cookie": f"session={cookie}"})
    cookie = session_cookie(headers) or cookie
    status, headers, body = http_get(base + "/", headers={"Cookie": f"session={cookie}"})
    if status != 200 or b'action="/logout"' not in body:
        raise RuntimeError("the session cookie does not sign the reader in")
    if session_cookie(headers):
        say("  note: the signed-in home page sets a new session cookie on every request")
    return f"session={cookie}"


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"unknown latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> dict:
    result = {"non_2xx_3xx": 0, "socket_errors": {}}
    for line in output.splitlines():
        line = line.strip()
        if m := re.fullmatch(r"(50|75|90|99)%\s+(\S+)", line):
            result[f"p{m.group(1)}_ms"] = _ms(m.group(2))
        elif m := re.match(r"(\d+) requests in ([\d.]+)(\w+),", line):
            result["requests"] = int(m.group(1))
        elif m := re.match(r"Non-2xx or 3xx responses: (\d+)", line):
            result["non_2xx_3xx"] = int(m.group(1))
        elif m := re.match(r"Socket errors: (.*)", line):
            result["socket_errors"] = {k: int(v) for k, v in re.findall(r"(\w+) (\d+)", m.group(1))}
        elif m := re.match(r"Requests/sec:\s+([\d.]+)", line):
            result["rps"] = float(m.group(1))
    missing = [k for k in ("rps", "requests", "p50_ms", "p99_ms") if k not in result]
    if missing:
        raise RuntimeError(f"could not read {missing} from wrk's output:\n{output}")
    return result


def run_wrk(url: str, *, seconds: float, connections: int, headers: dict, script: "NewQueries | None" = None) -> dict:
    command = [WRK, "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "10s"]
    if script is not None:
        command += ["-s", str(script.path)]
    for name, value in {"User-Agent": USER_AGENT, **headers}.items():
        command += ["-H", f"{name}: {value}"]
    command.append(url)
    if script is not None:
        command += ["--", str(script.cursor)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk exited {done.returncode}: {done.stderr or done.stdout}")
    result = parse_wrk(done.stdout)
    if script is not None:
        script.cursor += result["requests"]  # the next run asks queries no run asked before
    return result


def wait_idle(servers: list["Gunicorn"], pg_server: str, database: str, timeout: float = 60) -> float:
    """Wait until the previous wrk run's leftovers are done: when wrk stops, requests already sent (in flight
    and in the listen backlog) are still served, and a slow page (search) would otherwise delay the first
    requests of the next run. Idle: no gunicorn CPU and no active query in the database, twice in a row."""
    started = time.monotonic()
    quiet = 0
    with psycopg.connect(f"{pg_server}/{database}", autocommit=True) as connection:
        while time.monotonic() - started < timeout:
            before = sum(server.cpu_seconds() for server in servers)
            time.sleep(0.2)
            busy = sum(server.cpu_seconds() for server in servers) - before > 0.02
            (active,) = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' "
                "AND pid <> pg_backend_pid()").fetchone()
            quiet = 0 if busy or active else quiet + 1
            if quiet >= 2:
                break
    return time.monotonic() - started


# --- databases --------------------------------------------------------------------------------------------

class Databases:
    def __init__(self, server: str):
        self.server = server  # postgresql://user@host:port
        self.created: list[str] = []

    def create(self, name: str) -> str:
        with psycopg.connect(f"{self.server}/postgres", autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return self.server.replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"

    def drop(self, name: str) -> None:
        with psycopg.connect(f"{self.server}/postgres", autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.created:
            self.created.remove(name)

    def drop_all(self) -> None:
        for name in list(self.created):
            try:
                self.drop(name)
            except Exception as exc:  # noqa: BLE001 - keep cleaning up
                say(f"warning: could not drop database {name}: {exc}")


def app_env(base_env: dict, database_url: str, args, scratch: Path, s3: dict) -> dict:
    env = {k: v for k, v in base_env.items() if k not in SCRUBBED and not k.startswith("GUNICORN_")}
    env.update({
        "BLOG_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": database_url,
        "REDIS_URL": args.redis,
        "STORAGE_BACKEND": "s3",
        "S3_BUCKET": s3["bucket"],
        "S3_ENDPOINT_URL": s3["endpoint"],
        "S3_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(scratch / "nowhere"),
        "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "nowhere"),
        "NO_PROXY": "127.0.0.1,localhost",
        "MAIL_SERVER": "127.0.0.1",  # nothing is sent by the pages measured
        "BASE_URL": "http://127.0.0.1",
        "INSTANCE_PATH": str(scratch / "instance"),
        "GUNICORN_ACCESS_LOG": "/dev/null",
        "PYTHONPATH": f"{ROOT}:{BENCH}",
    })
    if args.workers:
        env["WEB_CONCURRENCY"] = str(args.workers)
    if args.max_requests is not None:
        env["GUNICORN_MAX_REQUESTS"] = str(args.max_requests)
    return env


def build_app(env: dict, **overrides):
    from blog.app import create_app
    from blog.config import Config

    config = Config.from_env(env)
    for key, value in overrides.items():
        setattr(config, key, value)
    app = create_app(config)
    # The in-process apps serve the statement counts only: keep their request log off the report.
    logging.getLogger("blog.request").setLevel(logging.WARNING)
    logging.getLogger("blog").setLevel(logging.WARNING)
    return app


def prepare_database(env: dict, posts: int, related_posts: bool = True) -> dict:
    """Migrate, seed, derive related posts and the search index, add the signed-in reader. Returns timings."""
    import sqlalchemy as sa

    from blog.extensions import db
    from seed_bench import seed

    timings = {}
    started = time.perf_counter()
    flask = str(Path(sys.executable).parent / "flask")
    done = subprocess.run([flask, "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"flask db upgrade failed:\n{done.stdout}{done.stderr}")
    timings["migrate_s"] = time.perf_counter() - started
    app = build_app(env)
    with app.app_context():
        started = time.perf_counter()
        summary = seed(posts=posts)
        timings["seed_s"] = time.perf_counter() - started
        from blog.services import accounts

        accounts.create_user(username="benchreader", email="benchreader@example.com", password=READER_PASSWORD,
                             role="reader", display_name="Bench Reader", confirmed=True)
        from blog.jobs import related
        from blog.services import search_index

        started = time.perf_counter()
        if related_posts:
            related.refresh_all()
            timings["related_s"] = time.perf_counter() - started
        else:
            say("  warning: --skip-related: no related posts computed (post pages list none)")
        started = time.perf_counter()
        summary["indexed"] = search_index.reindex_all()
        timings["search_index_s"] = time.perf_counter() - started
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return {"summary": summary, "timings": timings}


@dataclass
class NewQueries:
    path: Path
    first: str  # the path of the first query, for the warm-up check
    cursor: int = 0


def new_query_script(env: dict, path: Path, count: int = 20_000) -> NewQueries:
    """A wrk script that asks a different two-word search on every request (words of the posts, pairs
    in a shuffled order), so the search page's cost without its cache is measured: at ~10-20 req/s a run
    asks a few hundred queries, none asked before, and the cache's ration (SEARCH_CACHE_PER_MINUTE) is
    never the reason for a hit."""
    import sqlalchemy as sa

    from blog.extensions import db
    from blog.models.post import Post

    app = build_app(env)
    with app.app_context():
        texts = list(db.session.scalars(sa.select(Post.title).limit(3000)))
        texts += db.session.scalars(sa.select(Post.source).distinct().limit(200))
        db.session.remove()
        db.engine.dispose()
    words = sorted({w.lower() for t in texts for w in re.findall(r"[A-Za-z]{4,}", t)})
    rng = random.Random(11)
    pairs = {(rng.choice(words), rng.choice(words)) for _ in range(count * 2)}
    queries = [urlencode({"q": f"{a} {b}"}) for a, b in sorted(pairs)][:count]
    rng.shuffle(queries)
    lines = ",\n".join(f'"/search?{q}"' for q in queries)
    path.write_text(
        "-- bench/http_bench.py: a new search query on every request\n"
        f"local paths = {{\n{lines}\n}}\n"
        # Each wrk thread starts half the list apart, at the cursor the bench passes after "--".
        "local threads = 0\n"
        "function setup(thread) thread:set('id', threads); threads = threads + 1 end\n"
        "function init(args) start = (tonumber(args[1]) or 0) + id * math.floor(#paths / 2) end\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i + 1\n"
        "  return wrk.format(nil, paths[((start + i) % #paths) + 1])\n"
        "end\n")
    return NewQueries(path, f"/search?{queries[0]}")


def pick_targets(env: dict, query: str) -> dict:
    """The URLs measured: the newest post with at least three comments and two tags, the most used tag,
    that post's author, a search, the site feed; and a pool of distinct URLs for the memory run."""
    import sqlalchemy as sa

    from blog.extensions import db
    from blog.models.comment import Comment
    from blog.models.post import Post, Tag, post_tags
    from blog.models.user import User

    app = build_app(env)
    with app.app_context():
        comments = (sa.select(sa.func.count()).where(Comment.post_id == Post.id, Comment.status == "approved")
                    .scalar_subquery())
        tag_count = sa.select(sa.func.count()).where(post_tags.c.post_id == Post.id).scalar_subquery()
        row = db.session.execute(
            sa.select(Post.slug, User.username).join(User, User.id == Post.author_id)
            .where(Post.status == "published", Post.kind == "post")
            .order_by((comments >= 3).desc(), (tag_count >= 2).desc(), Post.published_at.desc()).limit(1)
        ).one()
        tags_by_use = list(db.session.execute(
            sa.select(Tag.slug, sa.func.count()).join(post_tags, post_tags.c.tag_id == Tag.id)
            .group_by(Tag.slug).order_by(sa.func.count().desc(), Tag.slug)
        ))
        slugs = list(db.session.scalars(sa.select(Post.slug).where(Post.kind == "post")))
        usernames = list(db.session.scalars(sa.select(User.username).where(User.role == "author")))
        db.session.remove()
        db.engine.dispose()
    q = urlencode({"q": query})
    urls = {"home": "/", "post": f"/p/{row.slug}", "tag": f"/tag/{tags_by_use[0][0]}", "author": f"/u/{row.username}",
            "search": f"/search?{q}", "feed": "/feed.atom"}
    rng = random.Random(5)
    pool = (["/"] + [f"/?page={n}" for n in range(2, 21)] + [f"/p/{s}" for s in rng.sample(slugs, min(400, len(slugs)))]
            + [f"/tag/{s}" for s, _n in tags_by_use[:60]] + [f"/u/{u}" for u in usernames]
            + [f"/search?{urlencode({'q': w})}" for w in (query, "caching", "postgresql index", "migrations",
                                                          "time zones", "security")]
            + ["/feed.atom", f"/tag/{tags_by_use[0][0]}/feed.atom"])
    return {"urls": urls, "pool": pool, "top_tag_posts": tags_by_use[0][1]}


# --- SQL statements per page ------------------------------------------------------------------------------

def count_statements(env: dict, urls: dict, redis: Redis) -> dict:
    """Statements per page, anonymous and signed in, page cache off; anonymous with the cache on (a miss
    right after FLUSHDB, then a hit)."""
    import sqlalchemy as sa

    from blog.extensions import db

    timings: list[float] = []

    def measure(app, client, url, headers) -> tuple[int, int]:
        with app.app_context():
            engine = db.engine
        statements = []
        timings.clear()

        def before(conn, cursor, statement, *a):
            statements.append(statement)
            conn.info.setdefault("bench_started", []).append(time.perf_counter())

        def after(conn, cursor, statement, *a):
            timings.append(time.perf_counter() - conn.info["bench_started"].pop())

        sa.event.listen(engine, "before_cursor_execute", before)
        sa.event.listen(engine, "after_cursor_execute", after)
        try:
            response = client.get(url, base_url="https://localhost", headers=headers)
        finally:
            sa.event.remove(engine, "before_cursor_execute", before)
            sa.event.remove(engine, "after_cursor_execute", after)
        return response.status_code, len(statements)

    headers = {"User-Agent": USER_AGENT}
    result = {}
    uncached = build_app(env, PAGE_CACHE=False)
    client = uncached.test_client()
    for name, url in urls.items():
        measure(uncached, client, url, headers)  # first request of the process: templates, mappers
        status, n = measure(uncached, client, url, headers)
        # Time in the database driver (round trips included): the best of three uncached requests.
        sql_ms = sum(timings) * 1000
        for _ in range(2):
            measure(uncached, client, url, headers)
            sql_ms = min(sql_ms, sum(timings) * 1000)
        result[name] = {"status": status, "uncached": n, "sql_ms": sql_ms}
    # Signed in (never cached): the login form over the test client (https, since the cookie is Secure).
    signed = uncached.test_client()
    page = signed.get("/login", base_url="https://localhost", headers=headers).get_data()
    token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page) or \
        re.search(rb'value="([^"]+)"[^>]*name="csrf_token"', page)
    response = signed.post("/login", base_url="https://localhost", data={
        "csrf_token": token.group(1).decode() if token else "", "login": "benchreader",
        "password": READER_PASSWORD, "next": ""}, headers={**headers, "Referer": "https://localhost/login"})
    if response.status_code in (302, 303):
        signed.get("/", base_url="https://localhost", headers=headers)  # pop the flash
        for name, url in urls.items():
            status, n = measure(uncached, signed, url, headers)
            result[name]["signed_in"] = n
            result[name]["signed_in_status"] = status
    else:
        say(f"  warning: test-client sign-in answered {response.status_code}: signed-in counts skipped")
    with uncached.app_context():
        db.engine.dispose()
    cached = build_app(env)  # PAGE_CACHE as configured (on by default, when the app has it)
    client = cached.test_client()
    for name, url in urls.items():
        redis.flushdb()
        _status, miss = measure(cached, client, url, headers)
        _status, hit = measure(cached, client, url, headers)
        result[name]["cache_miss"] = miss
        result[name]["cache_hit"] = hit
    redis.flushdb()
    with cached.app_context():
        db.engine.dispose()
    return result


# --- load -------------------------------------------------------------------------------------------------

def drive(base: str, paths: list[tuple[str, dict]], count: int, start_at: int, threads: int = 2) -> dict:
    """Send ``count`` GETs over ``paths`` (cycling from ``start_at``), ``threads`` at a time; non-200s counted."""
    lock = threading.Lock()
    state = {"next": 0, "errors": 0, "statuses": {}}

    def worker():
        parts = urlsplit(base)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        while True:
            with lock:
                i = state["next"]
                if i >= count:
                    break
                state["next"] += 1
            path, headers = paths[(start_at + i) % len(paths)]
            try:
                connection.request("GET", path, headers={"User-Agent": USER_AGENT, **headers})
                response = connection.getresponse()
                response.read()
                status = response.status
                if response.will_close:
                    connection.close()
            except (OSError, http.client.HTTPException):
                connection.close()
                status = -1
            if status != 200:
                with lock:
                    state["errors"] += 1
                    state["statuses"][status] = state["statuses"].get(status, 0) + 1
        connection.close()

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return state


def memory_run(env: dict, scratch: Path, pool: list[str], cookie: str | None, checkpoints=(5_000, 20_000),
               step: int = 1_000) -> dict:
    step = min(step, checkpoints[0])
    if any(c % step for c in checkpoints):
        raise ValueError(f"checkpoints {checkpoints} must be multiples of {step}")
    env = {**env, "WEB_CONCURRENCY": "1", "GUNICORN_MAX_REQUESTS": "0",
           "PROMETHEUS_MULTIPROC_DIR": str(scratch / "metrics-rss")}
    server = Gunicorn("rss", "wsgi:app", env, scratch / "gunicorn-rss.log", "/healthz")
    try:
        if cookie is None:
            cookie = sign_in(server.base, "benchreader", READER_PASSWORD)
        rng = random.Random(7)
        paths = [(p, {}) for p in pool] + [(p, {"Cookie": cookie}) for p in rng.sample(pool, len(pool) // 3)]
        rng.shuffle(paths)
        (worker,) = server.workers()
        samples = []
        done = 0
        errors = 0
        started = time.monotonic()
        while done < checkpoints[-1]:
            state = drive(server.base, paths, step, done)
            done += step
            errors += state["errors"]
            if state["errors"]:
                say(f"  memory run: {state['errors']} non-200 answers in requests {done - step}-{done}: "
                    f"{state['statuses']}")
            if server.workers() != [worker]:
                raise RuntimeError("the worker of the memory run was replaced (a crash or a timeout?): "
                                   f"log:\n{server.tail()}")
            samples.append({"requests": done, **memory_kb(worker)})
            if time.monotonic() - started > 1800:
                raise RuntimeError("memory run took more than 30 minutes")
        elapsed = time.monotonic() - started
        at = {s["requests"]: s for s in samples}
        first, last = at[checkpoints[0]], at[checkpoints[-1]]
        return {"samples": samples, "errors": errors, "seconds": elapsed, "distinct_urls": len(paths),
                "checkpoints": list(checkpoints),
                "rss_kb_5000": first["VmRSS"], "rss_kb_20000": last["VmRSS"], "hwm_kb_20000": last["VmHWM"],
                "pss_kb_20000": last.get("Pss"), "growth": (last["VmRSS"] - first["VmRSS"]) / first["VmRSS"]}
    finally:
        server.stop()


# --- the job benchmarks -----------------------------------------------------------------------------------

def run_script(command: list[str], timeout: float) -> str:
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_group(process)
        raise RuntimeError(f"{command[1]} took more than {timeout:.0f} s")
    finally:
        stop_group(process)
    if process.returncode != 0:
        raise RuntimeError(f"{command[1]} exited {process.returncode}:\n{output[-3000:]}")
    return output


def media_job(args, redis: Redis) -> dict:
    redis.flushdb()
    output = run_script([sys.executable, "bench/media_bench.py", "--runs", str(args.media_runs), "--uploads", "2",
                         "--redis", args.redis], timeout=1200)
    figures = {}
    for line in output.splitlines():
        m = re.match(r"\s+(.*?)\s+median\s+([\d.]+) ms\s+p95\s+([\d.]+) ms", line)
        if m:
            figures[m.group(1)] = {"median_ms": float(m.group(2)), "p95_ms": float(m.group(3))}

    def find(prefix):
        for label, value in figures.items():
            if label.startswith(prefix):
                return value
        raise RuntimeError(f"media_bench printed no line starting {prefix!r}:\n{output}")

    job, bare, process = find("the job"), find("bare Pillow"), find("blog.imaging.process")
    return {"output": output, "lines": figures, "job_ms": job["median_ms"], "bare_ms": bare["median_ms"],
            "process_ms": process["median_ms"], "ratio": job["median_ms"] / bare["median_ms"],
            "process_ratio": process["median_ms"] / bare["median_ms"]}


def email_job(args, redis: Redis) -> dict:
    redis.flushdb()
    output = run_script([sys.executable, "bench/jobs_bench.py", "--jobs", str(args.email_jobs), "--redis",
                         args.redis], timeout=1200)
    rows = {}
    for line in output.splitlines():
        m = re.match(r"(.*?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", line)
        if m and not line.startswith("enqueue"):
            rows[m.group(1).strip()] = {"p50_ms": float(m.group(2)), "p95_ms": float(m.group(3)),
                                         "max_ms": float(m.group(4))}
    email = rows.get("worker.py (preloaded), email job")
    if email is None:
        raise RuntimeError(f"jobs_bench printed no email line:\n{output}")
    return {"output": output, "rows": rows, **email}


# --- report -----------------------------------------------------------------------------------------------

def median(values):
    return statistics.median(values) if values else float("nan")


def fmt(value, spec=".1f", missing="-"):
    return missing if value is None or value != value else format(value, spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--runs", type=int, default=3, help="runs per URL (medians reported)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=2, help="seconds of wrk per URL before measuring")
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=0,
                        help="WEB_CONCURRENCY for the blog and the hello app (default: gunicorn.conf.py's)")
    parser.add_argument("--search", default="slow queries", help="the search page's query")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432", help="PostgreSQL server")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13", help="a Redis database this may empty")
    parser.add_argument("--skip-jobs", action="store_true", help="skip the media and email job benchmarks")
    parser.add_argument("--skip-rss", action="store_true", help="skip the 20,000-request memory run")
    parser.add_argument("--max-requests", type=int, default=None,
                        help="GUNICORN_MAX_REQUESTS for the hello and blog servers (default: gunicorn.conf.py's, "
                             "2000 + jitter, as in production); a diagnostic knob")
    parser.add_argument("--skip-related", action="store_true",
                        help="do not compute related posts (a diagnostic shortcut: ~10 min at 10,000 posts; "
                             "post pages then list none)")
    parser.add_argument("--rss-requests", type=int, default=20_000, help=argparse.SUPPRESS)
    parser.add_argument("--media-runs", type=int, default=5)
    parser.add_argument("--email-jobs", type=int, default=40, help="jobs_bench.py --jobs (half are emails)")
    parser.add_argument("--json", type=Path, help="write every figure here")
    args = parser.parse_args(argv)

    def interrupted(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server logs every S3 request
    if not Path(WRK).exists():
        say(f"wrk not found at {WRK}: apt-get install wrk")
        return 2
    started_all = time.monotonic()
    report: dict = {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}}
    problems: list[str] = []
    scratch = Path(tempfile.mkdtemp(prefix="http-bench-"))
    databases = Databases(args.pg)
    redis = Redis.from_url(args.redis)
    keys = redis.dbsize()
    if keys:  # a test run may have claimed it (tests/conftest.py takes the first empty db, 15 down to 1)
        sample = ", ".join(k.decode(errors="replace") for k in redis.scan(count=100)[1][:5])
        raise SystemExit(f"Redis {args.redis} holds {keys} keys (e.g. {sample}): someone is using it. "
                         "Pick an empty database with --redis; the benchmark empties only its own.")
    moto = s3 = bucket = None
    servers: list[Gunicorn] = []
    try:
        for name in SCRUBBED:
            if name.startswith("AWS") or "proxy" in name.lower():
                os.environ.pop(name, None)
        os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                           "AWS_DEFAULT_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true",
                           "NO_PROXY": "127.0.0.1,localhost"})
        moto = start_moto_server()
        s3 = s3_client(moto.endpoint)
        bucket = create_bucket(s3, "http-bench")
        s3_settings = {"bucket": bucket, "endpoint": moto.endpoint}
        tag = secrets.token_hex(4)

        # 1. The databases.
        say(f"Seeding a 10-post database and a {args.posts:,}-post database (PostgreSQL, bulk inserts)...")
        small_url = databases.create(f"blog_bench_{tag}_small")
        small_env = app_env(dict(os.environ), small_url, args, scratch, s3_settings)
        prepare_database(small_env, 10)
        big_url = databases.create(f"blog_bench_{tag}")
        env = app_env(dict(os.environ), big_url, args, scratch, s3_settings)
        started = time.perf_counter()
        prepared = prepare_database(env, args.posts, related_posts=not args.skip_related)
        seeding_s = time.perf_counter() - started
        report["database"] = {**prepared, "total_s": seeding_s, "name": f"blog_bench_{tag}"}
        s = prepared["summary"]
        say(f"  seeded {s['posts']:,} posts, {s['authors']} authors, {s['readers']} commenting readers, {s['tags']} "
            f"tags, {s['post_tags']:,} post-tag links, {s['comments']:,} comments "
            f"({s['body_variants']} distinct bodies) in {seeding_s:.1f} s: "
            + ", ".join(f"{k[:-2]} {v:.1f} s" for k, v in prepared["timings"].items()))
        targets = pick_targets(env, args.search)
        small_targets = pick_targets(small_env, args.search)
        urls = targets["urls"]
        report["urls"] = urls
        say("  URLs: " + "  ".join(f"{k} {v}" for k, v in urls.items())
            + f"  (the tag has {targets['top_tag_posts']:,} posts)")

        # 2. SQL statements per page.
        say("Counting SQL statements per page (in-process, Flask test client)...")
        counts_small = count_statements(small_env, small_targets["urls"], redis)
        counts_big = count_statements(env, urls, redis)
        databases.drop(f"blog_bench_{tag}_small")
        report["sql"] = {"10": counts_small, str(args.posts): counts_big, "urls_10": small_targets["urls"]}

        # 3 and 4. Throughput.
        redis.flushdb()
        hello = Gunicorn("hello", "hello_app:app", {**env, "PROMETHEUS_MULTIPROC_DIR": str(scratch / "metrics-hello")},
                         scratch / "gunicorn-hello.log", "/")
        servers.append(hello)
        blog = Gunicorn("blog", "wsgi:app", {**env, "PROMETHEUS_MULTIPROC_DIR": str(scratch / "metrics-blog")},
                        scratch / "gunicorn-blog.log", "/healthz")
        servers.append(blog)
        workers = len(blog.workers())
        report["gunicorn"] = {"workers_blog": workers, "workers_hello": len(hello.workers()),
                              "max_requests": "gunicorn.conf.py default (2000 + 0-200 jitter)"}
        recycling = ("workers recycled after 2000-2200 requests as in production" if args.max_requests is None
                     else f"GUNICORN_MAX_REQUESTS={args.max_requests}")
        if args.max_requests is not None:
            report["gunicorn"]["max_requests"] = args.max_requests
        say(f"gunicorn: {workers} blog workers, {len(hello.workers())} hello workers (sync, 1 thread, preload; "
            f"{recycling}); access log -> /dev/null; "
            f"app request log (JSON, production default) -> {scratch.name}/gunicorn-*.log")
        cookie = sign_in(blog.base, "benchreader", READER_PASSWORD)
        rows = [("hello", "-", hello, "/", {}, None)]
        rows += [(page, "anonymous", blog, urls[page], {}, None) for page in PAGES]
        rows += [(page, "signed-in", blog, urls[page], {"Cookie": cookie}, None) for page in PAGES]
        # The search page for a query nobody asked before (a new one each request): the cache cannot help.
        new_queries = new_query_script(env, scratch / "new-queries.lua")
        rows += [(NEW_SEARCH, "signed-in", blog, new_queries.first, {"Cookie": cookie}, new_queries)]
        say(f"wrk -t2 -c{args.connections} -d{args.duration:g}s --latency: warming up {len(rows)} URLs "
            f"({args.warmup:g} s each), then {args.runs} interleaved rounds")
        results = {(page, who): {"runs": [], "cache": None, "sets_cookie": None, "error": None}
                   for page, who, *_ in rows}
        for page, who, server, path, headers, script in rows:
            status, response_headers, body = http_get(server.base + path, headers=headers)
            entry = results[(page, who)]
            if status != 200:
                entry["error"] = f"GET {path} answered {status}"
                problems.append(f"{page} ({who}): GET {path} answered {status}: {body[:200]!r}")
                say(f"  !! {page} ({who}): GET {path} answered {status}; this page is not measured")
                continue
            if who == "signed-in" and page != "feed" and b'action="/logout"' not in body:
                entry["error"] = "not signed in"
                problems.append(f"{page} (signed-in): the page does not show the reader signed in")
            run_wrk(server.base + path, seconds=args.warmup, connections=args.connections, headers=headers,
                    script=script)
            wait_idle([hello, blog], args.pg, f"blog_bench_{tag}")
            _s, response_headers, _b = http_get(server.base + path, headers=headers)
            # A script's row asks new queries: what the cache said of the first one again is not its story.
            entry["cache"] = "-" if script else response_headers.get("X-Page-Cache", "-")
            entry["sets_cookie"] = bool(response_headers.get_all("Set-Cookie"))
            entry["bytes"] = len(_b)
        for round_no in range(1, args.runs + 1):
            for page, who, server, path, headers, script in rows:
                entry = results[(page, who)]
                if entry["error"]:
                    continue
                waited = wait_idle([hello, blog], args.pg, f"blog_bench_{tag}")
                if waited > 5:
                    say(f"  (waited {waited:.0f} s for the previous run's requests to drain)")
                before = server.cpu_seconds()
                result = run_wrk(server.base + path, seconds=args.duration, connections=args.connections,
                                 headers=headers, script=script)
                cpu = server.cpu_seconds() - before
                result["cpu_ms_per_request"] = cpu * 1000 / max(1, result["requests"])
                entry["runs"].append(result)
                bad = result["non_2xx_3xx"]
                errors = {k: v for k, v in result["socket_errors"].items() if v}
                if bad:
                    problems.append(f"{page} ({who}) round {round_no}: {bad} responses were not 2xx/3xx")
                    say(f"  !! {page} ({who}): {bad} responses were not 2xx/3xx (see {server.log_path})")
                if errors:
                    problems.append(f"{page} ({who}) round {round_no}: socket errors {errors}")
                    say(f"  !! {page} ({who}): socket errors {errors}")
                say(f"  round {round_no}  {page:<7}{who:<10} {result['rps']:9.1f} req/s  p50 {result['p50_ms']:7.2f} ms"
                    f"  p99 {result['p99_ms']:7.2f} ms  CPU {result['cpu_ms_per_request']:6.2f} ms/req")
        for server in (blog, hello):
            server.stop()
            servers.remove(server)

        summary_rows = []
        hello_rps = median([r["rps"] for r in results[("hello", "-")]["runs"]])
        for (page, who), entry in results.items():
            runs = entry["runs"]
            rps = median([r["rps"] for r in runs])
            p50 = median([r["p50_ms"] for r in runs])
            p99 = median([r["p99_ms"] for r in runs])
            cpu = median([r["cpu_ms_per_request"] for r in runs])
            ratio = rps / hello_rps if runs and hello_rps else float("nan")
            if page == "hello":
                target = None
            elif who == "anonymous" and page in READER_PAGES:
                target = ANON_RATIO_TARGET
            elif who == "signed-in" or page in ("search", NEW_SEARCH):
                target = SIGNED_IN_RATIO_TARGET
            else:
                target = None
            summary_rows.append({"page": page, "who": who, "rps": rps, "p50_ms": p50, "p99_ms": p99, "cpu_ms": cpu,
                                 "ratio": ratio, "tail": p99 / p50 if runs else float("nan"), "target": target,
                                 "cache": entry["cache"], "sets_cookie": entry["sets_cookie"],
                                 "bytes": entry.get("bytes"), "error": entry["error"],
                                 "runs": runs})
        report["throughput"] = summary_rows

        # 5. Memory.
        if not args.skip_rss:
            say(f"Memory: one worker, GUNICORN_MAX_REQUESTS=0 (else recycled after ~2000), {args.rss_requests:,} "
                f"requests over {len(targets['pool'])} distinct URLs (a third also signed in)...")
            redis.flushdb()
            report["memory"] = memory_run(env, scratch, targets["pool"], None,
                                          checkpoints=(min(5_000, args.rss_requests), args.rss_requests))
            m = report["memory"]
            say(f"  {args.rss_requests:,} requests in {m['seconds']:.0f} s, {m['errors']} errors")
            if m["errors"]:
                problems.append(f"memory run: {m['errors']} requests were not answered 200")

        # 6. Jobs.
        if not args.skip_jobs:
            say("Media job: bench/media_bench.py (12-megapixel JPEG)...")
            try:
                report["media"] = media_job(args, redis)
            except Exception as exc:  # noqa: BLE001
                problems.append(f"media_bench: {exc}")
                say(f"  !! media_bench failed: {exc}")
            say("Email job: bench/jobs_bench.py...")
            try:
                report["email"] = email_job(args, redis)
            except Exception as exc:  # noqa: BLE001
                problems.append(f"jobs_bench: {exc}")
                say(f"  !! jobs_bench failed: {exc}")

        verdicts = print_report(args, report, problems)
        report["verdicts"] = verdicts
        report["problems"] = problems
        report["elapsed_s"] = time.monotonic() - started_all
        if args.json:
            args.json.write_text(json.dumps(report, indent=2, default=str))
            say(f"Figures written to {args.json}")
        failed = [v for v in verdicts if not v["pass"]]
        return 1 if failed or problems else 0
    except KeyboardInterrupt as exc:
        say(f"Interrupted ({exc}); cleaning up")
        return 130
    finally:
        for server in servers:
            server.stop()
        if s3 is not None and bucket:
            try:
                delete_bucket(s3, bucket)
            except Exception as exc:  # noqa: BLE001
                say(f"warning: could not delete bucket {bucket}: {exc}")
        if moto is not None:
            moto.stop()
        databases.drop_all()
        try:
            redis.flushdb()
            redis.close()
        except Exception as exc:  # noqa: BLE001
            say(f"warning: could not empty {args.redis}: {exc}")
        if problems:
            say(f"Logs kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def print_report(args, report: dict, problems: list[str]) -> list[dict]:
    verdicts: list[dict] = []

    def verdict(label: str, ok: bool, detail: str) -> str:
        verdicts.append({"target": label, "pass": bool(ok), "detail": detail})
        return "PASS" if ok else "FAIL"

    say()
    say(f"Results: {args.posts:,} posts, wrk -t2 -c{args.connections} -d{args.duration:g}s, {args.runs} runs each "
        f"(medians); {report['gunicorn']['workers_blog']} gunicorn workers; {os.cpu_count()} CPUs shared with wrk")
    header = (f"{'page':<8}{'who':<11}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/req':>11}{'ratio':>8}"
              f"{'target':>8}  {'':4}{'p99/p50':>9}  {'':4} {'cache':<10}{'KB':>6}")
    say(header)
    say("-" * len(header))
    for row in report["throughput"]:
        if row["error"]:
            label = verdict(f"{row['page']} ({row['who']}) served", False, row["error"])
            say(f"{row['page']:<8}{row['who']:<11}  {label}: {row['error']}")
            continue
        if row["target"] is not None:
            ratio_verdict = verdict(f"{row['page']} ({row['who']}) >= {row['target']:.0%} of hello's req/s",
                                    row["ratio"] >= row["target"], f"{row['ratio']:.1%}")
            target = f">={row['target']:.0%}"
        else:
            ratio_verdict, target = "", "-" if row["page"] == "hello" else "(info)"
        tail_verdict = ""
        if row["page"] != "hello":
            tail_verdict = verdict(f"{row['page']} ({row['who']}) p99 <= 4 x p50", row["tail"] <= TAIL_TARGET,
                                   f"{row['tail']:.2f}")
        ratio = f"{row['ratio']:.1%}"
        cache = (row["cache"] or "-") + ("*" if row["sets_cookie"] else "")
        say(f"{row['page']:<8}{row['who']:<11}{fmt(row['rps']):>9}{fmt(row['p50_ms'], '.2f'):>9}"
            f"{fmt(row['p99_ms'], '.2f'):>9}{fmt(row['cpu_ms'], '.2f'):>11}{ratio:>8}{target:>8}  {ratio_verdict:<4}"
            f"{fmt(row['tail'], '.2f'):>9}  {tail_verdict:<4} {cache:<10}{fmt((row['bytes'] or 0) / 1024):>6}")
    say("ratio: the page's req/s over the hello app's. cache: X-Page-Cache after warm-up (hit = served from the "
        "Redis page cache, shell-hit = a signed-in page from its cached shell, - = not cached); * = the response sets "
        "a cookie. search*: the search page with a query never asked before on every request (a wrk script). KB: response body. CPU: the gunicorn "
        "master and workers (PostgreSQL and Redis not included).")

    sql = report.get("sql")
    if sql:
        big, small = sql[str(args.posts)], sql["10"]
        say()
        say(f"SQL statements per page (page cache off; signed-in and cache-on figures for {args.posts:,} posts)")
        header = (f"{'page':<8}{'10 posts':>9}{args.posts:>10,}{'':3}{'target':<20}{'':5}"
                  f"{'signed-in':>10}{'cache miss':>11}{'cache hit':>10}{'SQL ms':>8}")
        say(header)
        say("-" * len(header))
        for page in PAGES:
            b, s_ = big.get(page, {}), small.get(page, {})
            n_big, n_small = b.get("uncached"), s_.get("uncached")
            ok_status = b.get("status") == 200 and s_.get("status") == 200
            if page in READER_PAGES:
                target = f"<= {SQL_TARGET}, same at both"
                label = verdict(f"{page}: <= {SQL_TARGET} SQL statements, same at 10 and {args.posts:,} posts",
                                ok_status and n_big is not None and n_big <= SQL_TARGET and n_big == n_small,
                                f"{n_small} / {n_big}")
            else:
                target, label = "(info)", ""
            status_note = "" if ok_status else f"  (status {s_.get('status')} / {b.get('status')})"
            say(f"{page:<8}{fmt(n_small, 'd'):>9}{fmt(n_big, 'd'):>10}{'':3}{target:<20}{label:<5}"
                f"{fmt(b.get('signed_in'), 'd'):>10}{fmt(b.get('cache_miss'), 'd'):>11}"
                f"{fmt(b.get('cache_hit'), 'd'):>10}{fmt(b.get('sql_ms'), '.1f'):>8}{status_note}")
        say("cache miss: the first request after FLUSHDB (includes starting a content version); "
            f"cache hit: the same URL again. SQL ms: time in the database for one uncached anonymous request "
            f"at {args.posts:,} posts (best of 3).")

    memory = report.get("memory")
    if memory:
        say()
        growth = memory["growth"]
        first, last = memory["checkpoints"]
        label = verdict(f"web worker RSS growth < {RSS_GROWTH_TARGET:.0%} between {first:,} and {last:,} requests",
                        growth < RSS_GROWTH_TARGET and not memory["errors"], f"{growth:+.1%}")
        say(f"Web worker memory (1 worker, max_requests=0, {memory['distinct_urls']} distinct URLs): "
            f"RSS {memory['rss_kb_5000'] / 1024:.1f} MiB at {first:,} requests, "
            f"{memory['rss_kb_20000'] / 1024:.1f} MiB "
            f"at {last:,}; peak (VmHWM) {memory['hwm_kb_20000'] / 1024:.1f} MiB"
            + (f", PSS {memory['pss_kb_20000'] / 1024:.1f} MiB" if memory.get("pss_kb_20000") else ""))
        say(f"  growth {growth:+.1%} (target < {RSS_GROWTH_TARGET:.0%}): {label}")

    media = report.get("media")
    if media:
        say()
        label = verdict(f"media job <= {MEDIA_RATIO_TARGET} x bare Pillow", media["ratio"] <= MEDIA_RATIO_TARGET,
                        f"{media['ratio']:.2f}")
        say(f"Media job, 12-megapixel JPEG (bench/media_bench.py, medians): the job (S3 read + process + 10 PUTs + "
            f"commit) {media['job_ms']:.0f} ms, blog.imaging.process {media['process_ms']:.0f} ms, bare Pillow "
            f"{media['bare_ms']:.0f} ms")
        say(f"  job / bare Pillow = {media['ratio']:.2f} (target <= {MEDIA_RATIO_TARGET}): {label}; "
            f"process / bare Pillow = {media['process_ratio']:.2f}")
    email = report.get("email")
    if email:
        say()
        say(f"Email job enqueue-to-finish (bench/jobs_bench.py, python worker.py, {args.email_jobs // 2} jobs): "
            f"p50 {email['p50_ms']:.1f} ms, p95 {email['p95_ms']:.1f} ms, max {email['max_ms']:.1f} ms")
        cold = email["rows"].get("rq worker (no preload), email job")
        if cold:
            say(f"  (plain rq worker without preloading, for comparison: p50 {cold['p50_ms']:.1f} ms)")

    say()
    say("Targets")
    for v in verdicts:
        say(f"  {'PASS' if v['pass'] else 'FAIL'}  {v['target']}  ({v['detail']})")
    if problems:
        say()
        say("Problems")
        for p in problems:
            say(f"  !! {p}")
    say(f"Elapsed: {(time.monotonic() - _START) / 60:.1f} min")
    return verdicts


_START = time.monotonic()

if __name__ == "__main__":
    sys.exit(main())
