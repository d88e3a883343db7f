"""create_app(): the patients service's web application."""
from servicekit.web import create_service_app

from .api.boards import blp as boards_blp
from .api.organisation import blp as organisation_blp
from .api.patients import blp as patients_blp
from .api.platform import blp as platform_blp
from .api.transfers import blp as transfers_blp
from .runtime import build_runtime

BLUEPRINTS = [organisation_blp, patients_blp, boards_blp, transfers_blp, platform_blp]


def create_app(environ=None):
    runtime = build_runtime(environ)
    app = create_service_app(runtime.settings, title="danbio patients", blueprints=BLUEPRINTS,
                             readiness=runtime.readiness(),
                             principal_key=runtime.settings.principal_public_key)
    app.extensions["danbio.runtime"] = runtime
    return app
