"""A person's path through a real browser: headless Chromium (Debian's, driven by selenium) fills
the Japanese sample form of the bundle served by Apache, goes through the confirmation page, and
the test reads the delivered mails from Postfix and the CSV row. Screenshots are kept as
artefacts in $FORMMAIL_ARTIFACTS (default tests/artifacts)."""

import os
import time
from pathlib import Path

import pytest

from conftest import log_rows, require_service
from test_apache import BASE, upload
from test_postfix import delivered

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ARTIFACTS = Path(os.environ.get("FORMMAIL_ARTIFACTS", Path(__file__).parent / "artifacts"))


@pytest.fixture(scope="module")
def site():
    yield from upload("browser", [("confirm = no", "confirm = yes"), ("autoreply = no", "autoreply = yes"),
                                  ("token = no", "token = yes"), ("min_seconds = 3", "min_seconds = 1")])


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    have = all(os.path.exists(p) for p in (CHROMIUM, CHROMEDRIVER))
    require_service(have, "Debian's chromium and chromium-driver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-dev-shm-usage", "--no-first-run", "--disable-component-update",
                 "--disable-sync", "--lang=ja", "--window-size=412,915",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": "ja,en"})  # a Japanese visitor
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def shot(driver, name):
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def fill(driver, values):
    for field, value in values.items():
        element = driver.find_element("name", field)
        element.clear()
        element.send_keys(value)


def wait_for(driver, css, timeout=15):
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(expected_conditions.presence_of_element_located(("css selector", css)))


def test_form_confirmation_thanks_mail_and_autoreply(site, browser):
    name, folder = site
    browser.get(f"{BASE}/{name}/form.html")
    wait_for(browser, "#formmail-token[value]")
    time.sleep(1.2)  # a person takes longer than min_seconds to fill a form
    values = {"name": "山田 太郎", "email": "visitor@formmail.test", "phone": "03-1234-5678",
              "message": "ブラウザからのお問い合わせです。\n二行目もあります。"}
    fill(browser, values)
    assert browser.find_element("id", "formmail-token").get_attribute("value")
    shot(browser, "1-form")
    browser.find_element("css selector", "button[type=submit]").click()
    wait_for(browser, "#formmail-send")
    page = browser.page_source
    assert "入力内容の確認" in page and "ブラウザからのお問い合わせです。" in page
    shot(browser, "2-confirm")
    browser.find_element("id", "formmail-send").click()
    reference = wait_for(browser, "#reference").text
    assert "送信完了" in browser.page_source
    shot(browser, "3-thanks")
    owner = delivered(reference)
    assert owner["Reply-To"].addresses[0].addr_spec == "visitor@formmail.test"
    assert str(owner["Subject"]) == "お問い合わせ: 山田 太郎 様"
    assert "ブラウザからのお問い合わせです。\n二行目もあります。" in owner.get_body(("plain",)).get_content()
    copy = delivered(reference, to="visitor@formmail.test")
    assert copy["Auto-Submitted"] == "auto-replied" and copy["From"].addresses[0].addr_spec == "form@formmail.test"
    assert reference in copy.get_body(("plain",)).get_content()
    row, = [r for r in log_rows(folder / "data") if r["id"] == reference]
    assert row["message"] == values["message"] and row["mail"].strip() == "sent"


def test_back_button_keeps_the_input(site, browser):
    name, _ = site
    browser.get(f"{BASE}/{name}/form.html")
    wait_for(browser, "#formmail-token[value]")
    time.sleep(1.2)
    fill(browser, {"name": "戻る 太郎", "email": "back@formmail.test", "message": "戻るボタンの確認"})
    browser.find_element("css selector", "button[type=submit]").click()
    wait_for(browser, "#formmail-back").click()
    wait_for(browser, "input[name=name]")
    assert browser.find_element("name", "name").get_attribute("value") == "戻る 太郎"


def test_invalid_field_shows_the_error_page(site, browser):
    name, folder = site
    browser.get(f"{BASE}/{name}/form.html")
    wait_for(browser, "#formmail-token[value]")
    time.sleep(1.2)
    browser.execute_script("document.querySelector('form').noValidate = true;")  # skip the browser's own check
    fill(browser, {"name": "", "email": "not-an-address", "message": "エラー画面の確認"})
    browser.find_element("css selector", "button[type=submit]").click()
    wait_for(browser, "ul.errors")
    page = browser.page_source
    assert "お名前：入力してください。" in page and "メールアドレス：メールアドレスを1件" in page
    assert "エラー画面の確認" in page  # the input stays in view
    shot(browser, "4-error")
