"""The order search form: its fields as typed, and the query they mean.

Times come from `<input type="datetime-local">` (no offset) and are read as UTC, the
ledger's time; a full RFC 3339 time with an offset is accepted too.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Final

from api.web.queries import CARRIER_CODE, OrderQuery, OrderRow
from ledger.timefmt import format_time
from statemodel.catalogue import load_catalogue

PAGE_SIZE: Final = 25
_CHOICES: Final = {"": None, "yes": True, "no": False}


@dataclass(frozen=True, slots=True)
class SearchForm:
    """The search fields exactly as typed (shown back in the form)."""

    tenant: str = ""
    main: str = ""
    sub: str = ""
    time_from: str = ""
    time_to: str = ""
    carrier: str = ""
    breach: str = ""
    findings: str = ""
    after_tenant: str = ""
    after_order: str = ""

    def query_string(self, **changes: str) -> str:
        """This form's non-empty fields (with `changes`) as a URL query string."""
        fields = asdict(replace(self, **changes))
        return urllib.parse.urlencode({k: v for k, v in fields.items() if v})

    def next_page_query(self, last: OrderRow) -> str:
        return self.query_string(after_tenant=last.tenant, after_order=last.order)

    @property
    def paged(self) -> bool:
        return bool(self.after_tenant)


def _time(text: str, name: str) -> str | None:
    """Canonical RFC 3339 text of a form time, None when empty. Raises ValueError."""
    text = text.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name}: not a date and time: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_time(moment)


def parse_search(params: dict[str, str], scope: str | None
                 ) -> tuple[SearchForm, OrderQuery | None, str | None]:
    """(the form as typed, the query it means or None, a problem to show or None).

    `scope` is the key's tenant (None: all); an empty tenant field searches the scope.
    The tenant check itself (a scoped key asking for another tenant) is the caller's.
    """
    known = set(SearchForm.__dataclass_fields__)
    form = SearchForm(**{k: v.strip() for k, v in params.items() if k in known})
    catalogue = load_catalogue()
    try:
        if form.main and form.main not in catalogue.main_states:
            raise ValueError(f"unknown main state {form.main!r}")
        if form.sub and form.sub not in catalogue.sub_states:
            raise ValueError(f"unknown sub-state {form.sub!r}")
        if form.carrier and not CARRIER_CODE.fullmatch(form.carrier):
            raise ValueError(f"carrier: {form.carrier!r} is not a carrier code (like sf, zto)")
        for name, value in (("SLA breach", form.breach), ("findings", form.findings)):
            if value not in _CHOICES:
                raise ValueError(f"{name}: choose yes, no or any")
        time_from = _time(form.time_from, "from")
        time_to = _time(form.time_to, "to")
        if time_from and time_to and time_from >= time_to:
            raise ValueError("the time range ends before it starts")
    except ValueError as exc:
        return form, None, str(exc)
    after = (form.after_tenant, form.after_order) if form.after_tenant else None
    return form, OrderQuery(
        tenant=form.tenant or scope,
        main_state=form.main or None,
        sub_state=form.sub or None,
        time_from=time_from,
        time_to=time_to,
        carrier=form.carrier or None,
        breached=_CHOICES[form.breach],
        flagged=_CHOICES[form.findings],
        after=after,
        limit=PAGE_SIZE,
    ), None
