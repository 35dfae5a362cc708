"""staff workspace: sign-in, lockout, saved replies

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 07:00:00

Lockout fields and last sign-in on staff_users; saved_replies for the case page's reply form;
indexes for the all-agency queue (next_due_at, id), merged cases (merged_into_id) and
running clocks' at-risk times and breachable due times (expression indexes, for their
statistics).

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True))

    op.create_table('saved_replies',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('agency_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_saved_replies_agency_id_agencies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff_users.id'], name=op.f('fk_saved_replies_created_by_id_staff_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_replies'))
    )
    with op.batch_alter_table('saved_replies', schema=None) as batch_op:
        batch_op.create_index('ix_saved_replies_agency', ['agency_id', 'title'], unique=False)

    # "At risk" lists: statistics and an index for running clocks' at-risk times.
    op.create_index(
        'ix_sla_clocks_running_at_risk', 'sla_clocks',
        [sa.text("(CASE WHEN phase = 'running' THEN at_risk_at END)")], unique=False,
    )

    op.create_index(
        'ix_sla_clocks_breachable_due', 'sla_clocks',
        [sa.text("(CASE WHEN phase = 'running' OR (phase = 'met' AND met_at > due_at) THEN due_at END)")],
        unique=False,
    )

    if op.get_bind().dialect.name == 'postgresql':
        # Fine histograms: "none (or 9) breached out of 300,000 clocks" must read as few.
        op.execute("ALTER INDEX ix_sla_clocks_running_at_risk ALTER COLUMN 1 SET STATISTICS 1000")
        op.execute("ALTER INDEX ix_sla_clocks_breachable_due ALTER COLUMN 1 SET STATISTICS 1000")

    # The admin's all-agency queue (due first) and the case page's merged cases.
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_next_due', ['next_due_at', 'id'], unique=False)
        batch_op.create_index('ix_cases_merged_into', ['merged_into_id'], unique=False)


def downgrade():
    op.drop_index('ix_sla_clocks_breachable_due', table_name='sla_clocks')
    op.drop_index('ix_sla_clocks_running_at_risk', table_name='sla_clocks')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_merged_into')
        batch_op.drop_index('ix_cases_next_due')

    with op.batch_alter_table('saved_replies', schema=None) as batch_op:
        batch_op.drop_index('ix_saved_replies_agency')
    op.drop_table('saved_replies')
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.drop_column('last_login_at')
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_logins')
