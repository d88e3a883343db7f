import pytest

from notifications.runtime import build_runtime


@pytest.fixture
def base_env(tmp_path, principal_keys, sealing_key):
    """Settings without servers: embedded broker, development SMS outbox."""
    return {"DANBIO_DATA_DIR": str(tmp_path), "DANBIO_PRINCIPAL_PUBLIC_KEY": principal_keys[1],
            "DANBIO_SEALING_KEY": sealing_key, "NOTIFICATIONS_SMS_PROVIDER": "outbox"}


@pytest.fixture
def runtime_env(base_env, new_database, smtp):
    """notifications on a fresh PostgreSQL database, mailing the test SMTP server."""
    return {**base_env, "NOTIFICATIONS_DATABASE_URL": new_database("notifications"),
            "NOTIFICATIONS_SMTP_HOST": "127.0.0.1", "NOTIFICATIONS_SMTP_PORT": str(smtp.port),
            "NOTIFICATIONS_SMTP_SECURITY": "none", "NOTIFICATIONS_MAX_ATTEMPTS": "1"}


@pytest.fixture
def runtime(runtime_env):
    runtime = build_runtime(runtime_env)
    runtime.migrate()
    yield runtime
    runtime.db.dispose()
