"""clock outcomes: why and when a clock stopped, which clock took over, real time paused

A clock records when it was created (one created already past due - a transfer, a letter
scanned late - counts in the period it was created in, so past periods never change).
A clock that stops without being met keeps what became of it (closed, withdrawn by the
customer, merged, transferred) and when; a clock that a newer one replaced (the receiving
agency's after a transfer, a new resolve clock after a reopen) says when; the real time
spent waiting on the customer is kept in seconds for the public recount. Existing stopped
clocks are given the reason their case shows (merged, else closed), the case's closing
time, and, if they had passed their due time when it closed, the breach the sweep may not
have recorded.

Revision ID: 0015
Revises: 0009
Create Date: 2026-12-01 12:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0015"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("sla_clocks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("stop_reason", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("paused_seconds", sa.Float(), nullable=False, server_default="0")
        )
    op.execute(
        "UPDATE sla_clocks SET"
        " stop_reason = (SELECT CASE WHEN cases.merged_into_id IS NOT NULL THEN 'merged'"
        "  ELSE 'closed' END FROM cases WHERE cases.id = sla_clocks.case_id),"
        " stopped_at = (SELECT cases.closed_at FROM cases WHERE cases.id = sla_clocks.case_id)"
        " WHERE phase = 'stopped'"
    )
    op.execute(
        "UPDATE sla_clocks SET breached_at = due_at"
        " WHERE phase = 'stopped' AND breached_at IS NULL"
        " AND stopped_at IS NOT NULL AND due_at <= stopped_at"
    )


def downgrade():
    with op.batch_alter_table("sla_clocks", schema=None) as batch_op:
        batch_op.drop_column("paused_seconds")
        batch_op.drop_column("superseded_at")
        batch_op.drop_column("stop_reason")
        batch_op.drop_column("stopped_at")
        batch_op.drop_column("created_at")
