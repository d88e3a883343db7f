"""password reset — reserved for issue 7 (profile, activation, SMS reset)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 08:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
