"""Messages from templates: one file per purpose and locale (``templates/messages/<purpose>.<locale>.j2``)
with the blocks ``subject``, ``text`` and ``html`` (e-mail) and, where the purpose goes by SMS, ``sms``.

Danish is the default; English where the recipient's locale is ``en``. Times are shown in Danish
time (Europe/Copenhagen). The rendered message lives only in memory: it may hold a code or a link.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context, select_autoescape
from markupsafe import Markup

DANISH_TIME = ZoneInfo("Europe/Copenhagen")
MONTHS = {
    "da": ("januar", "februar", "marts", "april", "maj", "juni", "juli", "august", "september", "oktober",
           "november", "december"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
}


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def _local(value: str | datetime) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(DANISH_TIME)


@pass_context
def _date(context, value) -> str:
    moment, locale = _local(value), context.get("locale", "da")
    month = MONTHS[locale][moment.month - 1]
    return f"{moment.day}. {month} {moment.year}" if locale == "da" else f"{moment.day} {month} {moment.year}"


@pass_context
def _when(context, value) -> str:
    moment = _local(value)
    joiner = "kl." if context.get("locale", "da") == "da" else "at"
    return f"{_date(context, value)} {joiner} {moment:%H:%M}"


def _clock(value) -> str:
    return f"{_local(value):%H:%M}"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=PackageLoader("notifications", "templates"), undefined=StrictUndefined,
                      autoescape=select_autoescape(["html"], default_for_string=False, default=False),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(when=_when, date=_date, clock=_clock)
    return env


def _block(template, name: str, variables: dict[str, Any]) -> str:
    return "".join(template.blocks[name](template.new_context(variables)))


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _template(purpose: str, locale: str):
    return environment().get_template(f"messages/{purpose}.{locale if locale in MONTHS else 'da'}.j2")


def render_email(purpose: str, locale: str, variables: dict[str, Any]) -> RenderedEmail:
    template = _template(purpose, locale)
    variables = {**variables, "locale": locale}
    subject = _one_line(_block(template, "subject", variables))
    text = re.sub(r"\n{3,}", "\n\n", _block(template, "text", variables)).strip() + "\n"
    content = Markup(_block(template, "html", variables).strip())
    html = environment().get_template("layout.html").render(subject=subject, content=content, locale=locale)
    return RenderedEmail(subject=subject, text=text, html=html)


def render_sms(purpose: str, locale: str, variables: dict[str, Any]) -> str:
    template = _template(purpose, locale)
    return _one_line(_block(template, "sms", {**variables, "locale": locale}))


def has_sms(purpose: str) -> bool:
    return "sms" in _template(purpose, "da").blocks
