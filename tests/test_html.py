"""`deidlang explain --html`: the page renders in a real headless browser, and filtering works."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from deidlang.cli import main

from .conftest import ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    out = tmp_path_factory.mktemp("html") / "site.html"
    assert main(["explain", str(ROOT / "examples" / "site.deid"), "--html", str(out)]) == 0
    return out


def test_page_is_self_contained_and_complete(page):
    html = page.read_text()
    assert "src=" not in html and "href='http" not in html and "<link" not in html  # nothing fetched
    assert html.count("<tr><td class=ok>✔") + html.count("<tr><td class=waived>⚠") == 50
    assert "waived: Retain Patient Characteristics Option (keep)" in html
    assert "data-origin='examples/site.deid:7'" in html  # the line of `hash PatientID`
    assert "sha256:" in html and "example-site" in html


def _browser(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.integration
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_page_renders_in_a_headless_browser(page, tmp_path):
    shot = tmp_path / "shot.png"
    _browser(tmp_path, "--window-size=1200,900", f"--screenshot={shot}", page.as_uri())
    from PIL import Image

    image = Image.open(shot).convert("L")
    assert image.size == (1200, 900)
    assert len(image.getcolors(1 << 24)) > 20  # text and table lines, not a blank page


@pytest.mark.integration
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_filtering_in_the_browser(page, tmp_path):
    dom = _browser(tmp_path, "--dump-dom", page.as_uri() + "#q=PatientID").stdout
    total = dom.count("<tr data-action=")
    shown = total - dom.count('class="hidden"')
    assert total > 800 and 0 < shown < 10
    assert f"{shown} of {total} rules" in dom
    dom = _browser(tmp_path, "--dump-dom", page.as_uri() + "#action=shift-date").stdout
    assert 0 < total - dom.count('class="hidden"') < total
