"""`deploy/kubernetes.yaml` starts as written: one pod's environment, read from the
manifest with stand-ins for its secrets and files, passes the production checks; and
on PostgreSQL the migration Job's command migrates a new database, and a real
`python -m app` started with the pod's environment becomes ready on it.

The stand-ins are for what the manifest's header lists as made outside it (the
`gp-online-secrets` keys and the `gp-online-keys` files); each file the manifest
mounts is written where the pod would see it, with paths moved under a temporary
directory.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cryptography.fernet import Fernet
from joserfc.jwk import RSAKey
from sqlalchemy.engine import make_url

from app.adapters.gpconnect.permissions import permissions_base_url
from app.adapters.gpconnect.settings import GPConnectSettings
from app.config import LOOPBACK_HOSTS, AppEnv, Settings
from app.db import create_engine
from app.gp.registry import load_practices
from tests.conftest import _create_database, drop_database, postgres_url
from tests.database_role import as_serving_role, grant_serving_role
from tests.live_server import free_port

PROJECT = Path(__file__).resolve().parents[2]
MANIFEST = PROJECT / "deploy" / "kubernetes.yaml"
DOCUMENTS: list[dict[str, Any]] = list(yaml.safe_load_all(MANIFEST.read_text()))
START_SECONDS = 60
# Every variable a pod's settings could be read from: cleared first, so that only the
# manifest's reach the settings (not the developer's or CI's environment).
SETTING_NAMES = {name.upper() for name in Settings.model_fields} | {
    f"GPCONNECT_{name.upper()}" for name in GPConnectSettings.model_fields
}


def document(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in DOCUMENTS if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(found) == 1, f"one {kind} {name or ''} expected, found {len(found)}"
    return found[0]


def pod_spec(kind: str) -> dict[str, Any]:
    spec: dict[str, Any] = document(kind)["spec"]["template"]["spec"]
    return spec


def api_container() -> dict[str, Any]:
    (container,) = pod_spec("Deployment")["containers"]
    return container  # type: ignore[no-any-return]


def secret_keys_used() -> set[str]:
    """Keys of `gp-online-secrets` that any container reads, and of the mounted Secret."""
    keys = set()
    for kind in ("Job", "Deployment"):
        for container in pod_spec(kind)["containers"]:
            for entry in container.get("env", []):
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    keys.add(ref["key"])
    for volume in pod_spec("Deployment")["volumes"]:
        keys.update(item["key"] for item in volume.get("secret", {}).get("items", []))
    return keys


def stand_in_secrets(*, database_url: str, redis_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "OWNER_DATABASE_URL": database_url,
        "SECRET_KEY": secrets.token_urlsafe(36),
        "PATIENT_ID_KEY": secrets.token_urlsafe(36),
        "GP_CREDENTIALS_KEY": Fernet.generate_key().decode(),
        "SERVICE_SEARCH_API_KEY": "stand-in-api-key",
        "GPCONNECT_PFS_CLIENT_ID": "stand-in-client-id",
        "RATE_LIMIT_STORAGE_URL": redis_url,
    }


def write_volume(volume: dict[str, Any], directory: Path) -> None:
    """What the pod finds at a volume's mount: a ConfigMap's files, a Secret's files
    (RSA keys, new for each run), or an empty directory."""
    directory.mkdir(parents=True, exist_ok=True)
    if "configMap" in volume:
        data = document("ConfigMap", volume["configMap"]["name"])["data"]
        for name, text in data.items():
            (directory / name).write_text(text)
    elif "secret" in volume:
        for item in volume["secret"]["items"]:
            assert item["key"].endswith(".pem"), item
            (directory / item["path"]).write_bytes(RSAKey.generate_key(2048).as_pem(private=True))


def pod_environment(root: Path, stand_ins: dict[str, str]) -> dict[str, str]:
    """The api container's environment, its mounts made under `root`."""
    container = api_container()
    volumes = {volume["name"]: volume for volume in pod_spec("Deployment")["volumes"]}
    moved: dict[str, Path] = {}
    for mount in container["volumeMounts"]:
        moved[mount["mountPath"]] = root / mount["name"]
        write_volume(volumes[mount["name"]], root / mount["name"])
    env: dict[str, str] = {}
    for entry in container["env"]:
        if "value" in entry:
            value = str(entry["value"])
        else:
            value = stand_ins[entry["valueFrom"]["secretKeyRef"]["key"]]
        mount_path = next((path for path in moved if value.startswith(path + "/")), None)
        if mount_path is not None:
            value = str(moved[mount_path] / value.removeprefix(mount_path + "/"))
        env[entry["name"]] = value
    return env


def test_every_secret_used_is_listed_in_the_header() -> None:
    header = MANIFEST.read_text().split("\napiVersion:", 1)[0]
    listed = set(re.findall(r"^#\s{3,}([A-Za-z0-9_.-]+)\s", header, re.MULTILINE))
    used = secret_keys_used()
    assert used <= listed, f"not listed in the header: {sorted(used - listed)}"
    assert used <= set(stand_in_secrets(database_url="", redis_url="")) | {
        item for item in used if item.endswith(".pem")
    }


def test_a_pod_environment_passes_the_production_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_ins = stand_in_secrets(
        database_url="postgresql+asyncpg://gp_online_app:stand-in@db.example:5432/gp_online",
        redis_url="redis://redis.example:6379/0",
    )
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    for name, value in pod_environment(tmp_path, stand_ins).items():
        monkeypatch.setenv(name, value)

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.app_env is AppEnv.PROD
    assert settings.unsafe_for_production() == []
    settings.check_safe()

    # Every GP Connect practice has what its adapter refuses to start without.
    gpconnect = GPConnectSettings(_env_file=None)  # type: ignore[call-arg]
    practices = load_practices(settings.practices_file)
    assert practices
    for practice in practices:
        assert practice.adapter == "gpconnect"
        assert gpconnect.missing_for(practice.ods_code) == []
        apis = [practice.endpoint(service) for service in ("appointments", "record")]
        apis += [practice.endpoint("prescriptions"), permissions_base_url(practice)]
        assert all(url and url.startswith("https://") for url in apis), apis
    assert gpconnect.missing_for_patient_facing(sandbox_allowed=False) == []
    # The Spine direct-care identities are not needed by the patient-facing APIs.
    spine = {"GPCONNECT_CONSUMER_ASID", "GPCONNECT_PROVIDER_ASIDS"}
    assert not spine & {entry["name"] for entry in api_container()["env"]}


def test_every_pod_can_share_budgets_and_be_scraped() -> None:
    """Several replicas need one rate-limit store; Prometheus needs a metrics port on the
    pod's address, named as the scrape annotation says."""
    env = {entry["name"]: entry for entry in api_container()["env"]}
    replicas = max(
        document("Deployment")["spec"]["replicas"],
        document("HorizontalPodAutoscaler")["spec"]["maxReplicas"],
    )
    assert replicas > 1
    assert "secretKeyRef" in env["RATE_LIMIT_STORAGE_URL"]["valueFrom"]
    ports = {port["name"]: port["containerPort"] for port in api_container()["ports"]}
    assert int(env["METRICS_PORT"]["value"]) == ports["metrics"]
    assert env["METRICS_HOST"]["value"] not in LOOPBACK_HOSTS
    annotations = document("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) == ports["metrics"]
    assert env["FORWARDED_ALLOW_IPS"]["value"] != "*"


def test_each_pod_runs_as_a_numbered_user() -> None:
    """The image's user is a name, which `runAsNonRoot` cannot check: without a number
    the kubelet refuses to start the container."""
    for kind in ("Job", "Deployment"):
        context = pod_spec(kind)["securityContext"]
        assert context["runAsNonRoot"] is True
        assert isinstance(context.get("runAsUser"), int) and context["runAsUser"] > 0, kind


# --- one pod, started ---------------------------------------------------------


def run_migration_job(owner_url: str) -> None:
    """The migration Job's command with its environment (and the image's `APP_ENV`)."""
    (container,) = pod_spec("Job")["containers"]
    stand_ins = stand_in_secrets(database_url=owner_url, redis_url="")
    env = {name: value for name, value in os.environ.items() if name not in SETTING_NAMES}
    env["APP_ENV"] = "prod"  # the image's (Dockerfile)
    for entry in container["env"]:
        env[entry["name"]] = (
            entry.get("value") or stand_ins[entry["valueFrom"]["secretKeyRef"]["key"]]
        )
    program, *arguments = container["command"]
    done = subprocess.run(  # noqa: S603 - the venv's own tool, the manifest's arguments
        [str(Path(sys.executable).parent / program), *arguments],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def pod_database() -> Iterator[str]:
    """A database the migration Job brought to this release, as the pod's serving role
    sees it after the owner ran the grants."""
    server_url = postgres_url()
    if not server_url or make_url(server_url).get_backend_name() != "postgresql":
        pytest.skip("starting a pod in prod mode needs PostgreSQL: set TEST_DATABASE_URL")
    name = f"{make_url(server_url).database}_pod_{os.getpid()}"
    owner_url = make_url(server_url).set(database=name).render_as_string(hide_password=False)

    async def grant() -> None:
        engine = create_engine(owner_url)
        try:
            await grant_serving_role(engine)
        finally:
            await engine.dispose()

    asyncio.run(_create_database(server_url, name))
    try:
        run_migration_job(owner_url)
        asyncio.run(grant())
        yield as_serving_role(owner_url)
    finally:
        asyncio.run(drop_database(server_url, name))


def test_a_pod_starts_in_prod_and_becomes_ready(tmp_path: Path, pod_database: str) -> None:
    stand_ins = stand_in_secrets(database_url=pod_database, redis_url="redis://127.0.0.1:6379/13")
    port, metrics_port = free_port(), free_port()
    env = {
        **{name: value for name, value in os.environ.items() if name not in SETTING_NAMES},
        **pod_environment(tmp_path / "pod", stand_ins),
        # Set by the image (Dockerfile) in a real pod; here on loopback and free ports.
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "METRICS_PORT": str(metrics_port),
        "RATE_LIMIT_NAMESPACE": f"gp-online-pod-test-{port}",
    }
    log = tmp_path / "pod.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "app"],
            cwd=PROJECT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        ready = wait_until_ready(f"http://127.0.0.1:{port}", process, log)
        assert ready["checks"]["database"] == "ok", ready
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)
        assert metrics.status_code == 200
        assert "gponline_http_requests" in metrics.text
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def wait_until_ready(base_url: str, process: subprocess.Popen[bytes], log: Path) -> Any:
    deadline = time.monotonic() + START_SECONDS
    while True:
        assert process.poll() is None, f"the pod's process exited:\n{log.read_text()}"
        try:
            answer = httpx.get(f"{base_url}/readyz", timeout=2)
            if answer.status_code == 200:
                return answer.json()
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"not ready in time:\n{log.read_text()}"
        time.sleep(0.3)
