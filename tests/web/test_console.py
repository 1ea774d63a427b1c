"""The console in a real browser: sign in, search, an order's evidence with its badges,
bundle and PDF downloads, sign out, tenant scope, CSRF, and a tampered record."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import BrowserContext, Page, expect

from statemodel.catalogue import load_catalogue
from tests.ledger.support import tamper
from tests.web.conftest import HZ, SZ, ConsoleServer, screenshot, sign_in

HAPPY = "HTH-DOMESTIC-HAPPY-PATH"
BREACHED = "HTH-COLD-CHAIN-BREACH"
TAMPERED = "SE-DOMESTIC-HAPPY-PATH"
ORDERLEDGER = Path(sys.executable).with_name("orderledger")


def _text_of_pdf(path: Path) -> str:
    done = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"],
                          capture_output=True, text=True, check=True)
    return done.stdout


def test_sign_in_search_and_open_an_order(page: Page, console: ConsoleServer) -> None:
    sign_in(page, console, "legal-all")
    expect(page).to_have_url(re.compile(r"/console/orders$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.select_option("#f-tenant", HZ)
    page.select_option("#f-breach", "yes")
    page.click("#search-button")
    rows = page.locator("table.results tbody tr")
    expect(rows.first).to_be_visible()
    orders = rows.evaluate_all("rows => rows.map(r => r.dataset.order)")
    assert BREACHED in orders
    assert HAPPY not in orders  # it has no breach
    # Current state in Chinese (marked as such) and in English.
    cell = page.locator(f'tr[data-order="{BREACHED}"] td.state')
    sub = load_catalogue().sub_states["M12.02"]
    expect(cell.locator('span[lang="zh-CN"]').first).to_have_text(sub.name_zh)
    expect(cell).to_contain_text(sub.name_en)
    page.goto(console.url(f"/console/orders?tenant={HZ}"))
    screenshot(page, "search")
    page.click(f'a.order-link:text-is("{HAPPY}")')
    expect(page.locator("#order-id")).to_have_text(HAPPY)


def test_order_page_badges_downloads_and_sign_out(
    page: Page, console: ConsoleServer, tmp_path: Path
) -> None:
    sign_in(page, console, "auditor-all", f"/console/orders/{HZ}/{HAPPY}")
    expect(page.locator("#order-id")).to_have_text(HAPPY)
    expect(page.locator("#verdict")).to_contain_text("Verified")
    screenshot(page, "order")
    records = page.locator("li.record")
    count = records.count()
    assert count >= 10
    assert page.locator(".badge.fail").count() == 0
    for badge in ("signature", "chain", "inclusion"):
        assert page.locator(f'.badge.ok[data-badge="{badge}"]').count() == count
    expect(page.locator('#record-0 [data-badge="inclusion"]')).to_contain_text(
        re.compile(r"included in checkpoint \d+ ✓"))
    # Field labels come from the registry, with the definition on keyboard focus too.
    term = page.locator("#record-0 .term").first
    expect(term).to_have_attribute("title", re.compile(r"\S+: \S+"))
    term.focus()
    expect(page.locator("#record-0 .tip").first).to_be_visible()
    # The state machine: every sub-state drawn, the visited ones marked.
    assert page.locator("svg.machine g.node").count() == len(load_catalogue().sub_states)
    assert page.locator("svg.machine g.node.visited").count() >= 10
    assert page.locator("svg.machine g.node.current").count() == 1
    page.evaluate("document.getElementById('timeline-heading').scrollIntoView()")
    screenshot(page, "order-timeline")

    shown_hash = page.locator("#bundle-sha256").inner_text().strip()
    with page.expect_download() as bundle_info:
        page.click("#download-bundle")
    bundle_path = tmp_path / bundle_info.value.suggested_filename
    bundle_info.value.save_as(bundle_path)
    data = bundle_path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == shown_hash
    verified = subprocess.run([str(ORDERLEDGER), "verify", str(bundle_path)],
                              capture_output=True, text=True, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    with page.expect_download() as pdf_info:
        page.click("#download-pdf")
    pdf_path = tmp_path / "report.pdf"
    pdf_info.value.save_as(pdf_path)
    _check_report(pdf_path, json.loads(data), shown_hash)

    page.click("#sign-out")
    expect(page).to_have_url(re.compile(r"/console/login\?signed_out=1$"))
    page.goto(console.url(f"/console/orders/{HZ}/{HAPPY}"))
    expect(page).to_have_url(re.compile(r"/console/login\?next="))


def _check_report(pdf: Path, bundle: dict[str, object], sha256: str) -> None:
    text = _text_of_pdf(pdf)
    flat = " ".join(text.split())
    dense = "".join(text.split())
    assert HAPPY in flat
    assert sha256 in flat
    catalogue = load_catalogue()
    entries = bundle["entries"]
    assert isinstance(entries, list)
    for entry in entries:
        sub = catalogue.sub_states[entry["statement"]["to"]]
        assert "".join(sub.name_zh.split()) in dense, sub.code
        assert sub.name_en in flat, sub.code
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True,
                           check=True).stdout
    cjk = [line for line in fonts.splitlines() if "WenQuanYi" in line or "CJK" in line]
    assert cjk, fonts
    assert all(" yes yes yes " in line for line in cjk), fonts  # embedded, subset, unicode


def test_dashboard_shows_charts_and_log_health(page: Page, console: ConsoleServer) -> None:
    sign_in(page, console, "admin-all", "/console/dashboard")
    expect(page.locator("h1")).to_have_text("Dashboard")
    with console.ledger.recorder.unit_of_work(read_only=True) as uow:
        size = uow.log_size()
    expect(page.locator("#tree-size")).to_have_text(str(size))
    expect(page.locator("#sequencer-lag")).to_have_text("0")
    assert page.locator("section.tenant-panel").count() == 2
    assert page.locator("svg.chart").count() >= 8
    expect(page.locator("svg.chart desc").first).to_contain_text("met")
    screenshot(page, "dashboard", full_page=True)


def test_scoped_auditor_gets_403_for_another_tenant(page: Page, console: ConsoleServer) -> None:
    sign_in(page, console, "auditor-hz")
    own = page.goto(console.url(f"/console/orders/{HZ}/{HAPPY}"))
    assert own is not None
    assert own.status == 200
    for path in (f"/console/orders/{SZ}/SE-DOMESTIC-HAPPY-PATH",
                 f"/console/orders/{SZ}/SE-DOMESTIC-HAPPY-PATH/bundle.json",
                 f"/console/orders/{SZ}/SE-DOMESTIC-HAPPY-PATH/report.pdf",
                 f"/console/orders/{SZ}/NO-SUCH-ORDER",
                 f"/console/orders?tenant={SZ}"):
        response = page.goto(console.url(path))
        assert response is not None
        assert response.status == 403, path
        expect(page.locator("h1")).to_have_text("Not your tenant")
        assert page.locator("li.record").count() == 0
    # The search of a scoped key covers its own tenant only.
    page.goto(console.url("/console/orders"))
    tenants = page.locator("table.results tbody td:nth-child(2)").all_inner_texts()
    assert tenants
    assert set(tenants) == {HZ}


def test_only_evidence_readers_may_sign_in(page: Page, console: ConsoleServer) -> None:
    for key, status_text in (("platform-hz", "cannot sign in"), ("auditor-revoked", "revoked")):
        sign_in(page, console, key)
        expect(page).to_have_url(re.compile(r"/console/login"))
        expect(page.locator("#login-error")).to_contain_text(status_text)


def test_posts_without_csrf_token_are_refused(
    context: BrowserContext, page: Page, console: ConsoleServer
) -> None:
    refused_login = context.request.post(console.url("/console/login"),
                                         form={"api_key": console.tokens["auditor-all"]})
    assert refused_login.status == 403
    assert "CSRF" in refused_login.text()
    sign_in(page, console, "auditor-all")
    refused = context.request.post(console.url("/console/logout"), form={})
    assert refused.status == 403
    assert "CSRF" in refused.text()
    wrong = context.request.post(console.url("/console/logout"),
                                 form={"csrf_token": "not-the-token"})
    assert wrong.status == 403
    # Refused means refused: the session is still there.
    still = page.goto(console.url("/console/orders"))
    assert still is not None
    assert still.status == 200
    expect(page.locator("#sign-out")).to_be_visible()


def test_a_record_tampered_in_the_database_fails_its_badges(
    page: Page, console: ConsoleServer
) -> None:
    sign_in(page, console, "auditor-all", f"/console/orders/{SZ}/{TAMPERED}")
    assert page.locator(".badge.fail").count() == 0
    tamper(console.database_url,
           "UPDATE records SET event_time = '2026-03-02T02:02:02.000Z' "
           "WHERE tenant = :tenant AND order_id = :order AND seq = 3",
           tenant=SZ, order=TAMPERED)
    page.reload()
    expect(page.locator("#verdict")).to_contain_text("Verification failed")
    for badge in ("signature", "inclusion"):
        expect(page.locator(f'#record-3 [data-badge="{badge}"]')).to_have_class(
            re.compile(r"\bfail\b"))
    # The next record's link to it no longer holds; the records before it are intact.
    expect(page.locator('#record-4 [data-badge="chain"]')).to_have_class(re.compile(r"\bfail\b"))
    assert page.locator("#record-2 .badge.fail").count() == 0
    expect(page.locator("#record-3")).to_have_class(re.compile(r"\brecord-bad\b"))


def test_the_api_stays_json_only_and_console_forms_stay_small(console: ConsoleServer) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    api = console.server.call("POST", "/v1/orders", body=b"tenant=x", headers=form)
    assert api.status == 415
    big = console.server.call("POST", "/console/login", body=b"a=" + b"x" * 20_000,
                              headers=form)
    assert big.status == 413
    page = console.server.call("GET", "/console/login")
    assert page.status == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "samesite=strict" in cookie.lower()
    assert "Secure" not in cookie  # plain HTTP here; over TLS the cookie is Secure


def test_pages_redirect_to_sign_in_and_back(page: Page, console: ConsoleServer) -> None:
    answer = console.server.call("GET", f"/console/orders/{HZ}/{HAPPY}")
    assert answer.status == 303
    assert answer.headers["location"].startswith("/console/login?next=")
    sign_in(page, console, "auditor-all", "https://evil.example/")
    expect(page).to_have_url(re.compile(r"/console/orders$"))
