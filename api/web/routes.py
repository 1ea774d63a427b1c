"""The console's pages: sign-in and sign-out, order search, the order evidence page with
its bundle and PDF downloads, and the dashboard. Queries live in `api.web.queries`,
`api.web.timeline` and `api.web.dashboard`; handlers only check, call and render."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.apikeys import Role, resolve_token
from api.auth import Group, Principal, WrongTenant
from api.report_pdf import render_report
from api.web import dashboard as dash
from api.web import queries
from api.web.machine_svg import render_machine_svg
from api.web.pages import (
    HOME,
    PageError,
    attachment,
    current_session,
    is_tls,
    ledger_of,
    principal_of,
    render,
    require_csrf,
    safe_next,
    sessions_of,
)
from api.web.search import parse_search
from api.web.session import (
    COOKIE_PATH,
    IDLE_TIMEOUT,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Session,
    new_secret,
)
from api.web.timeline import OrderEvidence, order_evidence, trust_set
from ledger.errors import UnknownOrder
from ledger.timefmt import format_time
from statemodel.catalogue import load_catalogue
from statemodel.errors import OrderledgerError

router = APIRouter(prefix="/console", include_in_schema=False)

#: Roles that may sign in: the readers of evidence. Platform and carrier keys write.
CONSOLE_ROLES = frozenset({Role.AUDITOR, Role.LEGAL, Role.ADMIN})

SessionDep = Annotated[Session, Depends(current_session)]


def _check_tenant(principal: Principal, tenant: str) -> None:
    try:
        principal.require(Group.BUNDLE)
        principal.require_tenant(tenant)
    except WrongTenant:
        raise PageError(403, "Not your tenant",
                        f"Your key ({principal.name}) acts for tenant {principal.tenant!r} "
                        "only; this order belongs to another tenant.") from None
    except OrderledgerError as exc:
        raise PageError(403, "Not allowed", str(exc)) from None


# --- sign-in and sign-out ------------------------------------------------------------

@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
def console_home() -> Response:
    return RedirectResponse(HOME, status_code=303)


def _login_page(request: Request, next_url: str, error: str | None, status: int) -> Response:
    token = new_secret()
    response = render(request, "login.html",
                      {"next": safe_next(next_url), "error": error, "login_csrf": token},
                      status=status)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, path=COOKIE_PATH, httponly=True,
                        samesite="strict", secure=is_tls(request), max_age=3600)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request, next_url: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    return _login_page(request, next_url or HOME, None, 200)


@router.post("/login")
async def login(request: Request) -> Response:
    """Exchange an API key for a session. The key is checked exactly as the API checks a
    bearer token; only auditor, legal and admin keys may sign in."""
    fields = await require_csrf(request, request.cookies.get(LOGIN_CSRF_COOKIE))
    next_url = safe_next(fields.get("next"))
    token = fields.get("api_key", "").strip()
    row = resolve_token(request.app.state.api_keys, token) if token else None
    if row is None or row.revoked_at is not None:
        why = "That API key is revoked." if row is not None else "Unknown API key."
        return _login_page(request, next_url, why, 401)
    principal = principal_of(row.id, row.name, row.role, row.tenant)
    if principal.role not in CONSOLE_ROLES:
        return _login_page(request, next_url,
                           f"A {principal.role} key cannot sign in: the console is for "
                           "auditor, legal and admin keys.", 403)
    session_id, _ = sessions_of(request).open(principal, ledger_of(request).clock.now())
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(SESSION_COOKIE, session_id, path=COOKIE_PATH, httponly=True,
                        samesite="strict", secure=is_tls(request),
                        max_age=int(IDLE_TIMEOUT.total_seconds()) * 16)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/logout")
async def logout(request: Request, session: SessionDep) -> Response:
    await require_csrf(request, session.csrf)
    sessions_of(request).close(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/console/login?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


# --- search ----------------------------------------------------------------------------

@router.get("/orders", response_class=HTMLResponse)
def search(request: Request, session: SessionDep) -> Response:
    ledger, principal = ledger_of(request), session.principal
    catalogue = load_catalogue()
    form, query, problem = parse_search(dict(request.query_params), principal.tenant)
    if form.tenant and principal.tenant is not None and form.tenant != principal.tenant:
        _check_tenant(principal, form.tenant)
    rows: list[queries.OrderRow] = []
    more = False
    placed: dict[tuple[str, str], str] = {}
    if problem is None and query is not None:
        try:
            rows, more = queries.search_orders(ledger, query)
        except ValueError as exc:
            problem = str(exc)
        placed = queries.first_event_times(ledger, rows)
    context: dict[str, Any] = {
        "nav": "orders", "form": form, "rows": rows, "more": more, "problem": problem,
        "placed": placed, "catalogue": catalogue,
        "tenants": queries.tenants(ledger, principal.tenant),
        "carriers": queries.carriers(ledger, principal.tenant),
        "next_query": form.next_page_query(rows[-1]) if more and rows else None,
    }
    return render(request, "orders.html", context, session=session,
                  status=422 if problem else 200)


# --- one order -----------------------------------------------------------------------

def _evidence(request: Request, session: Session, tenant: str, order: str) -> OrderEvidence:
    _check_tenant(session.principal, tenant)
    ledger = ledger_of(request)
    try:
        return order_evidence(ledger, tenant, order, trust=trust_set(ledger))
    except UnknownOrder:
        raise PageError(404, "No such order",
                        f"Tenant {tenant!r} has no order {order!r}.") from None


def _same_checkpoint(evidence: OrderEvidence, checkpoint: int | None) -> None:
    if checkpoint is not None and checkpoint != evidence.download.checkpoint_size:
        raise PageError(
            409, "A newer checkpoint exists",
            f"The page you came from showed checkpoint {checkpoint}; the log has since "
            f"published checkpoint {evidence.download.checkpoint_size}. Reload the order "
            "page and download the bundle and the report again, so that the SHA-256 in the "
            "report is that of the bundle you keep.")


@router.get("/orders/{tenant}/{order}", response_class=HTMLResponse)
def order_page(request: Request, session: SessionDep, tenant: str, order: str) -> Response:
    evidence = _evidence(request, session, tenant, order)
    breached = frozenset(r.target.code for r in evidence.records if r.kind == "sla_breach")
    svg = render_machine_svg(evidence.catalogue, evidence.path, breached=breached,
                             title=f"Path of order {order} through the state machine")
    context = {"nav": "orders", "ev": evidence, "machine_svg": svg,
               "verification": evidence.verification}
    return render(request, "order.html", context, session=session)


CheckpointParam = Annotated[int | None, Query(ge=1)]


@router.get("/orders/{tenant}/{order}/bundle.json")
def bundle_download(request: Request, session: SessionDep, tenant: str, order: str,
                    checkpoint: CheckpointParam = None) -> Response:
    evidence = _evidence(request, session, tenant, order)
    _same_checkpoint(evidence, checkpoint)
    download = evidence.download
    return attachment(download.data, "application/json", download.filename(),
                      {"X-Bundle-SHA256": download.sha256})


@router.get("/orders/{tenant}/{order}/report.pdf")
def report_download(request: Request, session: SessionDep, tenant: str, order: str,
                    checkpoint: CheckpointParam = None) -> Response:
    evidence = _evidence(request, session, tenant, order)
    _same_checkpoint(evidence, checkpoint)
    now = format_time(ledger_of(request).clock.now())
    principal = session.principal
    pdf = render_report(evidence, generated_at=now,
                        generated_by=f"{principal.name} ({principal.role}) via the web console")
    name = evidence.download.filename().removesuffix(".bundle.json") + ".report.pdf"
    return attachment(pdf, "application/pdf", name,
                      {"X-Bundle-SHA256": evidence.download.sha256})


# --- dashboard -----------------------------------------------------------------------

@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(request: Request, session: SessionDep) -> Response:
    ledger, principal = ledger_of(request), session.principal
    health = dash.log_health(ledger, ledger.clock.now())
    panels = dash.tenant_panels(ledger, principal.tenant, load_catalogue())
    return render(request, "dashboard.html",
                  {"nav": "dashboard", "health": health, "panels": panels}, session=session)
