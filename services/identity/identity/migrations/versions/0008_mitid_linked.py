"""users.mitid_linked — issue 10: identity's copy of who has linked MitID in Keycloak

The user list showed the link by asking Keycloak for each user shown; the copy is kept in step by
identity's own linking use cases at once and by the worker's sweep of Keycloak's links.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 19:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # False until the worker's first sweep (it runs when the worker starts).
    op.add_column("users", sa.Column("mitid_linked", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("users", "mitid_linked")
