"""robot credentials encrypted at rest

Group robots' webhook URLs (they carry the DingTalk access token / WeCom key) and
signing secrets are stored as ``fernet:…`` tokens, longer than the old VARCHAR limits,
so both columns become TEXT. Existing plain-text values stay readable and are encrypted
when next saved, or all at once by ``flask tracker encrypt-secrets``.

Downgrading decrypts them again with the app's keys (the previous version reads plain
text only); it refuses when a value cannot be decrypted.

Revision ID: 0008_robot_secrets
Revises: 0007_audit_log
Create Date: 2026-11-22 22:19:36.138711

"""
import sqlalchemy as sa
from alembic import context, op

# revision identifiers, used by Alembic.
revision = '0008_robot_secrets'
down_revision = '0007_audit_log'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('group_channels', schema=None) as batch_op:
        batch_op.alter_column('webhook_url',
               existing_type=sa.VARCHAR(length=500),
               type_=sa.Text(),
               existing_nullable=False)
        batch_op.alter_column('secret',
               existing_type=sa.VARCHAR(length=200),
               type_=sa.Text(),
               existing_nullable=True)


def _decrypt_stored_credentials():
    from flask import current_app

    from tracker.crypto import Undecryptable

    keyring = current_app.extensions["keyring"]
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, webhook_url, secret FROM group_channels")).all()
    for row_id, url, secret in rows:
        try:
            plain = {"url": keyring.decrypt(url),
                     "secret": None if secret is None else keyring.decrypt(secret)}
        except Undecryptable:
            raise RuntimeError(f"robot {row_id}: its credentials cannot be decrypted with the "
                               "configured keys; enter them again or remove the robot before "
                               "downgrading") from None
        conn.execute(sa.text("UPDATE group_channels SET webhook_url = :url, secret = :secret "
                             "WHERE id = :id"), {**plain, "id": row_id})


def downgrade():
    if not context.is_offline_mode():
        _decrypt_stored_credentials()
    with op.batch_alter_table('group_channels', schema=None) as batch_op:
        batch_op.alter_column('secret',
               existing_type=sa.Text(),
               type_=sa.VARCHAR(length=200),
               existing_nullable=True)
        batch_op.alter_column('webhook_url',
               existing_type=sa.Text(),
               type_=sa.VARCHAR(length=500),
               existing_nullable=False)
