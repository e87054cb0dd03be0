"""sharing links codes access log

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 05:47:16.321579
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('access_log',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('therapist_id', sa.Uuid(), nullable=False),
    sa.Column('therapist_name', sa.String(length=254), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('resource', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['users.id'], name=op.f('fk_access_log_client_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_log'))
    )
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.create_index('ix_access_log_client_id_at_id', ['client_id', 'at', 'id'], unique=False)

    op.create_table('redemption_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('therapist_id', sa.Uuid(), nullable=False),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['therapist_id'], ['users.id'], name=op.f('fk_redemption_failures_therapist_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redemption_failures'))
    )
    with op.batch_alter_table('redemption_failures', schema=None) as batch_op:
        batch_op.create_index('ix_redemption_failures_therapist_id_failed_at', ['therapist_id', 'failed_at'], unique=False)

    op.create_table('share_codes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('code_digest', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['users.id'], name=op.f('fk_share_codes_client_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_share_codes')),
    sa.UniqueConstraint('code_digest', name=op.f('uq_share_codes_code_digest'))
    )
    with op.batch_alter_table('share_codes', schema=None) as batch_op:
        batch_op.create_index('ix_share_codes_client_id_created_at', ['client_id', 'created_at'], unique=False)

    op.create_table('therapist_links',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('therapist_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['users.id'], name=op.f('fk_therapist_links_client_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['therapist_id'], ['users.id'], name=op.f('fk_therapist_links_therapist_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_therapist_links'))
    )
    with op.batch_alter_table('therapist_links', schema=None) as batch_op:
        batch_op.create_index('ix_therapist_links_client_id_created_at', ['client_id', 'created_at'], unique=False)
        batch_op.create_index('ix_therapist_links_therapist_id_client_id', ['therapist_id', 'client_id'], unique=False)
        batch_op.create_index('uq_therapist_links_active_pair', ['client_id', 'therapist_id'], unique=True, sqlite_where=sa.text('revoked_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL'))

    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.create_index('ix_checkins_user_id_created_at', ['user_id', 'created_at'], unique=False)

    with op.batch_alter_table('episodes', schema=None) as batch_op:
        batch_op.create_index('ix_episodes_user_id_created_at', ['user_id', 'created_at'], unique=False)

    with op.batch_alter_table('exposures', schema=None) as batch_op:
        batch_op.create_index('ix_exposures_user_id_created_at', ['user_id', 'created_at'], unique=False)

    with op.batch_alter_table('release_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_release_sessions_user_id_created_at', ['user_id', 'created_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('release_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_release_sessions_user_id_created_at')

    with op.batch_alter_table('exposures', schema=None) as batch_op:
        batch_op.drop_index('ix_exposures_user_id_created_at')

    with op.batch_alter_table('episodes', schema=None) as batch_op:
        batch_op.drop_index('ix_episodes_user_id_created_at')

    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.drop_index('ix_checkins_user_id_created_at')

    with op.batch_alter_table('therapist_links', schema=None) as batch_op:
        batch_op.drop_index('uq_therapist_links_active_pair', sqlite_where=sa.text('revoked_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL'))
        batch_op.drop_index('ix_therapist_links_therapist_id_client_id')
        batch_op.drop_index('ix_therapist_links_client_id_created_at')

    op.drop_table('therapist_links')
    with op.batch_alter_table('share_codes', schema=None) as batch_op:
        batch_op.drop_index('ix_share_codes_client_id_created_at')

    op.drop_table('share_codes')
    with op.batch_alter_table('redemption_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_redemption_failures_therapist_id_failed_at')

    op.drop_table('redemption_failures')
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index('ix_access_log_client_id_at_id')

    op.drop_table('access_log')
