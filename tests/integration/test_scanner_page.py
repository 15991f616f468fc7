"""The staff scanner page end to end: headless Chromium, a fake camera showing a real badge.

Chromium plays a .y4m video (made with ffmpeg from the badge PNG) as its camera; the page
decodes the QR in the browser (jsQR: desktop Chromium on Linux has no BarcodeDetector), posts
to the live server, and shows green with the person's name; the same badge again is amber.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from registrations.badge_tokens import issue_badge_token
from registrations.models import CheckIn, EventRole, Scan
from tests.factories import EventFactory, RegistrationFactory, UserFactory

CHROMIUM = "/usr/bin/chromium"

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _require_tools():
    if not Path(CHROMIUM).exists():
        pytest.skip("needs the Debian chromium binary (apt-get install chromium; .ci/run installs it)")
    if shutil.which("ffmpeg") is None:
        pytest.skip(
            "needs ffmpeg to make the fake camera video (apt-get install ffmpeg; .ci/run installs it)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("needs Playwright for Python (the dev extra)")


def _badge_png(token: str) -> bytes:
    from notifications.badges import qr_png

    return qr_png(token, box_size=6)


def _camera_video(badge_png: bytes, tmp_path: Path) -> Path:
    """A badge held up to a 640x480 camera: the QR on a grey background, 2 s at 10 fps."""
    qr = Image.open(io.BytesIO(badge_png)).convert("RGB")
    side = min(400, qr.width)
    qr = qr.resize((side, side), Image.Resampling.NEAREST)
    frame = Image.new("RGB", (640, 480), (170, 170, 170))
    frame.paste(qr, ((640 - side) // 2, (480 - side) // 2))
    png = tmp_path / "camera.png"
    frame.save(png)
    video = tmp_path / "badge.y4m"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-loop", "1", "-i", str(png), "-t", "2", "-r", "10"]
        + ["-pix_fmt", "yuv420p", str(video)],
        check=True,
        timeout=60,
    )
    return video


def _launch(playwright, video: Path):
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            "--no-sandbox",
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    )


def _sign_in(page, url: str, username: str, password: str) -> None:
    page.goto(url)
    # Not signed in: the login page, then back to the scanner with the query kept.
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("#result")


def _door_staff(event, username: str = "door@example.org"):
    user = UserFactory(username=username)
    user.set_password("door-staff-password")
    user.save()
    EventRole.objects.create(user=user, event=event, role=EventRole.Role.CHECKIN)
    return user


def test_scanner_page_checks_in_a_badge_from_the_camera(live_server, tmp_path):
    _require_tools()
    from playwright.sync_api import expect, sync_playwright

    event = EventFactory(title="A Better Tomorrow with South-South Cooperation")
    user = UserFactory(username="door@example.org")
    user.set_password("door-staff-password")
    user.save()
    EventRole.objects.create(user=user, event=event, role=EventRole.Role.CHECKIN)
    person = RegistrationFactory(
        event=event, full_name="Amina Diallo", organisation="Ministry of Planning", category="member_state"
    )
    token = issue_badge_token(event_id=event.id, registration_id=person.id, counter=person.badge_counter)
    video = _camera_video(_badge_png(token), tmp_path)

    console: list[str] = []
    with sync_playwright() as playwright:
        browser = _launch(playwright, video)
        try:
            context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
            # The phone was set up for this gate before (the page keeps it on the device): the
            # camera may decode the badge the moment the page opens, before anyone types.
            context.add_init_script("localStorage.setItem('convene-checkin-gate', \"Visitors' entrance\")")
            page = context.new_page()
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
            page.goto(f"{live_server.url}/checkin/?rescan_ms=1500")

            # Not signed in: the login page, then back to the scanner with the query kept.
            expect(page.locator("#id_username")).to_be_visible()
            page.fill("#id_username", "door@example.org")
            page.fill("#id_password", "door-staff-password")
            page.click("button[type=submit]")
            expect(page.locator("#gate")).to_have_value("Visitors' entrance")

            result = page.locator("#result")
            expect(result).to_have_attribute("data-tone", "ok", timeout=60_000)
            expect(page.locator("#result-name")).to_have_text("Amina Diallo")
            expect(page.locator("#stats")).to_have_text("1 checked in of 1", timeout=30_000)
            expect(page.locator("#result-org")).to_have_text("Ministry of Planning")
            expect(page.locator("#result-category")).to_have_text("Member State")
            decoder = page.locator("#scanner").get_attribute("data-decoder")
            page.screenshot(path=str(tmp_path / "scanner-ok.png"), full_page=True)  # kept for debugging

            # The badge stays in front of the camera: once the re-scan pause is over, amber.
            expect(result).to_have_attribute("data-tone", "warn", timeout=60_000)
            expect(page.locator("#result-title")).to_have_text("Already checked in")
            expect(page.locator("#result-name")).to_have_text("Amina Diallo")
        except Exception:
            print("\n".join(console))
            raise
        finally:
            browser.close()

    assert decoder in ("jsQR", "BarcodeDetector")
    checkin = CheckIn.objects.get()
    assert (checkin.registration_id, checkin.gate, checkin.created_by_id) == (
        person.id,
        "Visitors' entrance",
        user.id,
    )
    results = list(Scan.objects.order_by("id").values_list("result", flat=True))
    assert results[:2] == ["ok", "already_checked_in"]
    assert all(nonce for nonce in Scan.objects.values_list("nonce", flat=True))


def test_scanner_page_offline_queue_and_manual_check_in(live_server, tmp_path):
    """Offline: the scan is kept on the phone and uploaded when the network is back; a person
    without a badge is found by name and checked in by id."""
    _require_tools()
    from playwright.sync_api import expect, sync_playwright

    event = EventFactory()
    user = _door_staff(event)
    holder = RegistrationFactory(event=event, full_name="Li Wei", organisation="Tsinghua University")
    forgot = RegistrationFactory(event=event, full_name="Carlos Mendoza", organisation="CEPAL")
    token = issue_badge_token(event_id=event.id, registration_id=holder.id, counter=1)
    video = _camera_video(_badge_png(token), tmp_path)

    console: list[str] = []
    with sync_playwright() as playwright:
        browser = _launch(playwright, video)
        try:
            context = browser.new_context(viewport={"width": 390, "height": 844})
            page = context.new_page()
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
            # The scan endpoint is unreachable from the start (the camera scans as soon as the page
            # opens): the network fails as it does in a basement hall.
            scan_url = f"{live_server.url}/api/v1/events/{event.slug}/checkins/"
            context.route(scan_url, lambda route: route.abort("internetdisconnected"))
            _sign_in(
                page, f"{live_server.url}/checkin/?rescan_ms=600000", user.username, "door-staff-password"
            )

            expect(page.locator("#result")).to_have_attribute("data-tone", "queued", timeout=60_000)
            expect(page.locator("#queue-status")).to_have_text("1 waiting to upload")
            expect(page.locator("#net-status")).to_have_attribute("data-state", "offline")
            # Checked on the device with the offline bundle's public key (WebCrypto Ed25519).
            expect(page.locator("#scanner")).to_have_attribute("data-offline-verdict", "valid")
            expect(page.locator("#result-detail")).to_have_text("Genuine badge (checked on this device)")
            queued = page.evaluate("JSON.parse(localStorage.getItem('convene-checkin-queue'))")
            assert [item["payload"]["code"] for item in queued] == [token]

            context.unroute(scan_url)
            context.set_offline(True)
            context.set_offline(False)  # the browser fires "online": the queue is replayed
            expect(page.locator("#queue-status")).to_be_hidden(timeout=30_000)

            page.fill("#search", "mendoza")
            button = page.locator("#matches li", has_text="Carlos Mendoza").locator("button")
            button.click()
            expect(page.locator("#result")).to_have_attribute("data-tone", "ok")
            expect(page.locator("#result-name")).to_have_text("Carlos Mendoza")
        except Exception:
            print("\n".join(console))
            raise
        finally:
            browser.close()

    replayed = Scan.objects.get(registration=holder)
    assert replayed.result == "ok"
    assert replayed.scanned_at < replayed.created_at  # client time of the offline scan is kept
    manual = Scan.objects.get(registration=forgot)
    assert (manual.result, manual.manual) == ("ok", True)
    assert CheckIn.objects.count() == 2


def test_scanner_page_offline_refuses_a_revoked_badge_from_the_bundle(live_server, tmp_path):
    """Offline, the device itself says no to a cancelled registration (bundle's revoked ids)."""
    _require_tools()
    from playwright.sync_api import expect, sync_playwright

    event = EventFactory()
    user = _door_staff(event)
    cancelled = RegistrationFactory(event=event, status="cancelled")
    token = issue_badge_token(event_id=event.id, registration_id=cancelled.id, counter=1)
    video = _camera_video(_badge_png(token), tmp_path)

    with sync_playwright() as playwright:
        browser = _launch(playwright, video)
        try:
            context = browser.new_context(viewport={"width": 390, "height": 844})
            page = context.new_page()
            context.route(
                f"{live_server.url}/api/v1/events/{event.slug}/checkins/",
                lambda route: route.abort("internetdisconnected"),
            )
            _sign_in(
                page, f"{live_server.url}/checkin/?rescan_ms=600000", user.username, "door-staff-password"
            )

            expect(page.locator("#result")).to_have_attribute("data-tone", "bad", timeout=60_000)
            expect(page.locator("#result-title")).to_have_text("Badge revoked")
            expect(page.locator("#result-detail")).to_have_text("Checked on this device (offline)")
            expect(page.locator("#queue-status")).to_have_text("1 waiting to upload")
        finally:
            browser.close()

    assert Scan.objects.count() == 0  # recorded by the server once the queue is replayed
