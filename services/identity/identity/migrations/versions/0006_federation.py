"""federation — issue 8: audit of MitID / regional IdP links, unlinks and federated logins

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 08:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "federation_audit",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("alias", sa.String(32), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("upstream_user_id", sa.String(255)),
        sa.Column("upstream_username", sa.String(255)),
        sa.Column("professional_uuid", sa.String(64)),
        sa.Column("organisation_cvr", sa.String(16)),
        sa.Column("correlation_id", sa.String(64)),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_federation_audit_user_id", "federation_audit", ["user_id", "occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_federation_audit_user_id", table_name="federation_audit")
    op.drop_table("federation_audit")
