"""Workshop mode end to end in Debian's Chromium: two browser contexts (a teacher and a student) on the real
server. The teacher creates a class, the student joins with the code (under a hostile display name), answers
an exercise on a walkthrough page, the live dashboard counts it, and a follow-me push shows up as a banner on
the student's page. Screenshots: test-artifacts/workshop-teacher.png, workshop-student-banner.png."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.test_browser import ARTIFACTS, _assert_clean, _shoot, _wait_idle, browser, server  # noqa: F401

from playwright.sync_api import expect  # noqa: E402  (after test_browser's skip when chromium is missing)


@pytest.fixture(scope="module")
def ws_server(request, tmp_path_factory):
    """The app on a fresh SQLite data dir: the env is set before ``server`` starts the server process."""
    mp = pytest.MonkeyPatch()
    mp.setenv("INTERP_READER_DATA_DIR", str(tmp_path_factory.mktemp("workshop-data")))
    mp.delenv("INTERP_READER_DATABASE_URL", raising=False)
    try:
        yield request.getfixturevalue("server")
    finally:
        mp.undo()


def _metric(page, label: str):
    return page.locator("[data-testid='stMetric']").filter(has_text=label).locator("[data-testid='stMetricValue']")


def test_teacher_and_student_in_two_contexts(ws_server, browser):  # noqa: F811
    dialogs = []
    teacher_ctx = browser.new_context(viewport={"width": 1500, "height": 1000})
    student_ctx = browser.new_context(viewport={"width": 1500, "height": 1000})
    teacher, student = teacher_ctx.new_page(), student_ctx.new_page()
    for p in (teacher, student):
        p.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    teacher.goto(f"{ws_server}/workshop", wait_until="networkidle")
    teacher.get_by_role("tab", name="Teach a class").click()
    teacher.get_by_label("Class name").fill("Interp 101")
    teacher.get_by_role("button", name="Create the class").click()
    code = _metric(teacher, "Join code")
    expect(code).to_have_text(re.compile(r"^[2-9A-Z]{4}-[2-9A-Z]{4}$"), timeout=60_000)
    join_code = code.inner_text()
    assert "teach=" in teacher.url

    student.goto(f"{ws_server}/workshop", wait_until="networkidle")
    student.get_by_label("Class code").fill(join_code.lower())
    student.get_by_label(re.compile("^Display name")).fill("<img src=x onerror=alert(1)> Ada")
    student.get_by_role("button", name="Join").click()
    expect(student.get_by_text("You are in").first).to_be_visible(timeout=30_000)
    ws = parse_qs(urlsplit(student.url).query)["ws"][0]
    _assert_clean(student)
    _shoot(student, "workshop-student.png")

    # the student opens a walkthrough from a bookmark-like URL (a reload keeps the class) and answers
    student.goto(f"{ws_server}/privileged_basis?ws={ws}", wait_until="networkidle")
    expect(student.locator("[data-testid='stMain']").get_by_text("Outlier features").first).to_be_visible(
        timeout=90_000)
    _wait_idle(student, timeout=180_000)
    box = student.get_by_label("Dimension")
    box.fill("3")
    box.press("Enter")
    student.get_by_role("button", name="Check").first.click()
    expect(student.get_by_text("sent to your teacher's dashboard").first).to_be_visible(timeout=60_000)

    # the live dashboard picks it up without a reload (fragment, every 5 s)
    expect(_metric(teacher, "Answers checked")).to_have_text("1", timeout=30_000)
    expect(_metric(teacher, "Students in class")).to_have_text("1")
    _wait_idle(teacher)
    _assert_clean(teacher)
    _shoot(teacher, "workshop-teacher.png")

    # follow me: push the first section of the default walkthrough; the student's open page shows the banner
    teacher.get_by_role("button", name="Send to the class").click()
    expect(teacher.get_by_text("Students now see a banner").first).to_be_visible(timeout=30_000)
    banner = student.get_by_text("Your teacher is at").first
    expect(banner).to_be_visible(timeout=40_000)  # the banner fragment refreshes every 10 s
    link = student.get_by_role("link", name="Go to this section (new tab)")
    href = link.get_attribute("href")
    assert f"ws={ws}" in href and "#" in href, href
    _assert_clean(student)
    student.locator("[data-testid='stMain']").evaluate("m => m.scrollTo(0, 0)")
    student.wait_for_timeout(500)
    student.screenshot(path=str(ARTIFACTS / "workshop-student-banner.png"))
    assert not dialogs, dialogs
    teacher_ctx.close()
    student_ctx.close()
