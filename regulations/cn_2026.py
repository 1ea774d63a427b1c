"""The default pack `cn-fulfilment-2026@1.0.0`: China B2C fulfilment rules.

Each rule cites its source. DOMAIN.md §4 says which texts were read; a citation whose
article or wording was not checked says so (`CitationStatus.NOT_VERIFIED`), and a rule
that rests on orderledger's own design rather than law says that too (`DESIGN`).
docs/regulations.md explains every rule and why it blocks or only flags.

Thresholds that are design choices, not law, live in `Cn2026Thresholds`; a later pack
version changes them by building a pack with other values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from regulations import cn_actionable as actionable
from regulations import cn_lifecycle as lifecycle
from regulations.citation import Citation, CitationStatus
from regulations.errors import RegulationError
from regulations.model import TRANSITIONS, Check, Pack, Rule, Severity
from regulations.pack import DEFAULT_PACK, PackId
from regulations.retention import ClockStart, RecordClass, RetentionPolicy, RetentionRule
from regulations.values import CHINA_TIME

EFFECTIVE_FROM: Final = datetime(2026, 1, 1, tzinfo=CHINA_TIME)

_NOT_VERIFIED: Final = CitationStatus.NOT_VERIFIED
ECOMMERCE_31: Final = Citation("电子商务法", "§31")
ECOMMERCE_51: Final = Citation("电子商务法", "§51")
ECOMMERCE_52: Final = Citation("电子商务法", "§52")
CONSUMER_25: Final = Citation("消费者权益保护法", "§25")
PIPL_6: Final = Citation("个人信息保护法", "§6")
GB_31605: Final = Citation("GB 31605-2020", "monitoring, records and alarms")
GB_T_2260: Final = Citation("GB/T 2260", "administrative division codes", _NOT_VERIFIED)
CATALOGUE: Final = Citation("orderledger state catalogue", "DOMAIN.md §7 actionable fields",
                            CitationStatus.DESIGN)
TIME_ORDER: Final = Citation("orderledger ADR 0004", "event time plausibility",
                             CitationStatus.DESIGN)
OPERATION_RETENTION: Final = Citation("orderledger DESIGN.md", "invariant 7 (18 months)",
                                      CitationStatus.DESIGN)


@dataclass(frozen=True, slots=True)
class Cn2026Thresholds:
    """Tolerances of the time and cold-chain rules (design choices, not law).

    Raises RegulationError unless 0 <= backwards_flag_after < backwards_block_after and
    the other values are positive.
    """

    backwards_flag_after: timedelta = timedelta(minutes=10)
    backwards_block_after: timedelta = timedelta(hours=24)
    future_skew: timedelta = timedelta(minutes=5)
    cold_chain_excursion: timedelta = timedelta(minutes=30)

    def __post_init__(self) -> None:
        if not timedelta(0) <= self.backwards_flag_after < self.backwards_block_after:
            raise RegulationError("need 0 <= backwards_flag_after < backwards_block_after")
        if self.future_skew <= timedelta(0) or self.cold_chain_excursion <= timedelta(0):
            raise RegulationError("future_skew and cold_chain_excursion must be positive")


def retention_policy() -> RetentionPolicy:
    """Operation records >= 18 months from recording; transaction records >= 3 years
    from the transaction's close (电子商务法 §31)."""
    return RetentionPolicy(
        rules={
            RecordClass.OPERATION: RetentionRule(
                RecordClass.OPERATION, 18, ClockStart.RECORDED_AT, OPERATION_RETENTION,
                "every record, whatever its class, is kept at least this long"),
            RecordClass.TRANSACTION: RetentionRule(
                RecordClass.TRANSACTION, 36, ClockStart.TRANSACTION_CLOSED, ECOMMERCE_31,
                "goods, service and transaction information: 3 years from completion"),
        },
        # Order, payment, audit/allocation, delivery and cooling-off, returns and
        # refunds, after-sales service and closure are the transaction itself; the
        # logistics legs in between are operations on it.
        main_states={
            "M01": RecordClass.TRANSACTION, "M02": RecordClass.TRANSACTION,
            "M03": RecordClass.OPERATION, "M04": RecordClass.OPERATION,
            "M05": RecordClass.OPERATION, "M06": RecordClass.OPERATION,
            "M07": RecordClass.OPERATION, "M08": RecordClass.TRANSACTION,
            "M09": RecordClass.OPERATION, "M10": RecordClass.TRANSACTION,
            "M11": RecordClass.TRANSACTION, "M12": RecordClass.TRANSACTION,
        },
        kinds={
            "sla_breach": RecordClass.OPERATION,
            "legal_hold": RecordClass.OPERATION,
            "legal_hold_release": RecordClass.OPERATION,
            "retention_purge": RecordClass.OPERATION,
        },
        default_class=RecordClass.TRANSACTION,
    )  # fmt: skip


def _rule(rule_id: str, zh: str, en: str, citation: Citation, severity: Severity,
          check: Check, rationale: str) -> Rule:
    return Rule(rule_id, zh, en, citation, severity, check, rationale)


def _actionable_rules() -> list[Rule]:
    block = Severity.BLOCK
    return [
        _rule("CN-ACTIONABLE-001", "必填可执行字段", "Required actionable fields present",
              CATALOGUE, block, Check(actionable.required_fields_present, scope=TRANSITIONS),
              "a status without its actionable fields cannot be acted on or timed"),
        _rule("CN-ACTIONABLE-002", "预计时间晚于事件时间", "Estimates lie after the event",
              CATALOGUE, block, Check(actionable.estimates_after_event),
              "an estimate already past when made arms a timer that is breached at once"),
        _rule("CN-ACTIONABLE-003", "行政区划代码有效", "GB/T 2260 codes plausible",
              GB_T_2260, block, Check(actionable.admin_codes_plausible),
              "a wrong location code misroutes alerts and regional reports"),
        _rule("CN-ACTIONABLE-004", "承运商与运单号有效", "Carrier code and waybill plausible",
              CATALOGUE, block, Check(actionable.carrier_and_waybill_plausible),
              "a parcel that cannot be tracked cannot be followed up"),
    ]


def _consumer_rules() -> list[Rule]:
    block, flag = Severity.BLOCK, Severity.FLAG
    return [
        _rule("CN-CONSENT-001", "代签/投柜须经同意", "Consent for proxy, locker or station",
              ECOMMERCE_52, block, Check(lifecycle.consent_recorded, scope=lifecycle.CONSENT_SCOPE),
              "handing goods to anyone but the recipient without consent is unlawful "
              "(also 快递市场管理办法); the record would prove a delivery that did not count"),
        _rule("CN-DELIVERY-001", "签收时间即交付时间", "Signature time is the delivery time",
              ECOMMERCE_51, block, Check(lifecycle.signature_fixes_delivery,
                                             scope=lifecycle.SIGNATURE_SCOPE),
              "the signature time starts the cooling-off window and moves transport risk "
              "(电子商务法 §20); an unreadable one leaves both undefined"),
        _rule("CN-COOLOFF-001", "七日无理由退货期完整", "Cooling-off window is complete",
              CONSUMER_25, block, Check(lifecycle.cooling_off_window_complete,
                                            scope=lifecycle.COOLING_OFF_SCOPE),
              "a window shorter than 7 days from signature takes away a statutory right"),
        _rule("CN-COOLOFF-002", "排除须购买时确认", "Exclusion confirmed at purchase",
              CONSUMER_25, block, Check(lifecycle.exclusion_confirmed_at_purchase,
                                            scope=lifecycle.COOLING_OFF_SCOPE),
              "an exclusion confirmed after purchase does not bind the consumer"),
        _rule("CN-COOLOFF-003", "冷静期届满前不得完成", "No completion inside the window",
              CONSUMER_25, block, Check(lifecycle.completion_after_cooling_off,
                                            scope=lifecycle.COMPLETION_SCOPE),
              "completing while the window is open would cut off a lawful return request"),
        _rule("CN-RETURN-001", "期内无理由退货不得拒绝", "No-reason return not refused",
              CONSUMER_25, block, Check(lifecycle.no_reason_return_not_refused,
                                            scope=lifecycle.REJECTION_SCOPE),
              "refusing a timely no-reason return breaks 消保法 §25 outright"),
        _rule("CN-RETURN-002", "期内申请须标记为期内", "Request in window marked so",
              CONSUMER_25, block, Check(lifecycle.cooling_off_not_understated,
                                            scope=lifecycle.RETURN_REQUEST_SCOPE),
              "marking a timely request as late would let it be refused"),
        _rule("CN-RETURN-003", "期外申请不应标记为期内", "Request outside window not marked in",
              CONSUMER_25, flag, Check(lifecycle.cooling_off_not_overstated,
                                           scope=lifecycle.RETURN_REQUEST_SCOPE),
              "granting more than the law asks harms nobody, but the data is wrong"),
        _rule("CN-REFUND-001", "收到退货七日内退款", "Refund within 7 days of the return",
              CONSUMER_25, flag, Check(lifecycle.refund_within_period,
                                           scope=lifecycle.REFUND_SCOPE),
              "a late refund must still be recorded (refusing it helps nobody); the "
              "finding and the SLA timer report the breach"),
    ]


def _integrity_rules(thresholds: Cn2026Thresholds, retention: RetentionPolicy) -> list[Rule]:
    transaction_months = retention.rules[RecordClass.TRANSACTION].minimum_months
    block, flag = Severity.BLOCK, Severity.FLAG
    return [
        _rule("CN-TIME-001", "事件时间小幅倒序", "Event time runs back (tolerated)",
              TIME_ORDER, flag, Check(lifecycle.time_runs_back(
                  beyond=thresholds.backwards_flag_after,
                  up_to=thresholds.backwards_block_after), scope=lifecycle.TIME_SCOPE),
              "carrier scans arrive out of order (offline handhelds, batch uploads); "
              "a short step back is normal but worth reporting"),
        _rule("CN-TIME-002", "事件时间严重倒序", "Event time runs far back",
              TIME_ORDER, block, Check(lifecycle.time_runs_back(
                  beyond=thresholds.backwards_block_after, up_to=None),
                  scope=lifecycle.TIME_SCOPE),
              "a day or more backwards is a wrong clock or a misdated record, and "
              "would corrupt every deadline computed from it"),
        _rule("CN-TIME-003", "事件时间不得在未来", "No event in the future",
              TIME_ORDER, block, Check(lifecycle.not_in_future(skew=thresholds.future_skew)),
              "nothing can have happened after the ledger's clock (plus clock skew)"),
        _rule("CN-PII-001", "手机号须脱敏", "Mobile numbers masked",
              PIPL_6, block, Check(actionable.no_raw_mobile_numbers),
              "a stored raw number cannot be unstored for 18 months; mask at the source"),
        _rule("CN-PII-002", "身份证号须脱敏", "Resident ID numbers masked",
              PIPL_6, block, Check(actionable.no_raw_resident_ids),
              "an identity number is sensitive and never needed in a status record"),
        _rule("CN-PII-003", "姓名须脱敏", "Personal names masked",
              PIPL_6, block, Check(actionable.no_full_names),
              "a masked name (张**) serves every purpose a status record has"),
        _rule("CN-RETENTION-001", "交易信息保存不少于三年", "Transaction records kept 3 years",
              ECOMMERCE_31, block, Check(lifecycle.retention_not_shortened(
                  transaction_months=transaction_months), scope=lifecycle.RETENTION_SCOPE),
              "a shorter retention date would schedule unlawful deletion"),
        _rule("CN-COLDCHAIN-001", "冷链超温须转入超标状态", "Cold-chain excursion moves to breach",
              GB_31605, block, Check(lifecycle.cold_chain_must_breach(
                  threshold=thresholds.cold_chain_excursion), keys=lifecycle.EXCURSION_KEYS),
              "goods out of range must be quarantined; accepting the record without the "
              "breach state would let them travel on to a consumer"),
        _rule("CN-COLDCHAIN-002", "冷链超温无法转入超标状态", "Cold-chain excursion unresolved",
              GB_31605, flag, Check(lifecycle.cold_chain_unresolved(
                  threshold=thresholds.cold_chain_excursion), keys=lifecycle.EXCURSION_KEYS),
              "the reading must be kept (traceability) even where the order cannot move "
              "to the breach state or the duration is unknown"),
    ]


def build_pack(
    thresholds: Cn2026Thresholds | None = None,
    *,
    pack_id: PackId = DEFAULT_PACK,
    effective_from: datetime = EFFECTIVE_FROM,
    effective_until: datetime | None = None,
) -> Pack:
    """The default China pack with the given thresholds (defaults when None)."""
    chosen = thresholds or Cn2026Thresholds()
    retention = retention_policy()
    return Pack(
        pack_id=pack_id,
        effective_from=effective_from,
        effective_until=effective_until,
        rules=(*_actionable_rules(), *_consumer_rules(), *_integrity_rules(chosen, retention)),
        retention=retention,
        title="China B2C order fulfilment, 2026",
    )
