"""user administration (issue 5): append-only audit, access reviews, review reminders, welcome
e-mail status, trigram index for the cross-hospital user search

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 08:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

APPEND_ONLY_MESSAGE = "admin_audit is append-only"


def upgrade() -> None:
    op.create_table('admin_audit',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('actor_name', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('hospital_id', sa.Uuid(), nullable=True),
    sa.Column('hospital_name', sa.String(length=200), nullable=True),
    sa.Column('before', sa.JSON(), nullable=False),
    sa.Column('after', sa.JSON(), nullable=False),
    sa.CheckConstraint("action IN ('created', 'added_to_hospital', 'access_changed', 'review_removed', "
                       "'unlocked', 'reviewed', 'phone_changed')", name=op.f('ck_admin_audit_action')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_audit'))
    )
    op.create_index('ix_admin_audit_user_id_at', 'admin_audit', ['user_id', 'at'], unique=False)
    op.create_index('ix_admin_audit_hospital_id_action_at', 'admin_audit', ['hospital_id', 'action', 'at'],
                    unique=False)
    op.create_table('access_reviews',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('hospital_id', sa.Uuid(), nullable=False),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reviewed_by_id', sa.Uuid(), nullable=True),
    sa.Column('reviewed_by_name', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_reviews'))
    )
    op.create_index('ix_access_reviews_hospital_id_reviewed_at', 'access_reviews', ['hospital_id', 'reviewed_at'],
                    unique=False)
    op.create_table('review_reminders',
    sa.Column('hospital_id', sa.Uuid(), nullable=False),
    sa.Column('period', sa.String(length=40), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('hospital_id', 'period', name=op.f('pk_review_reminders'))
    )
    op.create_table('user_email_status',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('email_failed', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_email_status_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_user_email_status'))
    )

    op.create_index('ix_users_email_lower', 'users', [sa.literal_column('lower(email)')], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        # Trigram index for the cross-hospital search: partial, case-insensitive terms of 3+
        # characters stay fast at 100k+ users (bench/user_search.py). The query repeats this
        # expression verbatim (identity.adapters.tables.USER_SEARCH_EXPRESSION).
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX ix_users_search_trgm ON users "
                   "USING gin (lower(users.username || ' ' || users.email) gin_trgm_ops)")
        # The audit is append-only, for everyone who can write to the table: a trigger refuses
        # UPDATE and DELETE row by row, another TRUNCATE.
        op.execute(f"""
            CREATE FUNCTION admin_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}' USING ERRCODE = 'insufficient_privilege';
            END $$""")
        op.execute("CREATE TRIGGER admin_audit_no_update_delete BEFORE UPDATE OR DELETE ON admin_audit "
                   "FOR EACH ROW EXECUTE FUNCTION admin_audit_append_only()")
        op.execute("CREATE TRIGGER admin_audit_no_truncate BEFORE TRUNCATE ON admin_audit "
                   "FOR EACH STATEMENT EXECUTE FUNCTION admin_audit_append_only()")
    else:  # SQLite (make run without servers)
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER admin_audit_no_{verb.lower()} BEFORE {verb} ON admin_audit "
                       f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS admin_audit_no_truncate ON admin_audit")
        op.execute("DROP TRIGGER IF EXISTS admin_audit_no_update_delete ON admin_audit")
        op.execute("DROP FUNCTION IF EXISTS admin_audit_append_only()")
        op.execute("DROP INDEX IF EXISTS ix_users_search_trgm")
    op.drop_index('ix_users_email_lower', table_name='users')
    op.drop_table('user_email_status')
    op.drop_table('review_reminders')
    op.drop_index('ix_access_reviews_hospital_id_reviewed_at', table_name='access_reviews')
    op.drop_table('access_reviews')
    op.drop_index('ix_admin_audit_hospital_id_action_at', table_name='admin_audit')
    op.drop_index('ix_admin_audit_user_id_at', table_name='admin_audit')
    op.drop_table('admin_audit')
