"""paper mail: letters and print batches

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 07:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('print_batches',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('letters', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('mailed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('mailed_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff_users.id'], name=op.f('fk_print_batches_created_by_id_staff_users')),
    sa.ForeignKeyConstraint(['mailed_by_id'], ['staff_users.id'], name=op.f('fk_print_batches_mailed_by_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_print_batches'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('print_batch_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_outbox_print_batch_id_print_batches'), 'print_batches', ['print_batch_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_outbox_print_batch_id_print_batches'), type_='foreignkey')
        batch_op.drop_column('print_batch_id')
    op.drop_table('print_batches')
