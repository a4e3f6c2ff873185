"""The command line end to end, as a user runs it: real processes scanning the lab on loopback."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from snisweep.core.record import COLUMNS
from snisweep.lab import Lab

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab() as running:
        yield running


@pytest.fixture
def lab_yaml(lab: Lab, tmp_path: Path) -> Path:
    path = tmp_path / "lab.yaml"
    path.write_text(lab.config_yaml(timeout=0.5, retries=1), encoding="utf-8")
    return path


def snisweep(
    *args: str, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "snisweep", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@contextmanager
def running(*args: str, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[str]]:
    """``snisweep ARGS`` in the background, killed at the end if it is still running."""
    process = subprocess.Popen(
        [sys.executable, "-m", "snisweep", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def wait_until(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == list(COLUMNS)
    for row in rows[1:]:
        assert len(row) == len(COLUMNS)
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows[1:]]


def test_scan_to_csv(lab: Lab, lab_yaml: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.csv"
    result = snisweep("scan", str(lab_yaml), "-o", str(report))
    assert result.returncode == 0, result.stderr
    rows = read_csv(report)
    assert len(rows) == len(lab.scenarios)
    got = {(r["host"], int(r["port"])): (r["verdict"], r["reason"]) for r in rows}
    assert got == {(s.host, s.port): (s.verdict.value, s.reason.value) for s in lab.scenarios}
    assert "required" in result.stderr
    assert "endpoint(s) in" in result.stderr
    assert result.stdout == ""


def test_scan_to_jsonl_by_extension_and_to_stdout(lab: Lab, lab_yaml: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.jsonl"
    assert snisweep("scan", str(lab_yaml), "-o", str(report), "--quiet").returncode == 0
    records = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]
    assert len(records) == len(lab.scenarios)
    assert all(list(r) == list(COLUMNS) for r in records)

    result = snisweep(
        "scan", "-", "-o", "-", "--format", "jsonl", "--quiet", stdin=lab_yaml.read_text()
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == len(lab.scenarios)
    assert {json.loads(line)["verdict"] for line in lines} == {
        "required",
        "mismatched",
        "optional",
        "error",
    }


def test_fail_on(lab_yaml: Path) -> None:
    assert snisweep("scan", str(lab_yaml), "--quiet", "--fail-on", "required").returncode == 1
    assert snisweep("scan", str(lab_yaml), "--quiet", "--fail-on", "required,bogus").returncode == 2


def test_config_errors_exit_2_and_touch_no_report(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("endpoints:\n  - host: ok.example.com\n    colour: blue\n  - 'bad host!'\n")
    report = tmp_path / "report.csv"
    result = snisweep("scan", str(bad), "-o", str(report))
    assert result.returncode == 2
    assert f"{bad}:3:" in result.stderr
    assert f"{bad}:4:" in result.stderr
    assert "Traceback" not in result.stderr
    assert not report.exists()

    report.write_text("precious\n")
    assert snisweep("scan", str(bad), "-o", str(report)).returncode == 2
    assert report.read_text() == "precious\n"

    result = snisweep("validate", str(bad))
    assert result.returncode == 2
    assert f"{bad}:3:" in result.stderr


def test_validate_counts(lab: Lab, lab_yaml: Path) -> None:
    result = snisweep("validate", str(lab_yaml), str(lab_yaml))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{len(lab.scenarios)} endpoint(s)")
    assert "duplicate" in result.stdout


def test_unwritable_report_exits_3(lab_yaml: Path, tmp_path: Path) -> None:
    result = snisweep("scan", str(lab_yaml), "-o", str(tmp_path / "missing-dir" / "r.csv"))
    assert result.returncode == 3
    assert "cannot write" in result.stderr
    assert "Traceback" not in result.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert snisweep().returncode == 2
    assert snisweep("scan").returncode == 2
    assert snisweep("scan", "x.yaml", "--concurrency", "0").returncode == 2
    assert snisweep("scan", "x.yaml", "--timeout", "nan").returncode == 2
    assert snisweep("validate", "-", "-", stdin="endpoints: []\n").returncode == 2
    result = snisweep("scan", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert "nope.yaml" in result.stderr


def test_version() -> None:
    result = snisweep("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("snisweep ")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_leaves_complete_rows(lab: Lab, tmp_path: Path, signum: int) -> None:
    same = next(s for s in lab.scenarios if s.name == "same-certificate")
    silent = next(s for s in lab.scenarios if s.name == "silent")
    fast = [{"host": f"f{i}.lab.test", "address": "127.0.0.1", "port": same.port} for i in range(4)]
    slow = [
        {"host": f"s{i}.lab.test", "address": "127.0.0.1", "port": silent.port} for i in range(8)
    ]
    config = tmp_path / "slow.yaml"
    config.write_text(yaml.safe_dump({"defaults": {"timeout": 30}, "endpoints": fast + slow}))
    report = tmp_path / "partial.csv"
    with running("scan", str(config), "-o", str(report), "--concurrency", "6") as process:
        wait_until(lambda: report.exists() and report.read_text().count("\n") > len(fast))
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 130, stderr
    rows = read_csv(report)
    assert len(rows) == len(fast)
    assert {r["host"] for r in rows} == {e["host"] for e in fast}
    # Recognisably partial: N of M, and how to go on.
    assert f"the report holds {len(fast)} of {len(fast) + len(slow)} endpoint(s)" in stderr
    assert "--resume" in stderr


def test_demo_shows_every_verdict(tmp_path: Path) -> None:
    report = tmp_path / "demo.jsonl"
    result = snisweep("demo", "-o", str(report))
    assert result.returncode == 0, result.stderr
    for verdict in ("required", "mismatched", "optional", "error"):
        assert f" {verdict} " in result.stdout
    assert "nosni-alert-unrecognized-name" in result.stdout
    assert len(report.read_text().splitlines()) == result.stdout.count("\n") - 1


def test_lab_command_prints_a_scannable_yaml_and_stops_on_sigint() -> None:
    with running("lab", env=dict(os.environ, PYTHONUNBUFFERED="1")) as process:
        assert process.stderr is not None
        banner = process.stderr.readline()
        assert "Ctrl-C" in banner
        process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=20)
    assert process.returncode == 0
    document = yaml.safe_load(stdout)
    assert len(document["endpoints"]) >= 10


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_report_write_failure_mid_scan_exits_3(lab_yaml: Path) -> None:
    # JSONL has no header, so the first failing write happens inside the running scan.
    result = snisweep("scan", str(lab_yaml), "-o", "/dev/full", "--format", "jsonl")
    assert result.returncode == 3, result.stderr
    assert "cannot write /dev/full" in result.stderr
    assert "Traceback" not in result.stderr


def test_report_over_an_input_list_is_refused(lab_yaml: Path) -> None:
    before = lab_yaml.read_text()
    result = snisweep("scan", str(lab_yaml), "-o", str(lab_yaml), "--format", "csv")
    assert result.returncode == 2
    assert "is one of the endpoint lists" in result.stderr
    # Without --format, the name is refused first: .yaml is no report format.
    assert snisweep("scan", str(lab_yaml), "-o", str(lab_yaml)).returncode == 2
    assert lab_yaml.read_text() == before


def test_non_utf8_terminal_still_gets_a_utf8_report(lab: Lab, tmp_path: Path) -> None:
    same = next(s for s in lab.scenarios if s.name == "same-certificate")
    config = tmp_path / "u.yaml"
    config.write_text(
        f"endpoints:\n  - {{host: same.lab.test, address: 127.0.0.1, port: {same.port}, "
        "label: Zahlungsverkehr München}\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "snisweep", "scan", str(config), "--quiet"],
        capture_output=True,
        env=dict(os.environ, PYTHONIOENCODING="ascii"),
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Zahlungsverkehr München".encode() in result.stdout


def test_a_file_size_limit_never_leaves_half_a_row(lab: Lab, tmp_path: Path) -> None:
    import resource

    same = next(s for s in lab.scenarios if s.name == "same-certificate")
    config = tmp_path / "many.yaml"
    config.write_text(
        "endpoints:\n"
        + "".join(
            f"  - {{host: h{i}.lab.test, address: 127.0.0.1, port: {same.port}}}\n"
            for i in range(40)
        )
    )
    report = tmp_path / "limited.csv"

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (6000, 6000))

    # One endpoint at a time, so that rows come in several small batches.
    command = ["scan", str(config), "-o", str(report), "--concurrency", "1"]
    result = subprocess.run(
        [sys.executable, "-m", "snisweep", *command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=limit_file_size,
    )
    assert result.returncode == 3, result.stderr
    assert "cannot write" in result.stderr
    assert report.read_bytes().endswith(b"\r\n")
    rows = read_csv(report)
    assert 0 < len(rows) < 40


def test_a_second_interrupt_is_not_a_crash(lab: Lab, tmp_path: Path) -> None:
    silent = next(s for s in lab.scenarios if s.name == "silent")
    config = tmp_path / "silent.yaml"
    config.write_text(
        "defaults: {timeout: 30}\nendpoints:\n"
        + "".join(
            f"  - {{host: s{i}.lab.test, address: 127.0.0.1, port: {silent.port}}}\n"
            for i in range(6)
        )
    )
    report = tmp_path / "r.csv"
    with running("scan", str(config), "-o", str(report)) as process:
        wait_until(report.exists)
        time.sleep(0.2)
        for _ in range(3):
            process.send_signal(signal.SIGINT)
            time.sleep(0.01)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert read_csv(report) == []


def test_a_list_that_breaks_during_the_scan_exits_3(lab: Lab, tmp_path: Path) -> None:
    silent = next(s for s in lab.scenarios if s.name == "silent")
    same = next(s for s in lab.scenarios if s.name == "same-certificate")
    config = tmp_path / "changing.yaml"
    lines = [f"  - {{host: s.lab.test, address: 127.0.0.1, port: {silent.port}}}\n"]
    lines += [
        f"  - {{host: h{i}.lab.test, address: 127.0.0.1, port: {same.port}}}\n"
        for i in range(20000)
    ]
    config.write_text("defaults: {timeout: 3, retries: 0}\nendpoints:\n" + "".join(lines))
    report = tmp_path / "r.csv"
    with running("scan", str(config), "-o", str(report), "--concurrency", "1") as process:
        wait_until(report.exists)
        # The first endpoint holds the only slot for 3 s: break the list behind the reader.
        with config.open("r+") as f:
            f.seek(100_000)  # past what the reader has buffered, well before the end
            f.write("  - {host: [unclosed\n" * 1000)
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == 3, stderr
    assert "changed during the scan" in stderr
    assert "Traceback" not in stderr
    assert report.read_bytes().endswith(b"\r\n")


# --- workers and shards ------------------------------------------------------------------------


def _mixed_list(lab: Lab, path: Path, refused: int) -> list[tuple[str, int]]:
    """The lab's scenarios and ``refused`` endpoints that fail at once; returns every key."""
    port = next(s for s in lab.scenarios if s.name == "refused").port
    extra: list[dict[str, str | int]] = [
        {"host": f"r{i}.lab.test", "address": "127.0.0.1", "port": port} for i in range(refused)
    ]
    lab_list = yaml.safe_load(lab.config_yaml(timeout=0.5, retries=1))
    lab_list["endpoints"] += extra
    path.write_text(yaml.safe_dump(lab_list), encoding="utf-8")
    return [(s.host, s.port) for s in lab.scenarios] + [
        (f"r{i}.lab.test", port) for i in range(refused)
    ]


def _keys(rows: list[dict[str, str]]) -> list[tuple[str, int]]:
    return sorted((r["host"], int(r["port"])) for r in rows)


def test_workers_feed_one_report_with_every_row_once(lab: Lab, tmp_path: Path) -> None:
    config = tmp_path / "mixed.yaml"
    keys = _mixed_list(lab, config, refused=600)
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    assert snisweep("scan", str(config), "-o", str(one), "--workers", "1").returncode == 0
    result = snisweep("scan", str(config), "-o", str(two), "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert f"{len(keys)} endpoint(s)" in result.stderr
    rows = read_csv(two)  # every line a whole row of the right width
    assert _keys(rows) == sorted(keys)
    verdicts = {(r["host"], r["port"]): (r["verdict"], r["reason"]) for r in read_csv(one)}
    assert {(r["host"], r["port"]): (r["verdict"], r["reason"]) for r in rows} == verdicts
    assert all(r["shard"] == "" for r in rows)

    result = snisweep("scan", str(config), "-o", "-", "--format", "jsonl", "--workers", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert sorted((r["host"], r["port"]) for r in map(json.loads, lines)) == sorted(keys)


def test_shards_cover_the_list_once_and_merge_back(lab: Lab, tmp_path: Path) -> None:
    config = tmp_path / "mixed.yaml"
    keys = _mixed_list(lab, config, refused=300)
    reports = [tmp_path / f"shard-{n}.csv" for n in (1, 2, 3)]
    for number, report in zip((1, 3), (reports[0], reports[2]), strict=True):
        result = snisweep("scan", str(config), "-o", str(report), "--shard", f"{number}/3")
        assert result.returncode == 0, result.stderr
    # Shard 2 as a Kubernetes Indexed Job pod runs it: from the environment, counting from 0.
    env = {**os.environ, "JOB_COMPLETION_INDEX": "1", "SNISWEEP_SHARD_COUNT": "3"}
    with running("scan", str(config), "-o", str(reports[1]), env=env) as process:
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr

    shards = [read_csv(report) for report in reports]
    assert all(shards), "300 endpoints in three shards: none is empty"
    for number, rows in enumerate(shards, start=1):
        assert {r["shard"] for r in rows} == {f"{number}/3"}
    assert sorted(k for rows in shards for k in _keys(rows)) == sorted(keys)

    merged = tmp_path / "all.csv"
    result = snisweep("merge", *map(str, reports), "-o", str(merged))
    assert result.returncode == 0, result.stderr
    assert _keys(read_csv(merged)) == sorted(keys)


def test_a_half_set_shard_environment_is_a_usage_error(lab_yaml: Path, tmp_path: Path) -> None:
    env = {**os.environ, "JOB_COMPLETION_INDEX": "0"}
    env.pop("SNISWEEP_SHARD_COUNT", None)
    report = tmp_path / "r.csv"
    with running("scan", str(lab_yaml), "-o", str(report), env=env) as process:
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "SNISWEEP_SHARD_COUNT" in stderr
    assert not report.exists()
    assert snisweep("scan", str(lab_yaml), "--shard", "0/2").returncode == 2


# --per-host: the silent servers must not hold every slot to 127.0.0.1.
TWO_WORKERS = ("--concurrency", "12", "--workers", "2", "--per-host", "64")


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
        return [int(child) for child in f.read().split()]


@contextmanager
def _two_workers_past_the_fast_rows(
    lab: Lab, tmp_path: Path, report: Path
) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """A scan with two workers of fast endpoints and silent ones, once every fast endpoint's
    row is in ``report``; yields the process and how many fast endpoints there are."""
    same = next(s for s in lab.scenarios if s.name == "same-certificate")
    silent = next(s for s in lab.scenarios if s.name == "silent")
    fast = [{"host": f"f{i}.lab.test", "address": "127.0.0.1", "port": same.port} for i in range(6)]
    slow = [
        {"host": f"s{i}.lab.test", "address": "127.0.0.1", "port": silent.port} for i in range(12)
    ]
    config = tmp_path / "slow.yaml"
    config.write_text(yaml.safe_dump({"defaults": {"timeout": 30}, "endpoints": fast + slow}))
    with running("scan", str(config), "-o", str(report), *TWO_WORKERS) as process:
        wait_until(lambda: report.exists() and report.read_text().count("\n") > len(fast))
        yield process, len(fast)


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupting_workers_leaves_complete_rows(lab: Lab, tmp_path: Path, signum: int) -> None:
    report = tmp_path / "partial.csv"
    with _two_workers_past_the_fast_rows(lab, tmp_path, report) as (process, fast):
        assert len(_children(process.pid)) == 2
        process.send_signal(signum)  # to the parent alone, as cron or Kubernetes would
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 130, stderr
    rows = read_csv(report)
    assert sorted(r["host"] for r in rows) == sorted(f"f{i}.lab.test" for i in range(fast))
    assert "interrupted" in stderr
    assert "Traceback" not in stderr


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux's /proc")
def test_a_worker_that_dies_fails_the_scan_but_keeps_the_rows(lab: Lab, tmp_path: Path) -> None:
    report = tmp_path / "partial.csv"
    with _two_workers_past_the_fast_rows(lab, tmp_path, report) as (process, fast):
        os.kill(_children(process.pid)[0], signal.SIGKILL)
        process.send_signal(signal.SIGTERM)  # the other worker is waiting for silent servers
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 130, stderr
    assert "worker" in stderr
    assert "exit code 137" in stderr
    assert len(read_csv(report)) == fast


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_report_that_fails_under_workers_exits_3(lab: Lab, tmp_path: Path) -> None:
    config = tmp_path / "mixed.yaml"
    _mixed_list(lab, config, refused=600)
    result = snisweep("scan", str(config), "-o", "/dev/full", "--workers", "2")
    assert result.returncode == 3, result.stderr
    assert "cannot write /dev/full" in result.stderr
    assert "Traceback" not in result.stderr


# --- the network path's options ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        (("--proxy", "http://alice:s3cret@proxy.corp:99999"), {}, "--proxy: proxy URL"),
        (("--proxy", "socks5://alice:s3cret@p:1080"), {}, "SOCKS"),
        ((), {"HTTPS_PROXY": "ftp://alice:s3cret@p"}, "environment variable HTTPS_PROXY"),
        (("--tls-min", "1.4"), {}, "--tls-min: expected 1.0, 1.1, 1.2 or 1.3"),
        (("--tls-min", "1.3", "--tls-max", "1.2"), {}, "1.3 is above"),
        (("--ca-file", "/nonexistent/ca.pem"), {}, "--ca-file /nonexistent/ca.pem"),
    ],
)
def test_bad_network_options_exit_2_without_secrets(
    lab_yaml: Path, tmp_path: Path, args: tuple[str, ...], env: dict[str, str], said: str
) -> None:
    report = tmp_path / "report.csv"
    result = subprocess.run(
        [sys.executable, "-m", "snisweep", "scan", str(lab_yaml), "-o", str(report), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **env},
    )
    assert result.returncode == 2, result.stderr
    assert said in result.stderr
    assert "s3cret" not in result.stderr + result.stdout
    assert "alice" not in result.stderr + result.stdout
    assert not report.exists()


def test_help_shows_no_credentials() -> None:
    result = snisweep("scan", "--help")
    assert result.returncode == 0
    assert "--proxy URL" in result.stdout
    assert "@" not in result.stdout  # no user:password@host example, not even a made-up one


def test_the_summary_names_the_per_host_limit_when_it_held_the_scan_back(
    lab: Lab, tmp_path: Path
) -> None:
    # Every lab endpoint is on 127.0.0.1: with --per-host 1 their probes queue for it.
    path = tmp_path / "lab.yaml"
    path.write_text(lab.config_yaml(timeout=1.0, retries=0), encoding="utf-8")
    held = snisweep("scan", str(path), "-o", str(tmp_path / "a.csv"), "--per-host", "1")
    free = snisweep("scan", str(path), "-o", str(tmp_path / "b.csv"), "--per-host", "200")
    assert held.returncode == free.returncode == 0
    assert "the per-address limit (--per-host 1) held the scan back" in held.stderr
    assert "per-address limit" not in free.stderr


def test_the_trust_check_uses_the_ca_file(lab: Lab, lab_yaml: Path, tmp_path: Path) -> None:
    ca = tmp_path / "lab-ca.pem"
    ca.write_bytes(lab.ca.cert_pem.bytes())
    trusted, untrusted, off = tmp_path / "t.csv", tmp_path / "u.csv", tmp_path / "o.csv"
    snisweep("scan", str(lab_yaml), "-o", str(trusted), "--ca-file", str(ca))
    snisweep("scan", str(lab_yaml), "-o", str(untrusted))
    snisweep("scan", str(lab_yaml), "-o", str(off), "--no-trust")
    same = {row["host"]: row for row in read_csv(trusted) if row["reason"] == "same-certificate"}
    row = same["same.lab.test"]
    assert (row["sni_cert_trusted"], row["sni_trust_error"]) == ("true", "")
    assert same["expired.lab.test"]["sni_cert_trusted"] == "false"
    assert "expired" in same["expired.lab.test"]["sni_trust_error"]
    by_host = {row["host"]: row for row in read_csv(untrusted)}
    assert by_host["same.lab.test"]["sni_cert_trusted"] == "false"  # the system store
    assert {row["sni_cert_trusted"] for row in read_csv(off)} == {""}


def test_an_empty_scan_is_exit_2_unless_allowed(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("endpoints: []\n", encoding="utf-8")
    report = tmp_path / "r.csv"
    refused = snisweep("scan", str(empty), "-o", str(report))
    assert refused.returncode == 2
    assert "no endpoint at all" in refused.stderr
    assert "--allow-empty" in refused.stderr
    assert not report.exists()
    allowed = snisweep("scan", str(empty), "-o", str(report), "--allow-empty")
    assert allowed.returncode == 0, allowed.stderr
    assert report.read_text(encoding="utf-8").splitlines() == [",".join(COLUMNS)]


def test_fail_on_names_the_endpoints_that_fired_it(
    lab: Lab, lab_yaml: Path, tmp_path: Path
) -> None:
    result = snisweep(
        "scan", str(lab_yaml), "-o", str(tmp_path / "r.csv"), "--fail-on", "error",
        "--expiring-within", "30",
    )  # fmt: skip
    assert result.returncode == 1
    errors = [s for s in lab.scenarios if s.verdict.value == "error"]
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("snisweep: --fail-on")]
    assert line.startswith(f"snisweep: --fail-on error: {len(errors)} endpoint(s): ")
    assert line.count("(error/") == min(len(errors), 5)
    if len(errors) > 5:
        assert line.endswith(f"; and {len(errors) - 5} more")
    assert "snisweep: cert-expiring: 0 endpoint(s)" in result.stderr


def test_diff_of_two_scans_names_what_became_required(lab_yaml: Path, tmp_path: Path) -> None:
    before, after = tmp_path / "before.csv", tmp_path / "after.jsonl"
    assert snisweep("scan", str(lab_yaml), "-o", str(before), "--no-http").returncode == 0
    assert snisweep("scan", str(lab_yaml), "-o", str(after)).returncode == 0
    result = snisweep("diff", str(before), str(after), "--fail-on", "required")
    assert result.returncode == 1, result.stderr
    changed = [line.split()[1] for line in result.stdout.splitlines()[1:]]
    # Without the HTTP check, the endpoints refused at the HTTP level were optional.
    assert sorted(host.partition(":")[0] for host in changed) == [
        "misdirected.lab.test",
        "vhost-check.lab.test",
    ]
    assert "2 verdict(s) changed" in result.stderr
    markdown = tmp_path / "changes.md"
    again = snisweep("diff", str(before), str(after), "-o", str(markdown), "--quiet")
    assert again.returncode == 0
    assert markdown.read_text(encoding="utf-8").startswith("| change | endpoint |")
    same = snisweep("diff", str(after), str(after), "--fail-on", "required")
    assert same.returncode == 0
    assert same.stdout == ""


def test_show_a_report_only_what_needs_action(lab: Lab, lab_yaml: Path, tmp_path: Path) -> None:
    report = tmp_path / "r.jsonl"
    assert snisweep("scan", str(lab_yaml), "-o", str(report)).returncode == 0
    required = {s.name for s in lab.scenarios if s.verdict.value == "required"}
    table = snisweep("show", str(report), "--only", "required")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["LABEL", "VERDICT", "REASON"]
    assert {line.split()[0] for line in lines[1:]} == required
    markdown = snisweep(
        "show", str(report), "--only", "required,mismatched", "--format", "markdown"
    )
    assert markdown.returncode == 0
    rows = markdown.stdout.splitlines()
    assert rows[0].startswith("| Endpoint |")
    wanted = [s for s in lab.scenarios if s.verdict.value in ("required", "mismatched")]
    assert len(rows) == 2 + len(wanted)
    bad = tmp_path / "bad.csv"
    bad.write_text("not,a,report\n", encoding="utf-8")
    refused = snisweep("show", str(bad))
    assert refused.returncode == 2
    assert f"{bad}:1: not a snisweep report" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_show_into_a_pipe_that_closes_early_is_no_crash(lab_yaml: Path, tmp_path: Path) -> None:
    report = tmp_path / "r.csv"
    assert snisweep("scan", str(lab_yaml), "-o", str(report)).returncode == 0
    shown = subprocess.run(
        f"{sys.executable} -m snisweep show {report} | head -n 1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.stdout.startswith("LABEL")
    assert "Traceback" not in shown.stderr
    assert "Error" not in shown.stderr


def test_a_workbook_report(lab: Lab, lab_yaml: Path, tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    pytest.importorskip("xlsxwriter")
    report = tmp_path / "report.xlsx"
    result = snisweep("scan", str(lab_yaml), "-o", str(report))
    assert result.returncode == 0, result.stderr
    sheet = openpyxl.load_workbook(report).active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == list(COLUMNS)
    assert len(rows) == 1 + len(lab.scenarios)
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref is not None
    verdicts = {row[COLUMNS.index("verdict")] for row in rows[1:]}
    assert verdicts == {"required", "mismatched", "optional", "error"}
    assert all(isinstance(row[COLUMNS.index("port")], int) for row in rows[1:])


@pytest.mark.parametrize("name", ["report.json", "report.xml", "report.txt"])
def test_an_unknown_report_extension_is_a_usage_error(
    lab_yaml: Path, tmp_path: Path, name: str
) -> None:
    report = tmp_path / name
    result = snisweep("scan", str(lab_yaml), "-o", str(report))
    assert result.returncode == 2
    assert ".csv, .jsonl, .ndjson or .xlsx" in result.stderr
    assert "--format" in result.stderr
    assert not report.exists()
    forced = snisweep("scan", str(lab_yaml), "-o", str(report), "--format", "jsonl")
    assert forced.returncode == 0
    assert report.read_text(encoding="utf-8").startswith("{")


def test_endpoints_on_the_command_line(lab: Lab, tmp_path: Path) -> None:
    same = lab.scenario("same-certificate")
    report = tmp_path / "r.csv"
    result = snisweep("scan", f"127.0.0.1:{same.port}", "-o", str(report))
    assert result.returncode == 0, result.stderr
    (row,) = read_csv(report)
    assert (row["host"], row["port"], row["reason"]) == ("127.0.0.1", str(same.port), "ip-literal")
    bad = snisweep("scan", "api.example.com:99999", "-o", str(report))
    assert bad.returncode == 2
    assert "(command line):1: api.example.com:99999: neither a file nor an endpoint" in bad.stderr
    missing = snisweep("scan", "nope.yaml")
    assert missing.returncode == 2
    assert "nope.yaml: no such file or directory" in missing.stderr


def test_standard_input_s_format_is_detected(lab: Lab) -> None:
    same = lab.scenario("same-certificate")
    text = f"# a text list\n127.0.0.1:{same.port}\n"
    result = snisweep("scan", "-", "--format", "jsonl", stdin=text)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[0])["reason"] == "ip-literal"
    csv_list = f"host,port\n127.0.0.1,{same.port}\n"
    assert snisweep("validate", "-", stdin=csv_list).stdout.startswith("1 endpoint(s)")
    refused = snisweep("validate", "-", stdin="a b c\n")
    assert refused.returncode == 2
    assert "--stdin-format yaml|text|csv" in refused.stderr


def test_a_directory_warns_about_what_it_skips(tmp_path: Path) -> None:
    configs = ROOT / "configs"
    result = snisweep("validate", str(configs), "--exclude", "kubernetes")
    assert result.returncode == 0, result.stderr
    assert "example.csv: skipped" in result.stderr
    assert "kubernetes" not in result.stderr  # left out whole, without a word
    full = snisweep("validate", str(configs))
    assert "scan-job.yaml: skipped: not an endpoint list" in full.stderr


def test_schema_and_completion_commands() -> None:
    schema = snisweep("schema")
    assert schema.returncode == 0
    assert json.loads(schema.stdout)["$id"] == "urn:snisweep:endpoint-list:0.2"
    for shell in ("bash", "zsh"):
        script = snisweep("completion", shell)
        assert script.returncode == 0, script.stderr
        assert "scan" in script.stdout
        assert "--tls-min" in script.stdout


def test_resume_scans_only_what_is_missing(lab: Lab, lab_yaml: Path, tmp_path: Path) -> None:
    report = tmp_path / "r.csv"
    assert snisweep("scan", str(lab_yaml), "-o", str(report)).returncode == 0
    whole = report.read_bytes().splitlines(keepends=True)
    # As an interrupted scan leaves it: the header, some rows, and half a row.
    report.write_bytes(b"".join(whole[:6]) + whole[6][:40])
    result = snisweep("scan", str(lab_yaml), "-o", str(report), "--resume")
    assert result.returncode == 0, result.stderr
    assert "the last row was cut short; it is scanned again" in result.stderr
    assert "resumed: 5 endpoint(s) were in the report already" in result.stderr
    rows = read_csv(report)
    assert len(rows) == len(lab.scenarios)
    assert len({(r["host"], r["port"], r["address"], r["sni"]) for r in rows}) == len(rows)
    assert report.read_text(encoding="utf-8").count("host,port,address") == 1
    again = snisweep("scan", str(lab_yaml), "-o", str(report), "--resume", "--fail-on", "required")
    # Nothing left to scan, but the report holds required rows: --fail-on judges all of it.
    assert again.returncode == 1
    assert "), 0 scanned now" in again.stderr
    assert len(read_csv(report)) == len(lab.scenarios)


def test_resume_refuses_a_report_of_other_lists(lab: Lab, lab_yaml: Path, tmp_path: Path) -> None:
    report = tmp_path / "r.csv"
    assert snisweep("scan", str(lab_yaml), "-o", str(report)).returncode == 0
    before = report.read_bytes()
    other = tmp_path / "other.yaml"
    other.write_text("endpoints:\n  - elsewhere.example:443\n", encoding="utf-8")
    result = snisweep("scan", str(other), "-o", str(report), "--resume")
    assert result.returncode == 2
    assert "is not in the endpoint lists" in result.stderr
    assert report.read_bytes() == before


def _under_a_terminal(args: list[str], *, report_on_tty: bool) -> tuple[int, str]:
    """Run snisweep with standard error (and, with ``report_on_tty``, standard output) on a
    real pseudo-terminal of 60 columns; what the terminal got."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 60, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "snisweep", *args],
        stdin=subprocess.DEVNULL,
        stdout=slave if report_on_tty else subprocess.DEVNULL,
        stderr=slave,
        env={**os.environ, "TERM": "xterm", "COLUMNS": "60"},
    )
    os.close(slave)
    seen = bytearray()
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every writer closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    return process.wait(timeout=60), seen.decode("utf-8", "replace")


def test_the_progress_bar_on_a_real_terminal(lab: Lab, tmp_path: Path) -> None:
    # Slow endpoints (a silent server, 1 s each) so that the bar is drawn a few times.
    silent = lab.scenario("silent")
    endpoints = [
        {"host": f"s{i}.lab.test", "address": "127.0.0.1", "port": silent.port} for i in range(6)
    ]
    config = tmp_path / "slow.yaml"
    config.write_text(
        yaml.safe_dump({"defaults": {"timeout": 1, "retries": 0}, "endpoints": endpoints})
    )
    report = tmp_path / "r.csv"
    code, terminal = _under_a_terminal(
        ["scan", str(config), "-o", str(report), "--concurrency", "2"], report_on_tty=False
    )
    assert code == 0, terminal
    assert "/6" in terminal  # the bar: done of the total
    assert "\x1b[" in terminal  # redrawn in place
    assert "snisweep: 6 endpoint(s) in" in terminal
    assert "\x1b" not in report.read_text(encoding="utf-8")  # the report never gets any of it
    # The report on the same terminal: no bar at all, only rows and the summary.
    code, terminal = _under_a_terminal(
        ["scan", str(config), "--concurrency", "2"], report_on_tty=True
    )
    assert code == 0
    assert terminal.startswith("host,port,address")
    assert "\x1b[" not in terminal
