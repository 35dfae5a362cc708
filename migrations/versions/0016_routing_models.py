"""routing that learns: stored routing models, and example complaints per category

Revision ID: 0016
Revises: 0009
Create Date: 2026-12-05 12:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('routing_models',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cases_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('corpora', sa.JSON(), nullable=False),
    sa.Column('meta', sa.JSON(), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('payload', sa.LargeBinary(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_models')),
    sa.UniqueConstraint('version', name=op.f('uq_routing_models_version'))
    )
    with op.batch_alter_table('routing_models', schema=None) as batch_op:
        batch_op.create_index('ix_routing_models_status', ['status', 'version'], unique=False)
    with op.batch_alter_table('categories', schema=None) as batch_op:
        batch_op.add_column(sa.Column('examples', sa.JSON(), nullable=False, server_default='[]'))
    with op.batch_alter_table('routing_rules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('after_model', sa.Boolean(), nullable=False, server_default='0'))


def downgrade():
    with op.batch_alter_table('routing_rules', schema=None) as batch_op:
        batch_op.drop_column('after_model')
    with op.batch_alter_table('categories', schema=None) as batch_op:
        batch_op.drop_column('examples')
    with op.batch_alter_table('routing_models', schema=None) as batch_op:
        batch_op.drop_index('ix_routing_models_status')
    op.drop_table('routing_models')
