"""public accountability: surveys, published performance, open311

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 07:00:00

Published performance snapshots, A-11 §280 survey invitations and responses (one per case),
registered Open311 apps with hashed api keys.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('performance_snapshots',
    sa.Column('id', _ID, nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_performance_snapshots'))
    )
    with op.batch_alter_table('performance_snapshots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_performance_snapshots_computed_at'), ['computed_at'], unique=False)

    op.create_table('survey_invitations',
    sa.Column('id', _ID, nullable=False),
    sa.Column('case_id', _ID, nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('language', sa.String(length=10), nullable=False),
    sa.Column('offered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_survey_invitations_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_invitations')),
    sa.UniqueConstraint('case_id', name=op.f('uq_survey_invitations_case_id')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_survey_invitations_token_hash'))
    )
    op.create_table('survey_responses',
    sa.Column('id', _ID, nullable=False),
    sa.Column('case_id', _ID, nullable=False),
    sa.Column('invitation_id', _ID, nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('language', sa.String(length=10), nullable=False),
    sa.Column('satisfaction', sa.Integer(), nullable=True),
    sa.Column('trust', sa.Integer(), nullable=True),
    sa.Column('effectiveness', sa.Integer(), nullable=True),
    sa.Column('ease', sa.Integer(), nullable=True),
    sa.Column('efficiency', sa.Integer(), nullable=True),
    sa.Column('transparency', sa.Integer(), nullable=True),
    sa.Column('humanity', sa.Integer(), nullable=True),
    sa.Column('employee', sa.Integer(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('standard_met', sa.Boolean(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_survey_responses_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invitation_id'], ['survey_invitations.id'], name=op.f('fk_survey_responses_invitation_id_survey_invitations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_responses')),
    sa.UniqueConstraint('case_id', name=op.f('uq_survey_responses_case_id'))
    )
    op.create_table('open311_apps',
    sa.Column('id', _ID, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('contact', sa.String(length=254), nullable=True),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_open311_apps')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_open311_apps_key_hash'))
    )


def downgrade():
    op.drop_table('open311_apps')
    op.drop_table('survey_responses')
    op.drop_table('survey_invitations')
    with op.batch_alter_table('performance_snapshots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_performance_snapshots_computed_at'))
    op.drop_table('performance_snapshots')
