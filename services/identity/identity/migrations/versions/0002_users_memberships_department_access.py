"""users, hospital memberships, department access

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 16:52:43.758632
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('users',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('keycloak_id', sa.String(length=64), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('phone', sa.String(length=16), nullable=True),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('registry_admin', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('keycloak_id', name=op.f('uq_users_keycloak_id'))
    )
    op.create_index('uq_users_username_lower', 'users', [sa.literal_column('lower(username)')], unique=True)
    op.create_table('department_access',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('department_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_department_access_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'department_id', name=op.f('pk_department_access'))
    )
    op.create_index(op.f('ix_department_access_department_id'), 'department_access', ['department_id'], unique=False)
    op.create_table('hospital_memberships',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('hospital_id', sa.Uuid(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.CheckConstraint("role IN ('local_admin', 'clinician', 'secretary')", name=op.f('ck_hospital_memberships_role')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_hospital_memberships_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'hospital_id', name=op.f('pk_hospital_memberships'))
    )
    op.create_index(op.f('ix_hospital_memberships_hospital_id'), 'hospital_memberships', ['hospital_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_hospital_memberships_hospital_id'), table_name='hospital_memberships')
    op.drop_table('hospital_memberships')
    op.drop_index(op.f('ix_department_access_department_id'), table_name='department_access')
    op.drop_table('department_access')
    op.drop_index('uq_users_username_lower', table_name='users')
    op.drop_table('users')
