"""Password reset by a one-time code (requirement C2), without telling anyone who exists.

1. ``start_reset``: a request for whatever username was typed, known or not.
2. ``send_code``: a new 6-digit code for the request. For a known user it goes out by SMS (e-mail
   where there is no phone) through ``identity.password_reset.code_issued``, sealed; for an unknown
   username a code is stored all the same and never sent. Either way the same rows are written and
   the same answer given, so neither the answer nor its time says whether the username exists, has
   a phone, or is blocked. At most MAX_CODES_PER_HOUR codes per username per hour (known or not).
3. ``verify_code``: the code of the request's newest code, within CODE_TTL, once; MAX_WRONG_CODES
   wrong ones end the request. A right one yields a short-lived set-password token (purpose
   "reset") that can only set the password (service.set_password).

Keycloak is not called in any of these steps: its latency would tell known users from unknown ones.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import and_, func, select, update

from servicekit.errors import DependencyUnavailable, InvalidInput, TooManyRequests
from servicekit.sealed import Sealer
from servicekit.uow import UnitOfWork

from ..adapters import user_repository
from ..adapters.tables import password_reset_codes, password_reset_requests
from ..domain.reset_codes import (CODE_TTL, CODE_WINDOW, MAX_CODES_PER_HOUR, MAX_WRONG_CODES, REQUEST_TTL,
                                  code_hash, code_matches, new_code, username_key)
from . import set_password_tokens
from .people import person_of

CODE_ISSUED = "identity.password_reset.code_issued"


class ResetExpired(InvalidInput):
    def __init__(self):
        super().__init__("The password reset has expired or was ended; start again.",
                         errors={"reset": ["expired, used or ended after too many wrong codes"]},
                         codes={"reset": "reset_expired"})


@dataclass(frozen=True)
class VerifiedReset:
    token: str
    expires_at: datetime


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(timezone.utc)


def start_reset(uow: UnitOfWork, username: str, *, now: datetime | None = None) -> tuple[uuid.UUID, datetime]:
    """A new reset request for ``username`` (whoever that is); its id and expiry."""
    now = _now(now)
    key = username_key(username)
    if not key:
        raise InvalidInput("Type your username.", errors={"username": ["required"]}, codes={"username": "required"})
    user = user_repository.get_by_username(uow.session, key)
    reset_id = uuid.uuid4()
    uow.session.execute(password_reset_requests.insert().values(
        id=reset_id, username_key=key, user_id=user.id if user else None, created_at=now,
        expires_at=now + REQUEST_TTL, failed_attempts=0))
    uow.commit()
    return reset_id, now + REQUEST_TTL


def _usable_request(uow: UnitOfWork, reset_id: uuid.UUID, now: datetime):
    """The request row, locked; ResetExpired unless it can still take a code."""
    row = uow.session.execute(select(password_reset_requests)
                              .where(password_reset_requests.c.id == reset_id).with_for_update()).one_or_none()
    if (row is None or row.expires_at <= now or row.verified_at is not None
            or row.failed_attempts >= MAX_WRONG_CODES):
        raise ResetExpired()
    return row


def send_code(uow: UnitOfWork, sealer: Sealer | None, reset_id: uuid.UUID, *,
              now: datetime | None = None) -> datetime:
    """A new code for the request (the previous one stops working); when the code expires."""
    now = _now(now)
    if sealer is None:
        raise DependencyUnavailable("identity has no sealing key (DANBIO_SEALING_KEY), so it cannot send codes.")
    request = _usable_request(uow, reset_id, now)
    issued = uow.session.execute(select(func.count()).select_from(password_reset_codes).where(and_(
        password_reset_codes.c.username_key == request.username_key,
        password_reset_codes.c.created_at > now - CODE_WINDOW))).scalar_one()
    if issued >= MAX_CODES_PER_HOUR:
        raise TooManyRequests("At most 3 codes per hour can be sent for a username; wait and try again.",
                              errors={"reset": ["too many codes this hour"]}, codes={"reset": "too_many_codes"})
    uow.session.execute(update(password_reset_codes)
                        .where(and_(password_reset_codes.c.request_id == reset_id,
                                    password_reset_codes.c.used_at.is_(None)))
                        .values(used_at=now))
    code = new_code()
    uow.session.execute(password_reset_codes.insert().values(
        id=uuid.uuid4(), request_id=reset_id, username_key=request.username_key,
        code_hash=code_hash(reset_id, code), created_at=now, expires_at=now + CODE_TTL))
    user = user_repository.get(uow.session, request.user_id) if request.user_id else None
    sealed = sealer.seal(code)  # sealed for an unknown username too: the same work, the same time
    if user is not None:
        uow.emit(CODE_ISSUED, {"user": person_of(user), "reset_id": str(reset_id), "code": sealed,
                               "expires_at": (now + CODE_TTL).isoformat()})
    uow.commit()
    return now + CODE_TTL


def verify_code(uow: UnitOfWork, reset_id: uuid.UUID, typed: str, *, now: datetime | None = None) -> VerifiedReset:
    """A set-password token for a right code; InvalidInput for a wrong, expired or used one."""
    now = _now(now)
    request = _usable_request(uow, reset_id, now)
    code = uow.session.execute(select(password_reset_codes)
                               .where(and_(password_reset_codes.c.request_id == reset_id,
                                           password_reset_codes.c.used_at.is_(None)))
                               .order_by(password_reset_codes.c.created_at.desc()).limit(1)).one_or_none()
    if code is None or code.expires_at <= now:
        raise InvalidInput("The code has expired or was already used; ask for a new one.",
                           errors={"code": ["expired or used"]}, codes={"code": "code_expired"})
    if request.user_id is None or not code_matches(reset_id, typed, code.code_hash):
        failed = request.failed_attempts + 1
        uow.session.execute(update(password_reset_requests).where(password_reset_requests.c.id == reset_id)
                            .values(failed_attempts=failed))
        uow.commit()
        if failed >= MAX_WRONG_CODES:
            raise ResetExpired()
        raise InvalidInput("The code is not right.", errors={"code": [f"wrong; {MAX_WRONG_CODES - failed} tries left"]},
                           codes={"code": "invalid_code"})
    uow.session.execute(update(password_reset_codes).where(password_reset_codes.c.id == code.id).values(used_at=now))
    uow.session.execute(update(password_reset_requests).where(password_reset_requests.c.id == reset_id)
                        .values(verified_at=now))
    issued = set_password_tokens.issue(uow.session, request.user_id, set_password_tokens.RESET,
                                       set_password_tokens.RESET_TTL, now=now)
    uow.commit()
    return VerifiedReset(token=issued.token, expires_at=issued.expires_at)
