# Two stages: dependencies are built in the first, the runtime image carries only the virtualenv and the app.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY blog ./blog
RUN /venv/bin/pip install .
COPY translations ./translations
COPY babel.cfg ./
RUN if ls translations/*/LC_MESSAGES/messages.po >/dev/null 2>&1; then /venv/bin/pybabel compile -d translations; fi

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 blog
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 BLOG_ENV=production FLASK_APP=wsgi
COPY --from=build /venv /venv
WORKDIR /app
COPY --chown=blog:blog . .
COPY --from=build --chown=blog:blog /src/translations ./translations
USER blog
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"
CMD ["gunicorn", "-c", "gunicorn.conf.py", "--bind", "0.0.0.0:8000", "wsgi:app"]
