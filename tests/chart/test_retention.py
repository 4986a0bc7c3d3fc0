"""The chart's retention CronJob: on by default, hourly, one run at a time, `footfall retention` with the database
URL from the connections Secret and the days from values (rollups kept unless asked), no API token, hardened like
every footfall pod; bad values refused by the schema. Rendered by the real helm."""

import pytest

from tests.chart.test_chart import CHART, CONNECTIONS, RELEASE, by_kind, helm, render


def cronjob(*values: str) -> dict:
    (job,) = [d for d in by_kind(render(*values), "CronJob") if d["metadata"]["name"].endswith("-retention")]
    return job


def test_hourly_one_at_a_time_with_the_default_retention() -> None:
    job = cronjob()
    assert job["spec"]["concurrencyPolicy"] == "Forbid" and job["spec"]["schedule"] == "17 * * * *"
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["footfall", "retention"]
    env = {e["name"]: e for e in container["env"]}
    assert env["FOOTFALL_RETENTION_RAW_DAYS"]["value"] == "90"
    assert "FOOTFALL_RETENTION_ROLLUP_DAYS" not in env  # rollups kept for ever
    assert env["FOOTFALL_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "FOOTFALL_DATABASE_URL"
    assert pod["automountServiceAccountToken"] is False and pod["restartPolicy"] == "Never"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_days_from_values_and_off_when_disabled() -> None:
    job = cronjob("--set", "retention.rawDays=30", "--set", "retention.rollupDays=730")
    (container,) = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert (env["FOOTFALL_RETENTION_RAW_DAYS"], env["FOOTFALL_RETENTION_ROLLUP_DAYS"]) == ("30", "730")
    assert not by_kind(render("--set", "retention.enabled=false"), "CronJob")


@pytest.mark.parametrize("bad", ["retention.rawDays=0", "retention.rollupDays=-1", "retention.schedule=x"])
def test_bad_values_are_refused_by_the_schema(bad: str) -> None:
    done = helm("template", RELEASE, str(CHART), *CONNECTIONS, "--set", bad, check=False)
    assert done.returncode != 0 and "retention" in done.stderr
