"""email channel: threading ids, sender limits, mailbox state

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 07:00:00

IMAP mailbox positions (UIDVALIDITY and the last UID read) and per-sender hourly counts for
the email flood limit. Threading uses the existing indexes on outbox.provider_ref and
messages.external_id.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('email_mailboxes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('mailbox', sa.String(length=300), nullable=False),
    sa.Column('uidvalidity', sa.BigInteger(), nullable=False),
    sa.Column('last_uid', sa.BigInteger(), nullable=False),
    sa.Column('polled_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_mailboxes')),
    sa.UniqueConstraint('mailbox', name=op.f('uq_email_mailboxes_mailbox'))
    )
    op.create_table('email_sender_windows',
    sa.Column('sender', sa.String(length=320), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sender', 'window_start', name=op.f('pk_email_sender_windows'))
    )


def downgrade():
    op.drop_table('email_sender_windows')
    op.drop_table('email_mailboxes')
