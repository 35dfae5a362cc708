"""identity proven, evidence kept: contacts on cases, proven contact points, one-time codes,
customer merges, message versions

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 09:00:00

Existing data: a contact point is proven for its customer when it is the customer's only
email/phone (a customer with several may hold one attached by someone else's form, so none
of theirs is proven); each case gets as its contacts the customer's email/phone points that
existed when it was opened (only email for an email case, only phone for a text). Messages
whose text a mailroom correction replaced get their original back, the correction kept as
a version beside it (and a case that was not a letter gets its description back too).
"""
from datetime import UTC, datetime, timedelta

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0015'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
# A point inserted with its case is stamped a moment after the case (same transaction).
SAME_INTAKE = timedelta(seconds=60)
BATCH = 5000


def upgrade():
    with op.batch_alter_table('contact_points', schema=None) as batch_op:
        batch_op.add_column(sa.Column('proven_by', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('proven_at', sa.DateTime(timezone=True), nullable=True))

    op.create_table('case_contacts',
    sa.Column('id', BigId, nullable=False),
    sa.Column('case_id', BigId, nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_contacts_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_contacts')),
    sa.UniqueConstraint('case_id', 'kind', 'value', name='uq_case_contacts_case_kind_value')
    )
    with op.batch_alter_table('case_contacts', schema=None) as batch_op:
        batch_op.create_index('ix_case_contacts_kind_value', ['kind', 'value', 'case_id'], unique=False)

    op.create_table('contact_codes',
    sa.Column('id', BigId, nullable=False),
    sa.Column('case_id', BigId, nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('sent_kind', sa.String(length=10), nullable=False),
    sa.Column('sent_to', sa.Text(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_reason', sa.String(length=20), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_contact_codes_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_codes'))
    )
    with op.batch_alter_table('contact_codes', schema=None) as batch_op:
        batch_op.create_index('ix_contact_codes_case', ['case_id', 'created_at'], unique=False)
        batch_op.create_index('ix_contact_codes_contact', ['kind', 'value', 'created_at'], unique=False)

    op.create_table('customer_merges',
    sa.Column('id', BigId, nullable=False),
    sa.Column('from_customer_id', BigId, nullable=False),
    sa.Column('into_customer_id', BigId, nullable=False),
    sa.Column('actor_id', BigId, nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('moved', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['staff_users.id'], name=op.f('fk_customer_merges_actor_id_staff_users')),
    sa.ForeignKeyConstraint(['from_customer_id'], ['customers.id'], name=op.f('fk_customer_merges_from_customer_id_customers')),
    sa.ForeignKeyConstraint(['into_customer_id'], ['customers.id'], name=op.f('fk_customer_merges_into_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_merges'))
    )
    with op.batch_alter_table('customer_merges', schema=None) as batch_op:
        batch_op.create_index('ix_customer_merges_from', ['from_customer_id'], unique=False)
        batch_op.create_index('ix_customer_merges_into', ['into_customer_id'], unique=False)

    op.create_table('message_versions',
    sa.Column('id', BigId, nullable=False),
    sa.Column('message_id', BigId, nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('author_id', BigId, nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['staff_users.id'], name=op.f('fk_message_versions_author_id_staff_users')),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_message_versions_message_id_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_versions'))
    )
    with op.batch_alter_table('message_versions', schema=None) as batch_op:
        batch_op.create_index('ix_message_versions_message', ['message_id', 'id'], unique=False)

    conn = op.get_bind()
    _prove_single_contacts(conn)
    _case_contacts(conn)
    _restore_corrected_messages(conn)


def _utc(value):
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_points = sa.table(
    'contact_points',
    sa.column('id', sa.BigInteger), sa.column('customer_id', sa.BigInteger),
    sa.column('kind', sa.String), sa.column('value', sa.Text),
    sa.column('created_at', sa.DateTime(timezone=True)),
    sa.column('proven_by', sa.String), sa.column('proven_at', sa.DateTime(timezone=True)),
)
_cases = sa.table(
    'cases',
    sa.column('id', sa.BigInteger), sa.column('customer_id', sa.BigInteger),
    sa.column('channel', sa.String), sa.column('created_at', sa.DateTime(timezone=True)),
    sa.column('description', sa.Text),
)
_case_contacts_t = sa.table(
    'case_contacts',
    sa.column('case_id', sa.BigInteger), sa.column('kind', sa.String),
    sa.column('value', sa.Text), sa.column('source', sa.String),
    sa.column('created_at', sa.DateTime(timezone=True)),
)
_messages = sa.table(
    'messages',
    sa.column('id', sa.BigInteger), sa.column('case_id', sa.BigInteger),
    sa.column('body', sa.Text), sa.column('meta', sa.JSON),
)
_versions = sa.table(
    'message_versions',
    sa.column('id', sa.BigInteger), sa.column('message_id', sa.BigInteger),
    sa.column('body', sa.Text), sa.column('reason', sa.String),
    sa.column('author_id', sa.BigInteger), sa.column('created_at', sa.DateTime(timezone=True)),
)
_events = sa.table(
    'events',
    sa.column('case_id', sa.BigInteger), sa.column('kind', sa.String),
    sa.column('at', sa.DateTime(timezone=True)),
)


def _prove_single_contacts(conn):
    reachable = _points.c.kind.in_(('email', 'phone'))
    single = (
        sa.select(_points.c.customer_id)
        .where(reachable)
        .group_by(_points.c.customer_id)
        .having(sa.func.count() == 1)
    )
    conn.execute(
        _points.update()
        .where(reachable, _points.c.customer_id.in_(single))
        .values(proven_by='intake', proven_at=_points.c.created_at)
    )


def _case_contacts(conn):
    last = 0
    while True:
        cases = conn.execute(
            sa.select(_cases.c.id, _cases.c.customer_id, _cases.c.channel, _cases.c.created_at)
            .where(_cases.c.id > last).order_by(_cases.c.id).limit(BATCH)
        ).all()
        if not cases:
            return
        last = cases[-1].id
        customers = {c.customer_id for c in cases}
        points = {}
        for p in conn.execute(
            sa.select(_points.c.customer_id, _points.c.kind, _points.c.value, _points.c.created_at)
            .where(_points.c.customer_id.in_(customers), _points.c.kind.in_(('email', 'phone')))
        ):
            points.setdefault(p.customer_id, []).append(p)
        rows = []
        for case in cases:
            opened = _utc(case.created_at)
            kinds = {'email': {'email'}, 'sms': {'phone'}}.get(case.channel, {'email', 'phone'})
            for p in points.get(case.customer_id, []):
                if p.kind in kinds and _utc(p.created_at) <= opened + SAME_INTAKE:
                    rows.append({'case_id': case.id, 'kind': p.kind, 'value': p.value,
                                 'source': 'intake', 'created_at': opened})
        if rows:
            conn.execute(_case_contacts_t.insert(), rows)


def _restore_corrected_messages(conn):
    """Before this revision a mailroom correction replaced the message's text and kept the
    original under meta["ocr_text"]: put the original back and keep the correction as a
    version beside it."""
    now = datetime.now(UTC)
    found = conn.execute(
        sa.select(_messages.c.id, _messages.c.case_id, _messages.c.body, _messages.c.meta)
        .where(sa.cast(_messages.c.meta, sa.Text).like('%"ocr_text"%'))
    ).all()
    for message in found:
        meta = message.meta or {}
        if not isinstance(meta, dict) or 'ocr_text' not in meta:
            continue
        original = meta['ocr_text'] or ''
        corrected_at = conn.execute(
            sa.select(sa.func.min(_events.c.at))
            .where(_events.c.case_id == message.case_id, _events.c.kind == 'scan_text_corrected')
        ).scalar()
        conn.execute(_versions.insert().values(
            message_id=message.id, body=message.body, reason='ocr_review', author_id=None,
            created_at=_utc(corrected_at) or now,
        ))
        rest = {k: v for k, v in meta.items() if k != 'ocr_text'}
        conn.execute(
            _messages.update().where(_messages.c.id == message.id)
            .values(body=original, meta=rest)
        )
        channel = conn.execute(
            sa.select(_cases.c.channel).where(_cases.c.id == message.case_id)
        ).scalar()
        if channel != 'mail':  # a correction that should never have happened
            conn.execute(
                _cases.update().where(_cases.c.id == message.case_id)
                .values(description=original)
            )


def downgrade():
    conn = op.get_bind()
    # The latest correction becomes the message's text again, the original back in meta.
    latest = {}
    for v in conn.execute(sa.select(_versions.c.message_id, _versions.c.body).order_by(_versions.c.id)):
        latest[v.message_id] = v.body
    for message_id, body in latest.items():
        message = conn.execute(
            sa.select(_messages.c.body, _messages.c.meta).where(_messages.c.id == message_id)
        ).one()
        meta = dict(message.meta or {}, ocr_text=message.body)
        conn.execute(
            _messages.update().where(_messages.c.id == message_id).values(body=body, meta=meta)
        )

    with op.batch_alter_table('message_versions', schema=None) as batch_op:
        batch_op.drop_index('ix_message_versions_message')
    op.drop_table('message_versions')
    with op.batch_alter_table('customer_merges', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_merges_into')
        batch_op.drop_index('ix_customer_merges_from')
    op.drop_table('customer_merges')
    with op.batch_alter_table('contact_codes', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_codes_contact')
        batch_op.drop_index('ix_contact_codes_case')
    op.drop_table('contact_codes')
    with op.batch_alter_table('case_contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_case_contacts_kind_value')
    op.drop_table('case_contacts')
    with op.batch_alter_table('contact_points', schema=None) as batch_op:
        batch_op.drop_column('proven_at')
        batch_op.drop_column('proven_by')
