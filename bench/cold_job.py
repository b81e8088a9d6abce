"""The naive design, for comparison only: a job that imports and builds the app inside the work-horse.

This is what ``rq worker`` without preloading amounts to for a job that needs the app (database,
settings): every forked work-horse imports Flask, SQLAlchemy, boto3, Pillow and the app, then builds it.
"""


def send_email_cold(key: str, to: str, subject: str, text: str, html: str) -> str:
    from blog.app import create_app
    from blog.jobs.email import send_email

    app = create_app()
    with app.app_context():
        return send_email(key, to, subject, text, html)
