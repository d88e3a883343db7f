"""single-use set-password tokens (welcome link, reset)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 08:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('set_password_tokens',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("purpose IN ('activation', 'reset')", name=op.f('ck_set_password_tokens_purpose')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_set_password_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_set_password_tokens'))
    )
    op.create_index(op.f('ix_set_password_tokens_user_id'), 'set_password_tokens', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_set_password_tokens_user_id'), table_name='set_password_tokens')
    op.drop_table('set_password_tokens')
