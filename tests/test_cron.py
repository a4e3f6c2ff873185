"""The nightly job as cron runs it: ``configs/cron/snisweep-nightly`` under ``env -i`` (no PATH,
no HOME, no terminal), scanning the lab on two nights, with what it prints (cron's mail) and its
exit code. The systemd units are checked for what they must say."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from snisweep.lab import Lab

ROOT = Path(__file__).resolve().parent.parent
NIGHTLY = ROOT / "configs" / "cron" / "snisweep-nightly"
SNISWEEP = Path(sys.executable).parent / "snisweep"  # the console script of this interpreter

pytestmark = pytest.mark.skipif(
    shutil.which("env") is None or not SNISWEEP.exists(),
    reason="needs env(1) and snisweep installed as a console script",
)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab() as running:
        yield running


def nightly(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    settings = [f"{key}={value}" for key, value in env.items()]
    return subprocess.run(
        ["env", "-i", *settings, "/bin/sh", str(NIGHTLY), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_two_nights_under_cron_s_environment(lab: Lab, tmp_path: Path) -> None:
    lists = tmp_path / "lists.yaml"
    lists.write_text(lab.config_yaml(timeout=0.5, retries=1), encoding="utf-8")
    reports = tmp_path / "reports"
    env = {"SNISWEEP": str(SNISWEEP)}
    # The first night, without the HTTP check: two endpoints refused at the HTTP level look
    # optional; no earlier report to compare with.
    first = nightly(
        str(lists), str(reports), "--no-http", env={**env, "SNISWEEP_NIGHT": "2026-11-30"}
    )
    assert first.returncode == 1, first.stdout + first.stderr  # required and error rows
    assert "no earlier report" in first.stdout
    assert (reports / "sni-2026-11-30.csv").exists()
    second = nightly(str(lists), str(reports), env={**env, "SNISWEEP_NIGHT": "2026-12-01"})
    assert second.returncode == 1
    mail = second.stdout
    assert "snisweep: 25 endpoint(s)" in mail or "endpoint(s) in" in mail
    assert "snisweep: --fail-on " in mail  # the endpoints that need action, named
    assert f"changes since {reports / 'sni-2026-11-30.csv'}" in mail
    assert "optional → required" in mail
    assert "2 verdict(s) changed" in mail
    assert second.stderr == ""  # everything in the one mail body, in order


def test_a_quiet_night_exits_0(tmp_path: Path) -> None:
    lists = tmp_path / "lists.yaml"
    lists.write_text("endpoints: []\n", encoding="utf-8")
    done = nightly(
        str(lists), str(tmp_path / "r"), "--allow-empty", env={"SNISWEEP": str(SNISWEEP)}
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 endpoint(s) in" in done.stdout


def test_without_snisweep_it_says_how_to_find_it(tmp_path: Path) -> None:
    # A copy of the script alone, nothing on cron's PATH: exit 127 with the remedy, not silence.
    alone = tmp_path / "snisweep-nightly"
    shutil.copy(NIGHTLY, alone)
    done = subprocess.run(
        ["env", "-i", "PATH=/nonexistent", "/bin/sh", str(alone), "a", "b"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if shutil.which("snisweep", path="/usr/local/bin:/opt/snisweep/bin:/usr/bin:/bin"):
        pytest.skip("a snisweep is installed system-wide on this machine")
    assert done.returncode == 127
    assert "set SNISWEEP=/path/to/snisweep" in done.stderr


def test_a_failed_scan_is_its_own_exit_code(tmp_path: Path) -> None:
    done = nightly(
        str(tmp_path / "missing.yaml"), str(tmp_path / "r"), env={"SNISWEEP": str(SNISWEEP)}
    )
    assert done.returncode == 2
    assert "the scan failed (exit 2)" in done.stdout


def test_the_systemd_units_run_the_nightly_job() -> None:
    service = (ROOT / "configs" / "systemd" / "snisweep.service").read_text(encoding="utf-8")
    timer = (ROOT / "configs" / "systemd" / "snisweep.timer").read_text(encoding="utf-8")
    assert "Type=oneshot" in service
    assert "ExecStart=/opt/snisweep/bin/snisweep-nightly " in service
    assert "OnCalendar=" in timer
    assert "Persistent=true" in timer
    crontab = (ROOT / "configs" / "cron" / "crontab").read_text(encoding="utf-8")
    assert "MAILTO=" in crontab
    assert "/opt/snisweep/bin/snisweep-nightly /etc/snisweep /var/lib/snisweep" in crontab
