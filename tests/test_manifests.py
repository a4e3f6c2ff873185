"""The Kubernetes example in configs/kubernetes/: valid YAML, and still wired the way snisweep's
sharding expects (Indexed Jobs, the shard count in the environment, the list it scans)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from snisweep.lists.load import load

KUBERNETES = Path(__file__).resolve().parent.parent / "configs" / "kubernetes"


def documents() -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(KUBERNETES.glob("*.yaml")):
        with path.open(encoding="utf-8") as file:
            found.extend((path.name, doc) for doc in yaml.safe_load_all(file) if doc is not None)
    return found


def by_kind(kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [(name, doc) for name, doc in documents() if doc["kind"] == kind]


def job_specs() -> list[tuple[str, dict[str, Any]]]:
    """The spec of every Job, those a CronJob makes included."""
    return [(name, doc["spec"]) for name, doc in by_kind("Job")] + [
        (name, doc["spec"]["jobTemplate"]["spec"]) for name, doc in by_kind("CronJob")
    ]


def indexed_specs() -> list[tuple[str, dict[str, Any]]]:
    return [(name, spec) for name, spec in job_specs() if "completionMode" in spec]


def command_line(container: dict[str, Any]) -> str:
    return " ".join(map(str, container.get("command", []) + container.get("args", [])))


def test_every_manifest_is_a_known_kind() -> None:
    kinds = sorted(doc["kind"] for _, doc in documents())
    assert kinds == ["ConfigMap", "CronJob", "Job", "Job", "PersistentVolumeClaim"]
    for name, doc in documents():
        assert doc["apiVersion"] in ("v1", "batch/v1"), name
        assert doc["metadata"]["name"].startswith("snisweep-"), name


def test_there_is_an_indexed_job_and_a_nightly_one() -> None:
    assert sorted(name for name, _ in indexed_specs()) == [
        "nightly-cronjob.yaml",
        "scan-job.yaml",
    ]
    (_, cronjob), *_ = by_kind("CronJob")
    assert len(cronjob["spec"]["schedule"].split()) == 5


@pytest.mark.parametrize(("name", "spec"), indexed_specs())
def test_indexed_jobs_tell_snisweep_their_shard_count(name: str, spec: dict[str, Any]) -> None:
    assert spec["completionMode"] == "Indexed"
    assert 1 <= spec["parallelism"] <= spec["completions"]
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    env = {variable["name"]: variable for variable in container["env"]}
    # Kubernetes sets JOB_COMPLETION_INDEX; the count is ours to give, equal to completions.
    assert env["SNISWEEP_SHARD_COUNT"]["value"] == str(spec["completions"])
    assert "JOB_COMPLETION_INDEX" not in env
    line = command_line(container)
    assert "scan /lists" in line
    assert "JOB_COMPLETION_INDEX" in line
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert volumes[mounts["/lists"]]["configMap"]["name"] == "snisweep-lists"
    assert volumes[mounts["/reports"]]["persistentVolumeClaim"]["claimName"] == "snisweep-reports"
    for rule in spec["podFailurePolicy"]["rules"]:
        assert rule["onExitCodes"]["containerName"] == container["name"]


def test_the_reports_are_merged() -> None:
    merges = [
        name
        for name, spec in job_specs()
        for container in spec["template"]["spec"]["containers"]
        if "snisweep merge" in command_line(container)
    ]
    assert sorted(merges) == ["merge-job.yaml", "nightly-cronjob.yaml"]


def test_the_volume_is_shared_between_nodes() -> None:
    ((_, claim),) = by_kind("PersistentVolumeClaim")
    assert claim["metadata"]["name"] == "snisweep-reports"
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


def test_the_configmap_holds_a_valid_endpoint_list(tmp_path: Path) -> None:
    ((_, configmap),) = by_kind("ConfigMap")
    assert configmap["metadata"]["name"] == "snisweep-lists"
    for key, text in configmap["data"].items():
        assert key.endswith(".yaml")
        (tmp_path / key).write_text(text, encoding="utf-8")
    assert load([str(tmp_path)]).count > 0
