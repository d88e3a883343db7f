"""Routes for people who are not logged in: password reset by SMS code, and choosing a password with
a set-password token (welcome link, reset). The gateway forwards /api/identity/public/** without a
token or principal and limits it per IP; nothing here may call current_principal().

Tokens and codes travel only in POST bodies, never in a URL (URLs end up in logs).
"""
from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ..service.password_reset import send_code, start_reset, verify_code
from ..service.set_password import check_token, set_password

blp = Blueprint("public", __name__, url_prefix="/public",
                description="Password reset and set-password links, for callers who are not logged in")


def _runtime():
    return current_app.extensions["danbio.runtime"]


def _directory():
    return current_app.extensions["identity.directory"]


class StartResetSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(max=254))


class ResetSchema(Schema):
    reset_id = fields.UUID(metadata={"description": "the request the next steps refer to"})
    expires_at = fields.DateTime()


class CodeSentSchema(Schema):
    code_expires_at = fields.DateTime(metadata={"description": "when a code sent now would expire; "
                                                              "the same answer whether or not one was sent"})


class VerifySchema(Schema):
    code = fields.String(required=True, validate=validate.Length(max=20))


class TokenSchema(Schema):
    token = fields.String(required=True, validate=validate.Length(max=200))


class VerifiedSchema(Schema):
    token = fields.String(metadata={"description": "single-use set-password token (purpose reset)"})
    expires_at = fields.DateTime()


class PolicyRuleSchema(Schema):
    rule = fields.String(metadata={"description": "Keycloak's policy name, e.g. length, notUsername"})
    value = fields.String(allow_none=True)


class TokenInfoSchema(Schema):
    purpose = fields.String(metadata={"enum": ["activation", "reset"]})
    username = fields.String()
    expires_at = fields.DateTime()
    policy = fields.List(fields.Nested(PolicyRuleSchema))


class SetPasswordSchema(Schema):
    token = fields.String(required=True, validate=validate.Length(max=200))
    password = fields.String(required=True)


class PasswordSetSchema(Schema):
    purpose = fields.String()


@blp.route("/password-resets", methods=["POST"])
@blp.arguments(StartResetSchema)
@blp.response(202, ResetSchema)
def post_reset(body):
    """Start a password reset for a username. The same answer whether or not the user exists."""
    with _runtime().uow() as uow:
        reset_id, expires_at = start_reset(uow, body["username"])
    return {"reset_id": reset_id, "expires_at": expires_at}


@blp.route("/password-resets/<uuid:reset_id>/code", methods=["POST"])
@blp.response(202, CodeSentSchema)
def post_code(reset_id):
    """Send a one-time code to the user's phone (e-mail without one); the previous code stops working.
    429 after 3 codes for the username within an hour; 422 (reset_expired) for an ended request."""
    runtime = _runtime()
    with runtime.uow() as uow:
        expires_at = send_code(uow, runtime.settings.sealer, reset_id)
    return {"code_expires_at": expires_at}


@blp.route("/password-resets/<uuid:reset_id>/verify", methods=["POST"])
@blp.arguments(VerifySchema)
@blp.response(200, VerifiedSchema)
def post_verify(body, reset_id):
    """Check the code; a right one yields a short-lived token that can only set the password.
    422 invalid_code (tries left in errors), code_expired, or reset_expired after 5 wrong codes."""
    with _runtime().uow() as uow:
        verified = verify_code(uow, reset_id, body["code"])
    return {"token": verified.token, "expires_at": verified.expires_at}


@blp.route("/set-password/check", methods=["POST"])
@blp.arguments(TokenSchema)
@blp.response(200, TokenInfoSchema)
def post_check(body):
    """Whether a set-password token can still be used, whose it is, and the realm's password policy."""
    with _runtime().uow() as uow:
        return check_token(uow, _directory(), body["token"])


@blp.route("/set-password", methods=["POST"])
@blp.arguments(SetPasswordSchema)
@blp.response(200, PasswordSetSchema)
def post_set_password(body):
    """Set the password with a token (once). 422 with codes: token invalid_token, or the password code
    Keycloak's policy gave (e.g. invalidPasswordMinLengthMessage) — then the token stays usable."""
    with _runtime().uow() as uow:
        purpose = set_password(uow, _directory(), body["token"], body["password"])
    return {"purpose": purpose}
