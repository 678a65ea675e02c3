"""Fixtures of the browser test: one local gateway, a signed-up user, headless Chromium.

Run by scripts/browser-test.sh (which installs Chromium, ChromeDriver and selenium first).
"""
import json
import os
import sys
import tempfile
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pyharness"))
import localgw  # noqa: E402

SCREENSHOT_DIR = localgw.ROOT / ".local" / "screenshots"
SCREENSHOTS = []  # paths, printed at the end of the run
NOTES = []  # one line per browser session: requests seen, console messages

# The flags known to work here (see the machine notes): without the background-networking ones
# Chromium tries Google's hosts at start and the closed network refuses them.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1400,2400",
]


@pytest.fixture(scope="session")
def gateway():
    gw = localgw.LocalGateway("browser").start()
    try:
        localgw.require_docs(gw.base_url)
        yield gw
    finally:
        gw.stop()


@pytest.fixture
def user(gateway):
    email, password, body = localgw.new_user(gateway.base_url, "browser")
    return {"email": email, "password": password, "id": body["id"]}


class Browser:
    """A Chromium session that records every request it makes and every console message."""

    def __init__(self, extra_flags=()):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.profile = tempfile.mkdtemp(prefix="chromium-profile-")
        opts = webdriver.ChromeOptions()
        opts.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
        for flag in [*CHROMIUM_FLAGS, *extra_flags, f"--user-data-dir={self.profile}"]:
            opts.add_argument(flag)
        opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
        self.driver = webdriver.Chrome(service=service, options=opts)
        self.driver.set_page_load_timeout(60)
        self.requests = []  # URLs, in order
        self.failed = []  # (url, why): HTTP status >= 400 or a network failure
        self.console = []  # (level, message)
        self._url_by_id = {}
        # Chromium opens its own new-tab page first (chrome:// resources and a name lookup of
        # its own): leave it, and forget what it logged, before the test's first navigation.
        self.driver.get("about:blank")
        self.driver.get_log("performance")
        self.driver.get_log("browser")

    def drain_logs(self):
        """Moves Chrome's buffered logs into self.* (get_log empties Chrome's buffers)."""
        for entry in self.driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            params = msg.get("params", {})
            if msg["method"] == "Network.requestWillBeSent":
                url = params["request"]["url"]
                self._url_by_id[params["requestId"]] = url
                self.requests.append(url)
            elif msg["method"] == "Network.responseReceived":
                if params["response"]["status"] >= 400:
                    self.failed.append((params["response"]["url"], params["response"]["status"]))
            elif msg["method"] == "Network.loadingFailed" and not params.get("canceled"):
                url = self._url_by_id.get(params["requestId"], "?")
                self.failed.append((url, params.get("errorText", "failed")))
        for entry in self.driver.get_log("browser"):
            self.console.append((entry["level"], entry["message"]))
        # The Resource Timing API as a second witness (it also sees memory-cache hits).
        try:
            names = self.driver.execute_script(
                "return performance.getEntriesByType('resource').map(e => e.name)"
                ".concat(location.href)")
        except Exception:  # noqa: BLE001 (a page in the middle of a navigation)
            names = []
        for url in names:
            if url not in self.requests:
                self.requests.append(url)

    def foreign_requests(self, allowed_hosts):
        """Requested URLs whose host is not one of allowed_hosts (data:/blob:/about: are local)."""
        foreign = []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob", "about", "chrome-error"):
                continue
            if parts.hostname not in allowed_hosts:
                foreign.append(url)
        return sorted(set(foreign))

    def console_errors(self):
        return [m for level, m in self.console if level == "SEVERE"]

    def screenshot(self, name):
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOT_DIR / f"{name}.png"
        self.driver.save_screenshot(str(path))
        SCREENSHOTS.append(path)
        return path

    def quit(self, label):
        try:
            self.drain_logs()
        except Exception:  # noqa: BLE001 (a dead browser: nothing more to read)
            pass
        NOTES.append(f"{label}: {len(self.requests)} request(s), "
                     f"{len(set(urlsplit(u).netloc for u in self.requests if '://' in u))} "
                     f"origin(s) {sorted(set(urlsplit(u).netloc for u in self.requests if '://' in u))}, "
                     f"{len(self.console)} console message(s), {len(self.failed)} failed load(s)")
        NOTES.extend(f"  console {level}: {message[:200]}" for level, message in self.console
                     if level in ("WARNING", "SEVERE"))
        if os.environ.get("BROWSER_TEST_VERBOSE"):
            NOTES.extend(f"  request: {url[:120]}" for url in self.requests)
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture
def browser_factory(request):
    opened = []

    def open_browser(extra_flags=()):
        b = Browser(extra_flags)
        opened.append(b)
        return b

    yield open_browser
    for b in opened:
        b.quit(request.node.name)


def pytest_terminal_summary(terminalreporter):
    for note in NOTES:
        terminalreporter.write_line(f"browser: {note}")
    for path in SCREENSHOTS:
        terminalreporter.write_line(f"screenshot: {path}")
