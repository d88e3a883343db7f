"""create_app(): the patients service's web application."""
from servicekit.web import create_service_app

from .api.organisation import blp as organisation_blp
from .runtime import build_runtime


def create_app(environ=None):
    runtime = build_runtime(environ)
    app = create_service_app(runtime.settings, title="danbio patients", blueprints=[organisation_blp],
                             readiness=runtime.readiness(),
                             principal_key=runtime.settings.principal_public_key)
    app.extensions["danbio.runtime"] = runtime
    return app
