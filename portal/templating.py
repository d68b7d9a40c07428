"""Jinja2 templates in French and English: one environment per language (thread-safe)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.background import BackgroundTask
from starlette.responses import HTMLResponse

from portal.i18n import (
    LANGUAGES,
    format_count,
    format_duration,
    format_long_date,
    format_number,
    format_typed_number,
    translations,
)

TEMPLATES = Path(__file__).with_name("templates")


def _environment(lang: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters["phone"] = format_number
    env.filters["duration"] = format_duration
    env.filters["typed_phone"] = format_typed_number
    env.filters["thousands"] = lambda n: format_count(n, lang)
    env.filters["long_date"] = lambda d: format_long_date(d, lang)
    env.globals["lang"] = lang
    env.globals["other_lang"] = "en" if lang == "fr" else "fr"
    return env


class Templates:
    def __init__(self) -> None:
        self.envs = {lang: _environment(lang) for lang in LANGUAGES}

    def render(self, lang: str, name: str, context: dict[str, Any]) -> str:
        return self.envs[lang].get_template(name).render(context)

    def response(
        self,
        lang: str,
        name: str,
        context: dict[str, Any],
        status_code: int = 200,
        background: BackgroundTask | None = None,
    ) -> HTMLResponse:
        return HTMLResponse(
            self.render(lang, name, context), status_code=status_code, background=background
        )
