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


RULES_14 = ("\n".join(f"keep {k}" for k in ["StudyDescription", "SeriesDescription", "BodyPartExamined", "Modality",
                                             "Manufacturer", "Rows", "Columns", "ProtocolName", "StationName",
                                             "InstitutionName", "InstitutionAddress", "OperatorsName", "StudyID"])
            + '\nreject if BurnedInAnnotation == "YES"\n' + "\n".join(f"keep {k}" for k in [
                "SeriesNumber", "InstanceNumber", "AcquisitionNumber", "PatientPosition", "Laterality", "ImageType",
                "ImageComments", "SliceThickness", "KVP"])
            + '\nblackout 0,0,640,40 complete if Modality == "US"\nburn overlays\n')


@pytest.fixture(scope="module")
def long_page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("long")
    (folder / "rules.deid").write_text(RULES_14)
    out = folder / "rules.html"
    assert main(["explain", str(folder / "rules.deid"), "--html", str(out)]) == 0
    return out


def test_reject_and_pixel_rules_are_rows_linked_to_their_lines(long_page):
    html = long_page.read_text()
    source = next(s for s in html.split("data-origin='")[1:] if "rules.deid:14'" in s).split("'")[0]
    assert source.endswith("rules.deid:14")
    assert html.count(f"data-origin='{source}'") == 2  # the source line's link and the reject's row
    assert "<td>reject</td><td>BurnedInAnnotation == &quot;YES&quot;</td>" in html
    assert "blackout 0,0,640,40 complete" in html and "burn overlays" in html


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_a_line_link_selects_exactly_that_lines_rules(long_page, tmp_path):
    origin = next(s for s in long_page.read_text().split("data-origin='")[1:]
                  if "rules.deid:14'" in s).split("'")[0]
    dom = _browser(tmp_path, "--dump-dom", long_page.as_uri() + "#q=" + origin).stdout
    rows = [r for r in dom.split("<tr data-action=")[1:]]
    shown = [r for r in rows if 'class="hidden"' not in r.split(">")[0]]
    assert len(shown) == 1 and shown[0].startswith('"reject"'), [r[:80] for r in shown]
