"""Input no service can store or parse, refused at the door with a 400 instead of a 500 deep inside.

Found by the abuse suite (issue 10, tests/e2e/test_abuse_input.py and test_abuse_oversized.py):

- NUL characters: PostgreSQL refuses them in text, so a name, username or search term holding one
  ended in a 500 ("A string literal cannot contain NUL") in identity and patients.
- Unpaired UTF-16 surrogates (JSON "\\ud800"): valid JSON syntax, but no UTF-8 exists for them, so
  the first encode (PostgreSQL, Keycloak, logs) failed with a 500.
- JSON nested thousands deep: Python's decoder raises RecursionError, not ValueError, and webargs
  let it through as a 500.
- A chunked request body (no Content-Length) larger than MAX_CONTENT_LENGTH: Werkzeug does not
  refuse it, it silently cuts it at the limit, and the view acted on the truncated form (the web
  UI started a password reset from a 2.6 MB body). ``BoundedBody`` reads such a body up to the
  limit and, when it is longer, lets Flask see the length so that it answers 413 as it does for a
  declared Content-Length.

Each app answers the 400/413 in its own way: problem+json in the services, a Danish page in the web UI.
"""
from __future__ import annotations

import io
import json
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import BadRequest

NOT_ALLOWED = "The request holds a character that is not allowed (a NUL character or an unpaired surrogate)."
TOO_DEEP = "The JSON body is nested too deeply."


def _bad_text(value: str) -> bool:
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _strings(value: Any):
    """Every string in a parsed JSON document (keys too), without recursion."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def check_request() -> None:
    """BadRequest for a query, form, path value or JSON body with NUL / surrogates or too deep."""
    values = [*request.args.keys(), *request.args.values()]
    values += [value for value in (request.view_args or {}).values() if isinstance(value, str)]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        values += [*request.form.keys(), *request.form.values()]
    if any(_bad_text(value) for value in values):
        raise BadRequest(NOT_ALLOWED)
    if request.is_json and request.content_length != 0:
        data = request.get_data(cache=True)
        try:
            document = json.loads(data)
        except RecursionError:
            raise BadRequest(TOO_DEEP) from None
        except ValueError:
            return  # not JSON: the view's parser answers that, as before
        if any(_bad_text(text) for text in _strings(document)):
            raise BadRequest(NOT_ALLOWED)


class BoundedBody:
    """WSGI middleware: a body without Content-Length (chunked) is read up to ``limit`` + 1 bytes;
    the app then sees a Content-Length, so Flask's MAX_CONTENT_LENGTH check applies to it too."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    def __call__(self, environ, start_response):
        if not environ.get("CONTENT_LENGTH") and environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
            body = environ["wsgi.input"].read(self.limit + 1)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            del environ["HTTP_TRANSFER_ENCODING"]  # Werkzeug ignores the length of a chunked request
        return self.app(environ, start_response)


def install(app: Flask) -> None:
    app.before_request(check_request)
    app.wsgi_app = BoundedBody(app.wsgi_app, app.config["MAX_CONTENT_LENGTH"])
