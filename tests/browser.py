"""Headless Chromium for the browser tests: Debian's ``chromium``, driven by Playwright, never downloaded."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # the network is closed: no update checks, component downloads or sync
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def headless_chromium() -> Iterator[object]:
    """Launch Debian's Chromium headless for the block; fail (never skip) saying what to install when it is missing."""
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} not found: these tests drive Debian's Chromium. Install the Debian packages "
            "`chromium` and `chromium-driver` (`make test` installs them); no browser is downloaded."
        )
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        except Error as e:
            pytest.fail(f"{CHROMIUM} did not start headless: {e}")
        try:
            yield chromium
        finally:
            chromium.close()
