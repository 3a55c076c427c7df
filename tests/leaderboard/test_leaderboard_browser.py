"""The built page in a real browser: headless Chromium (Debian's ``chromium`` + ``chromium-driver``) driven
by Selenium finds the expected rows and values, sorting by a column header reorders the rows, the plots
render and nothing is fetched from the network."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.leaderboard.conftest import TinyRun

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="headless Chromium is not installed (Debian: apt-get install -y chromium chromium-driver; .ci/run installs it)",
    ),
]

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:  # a test dependency (the `test` extra), not an optional one
        raise AssertionError("the browser test needs selenium: pip install -e '.[test]'") from exc

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    # explicit driver and browser paths: Selenium Manager is not consulted (nothing is downloaded)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _methods(driver: Any) -> list[str]:
    from selenium.webdriver.common.by import By

    return [row.get_attribute("data-method") for row in driver.find_elements(By.CSS_SELECTOR, "#board-lb-tiny-v1 tbody tr")]


def test_page_rows_values_and_sorting(browser: Any, tiny_run: TinyRun):
    from selenium.webdriver.common.by import By

    browser.get((tiny_run.board / "index.html").resolve().as_uri())
    assert browser.title == "hyperbench leaderboard"
    report = tiny_run.report["methods"]
    by_iqm = sorted(report, key=lambda m: -report[m]["aggregates"]["iqm"]["point"])
    assert _methods(browser) == by_iqm  # initial order: best IQM first
    for method, entry in report.items():
        row = browser.find_element(By.CSS_SELECTOR, f'#board-lb-tiny-v1 tr[data-method="{method}"]')
        iqm = entry["aggregates"]["iqm"]
        cell = row.find_element(By.CSS_SELECTOR, 'td[data-key="iqm"]')
        assert cell.text == f"{iqm['point']:.2f} [{iqm['ci'][0]:.2f}, {iqm['ci'][1]:.2f}]"
        assert row.find_element(By.CSS_SELECTOR, 'td[data-key="submitter"]').text == "Ada Lovelace"
        link = row.find_element(By.CSS_SELECTOR, 'td[data-key="raw"] a').get_attribute("href")
        assert link.endswith(f"/submissions/lb-tiny/{tiny_run.submission_id}.json")

    header = browser.find_element(By.CSS_SELECTOR, '#board-lb-tiny-v1 th[data-key="iqm"] button')
    header.click()  # descending → ascending
    assert _methods(browser) == by_iqm[::-1]
    iqm_th = browser.find_element(By.CSS_SELECTOR, '#board-lb-tiny-v1 th[data-key="iqm"]')
    assert iqm_th.get_attribute("aria-sort") == "ascending"
    header.click()
    assert _methods(browser) == by_iqm
    browser.find_element(By.CSS_SELECTOR, '#board-lb-tiny-v1 th[data-key="method"] button').click()
    assert _methods(browser) == sorted(report)

    # the plots of the entry render (inline PNGs) and the page fetched nothing over the network
    browser.find_element(By.CSS_SELECTOR, f"#entry-{tiny_run.submission_id} summary").click()
    images = browser.find_elements(By.CSS_SELECTOR, f"#entry-{tiny_run.submission_id} img")
    assert len(images) == 5
    assert all(
        browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) > 100 for img in images
    )
    resources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert all(name.startswith("data:") for name in resources), resources
