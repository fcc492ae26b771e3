"""Loading and validating the TOML configuration.

`load_config(path, kinds=...) -> Config` gathers every problem, each with
its line, before failing with one `ConfigError`; `format_problems` turns it
into the lines `pln check` prints. The source kinds are a parameter, as the
connectors define them (the app layer passes `connectors.REGISTRY`).
Secrets are read only through `*_env` keys, into `Secret`. Reading typed
values and mapping keys to lines is `config.read`'s job; the single tables
are `config.sections`', the `[[sources]]` and `[[recipients]]` entries
`config.entries`'.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

from aggregator.config.entries import EnvNeed, read_recipients, read_sources
from aggregator.config.read import LineMap, Report, Table
from aggregator.config.schedule import read_calendar, read_schedule
from aggregator.config.sections import (
    SecretUse,
    read_database,
    read_digest,
    read_email,
    read_facebook,
    read_fetch,
    read_queue,
    read_secret,
    read_storage,
)
from aggregator.config.types import Config, TwitterConfig
from aggregator.config.web import read_web
from aggregator.domain.errors import ConfigError, Problem
from aggregator.domain.secret import Secret
from aggregator.domain.source import KindSpec, SourceConfig

__all__ = ["format_problems", "load_config", "parse_config"]

_TOP_KEYS = (
    "database",
    "storage",
    "email",
    "fetch",
    "digest",
    "twitter",
    "facebook",
    "web",
    "sources",
    "recipients",
    "schedule",
    "calendar",
    "queue",
)
_TOML_POSITION = re.compile(r"\s*\(at (?:line (\d+), column \d+|end of document)\)$")
_TOML_HINTS = {
    "Cannot overwrite": " (is a key set twice?)",
    "Cannot declare": " (is a table written twice?)",
}


def load_config(
    path: str | os.PathLike[str],
    environ: Mapping[str, str] | None = None,
    *,
    kinds: Mapping[str, KindSpec],
) -> Config:
    """Read and validate the configuration file at `path`.

    `kinds` are the valid source kinds and what each takes. `environ`
    (default `os.environ`) supplies the secrets that `*_env` keys name.
    Raises ConfigError listing every problem with its line, or one problem
    when the file is missing, unreadable or not TOML.
    """
    shown = os.fspath(path)
    try:
        data = Path(shown).read_bytes()
    except FileNotFoundError as exc:
        message = f"not found: copy config.example.toml to {shown} and edit it"
        raise _file_error(shown, message) from exc
    except OSError as exc:
        raise _file_error(shown, f"cannot be read ({exc.strerror})") from exc
    try:
        text = data.decode("utf-8-sig")  # -sig: Notepad saves UTF-8 with a BOM
    except UnicodeDecodeError as exc:
        raise _file_error(shown, f"is not UTF-8 text (bad byte at offset {exc.start})") from exc
    return parse_config(text, shown, environ, kinds=kinds)


def _file_error(shown: str, message: str) -> ConfigError:
    # The path is the problem's key, so the one line reads "config.toml: not found: ...".
    return ConfigError([Problem(None, shown, message)])


def parse_config(
    text: str,
    path: str | os.PathLike[str] = "",
    environ: Mapping[str, str] | None = None,
    *,
    kinds: Mapping[str, KindSpec],
) -> Config:
    """Validate configuration `text`; `path` names the file it came from, and
    `kinds` the valid source kinds (see `load_config`).

    A relative SQLite path is resolved against `path`'s folder (the current
    folder when `path` is empty). Raises ConfigError with every problem,
    sorted by line.
    """
    shown = os.fspath(path)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([_syntax_problem(exc, text)], shown) from exc
    report = Report(LineMap(text))
    absolute = os.path.abspath(shown) if shown else ""
    environ = os.environ if environ is None else environ
    config = _read_config(Table(document, (), report), absolute, environ, kinds)
    if report.problems:
        report.problems.sort(key=lambda p: (p.line is None, p.line or 0))
        raise ConfigError(report.problems, shown)
    return config


def _syntax_problem(exc: tomllib.TOMLDecodeError, text: str) -> Problem:
    message = str(exc)
    position = _TOML_POSITION.search(message)
    line = int(position.group(1)) if position and position.group(1) else text.count("\n") + 1
    message = _TOML_POSITION.sub("", message)
    hint = next((h for start, h in _TOML_HINTS.items() if message.startswith(start)), "")
    return Problem(line, "invalid TOML", message[:1].lower() + message[1:] + hint)


def format_problems(error: ConfigError) -> list[str]:
    """One line per problem, like `config.toml:12: sources[3].url: not an http(s) URL`."""
    lines = []
    for problem in error.problems:
        where = error.path
        if problem.line:
            where = f"{error.path}:{problem.line}" if error.path else f"line {problem.line}"
        lines.append(": ".join(part for part in (where, problem.key, problem.message) if part))
    return lines


def _read_config(
    root: Table, path: str, environ: Mapping[str, str], kinds: Mapping[str, KindSpec]
) -> Config:
    root.check_keys(_TOP_KEYS)
    sources, needs = read_sources(root.tables("sources"), kinds)
    recipients = read_recipients(root.tables("recipients"), {s.key for s in sources if s.key})
    twitter = root.table("twitter")
    twitter.check_keys(("bearer_token_env",))
    twitter_use = _first_use(root, sources, kinds, "twitter")
    bearer = read_secret(twitter, "bearer_token_env", environ, twitter_use)
    email = read_email(root.table("email"), environ, os.path.dirname(path) or os.getcwd())
    return Config(
        path=path,
        database=read_database(root.table("database"), os.path.dirname(path) or os.getcwd()),
        storage=read_storage(root.table("storage")),
        email=email,
        web=read_web(root.table("web"), environ, email.public_url),
        fetch=read_fetch(root.table("fetch")),
        digest=read_digest(root.table("digest")),
        twitter=TwitterConfig(bearer_token=bearer),
        facebook=read_facebook(
            root.table("facebook"), environ, _first_use(root, sources, kinds, "facebook")
        ),
        schedule=read_schedule(root.table("schedule")),
        calendar=read_calendar(root.table("calendar")),
        queue=read_queue(root.table("queue"), environ),
        sources=sources,
        recipients=recipients,
        secrets=_resolve_needs(root.report, needs, environ),
    )


def _first_use(
    root: Table, sources: tuple[SourceConfig, ...], kinds: Mapping[str, KindSpec], section: str
) -> SecretUse | None:
    """The first source whose kind needs the token of table `section`, if any."""
    for index, source in enumerate(sources):
        spec = kinds.get(source.kind)
        if spec is not None and spec.section == section:
            line = root.report.lines.line_of(("sources", index))
            return SecretUse(f"required by source {source.key!r}", line)
    return None


def _resolve_needs(
    report: Report, needs: tuple[EnvNeed, ...], environ: Mapping[str, str]
) -> tuple[Secret, ...]:
    """Every source secret; an unset variable is a problem, as the source uses it."""
    secrets: dict[str, Secret] = {}
    for need in needs:
        value = environ.get(need.env_name, "")
        if value.strip():
            secrets[need.env_name] = Secret(need.env_name, value)
        else:
            report.add(need.path, f"environment variable {need.env_name} is not set")
    return tuple(secrets.values())
