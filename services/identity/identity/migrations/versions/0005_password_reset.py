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
    op.create_table('password_reset_requests',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('username_key', sa.String(length=254), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('failed_attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_password_reset_requests_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_password_reset_requests'))
    )
    op.create_table('password_reset_codes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('request_id', sa.Uuid(), nullable=False),
    sa.Column('username_key', sa.String(length=254), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['password_reset_requests.id'], name=op.f('fk_password_reset_codes_request_id_password_reset_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_password_reset_codes'))
    )
    op.create_index(op.f('ix_password_reset_codes_request_id'), 'password_reset_codes', ['request_id'], unique=False)
    op.create_index('ix_password_reset_codes_username_created', 'password_reset_codes', ['username_key', 'created_at'], unique=False)
    op.create_table('password_changes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('lock_cleared', sa.Boolean(), nullable=False),
    sa.CheckConstraint("purpose IN ('activation', 'reset')", name=op.f('ck_password_changes_purpose')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_password_changes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_password_changes'))
    )
    op.create_index(op.f('ix_password_changes_user_id'), 'password_changes', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_password_changes_user_id'), table_name='password_changes')
    op.drop_table('password_changes')
    op.drop_index('ix_password_reset_codes_username_created', table_name='password_reset_codes')
    op.drop_index(op.f('ix_password_reset_codes_request_id'), table_name='password_reset_codes')
    op.drop_table('password_reset_codes')
    op.drop_table('password_reset_requests')
