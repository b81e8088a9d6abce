"""A bare Flask "hello" app: the framework's ceiling under the blog's own gunicorn settings.

    PYTHONPATH=bench .venv/bin/gunicorn -c gunicorn.conf.py hello_app:app

One route, ``GET /`` -> ``Hello, World!``. The only other thing it does is register the blog's
Flask-SQLAlchemy extension on an unused in-memory SQLite URL, because gunicorn.conf.py's ``post_fork`` hook
disposes ``db.engine`` in every worker; no request touches it.
"""
from flask import Flask

from blog.extensions import db

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
db.init_app(app)


@app.get("/")
def hello():
    return "Hello, World!"
