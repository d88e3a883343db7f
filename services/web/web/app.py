"""create_app(): the Danish web UI staff use. It talks only to the gateway."""
from flask import render_template

from servicekit.config import load
from servicekit.web import create_service_app

from .settings import WebSettings


def create_app(environ=None):
    settings = load(WebSettings, "web", environ)
    app = create_service_app(settings, title="danbio web", blueprints=[], readiness={})

    @app.get("/")
    def index():
        return render_template("index.html")

    return app
