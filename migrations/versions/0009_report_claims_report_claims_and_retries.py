"""report claims and retries

A report's generation (and its delivery by e-mail) is held by a claim with an end
time, so that one cut off — the process killed or hanging — is taken over by the next
sweep instead of staying "running" for good; failed scheduled generations are tried
again a bounded number of times.

Reports left "running" by an earlier version have no claim time: the first sweep
after the upgrade treats them as stale (a due term report is generated again, any
other is shown failed and can be retried by hand).

Revision ID: 0009_report_claims
Revises: 0008_robot_secrets
Create Date: 2026-11-23 10:12:03.511204

"""
import sqlalchemy as sa
from alembic import op

import tracker.models.base

# revision identifiers, used by Alembic.
revision = '0009_report_claims'
down_revision = '0008_robot_secrets'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0',
                                      nullable=False))
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('claimed_until', tracker.models.base.UTCDateTime(),
                                      nullable=True))
        batch_op.add_column(sa.Column('next_attempt_at', tracker.models.base.UTCDateTime(),
                                      nullable=True))
    # Every report stored so far was begun once.
    op.execute("UPDATE reports SET attempts = 1 WHERE status <> 'pending'")


def downgrade():
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('claimed_by')
        batch_op.drop_column('attempts')
