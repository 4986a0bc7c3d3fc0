"""The chart's till webhook: off by default; when on, a hardened Deployment running `footfall till-webhook` with
the store secrets mounted (never in the environment), the database URL from the connections Secret, probes on
/healthz, and a Service that selects it. Rendered by the real helm."""

from tests.chart.test_chart import CHART, RELEASE, by_kind, helm, render

ENABLED = ("--set", "tillWebhook.enabled=true", "--set", "tillWebhook.secretName=till-secrets")


def test_no_webhook_unless_asked() -> None:
    assert not [d for d in render() if "till-webhook" in d["metadata"]["name"]]


def test_the_webhook_pod_mounts_the_store_secrets_and_reads_the_database_url_from_the_connections_secret() -> None:
    docs = render(*ENABLED)
    (deployment,) = [d for d in by_kind(docs, "Deployment") if d["metadata"]["name"].endswith("till-webhook")]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["footfall", "till-webhook", "--port", "8090", "--secrets", "/etc/footfall/till"]
    (volume,) = pod["volumes"]
    assert volume["secret"]["secretName"] == "till-secrets"
    assert container["volumeMounts"] == [{"name": volume["name"], "mountPath": "/etc/footfall/till", "readOnly": True}]
    (env,) = container["env"]
    assert env["name"] == "FOOTFALL_DATABASE_URL" and "secretKeyRef" in env["valueFrom"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["securityContext"]["readOnlyRootFilesystem"] and pod["automountServiceAccountToken"] is False
    (service,) = [d for d in by_kind(docs, "Service") if d["metadata"]["name"].endswith("till-webhook")]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert all(labels[k] == v for k, v in service["spec"]["selector"].items())
    assert service["spec"]["ports"][0]["port"] == 8090


def test_enabling_it_without_a_secret_is_refused_naming_the_value() -> None:
    done = helm("template", RELEASE, str(CHART), "--set", "tillWebhook.enabled=true", check=False)
    assert done.returncode != 0 and "tillWebhook.secretName" in done.stderr
