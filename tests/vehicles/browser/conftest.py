"""Debian's Chromium, driven by Playwright, against pytest-django's live server."""

import os

import pytest
from playwright.sync_api import expect, sync_playwright

# The live server runs in a thread of this process while Playwright's sync API runs an event
# loop in it too; Django would otherwise refuse ORM calls made "from async context".
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
# Generous waits: the suite runs beside other work, and a slow machine is not a failure.
TIMEOUT_MS = 15_000
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _page_in(browser, locale: str):
    context = browser.new_context(locale=locale)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


@pytest.fixture
def page(browser):
    yield from _page_in(browser, "en-GB")


@pytest.fixture
def chinese_page(browser):
    """A page whose browser asks for Chinese, as a reader in China's does."""
    yield from _page_in(browser, "zh-CN")
