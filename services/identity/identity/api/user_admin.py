"""User administration (issue 5): the API of docs/user-administration-api.md. Thin: each view
hands the verified caller to one use case."""
import uuid

from flask import current_app
from flask_smorest import Blueprint

from servicekit.web import current_principal

from ..service import reviews as review_cases
from ..service import unlock as unlock_cases
from ..service import user_admin as cases
from .user_admin_schemas import (AccessChangeSchema, AccessSchema, AdminHospitalSchema, EmptySchema, NewUserSchema, PhoneSchema,
                                 ReviewSchema, ReviewsSchema, SearchQuerySchema, SearchResultSchema, UserDetailSchema,
                                 UserListQuerySchema, UserPageSchema, UserRowSchema)

blp = Blueprint("user_admin", __name__, url_prefix="/admin",
                description="User administration: a registry administrator acts on every hospital, a local "
                            "administrator on their own")

HOSPITAL = "/hospitals/<uuid:hospital_id>"
USER = HOSPITAL + "/users/<uuid:user_id>"


def _uow():
    return current_app.extensions["danbio.runtime"].uow()


def _directory():
    return current_app.extensions["identity.directory"]


def _sealer():
    return current_app.extensions["danbio.runtime"].settings.sealer


@blp.route("/hospitals")
@blp.response(200, AdminHospitalSchema(many=True))
def list_hospitals():
    """The hospitals the caller administers, with departments and review state."""
    with _uow() as uow:
        return review_cases.hospitals_for(uow, current_principal())


@blp.route(HOSPITAL + "/users")
@blp.arguments(UserListQuerySchema, location="query", as_kwargs=True)
@blp.response(200, UserPageSchema)
def list_users(hospital_id: uuid.UUID, **query):
    """The hospital's users: filter by department, status and review state, search by name, username, e-mail."""
    with _uow() as uow:
        return cases.list_users(uow, _directory(), current_principal(), hospital_id, **query)


@blp.route(HOSPITAL + "/users", methods=["POST"])
@blp.arguments(NewUserSchema)
@blp.response(201, UserDetailSchema)
def create_user(form: dict, hospital_id: uuid.UUID):
    """Create a user of this hospital (Keycloak without a password, welcome e-mail with a 72-hour link)."""
    with _uow() as uow:
        return cases.create_user(uow, _directory(), _sealer(), current_principal(), hospital_id, form)


@blp.route(USER)
@blp.response(200, UserDetailSchema)
def get_user(hospital_id: uuid.UUID, user_id: uuid.UUID):
    """One user as seen from this hospital, with their hospitals and the audit of their access."""
    with _uow() as uow:
        return cases.user_detail(uow, _directory(), current_principal(), hospital_id, user_id)


@blp.route(USER + "/access", methods=["PUT"])
@blp.arguments(AccessChangeSchema)
@blp.response(200, UserDetailSchema)
def change_access(access: dict, hospital_id: uuid.UUID, user_id: uuid.UUID):
    """This hospital's role and departments of the user; no departments removes them from the hospital.
    With ``version`` (from UserDetail) a change made by someone else meanwhile is a 409, not overwritten."""
    with _uow() as uow:
        return cases.change_access(uow, _directory(), current_principal(), hospital_id, user_id, **access)


@blp.route(USER + "/phone", methods=["PUT"])
@blp.arguments(PhoneSchema)
@blp.response(200, UserDetailSchema)
def change_phone(body: dict, hospital_id: uuid.UUID, user_id: uuid.UUID):
    """The user's phone number, added by an administrator (e.g. when the welcome e-mail failed)."""
    with _uow() as uow:
        return cases.change_phone(uow, _directory(), current_principal(), hospital_id, user_id, phone=body["phone"])


@blp.route("/users/search")
@blp.arguments(SearchQuerySchema, location="query")
@blp.response(200, SearchResultSchema)
def search_users(query: dict):
    """All users of the registry by username or e-mail (3+ characters, at most 50)."""
    with _uow() as uow:
        return cases.search_users(uow, current_principal(), query["q"])


@blp.route(USER + "/membership", methods=["POST"])
@blp.arguments(AccessSchema)
@blp.response(201, UserDetailSchema)
def add_to_hospital(access: dict, hospital_id: uuid.UUID, user_id: uuid.UUID):
    """Add an existing user to this hospital; their access elsewhere stays as it is."""
    with _uow() as uow:
        return cases.add_to_hospital(uow, _directory(), current_principal(), hospital_id, user_id, **access)


@blp.route(HOSPITAL + "/reviews")
@blp.response(200, ReviewsSchema)
def list_reviews(hospital_id: uuid.UUID):
    """The last documented review, whether one is overdue, and the history."""
    with _uow() as uow:
        return review_cases.reviews(uow, current_principal(), hospital_id)


@blp.route(HOSPITAL + "/reviews", methods=["POST"])
@blp.arguments(EmptySchema)
@blp.response(201, ReviewSchema)
def document_review(_body: dict, hospital_id: uuid.UUID):
    """Document that the hospital's users were reviewed today."""
    with _uow() as uow:
        return review_cases.document_review(uow, current_principal(), hospital_id)


@blp.route(HOSPITAL + "/blocked-users")
@blp.response(200, UserRowSchema(many=True))
def blocked_users(hospital_id: uuid.UUID):
    """The hospital's users locked out by Keycloak's brute-force detection."""
    with _uow() as uow:
        return unlock_cases.blocked_users(uow, _directory(), current_principal(), hospital_id)


@blp.route(USER + "/unlock", methods=["POST"])
@blp.arguments(EmptySchema)
@blp.response(202)
def unlock(_body: dict, hospital_id: uuid.UUID, user_id: uuid.UUID):
    """Clear the lock and e-mail the user a link to choose a new password ("Nulstil kode")."""
    with _uow() as uow:
        unlock_cases.unlock(uow, _directory(), _sealer(), current_principal(), hospital_id, user_id)
    return ""
