"""``flask translate ...``: the message catalogs in ``translations/``, with this project's pybabel options.

- ``extract``: every marked string in ``blog/`` (Python and templates, see ``babel.cfg``) into ``messages.pot``;
- ``update``: extract, then merge into each language's ``messages.po`` (new strings arrive untranslated,
  changed ones fuzzy: translate them and remove the fuzzy flag);
- ``check``: what ``update`` would leave untranslated or fuzzy, and placeholders a translation lost or
  invented; exits 1 if there is any (the test suite runs the same check);
- ``compile``: ``messages.po`` to the ``messages.mo`` the app reads (setup and CI run it: .mo files are build
  output and are not committed);
- ``init LANG``: start a catalog for a new language.

The helpers take explicit paths so the tests can run them on temporary copies.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import click
from babel.messages.pofile import read_po
from flask import current_app
from flask.cli import AppGroup

from blog.config import PROJECT_ROOT

MAPPING = PROJECT_ROOT / "babel.cfg"
# ``_l`` is lazy_gettext; ``_``, ``gettext``, ``ngettext`` and ``N_`` are pybabel's defaults.
KEYWORDS = ("_l",)
# No wrapping: one line per message keeps diffs small and lets you grep a catalog for an English string.
WRAP = ("--no-wrap",)
PLACEHOLDER = re.compile(r"%(?:\(\w+\))?[-#0+]*\d*(?:\.\d+)?[sdifr%]")

translate = AppGroup("translate", help="Extract, update, check and compile the translations.")


def _pybabel(*args: str) -> None:
    # From the project root, so locations in the catalogs read "blog/views/...", not absolute paths.
    result = subprocess.run([sys.executable, "-m", "babel.messages.frontend", "--quiet", *args], cwd=PROJECT_ROOT,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise click.ClickException(f"pybabel {args[0]} failed:\n{result.stderr.strip() or result.stdout.strip()}")


def extract(pot: Path) -> None:
    """Write every marked message of the code and templates to ``pot``."""
    keywords = [arg for keyword in KEYWORDS for arg in ("-k", keyword)]
    # pybabel skips folders starting with "_" unless told otherwise, and the templates keep macros and
    # per-visitor regions in such folders (_macros/, _viewer/): skip only hidden ones and bytecode.
    _pybabel("extract", "-F", str(MAPPING), *keywords, *WRAP, "--add-comments=Translators:", "--project=blog",
             "--ignore-dirs=.* __pycache__", "-o", str(pot), ".")


def update(pot: Path, directory: Path) -> None:
    """Merge ``pot`` into every ``<directory>/<lang>/LC_MESSAGES/messages.po``."""
    _pybabel("update", "-i", str(pot), "-d", str(directory), *WRAP, "--previous", "--ignore-obsolete")


def compile_catalogs(directory: Path) -> None:
    """Write ``messages.mo`` beside each ``messages.po``; fuzzy translations are left out (they are guesses)."""
    _pybabel("compile", "-d", str(directory))


def init(pot: Path, directory: Path, lang: str) -> None:
    _pybabel("init", "-i", str(pot), "-d", str(directory), "-l", lang, *WRAP)


def languages(directory: Path) -> list[str]:
    return sorted(p.parent.parent.name for p in directory.glob("*/LC_MESSAGES/messages.po"))


def placeholders(text: str) -> list[str]:
    """The %-placeholders of ``text``, sorted ("%(name)s", "%d"); "%%" is a literal percent sign."""
    return sorted(m.group(0) for m in PLACEHOLDER.finditer(text) if m.group(0) != "%%")


@dataclass
class Problem:
    lang: str
    msgid: str
    issue: str

    def __str__(self) -> str:
        return f"{self.lang}: {self.issue}: {self.msgid!r}"


def problems_in(po: Path, lang: str) -> list[Problem]:
    """Untranslated and fuzzy messages of one catalog, and translations whose placeholders differ."""
    with po.open("rb") as f:
        catalog = read_po(f)
    found = []
    for message in catalog:
        if not message.id:
            continue
        msgid = message.id[0] if isinstance(message.id, tuple) else message.id
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy:
            found.append(Problem(lang, msgid, "fuzzy"))
        elif not all(strings):
            found.append(Problem(lang, msgid, "untranslated"))
        else:
            # Every form keeps every placeholder, %(num)d included: French uses its "singular" for 0 too.
            expected = placeholders(message.id[-1] if isinstance(message.id, tuple) else message.id)
            for string in strings:
                got = placeholders(string)
                if got != expected:
                    found.append(Problem(lang, msgid, f"placeholders {got} instead of {expected}"))
                    break
    return found


def check(directory: Path) -> list[Problem]:
    """Extract and update into a temporary copy of ``directory``; return what is not fully translated."""
    with tempfile.TemporaryDirectory(prefix="blog-i18n-") as tmp:
        tmp_path = Path(tmp)
        pot = tmp_path / "messages.pot"
        extract(pot)
        copy = tmp_path / "translations"
        for lang in languages(directory):
            target = copy / lang / "LC_MESSAGES"
            target.mkdir(parents=True)
            shutil.copy(directory / lang / "LC_MESSAGES" / "messages.po", target / "messages.po")
        update(pot, copy)
        return [p for lang in languages(copy) for p in problems_in(copy / lang / "LC_MESSAGES" / "messages.po", lang)]


def _directory() -> Path:
    return Path(current_app.config["BABEL_TRANSLATION_DIRECTORIES"].split(";")[0])


@translate.command("extract")
def extract_command():
    """Collect the marked strings into translations/messages.pot."""
    pot = _directory() / "messages.pot"
    extract(pot)
    with pot.open("rb") as f:
        count = sum(1 for m in read_po(f) if m.id)
    click.echo(f"Extracted {count} messages to {pot}.")


@translate.command("update")
def update_command():
    """Extract, then merge the new and changed strings into every language."""
    directory = _directory()
    extract(directory / "messages.pot")
    update(directory / "messages.pot", directory)
    for lang in languages(directory):
        todo = problems_in(directory / lang / "LC_MESSAGES" / "messages.po", lang)
        click.echo(f"{lang}: {len(todo)} message(s) to translate or review" if todo else f"{lang}: complete")


@translate.command("check")
def check_command():
    """List untranslated or fuzzy messages and placeholder mistakes; exits 1 if there are any."""
    found = check(_directory())
    for problem in found:
        click.echo(str(problem))
    if found:
        click.echo(f"{len(found)} problem(s): run `flask translate update`, translate, then check again.", err=True)
        sys.exit(1)
    click.echo("Every language is complete.")


@translate.command("compile")
def compile_command():
    """Compile every messages.po into the messages.mo the app reads."""
    directory = _directory()
    compile_catalogs(directory)
    click.echo(f"Compiled {', '.join(languages(directory))}.")


@translate.command("init")
@click.argument("lang")
def init_command(lang):
    """Start a catalog for LANG (a language code such as "it" or "pt_BR")."""
    from babel import Locale, UnknownLocaleError

    try:
        Locale.parse(lang)
    except (ValueError, UnknownLocaleError):
        raise click.ClickException(f"{lang!r} is not a language code Babel knows") from None
    directory = _directory()
    if (directory / lang / "LC_MESSAGES" / "messages.po").exists():
        raise click.ClickException(f"{lang} already has a catalog: use `flask translate update`")
    extract(directory / "messages.pot")
    init(directory / "messages.pot", directory, lang)
    click.echo(f"Created {directory / lang / 'LC_MESSAGES' / 'messages.po'}. Translate it, add {lang!r} to "
               f"LANGUAGES in blog/config.py, then run `flask translate compile`.")
