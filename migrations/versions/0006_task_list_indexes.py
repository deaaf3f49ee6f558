"""partial indexes for top-level task lists

Revision ID: 0006_task_list_indexes
Revises: 0005_reports
Create Date: 2026-11-22 20:15:00

Measured at district scale (30,000 tasks): the planner read "parent_id IS NULL" through
ix_tasks_parent_id as if it were selective and scanned most of the district; the task
list's SQL time fell from 27.9 ms to 1.3 ms with these indexes.
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_task_list_indexes'
down_revision = '0005_reports'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_parent_id')
    op.create_index('ix_tasks_parent_id', 'tasks', ['parent_id'], unique=False,
                    sqlite_where=sa.text('parent_id IS NOT NULL'),
                    postgresql_where=sa.text('parent_id IS NOT NULL'))
    op.create_index('ix_tasks_org_top_due', 'tasks', ['organization_id', 'due_date'],
                    unique=False, sqlite_where=sa.text('parent_id IS NULL'),
                    postgresql_where=sa.text('parent_id IS NULL'))


def downgrade():
    op.drop_index('ix_tasks_org_top_due', table_name='tasks')
    op.drop_index('ix_tasks_parent_id', table_name='tasks')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_parent_id', ['parent_id'], unique=False)
