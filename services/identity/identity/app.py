"""create_app(): the identity service's web application."""
from servicekit.web import create_service_app

from .adapters.keycloak_directory import KeycloakUserDirectory
from .api.departments import blp as departments_blp
from .api.federation import blp as federation_blp
from .api.me import blp as me_blp
from .api.principals import blp as principals_blp
from .api.public import blp as public_blp
from .api.user_admin import blp as user_admin_blp
from .runtime import build_runtime
from .service.machine_clients import MachineClients


def create_app(environ=None):
    runtime = build_runtime(environ)
    app = create_service_app(runtime.settings, title="danbio identity",
                             blueprints=[me_blp, departments_blp, principals_blp, public_blp,
                                         user_admin_blp, federation_blp],
                             readiness=runtime.readiness(),
                             principal_key=runtime.settings.principal_public_key)
    app.extensions["danbio.runtime"] = runtime
    app.extensions["identity.directory"] = KeycloakUserDirectory(runtime.settings)
    app.extensions["identity.machine_clients"] = MachineClients(app.extensions["identity.directory"],
                                                                runtime.settings.machine_clients)
    return app
