"""GET /docs in a real browser: Swagger UI renders, the OAuth2 password flow logs in against
/login, "Try it out" on GET /posts gets a live 200, nothing is loaded from another host and the
console stays free of errors."""
import time

import localgw
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

# Every route of template.yaml: the page must show each as an operation.
ROUTES = {
    "GET /", "POST /users", "GET /users/{id}", "POST /login", "GET /posts", "POST /posts",
    "GET /posts/{id}", "PUT /posts/{id}", "PATCH /posts/{id}", "DELETE /posts/{id}", "POST /vote",
    "POST /token/refresh", "POST /logout",
}
WAIT = 60  # seconds: a function's first call is a cold start of a debug binary on 2 cores


def wait(driver, condition, what, timeout=WAIT):
    try:
        return WebDriverWait(driver, timeout).until(condition)
    except TimeoutException:
        raise AssertionError(f"timed out after {timeout} s waiting for {what}") from None


def operations(driver):
    """{"GET /posts", ...}: the operations Swagger UI shows, from each summary's data-path."""
    ops = set()
    for summary in driver.find_elements(By.CSS_SELECTOR, ".opblock .opblock-summary"):
        if not summary.is_displayed():
            continue
        method = summary.find_element(By.CSS_SELECTOR, ".opblock-summary-method").text.strip()
        path = summary.find_element(By.CSS_SELECTOR, ".opblock-summary-path")
        ops.add(f"{method.upper()} {path.get_attribute('data-path')}")
    return ops


def click(driver, element):
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def open_docs(browser, url):
    driver = browser.driver
    driver.get(url)
    wait(driver, lambda d: ROUTES <= operations(d),
         f"the operations {sorted(ROUTES)} on {url} (seen: {sorted(operations(driver))})")


def test_docs_authorize_and_try_get_posts(gateway, user, browser_factory):
    base = gateway.base_url
    token = localgw.login(base, user["email"], user["password"])
    status, _, post = localgw.request(
        base, "POST", "/posts",
        {"title": "Hello from the browser test", "content": "Swagger UI lists me"}, token)
    assert status == 201, post

    browser = browser_factory()
    driver = browser.driver
    open_docs(browser, f"{base}/docs")
    assert "Swagger UI" in driver.title or driver.find_elements(By.CSS_SELECTOR, ".swagger-ui")
    browser.screenshot("docs-1-loaded")

    # Authorize with the OAuth2 password flow (token from POST /login).
    click(driver, wait(driver, EC.element_to_be_clickable(
        (By.CSS_SELECTOR, ".auth-wrapper button.authorize")), "the Authorize button"))
    modal = wait(driver, EC.visibility_of_element_located((By.CSS_SELECTOR, ".modal-ux")),
                 "the authorization dialog")
    assert "OAuth2PasswordBearer" in modal.text, modal.text
    assert "password" in modal.text.lower(), modal.text
    modal.find_element(By.ID, "oauth_username").send_keys(user["email"])
    modal.find_element(By.ID, "oauth_password").send_keys(user["password"])
    click(driver, modal.find_element(By.CSS_SELECTOR, ".auth-btn-wrapper button.authorize"))

    def outcome(d):
        text = d.find_element(By.CSS_SELECTOR, ".modal-ux").text
        if "Logout" in text:
            return "ok"
        errors = d.find_elements(By.CSS_SELECTOR, ".modal-ux .errors")
        if errors and errors[0].text.strip():
            return "error: " + errors[0].text.strip()
        return None

    result = wait(driver, outcome, "Logout (authorized) or an error in the dialog")
    browser.screenshot("docs-2-authorized")
    assert result == "ok", f"authorization failed: {result}"
    assert "Authorized" in driver.find_element(By.CSS_SELECTOR, ".modal-ux").text
    click(driver, driver.find_element(By.CSS_SELECTOR, ".modal-ux button.btn-done"))
    wait(driver, EC.invisibility_of_element_located((By.CSS_SELECTOR, ".modal-ux")),
         "the dialog to close")
    top = driver.find_element(By.CSS_SELECTOR, ".auth-wrapper button.authorize")
    assert "locked" in top.get_attribute("class"), "the Authorize button does not show a lock"

    # GET /posts: expand, Try it out, Execute.
    block = driver.find_element(
        By.XPATH, "//div[contains(@class,'opblock-get')]"
                  "[.//*[contains(@class,'opblock-summary-path') and @data-path='/posts']]")
    click(driver, block.find_element(By.CSS_SELECTOR, ".opblock-summary"))
    click(driver, wait(driver, lambda d: block.find_element(By.CSS_SELECTOR, ".try-out__btn"),
                       "Try it out"))
    click(driver, wait(driver, lambda d: block.find_element(By.CSS_SELECTOR, "button.execute"),
                       "Execute"))
    status_cell = wait(
        driver,
        lambda d: next((c for c in block.find_elements(
            By.CSS_SELECTOR, ".live-responses-table tr.response .response-col_status")
            if c.text.strip()),
            None),
        "the live response of GET /posts")
    curl_blocks = block.find_elements(By.CSS_SELECTOR, ".curl-command")
    # The screenshot shows the curl command, the request URL and the server's answer.
    driver.execute_script("arguments[0].scrollIntoView({block: 'start'})",
                          curl_blocks[0] if curl_blocks else status_cell)
    curl = " ".join(e.text for e in curl_blocks)
    response = block.find_element(By.CSS_SELECTOR, ".live-responses-table").text
    browser.screenshot("docs-3-get-posts")
    assert status_cell.text.strip() == "200", f"live response: {response[:500]}"
    assert "Hello from the browser test" in response, response[:500]
    assert "Bearer" in curl, f"the request carried no bearer token: {curl}"

    browser.drain_logs()
    foreign = browser.foreign_requests({"127.0.0.1"})
    assert not foreign, f"requests outside 127.0.0.1: {foreign}"
    assert any(u.endswith("/openapi.json") for u in browser.requests), browser.requests
    assert any("/login" in u for u in browser.requests), "the token request was not seen"
    errors = browser.console_errors()
    assert not errors, f"console errors: {errors}"
    assert not browser.failed, f"failed loads: {browser.failed}"


def test_docs_under_a_public_host_name_loads_nothing_from_elsewhere(gateway, browser_factory):
    """Swagger UI skips its online validator badge (an image from validator.swagger.io) only
    for localhost/127.0.0.1 pages. Deployed, the page has a public host name: serve it under
    one (mapped to 127.0.0.1 inside Chromium) and check it still loads only from its own
    origin."""
    port = gateway.base_url.rsplit(":", 1)[1]
    host = "api.docs-check.test"
    browser = browser_factory([f"--host-resolver-rules=MAP {host} 127.0.0.1"])
    open_docs(browser, f"http://{host}:{port}/docs")
    # Give late loads (the badge, fonts, icons) time to start.
    time.sleep(2)
    browser.screenshot("docs-4-public-host-name")
    browser.drain_logs()
    foreign = browser.foreign_requests({host})
    assert not foreign, f"requests outside the page's own origin: {foreign}"
    assert not browser.console_errors(), f"console errors: {browser.console_errors()}"
    assert not browser.failed, f"failed loads: {browser.failed}"
