"""sms channel: conversation state, opt-outs

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 07:00:00

One row per phone number texting us: the case its texts go to (CASE <reference>), NEW
pending, its language and its rate-limit window. Opt-outs live on contact_points (0003).

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sms_conversations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('current_case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('start_new', sa.Boolean(), nullable=False),
    sa.Column('language', sa.String(length=10), nullable=False),
    sa.Column('window_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('window_count', sa.Integer(), nullable=False),
    sa.Column('limited_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['current_case_id'], ['cases.id'], name=op.f('fk_sms_conversations_current_case_id_cases'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_conversations')),
    sa.UniqueConstraint('phone', name=op.f('uq_sms_conversations_phone'))
    )


def downgrade():
    op.drop_table('sms_conversations')
