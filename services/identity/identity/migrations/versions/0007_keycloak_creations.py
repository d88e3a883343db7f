"""keycloak_creations — issue 10: Keycloak users whose creation identity has not recorded yet

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 17:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "keycloak_creations",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_keycloak_creations_username", "keycloak_creations", ["username"])


def downgrade() -> None:
    op.drop_index("ix_keycloak_creations_username", table_name="keycloak_creations")
    op.drop_table("keycloak_creations")
