"""The systemd units docs/gateway.md ships are valid for systemd itself (`systemd-analyze verify`)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from .conftest import ROOT

UNITS = sorted((ROOT / "examples" / "systemd").glob("*.service"))


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_unit_verifies_cleanly(tmp_path, unit):
    text = unit.read_text()
    # the installed deidlang is /opt/deidlang/bin/deidlang in the unit; verify needs an executable there
    target = tmp_path / "deidlang-gateway.service"
    target.write_text(text.replace("/opt/deidlang/bin/deidlang", shutil.which("true") or "/bin/true"))
    result = subprocess.run(["systemd-analyze", "verify", str(target)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and target.name not in result.stderr, result.stderr


@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_unit_waits_for_the_network_listens_on_one_address_and_names_hosts(unit):
    text = unit.read_text()
    assert "Wants=network-online.target" in text and "After=network-online.target" in text
    assert "StateDirectory=deidlang" in text and "--host 0.0.0.0" not in text and "--host " in text
    assert all("@" in line for line in text.split() if line.startswith("--allow")) or "--allow CT01@" in text
    if "hardened" in unit.name:
        for setting in ("NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                        "CapabilityBoundingSet=", "SystemCallFilter=@system-service"):
            assert setting in text


def test_docs_carry_the_units_as_shipped():
    docs = (ROOT / "docs" / "gateway.md").read_text()
    for unit in UNITS:
        body = "\n".join(line for line in unit.read_text().splitlines())
        assert body in docs, f"docs/gateway.md does not show examples/systemd/{unit.name} as shipped"
