"""The ledger's tables as SQLModel classes: the schema in one readable place.

The migration (`ledger/migrations/versions/0001_initial.py`) creates exactly these tables
and a test compares the two. Queries on the hot path use SQLAlchemy Core on the `Table`
objects exported at the bottom (`ORDERS`, `RECORDS`, ...), never ORM sessions.

Every constraint has a name: `ledger.store.errors` translates driver errors by name.
Times are TEXT in the canonical RFC 3339 form of `ledger.timefmt` (UTC, milliseconds,
`Z`): fixed width, so text order is time order, and a value read back hashes to the bytes
that were signed. Hashes that statements carry are hex TEXT; Merkle hashes are raw bytes.
"""

# No `from __future__ import annotations`: SQLModel reads these annotations at run time.

from typing import Any, Final, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

#: records.id: BIGINT in PostgreSQL; in SQLite only `INTEGER PRIMARY KEY` is the
#: auto-assigned rowid, so the variant keeps autoincrement working there.
RECORD_ID_TYPE = BigInteger().with_variant(Integer(), "sqlite")

#: Integer primary keys that the ledger assigns itself (leaf index, tree size, ...).
_NO_AUTOINCREMENT = {"autoincrement": False}


class Order(SQLModel, table=True):
    """The head of one order's chain: the only rows the application updates."""

    __tablename__ = "orders"
    __table_args__ = (
        PrimaryKeyConstraint("tenant", "order_id", name="pk_orders"),
        # PostgreSQL: room on each page for head moves as HOT updates (migration 0011).
        {"postgresql_with": {"fillfactor": 50}},
    )

    tenant: str = Field(sa_type=Text, primary_key=True)
    order_id: str = Field(sa_type=Text, primary_key=True)
    sub_state: str = Field(sa_type=Text)
    main_state: str = Field(sa_type=Text)
    head_seq: int = Field(sa_type=BigInteger)
    head_hash: str = Field(sa_type=Text)
    model: str = Field(sa_type=Text)
    created_at: str = Field(sa_type=Text)
    updated_at: str = Field(sa_type=Text)
    #: The regulation pack's folded order facts as JSON (migration 0003); NULL = initial.
    facts: str | None = Field(default=None, sa_type=Text, nullable=True)


class Record(SQLModel, table=True):
    """One signed statement (evidence-format §1), its hash and signature. Append-only."""

    __tablename__ = "records"
    __table_args__ = (
        PrimaryKeyConstraint("id", name="pk_records"),
        UniqueConstraint("tenant", "order_id", "seq", name="uq_records_order_seq"),
        # The statement hash: unique B-tree in SQLite, hash index in PostgreSQL; the
        # times: B-trees in SQLite, BRIN in PostgreSQL (migration 0011 says why).
        UniqueConstraint("statement_hash", name="uq_records_statement_hash").ddl_if(
            dialect="sqlite"),
        Index("ix_records_statement_hash", "statement_hash", postgresql_using="hash").ddl_if(
            dialect="postgresql"),
        Index("ix_records_tenant_to_state", "tenant", "to_state"),
        Index("ix_records_event_time", "event_time", postgresql_using="brin",
              postgresql_with={"autosummarize": "on"}),
        Index("ix_records_recorded_at", "recorded_at", postgresql_using="brin",
              postgresql_with={"autosummarize": "on"}),
    )

    id: int | None = Field(default=None, sa_type=RECORD_ID_TYPE, primary_key=True)
    v: int = Field(sa_type=Integer)
    log: str = Field(sa_type=Text)
    kind: str = Field(sa_type=Text)
    tenant: str = Field(sa_type=Text)
    order_id: str = Field(sa_type=Text)
    seq: int = Field(sa_type=BigInteger)
    prev: str = Field(sa_type=Text)
    from_state: str | None = Field(default=None, sa_type=Text, nullable=True)
    to_state: str = Field(sa_type=Text)
    event: str = Field(sa_type=Text)
    event_time: str = Field(sa_type=Text)
    recorded_at: str = Field(sa_type=Text)
    actor_type: str = Field(sa_type=Text)
    actor_id: str = Field(sa_type=Text)
    payload_digest: str = Field(sa_type=Text)
    model: str = Field(sa_type=Text)
    rules: str = Field(sa_type=Text)
    key_id: str = Field(sa_type=Text)
    statement_hash: str = Field(sa_type=Text)
    signature: str = Field(sa_type=Text)


class Payload(SQLModel, table=True):
    """A record's payload (canonical JSON text) and salt; both NULL once erased.

    `record_id` names a record without a foreign key (migration 0010 says why); audit
    finds a payload whose record does not exist.
    """

    __tablename__ = "payloads"
    __table_args__ = (
        PrimaryKeyConstraint("record_id", name="pk_payloads"),
        CheckConstraint("(payload IS NULL) = (salt IS NULL)", name="ck_payloads_both_or_neither"),
    )

    record_id: int = Field(sa_type=RECORD_ID_TYPE, primary_key=True)
    payload: str | None = Field(default=None, sa_type=Text, nullable=True)
    salt: bytes | None = Field(default=None, sa_type=LargeBinary, nullable=True)


class Catalogue(SQLModel, table=True):
    """Every state catalogue ever in force, by digest (`sha256:` + hex)."""

    __tablename__ = "catalogues"
    __table_args__ = (PrimaryKeyConstraint("digest", name="pk_catalogues"),)

    digest: str = Field(sa_type=Text, primary_key=True)
    version: str = Field(sa_type=Text)
    document: str = Field(sa_type=Text)


class SigningKey(SQLModel, table=True):
    """A published public key and its interval; only `not_after` may change, once."""

    __tablename__ = "signing_keys"
    __table_args__ = (
        PrimaryKeyConstraint("key_id", name="pk_signing_keys"),
        CheckConstraint("purpose IN ('record', 'log')", name="ck_signing_keys_purpose"),
    )

    key_id: str = Field(sa_type=Text, primary_key=True)
    purpose: str = Field(sa_type=Text)
    alg: str = Field(sa_type=Text)
    public_key: bytes = Field(sa_type=LargeBinary)
    not_before: str = Field(sa_type=Text)
    not_after: str | None = Field(default=None, sa_type=Text, nullable=True)


class IdempotencyKey(SQLModel, table=True):
    """A client's idempotency key, the fingerprint of its request and the record made."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        PrimaryKeyConstraint("tenant", "key", name="pk_idempotency_keys"),
        ForeignKeyConstraint(["record_id"], ["records.id"], name="fk_idempotency_keys_record"),
    )

    tenant: str = Field(sa_type=Text, primary_key=True)
    key: str = Field(sa_type=Text, primary_key=True)
    request_hash: str = Field(sa_type=Text)
    record_id: int = Field(sa_type=RECORD_ID_TYPE)
    created_at: str = Field(sa_type=Text)


class SequencingQueue(SQLModel, table=True):
    """Records committed but not yet in the Merkle log.

    A trigger on `records` fills it, so no committed record can escape the log; the
    sequencer deletes what it integrated. Leaf order is the order the sequencer finds
    committed rows here, never the order ids were allocated in. No foreign key to
    `records`, as for payloads (migration 0010).
    """

    __tablename__ = "sequencing_queue"
    __table_args__ = (
        PrimaryKeyConstraint("record_id", name="pk_sequencing_queue"),
    )

    record_id: int = Field(sa_type=RECORD_ID_TYPE, primary_key=True)


class Leaf(SQLModel, table=True):
    """Leaf `leaf_index` of the Merkle log: a record's RFC 9162 leaf hash (raw bytes)."""

    __tablename__ = "leaves"
    __table_args__ = (
        PrimaryKeyConstraint("leaf_index", name="pk_leaves"),
        UniqueConstraint("record_id", name="uq_leaves_record"),
        ForeignKeyConstraint(["record_id"], ["records.id"], name="fk_leaves_record"),
    )

    leaf_index: int = Field(
        sa_type=BigInteger, primary_key=True, sa_column_kwargs=_NO_AUTOINCREMENT
    )
    record_id: int = Field(sa_type=RECORD_ID_TYPE)
    leaf_hash: bytes = Field(sa_type=LargeBinary)


class MerkleNode(SQLModel, table=True):
    """The hash of the perfect subtree at (`level`, `idx`): leaves idx·2^level onwards."""

    __tablename__ = "merkle_nodes"
    __table_args__ = (PrimaryKeyConstraint("level", "idx", name="pk_merkle_nodes"),)

    level: int = Field(sa_type=Integer, primary_key=True, sa_column_kwargs=_NO_AUTOINCREMENT)
    idx: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs=_NO_AUTOINCREMENT)
    hash: bytes = Field(sa_type=LargeBinary)


class Checkpoint(SQLModel, table=True):
    """A signed checkpoint (C2SP signed note) of the log at `size`."""

    __tablename__ = "checkpoints"
    __table_args__ = (PrimaryKeyConstraint("size", name="pk_checkpoints"),)

    size: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs=_NO_AUTOINCREMENT)
    root: bytes = Field(sa_type=LargeBinary)
    note: str = Field(sa_type=Text)
    created_at: str = Field(sa_type=Text)


class FindingRow(SQLModel, table=True):
    """A regulation finding (severity `flag`) on an accepted record (migration 0003)."""

    __tablename__ = "findings"
    __table_args__ = (
        PrimaryKeyConstraint("id", name="pk_findings"),
        ForeignKeyConstraint(["record_id"], ["records.id"], name="fk_findings_record"),
        Index("ix_findings_tenant_rule", "tenant", "rule_id"),
        Index("ix_findings_record", "record_id"),
    )

    id: int | None = Field(default=None, sa_type=RECORD_ID_TYPE, primary_key=True)
    record_id: int = Field(sa_type=RECORD_ID_TYPE)
    tenant: str = Field(sa_type=Text)
    order_id: str = Field(sa_type=Text)
    seq: int = Field(sa_type=BigInteger)
    sub_state: str = Field(sa_type=Text)
    recorded_at: str = Field(sa_type=Text)
    pack: str = Field(sa_type=Text)
    rule_id: str = Field(sa_type=Text)
    severity: str = Field(sa_type=Text)
    citation: str = Field(sa_type=Text)
    message: str = Field(sa_type=Text)
    field: str = Field(sa_type=Text)


_ARMED_ONLY: Final[dict[str, Any]] = {"postgresql_where": text("state = 'armed'"),
                                      "sqlite_where": text("state = 'armed'")}


class TimerRowTable(SQLModel, table=True):
    """An SLA timer (migration 0004): armed → fired | disarmed, exactly once."""

    __tablename__ = "timers"
    __table_args__ = (
        PrimaryKeyConstraint("id", name="pk_timers"),
        CheckConstraint("state IN ('armed', 'fired', 'disarmed')", name="ck_timers_state"),
        # Partial: closed timers, nearly all rows, are never looked up by these (0008).
        Index("ix_timers_armed_deadline", "deadline", **_ARMED_ONLY),
        Index("ix_timers_armed_next_warn", "next_warn_at", **_ARMED_ONLY),
        Index("ix_timers_armed_name", "tenant", "order_id", "name", **_ARMED_ONLY),
        Index("ix_timers_order", "tenant", "order_id", "state"),
    )

    id: int | None = Field(default=None, sa_type=RECORD_ID_TYPE, primary_key=True)
    tenant: str = Field(sa_type=Text)
    order_id: str = Field(sa_type=Text)
    name: str = Field(sa_type=Text)
    sub_state: str = Field(sa_type=Text)
    armed_seq: int = Field(sa_type=BigInteger)
    deadline: str = Field(sa_type=Text)
    warn_at: str = Field(sa_type=Text)
    next_warn_at: str | None = Field(default=None, sa_type=Text, nullable=True)
    state: str = Field(sa_type=Text)
    created_at: str = Field(sa_type=Text)
    closed_at: str | None = Field(default=None, sa_type=Text, nullable=True)
    closed_by_seq: int | None = Field(default=None, sa_type=BigInteger, nullable=True)


class AlertOutboxRow(SQLModel, table=True):
    """An alert decided in a transaction, waiting for delivery (migration 0004)."""

    __tablename__ = "alert_outbox"
    __table_args__ = (
        PrimaryKeyConstraint("id", name="pk_alert_outbox"),
        Index("ix_alert_outbox_tenant", "tenant", "id"),
    )

    id: int | None = Field(default=None, sa_type=RECORD_ID_TYPE, primary_key=True)
    tenant: str = Field(sa_type=Text)
    kind: str = Field(sa_type=Text)
    body: str = Field(sa_type=Text)
    created_at: str = Field(sa_type=Text)


class WebhookSubscriptionRow(SQLModel, table=True):
    """Where a tenant wants its alerts (migration 0005)."""

    __tablename__ = "webhook_subscriptions"
    __table_args__ = (
        PrimaryKeyConstraint("id", name="pk_webhook_subscriptions"),
        Index("ix_webhook_subscriptions_tenant", "tenant"),
    )

    id: int | None = Field(default=None, sa_type=RECORD_ID_TYPE, primary_key=True)
    tenant: str = Field(sa_type=Text)
    url: str = Field(sa_type=Text)
    secret: str = Field(sa_type=Text)
    event_filter: str = Field(sa_type=Text)
    created_at: str = Field(sa_type=Text)
    disabled_at: str | None = Field(default=None, sa_type=Text, nullable=True)


class AlertDeliveryRow(SQLModel, table=True):
    """One alert to one subscription: pending, delivered or dead (migration 0005)."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        PrimaryKeyConstraint("id", name="pk_alert_deliveries"),
        UniqueConstraint("alert_id", "subscription_id", name="uq_alert_deliveries"),
        ForeignKeyConstraint(["alert_id"], ["alert_outbox.id"], name="fk_deliveries_alert"),
        ForeignKeyConstraint(
            ["subscription_id"], ["webhook_subscriptions.id"], name="fk_deliveries_subscription"
        ),
        CheckConstraint(
            "state IN ('pending', 'delivered', 'dead')", name="ck_alert_deliveries_state"
        ),
        Index("ix_alert_deliveries_due", "state", "next_attempt_at"),
    )

    id: int | None = Field(default=None, sa_type=RECORD_ID_TYPE, primary_key=True)
    alert_id: int = Field(sa_type=RECORD_ID_TYPE)
    subscription_id: int = Field(sa_type=RECORD_ID_TYPE)
    state: str = Field(sa_type=Text)
    attempts: int = Field(sa_type=Integer)
    next_attempt_at: str | None = Field(default=None, sa_type=Text, nullable=True)
    last_status: int | None = Field(default=None, sa_type=Integer, nullable=True)
    last_error: str | None = Field(default=None, sa_type=Text, nullable=True)
    delivered_at: str | None = Field(default=None, sa_type=Text, nullable=True)
    updated_at: str = Field(sa_type=Text)


class AlertCursorRow(SQLModel, table=True):
    """How far the fan-out has read the alert outbox (migration 0005)."""

    __tablename__ = "alert_cursor"
    __table_args__ = (PrimaryKeyConstraint("name", name="pk_alert_cursor"),)

    name: str = Field(sa_type=Text, primary_key=True)
    last_alert_id: int = Field(sa_type=RECORD_ID_TYPE)


class LegalHoldRow(SQLModel, table=True):
    """A legal hold on an order, or on a whole tenant when order_id is NULL (0006)."""

    __tablename__ = "legal_holds"
    __table_args__ = (
        PrimaryKeyConstraint("id", name="pk_legal_holds"),
        Index("ix_legal_holds_scope", "tenant", "order_id", "released_at"),
    )

    id: int | None = Field(default=None, sa_type=RECORD_ID_TYPE, primary_key=True)
    tenant: str = Field(sa_type=Text)
    order_id: str | None = Field(default=None, sa_type=Text, nullable=True)
    reason: str = Field(sa_type=Text)
    placed_by: str = Field(sa_type=Text)
    placed_at: str = Field(sa_type=Text)
    released_by: str | None = Field(default=None, sa_type=Text, nullable=True)
    released_at: str | None = Field(default=None, sa_type=Text, nullable=True)


class RetentionRunRow(SQLModel, table=True):
    """One retention run: its reference time, progress and signed report (0006)."""

    __tablename__ = "retention_runs"
    __table_args__ = (PrimaryKeyConstraint("id", name="pk_retention_runs"),)

    id: int | None = Field(default=None, sa_type=RECORD_ID_TYPE, primary_key=True)
    reference_time: str = Field(sa_type=Text)
    started_at: str = Field(sa_type=Text)
    finished_at: str | None = Field(default=None, sa_type=Text, nullable=True)
    state: str = Field(sa_type=Text)
    archive_path: str | None = Field(default=None, sa_type=Text, nullable=True)
    report: str | None = Field(default=None, sa_type=Text, nullable=True)
    report_signature: str | None = Field(default=None, sa_type=Text, nullable=True)
    key_id: str | None = Field(default=None, sa_type=Text, nullable=True)


class RetentionRunItemRow(SQLModel, table=True):
    """A record a retention run erases, and how far it got (0006)."""

    __tablename__ = "retention_run_items"
    __table_args__ = (
        PrimaryKeyConstraint("run_id", "record_id", name="pk_retention_run_items"),
        ForeignKeyConstraint(["run_id"], ["retention_runs.id"], name="fk_run_items_run"),
        ForeignKeyConstraint(["record_id"], ["records.id"], name="fk_run_items_record"),
        Index("ix_retention_run_items_order", "run_id", "tenant", "order_id"),
    )

    run_id: int = Field(
        sa_type=RECORD_ID_TYPE, primary_key=True, sa_column_kwargs=_NO_AUTOINCREMENT
    )
    record_id: int = Field(
        sa_type=RECORD_ID_TYPE, primary_key=True, sa_column_kwargs=_NO_AUTOINCREMENT
    )
    tenant: str = Field(sa_type=Text)
    order_id: str = Field(sa_type=Text)
    record_class: str = Field(sa_type=Text)
    erased: bool = Field(sa_type=Boolean)
    purge_seq: int | None = Field(default=None, sa_type=BigInteger, nullable=True)


class CarrierSubscriptionRow(SQLModel, table=True):
    """Which order of a tenant a waybill belongs to: routes carrier feed events (0007)."""

    __tablename__ = "carrier_subscriptions"
    __table_args__ = (
        PrimaryKeyConstraint("tenant", "waybill_no", name="pk_carrier_subscriptions"),
        Index("ix_carrier_subscriptions_order", "tenant", "order_id"),
    )

    tenant: str = Field(sa_type=Text, primary_key=True)
    waybill_no: str = Field(sa_type=Text, primary_key=True)
    order_id: str = Field(sa_type=Text)
    carrier_code: str | None = Field(default=None, sa_type=Text, nullable=True)
    registered_by: str = Field(sa_type=Text)
    registered_at: str = Field(sa_type=Text)


class CarrierFeedSecretRow(SQLModel, table=True):
    """A tenant's shared secret for one carrier feed: Kuaidi100 salt or HMAC key (0007)."""

    __tablename__ = "carrier_feed_secrets"
    __table_args__ = (
        PrimaryKeyConstraint("tenant", "feed", name="pk_carrier_feed_secrets"),
        CheckConstraint(
            "feed IN ('kuaidi100', 'aftership', 'generic')", name="ck_carrier_feed_secrets_feed"
        ),
    )

    tenant: str = Field(sa_type=Text, primary_key=True)
    feed: str = Field(sa_type=Text, primary_key=True)
    secret: str = Field(sa_type=Text)
    updated_by: str = Field(sa_type=Text)
    updated_at: str = Field(sa_type=Text)


class CarrierFeedEventRow(SQLModel, table=True):
    """One carrier event a feed delivered, by dedupe key, and what became of it (0007):
    a record, or a finding (refused, unmappable, unrouted, resubscribe). Not evidence:
    the record it produced is."""

    __tablename__ = "carrier_feed_events"
    __table_args__ = (
        PrimaryKeyConstraint("id", name="pk_carrier_feed_events"),
        UniqueConstraint("tenant", "dedupe_key", name="uq_carrier_feed_events_key"),
        ForeignKeyConstraint(["record_id"], ["records.id"], name="fk_carrier_feed_events_record"),
        CheckConstraint(
            "outcome IN ('recorded', 'refused', 'unmappable', 'unrouted', 'resubscribe')",
            name="ck_carrier_feed_events_outcome",
        ),
        Index("ix_carrier_feed_events_outcome", "tenant", "outcome", "id"),
    )

    id: int | None = Field(default=None, sa_type=RECORD_ID_TYPE, primary_key=True)
    tenant: str = Field(sa_type=Text)
    dedupe_key: str = Field(sa_type=Text)
    feed: str = Field(sa_type=Text)
    source: str = Field(sa_type=Text)
    waybill_no: str = Field(sa_type=Text)
    raw_code: str = Field(sa_type=Text)
    raw_text: str = Field(sa_type=Text)
    occurred_at: str = Field(sa_type=Text)
    order_id: str | None = Field(default=None, sa_type=Text, nullable=True)
    event: str | None = Field(default=None, sa_type=Text, nullable=True)
    mapping_version: str | None = Field(default=None, sa_type=Text, nullable=True)
    outcome: str = Field(sa_type=Text)
    status: int = Field(sa_type=Integer)
    record_id: int | None = Field(default=None, sa_type=RECORD_ID_TYPE, nullable=True)
    problem_type: str | None = Field(default=None, sa_type=Text, nullable=True)
    detail: str | None = Field(default=None, sa_type=Text, nullable=True)
    body_sha256: str = Field(sa_type=Text)
    received_at: str = Field(sa_type=Text)
    updated_at: str = Field(sa_type=Text)


def _table(model: type[SQLModel]) -> Table:
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


ORDERS = _table(Order)
RECORDS = _table(Record)
PAYLOADS = _table(Payload)
CATALOGUES = _table(Catalogue)
SIGNING_KEYS = _table(SigningKey)
IDEMPOTENCY_KEYS = _table(IdempotencyKey)
SEQUENCING_QUEUE = _table(SequencingQueue)
LEAVES = _table(Leaf)
MERKLE_NODES = _table(MerkleNode)
CHECKPOINTS = _table(Checkpoint)
FINDINGS = _table(FindingRow)
TIMERS = _table(TimerRowTable)
ALERT_OUTBOX = _table(AlertOutboxRow)
WEBHOOK_SUBSCRIPTIONS = _table(WebhookSubscriptionRow)
ALERT_DELIVERIES = _table(AlertDeliveryRow)
ALERT_CURSOR = _table(AlertCursorRow)
LEGAL_HOLDS = _table(LegalHoldRow)
RETENTION_RUNS = _table(RetentionRunRow)
RETENTION_RUN_ITEMS = _table(RetentionRunItemRow)
CARRIER_SUBSCRIPTIONS = _table(CarrierSubscriptionRow)
CARRIER_FEED_SECRETS = _table(CarrierFeedSecretRow)
CARRIER_FEED_EVENTS = _table(CarrierFeedEventRow)

#: Every ledger table, parents before children (the order to create them in).
LEDGER_TABLES: tuple[Table, ...] = (
    ORDERS,
    RECORDS,
    PAYLOADS,
    CATALOGUES,
    SIGNING_KEYS,
    IDEMPOTENCY_KEYS,
    SEQUENCING_QUEUE,
    LEAVES,
    MERKLE_NODES,
    CHECKPOINTS,
    FINDINGS,
    TIMERS,
    ALERT_OUTBOX,
    WEBHOOK_SUBSCRIPTIONS,
    ALERT_DELIVERIES,
    ALERT_CURSOR,
    LEGAL_HOLDS,
    RETENTION_RUNS,
    RETENTION_RUN_ITEMS,
    CARRIER_SUBSCRIPTIONS,
    CARRIER_FEED_SECRETS,
    CARRIER_FEED_EVENTS,
)

#: Tables whose rows the database refuses to UPDATE or DELETE (triggers; TRUNCATE too in
#: PostgreSQL). `payloads` and `signing_keys` have narrower triggers of their own.
APPEND_ONLY_TABLES: tuple[str, ...] = (
    "records",
    "leaves",
    "merkle_nodes",
    "checkpoints",
    "catalogues",
    "findings",
)
