"""create_app(): the notifications service's web application."""
from servicekit.web import create_service_app

from .api.deliveries import blp as deliveries_blp
from .runtime import build_runtime


def create_app(environ=None):
    runtime = build_runtime(environ)
    app = create_service_app(runtime.settings, title="danbio notifications", blueprints=[deliveries_blp],
                             readiness=runtime.readiness(),
                             principal_key=runtime.settings.principal_public_key)
    app.extensions["danbio.runtime"] = runtime
    return app
