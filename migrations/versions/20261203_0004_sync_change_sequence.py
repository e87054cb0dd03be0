"""sync change sequence

Existing rows are numbered per user in the order they were last updated, so a device that syncs
from an empty cursor after the upgrade receives them all.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 07:42:30.529772
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sync_counters',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('purged_through', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_sync_counters_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_sync_counters'))
    )
    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.add_column(sa.Column('change_seq', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.create_index('ix_checkins_user_id_change_seq', ['user_id', 'change_seq'], unique=False)

    with op.batch_alter_table('custom_factors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('change_seq', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.create_index('ix_custom_factors_user_id_change_seq', ['user_id', 'change_seq'], unique=False)

    with op.batch_alter_table('episodes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('change_seq', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.create_index('ix_episodes_user_id_change_seq', ['user_id', 'change_seq'], unique=False)

    with op.batch_alter_table('exposures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('change_seq', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.create_index('ix_exposures_user_id_change_seq', ['user_id', 'change_seq'], unique=False)

    with op.batch_alter_table('release_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('change_seq', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.create_index('ix_release_sessions_user_id_change_seq', ['user_id', 'change_seq'], unique=False)

    with op.batch_alter_table('routines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('change_seq', sa.BigInteger(), nullable=False, server_default='0'))

    _number_existing_rows()
    for table in SYNCABLE:
        # The default only filled the existing rows; the app always sets the column itself.
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('change_seq', server_default=None)


SYNCABLE = ('episodes', 'release_sessions', 'exposures', 'checkins', 'custom_factors', 'routines')


def _number_existing_rows() -> None:
    bind = op.get_bind()
    rows: list[tuple[object, object, str, object]] = []
    for table in SYNCABLE:
        key = 'user_id' if table == 'routines' else 'id'
        for user_id, updated_at, pk in bind.execute(sa.text(f'SELECT user_id, updated_at, {key} FROM {table}')):
            rows.append((user_id, str(updated_at), table, pk))
    rows.sort(key=lambda row: (str(row[0]), row[1], row[2], str(row[3])))
    last: dict[object, int] = {}
    for user_id, _, table, pk in rows:
        last[user_id] = last.get(user_id, 0) + 1
        key = 'user_id' if table == 'routines' else 'id'
        bind.execute(
            sa.text(f'UPDATE {table} SET change_seq = :seq WHERE {key} = :pk'), {'seq': last[user_id], 'pk': pk}
        )
    for user_id, seq in last.items():
        bind.execute(
            sa.text('INSERT INTO sync_counters (user_id, last_seq, purged_through) VALUES (:user_id, :seq, 0)'),
            {'user_id': user_id, 'seq': seq},
        )


def downgrade() -> None:
    with op.batch_alter_table('routines', schema=None) as batch_op:
        batch_op.drop_column('change_seq')

    with op.batch_alter_table('release_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_release_sessions_user_id_change_seq')
        batch_op.drop_column('change_seq')

    with op.batch_alter_table('exposures', schema=None) as batch_op:
        batch_op.drop_index('ix_exposures_user_id_change_seq')
        batch_op.drop_column('change_seq')

    with op.batch_alter_table('episodes', schema=None) as batch_op:
        batch_op.drop_index('ix_episodes_user_id_change_seq')
        batch_op.drop_column('change_seq')

    with op.batch_alter_table('custom_factors', schema=None) as batch_op:
        batch_op.drop_index('ix_custom_factors_user_id_change_seq')
        batch_op.drop_column('change_seq')

    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.drop_index('ix_checkins_user_id_change_seq')
        batch_op.drop_column('change_seq')

    op.drop_table('sync_counters')
