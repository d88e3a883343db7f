"""create_app(): the gateway."""
from servicekit.config import load
from servicekit.web import broker_check, create_service_app

from .settings import GatewaySettings


def create_app(environ=None):
    settings = load(GatewaySettings, "gateway", environ)
    # The broker carries the access changes that invalidate cached principals.
    return create_service_app(settings, title="danbio gateway", blueprints=[],
                              readiness={"broker": broker_check(settings.broker_url)})
