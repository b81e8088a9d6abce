"""What every browser journey gets: watched browser contexts, axe-core checks and screenshots.

A ``Journey`` opens Chromium contexts on the stack and watches every page in them. The journey fails at
the end when any page had

- a console error or an uncaught exception,
- a Content-Security-Policy violation (reported by a listener installed before any page script runs),
- a failed request to the app's own origin, or an answer of 400 or more from it that the journey did not
  announce with ``expecting(status)`` (a form refused with 422, an edit conflict's 409, a 429),
- or a page it navigated to that it never checked.

``check(page, label)`` runs axe-core on the page as it is (light and, on request, dark colours): zero
serious or critical violations. It also saves a full-page screenshot to ``<output>/<journey>/NN-label.png``;
with ``readme="name"`` and BLOG_README_SCREENSHOTS set to a folder, a viewport-sized copy goes there too
(``make screenshots`` regenerates the README's images that way).
"""
from __future__ import annotations

import itertools
import json
import os
import re
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 800}
MOBILE = {"width": 390, "height": 844}
_CLIENTS = itertools.count(1)  # one client address per browser context, across every journey of a run

# Runs in every page before its own scripts, outside the page's CSP (Playwright installs it through the
# DevTools protocol): violations become console errors, which the watcher collects with the rest.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error("CSP violation: " + event.violatedDirective + " blocked " + (event.blockedURI || "inline")
                + " at " + event.sourceFile + ":" + event.lineNumber);
});
"""

AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + " :: " + (n.failureSummary || "").split("\\n").slice(0, 3).join(" "))}));
}"""


def axe_source() -> str:
    if not AXE.exists():
        raise RuntimeError(f"{AXE} is missing: run `make test-deps` (npm ci in tests/journeys)")
    return AXE.read_text()


class Journey:
    """One journey's browser contexts and what they saw."""

    def __init__(self, browser, base: str, output: Path, name: str):
        self.browser = browser
        self.base = base
        self.output = output / name
        self.output.mkdir(parents=True, exist_ok=True)
        self.problems: list[str] = []
        self.contexts: list = []
        self.shots = 0
        self._expected: list[int] = []
        self._visited: dict[str, str] = {}  # document URL -> the page's label, once checked ("" until then)
        self._axe: str | None = None
        self._without_javascript: set = set()  # contexts with scripts off
        self._scratch = None  # a scripted context where axe checks what a script-less page showed

    # ---- contexts and pages --------------------------------------------------------------------------

    def context(self, *, viewport: dict = DESKTOP, javascript: bool = True, color_scheme: str = "light",
                locale: str = "en-US", **options):
        """A new browser context (its own cookies) from a client address of its own, watched."""
        number = next(_CLIENTS)
        client = f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}"
        context = self.browser.new_context(viewport=viewport, java_script_enabled=javascript,
                                           color_scheme=color_scheme, locale=locale, **options)
        context.set_default_timeout(20_000)
        if not javascript:
            self._without_javascript.add(context)
        context.add_init_script(CSP_LISTENER)

        def through_proxy(route):  # what nginx adds in production (PROXY_COUNT=1)
            route.continue_(headers={**route.request.all_headers(), "x-forwarded-for": client})

        context.route(lambda url: url.startswith(self.base), through_proxy)
        context.on("page", self._watch)
        self.contexts.append(context)
        return context

    def page(self, **options):
        """A watched page in a new context of its own."""
        return self.context(**options).new_page()

    def _own(self, url: str) -> bool:
        return url.startswith(self.base)

    def _watch(self, page) -> None:
        def console(message):
            if message.type != "error":
                return
            text = message.text
            status = re.search(r"status of (\d{3})", text)
            if status and int(status.group(1)) in self._expected:
                return  # the browser's own note about an answer the journey announced
            self.problems.append(f"console error on {page.url}: {text}")

        def response(answer):
            if self._own(answer.url) and answer.status >= 400 and answer.status not in self._expected:
                self.problems.append(f"{answer.status} from {answer.request.method} {answer.url}")

        def failed(request):
            if self._own(request.url):
                self.problems.append(f"request failed: {request.method} {request.url}: {request.failure}")

        def navigated(frame):
            if frame.parent_frame is None and self._own(frame.url):
                self._visited.setdefault(frame.url, "")

        page.on("console", console)
        page.on("pageerror", lambda error: self.problems.append(f"uncaught error on {page.url}: {error}"))
        page.on("response", response)
        page.on("requestfailed", failed)
        page.on("framenavigated", navigated)

    @contextmanager
    def expecting(self, *statuses: int):
        """Answers with these statuses are part of the journey inside the block (a refused form, say)."""
        self._expected.extend(statuses)
        try:
            yield
        finally:
            for status in statuses:
                self._expected.remove(status)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    # ---- checks --------------------------------------------------------------------------------------

    def check(self, page, label: str, *, readme: str | None = None, dark: bool = False) -> None:
        """axe-core on the page as it stands (and in dark colours too with ``dark=True``); a screenshot."""
        page.wait_for_load_state("load")
        self._visited[page.url] = label
        self._axe_scan(page, label)
        if dark:
            page.emulate_media(color_scheme="dark")
            try:
                self._axe_scan(page, f"{label} (dark)")
                self.screenshot(page, f"{label}-dark")
            finally:
                page.emulate_media(color_scheme="light")
        self.screenshot(page, label, readme=readme)

    def _axe_scan(self, page, label: str) -> None:
        if page.context in self._without_javascript:
            # axe needs timers, which do not run where scripts are off: check the same document, as the
            # page shows it (its scripts stripped), in a scripted page of the same size.
            html = re.sub(r"(?is)<script\b.*?</script>", "", page.content())
            if self._scratch is None:
                self._scratch = self.browser.new_context()
            scratch = self._scratch.new_page()
            scratch.set_viewport_size(page.viewport_size)
            dark = page.evaluate("() => matchMedia('(prefers-color-scheme: dark)').matches")
            scratch.emulate_media(color_scheme="dark" if dark else "light")
            try:
                scratch.route(page.url, lambda route: route.fulfill(body=html, content_type="text/html"))
                scratch.goto(page.url)
                self._axe_scan(scratch, label)
            finally:
                scratch.close()
            return
        if not page.evaluate("() => typeof window.axe === 'object'"):
            self._axe = self._axe or axe_source()
            page.evaluate(self._axe)  # through DevTools: the page's CSP does not apply
        violations = page.evaluate(AXE_RUN)
        for violation in violations:
            if violation["impact"] in ("serious", "critical"):
                self.problems.append(f"axe {violation['impact']} on {label} ({urlsplit(page.url).path}): "
                                     f"{violation['id']}: {violation['help']}: {json.dumps(violation['nodes'])}")

    def screenshot(self, page, label: str, *, readme: str | None = None) -> Path:
        self.shots += 1
        name = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
        path = self.output / f"{self.shots:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True, animations="disabled")
        folder = os.environ.get("BLOG_README_SCREENSHOTS")
        if readme and folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(folder) / f"{readme}.png"), animations="disabled")
        return path

    def finish(self) -> list[str]:
        """Everything that went wrong, including pages navigated to and never checked; closes the contexts."""
        for context in self.contexts:
            for page in context.pages:
                if self._own(page.url):
                    self._visited.setdefault(page.url, "")
            context.close()
        if self._scratch is not None:
            self._scratch.close()
        unchecked = sorted(url for url, label in self._visited.items() if not label)
        return self.problems + [f"page visited but never checked: {url}" for url in unchecked]
