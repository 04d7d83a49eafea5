"""MinIO and any S3-compatible store: MINIO_ENDPOINT, MINIO_SECURE (HTTPS), the CA bundle
MINIO_CA, the region MINIO_REGION; the combinations that cannot work, and the MinIO SDK's
client (its HTTP pool carries the CA bundle)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from macroinfra.connections._ca import verify_problem

if TYPE_CHECKING:
    import urllib3
    from minio import Minio

    from macroinfra.settings import Settings

# Named, so the SDK does not ask the server for the bucket's region first (MinIO's default).
DEFAULT_REGION = "us-east-1"
REGION_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def region(settings: Settings) -> str:
    return settings.minio_region or DEFAULT_REGION


def problems(settings: Settings) -> list[str]:
    """Combinations that cannot work, one line each; never a secret value."""
    s, found = settings, []
    if s.minio_secure:
        problem = verify_problem("MINIO_CA", s.minio_ca, "MINIO_SECURE=true")
        if problem:
            found.append(problem)
    elif s.minio_ca is not None:
        found.append(
            "MINIO_CA is set, but MINIO_SECURE=false speaks plain HTTP: set MINIO_SECURE=true, "
            "or unset MINIO_CA"
        )
    if s.minio_region is not None and not REGION_PATTERN.match(s.minio_region):
        found.append(
            "MINIO_REGION: a region is lower-case letters, digits and '-' (e.g. us-east-1)"
        )
    return found


def http_options(settings: Settings) -> dict[str, Any]:
    """urllib3.PoolManager's keyword arguments for TLS: verify, with MINIO_CA when set."""
    if not settings.minio_secure:
        return {}
    options: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED"}
    if settings.minio_ca is not None:
        options["ca_certs"] = str(settings.minio_ca)
    return options


def client(settings: Settings, http: urllib3.PoolManager | None = None) -> Minio:
    """The MinIO SDK's client for the settings; `http` (a PoolManager made with
    `http_options`) sets the timeouts and retries, else the SDK's defaults apply with the CA."""
    import urllib3
    from minio import Minio

    s = settings
    if http is None:
        http = urllib3.PoolManager(**http_options(s))
    return Minio(
        s.minio_endpoint,
        access_key=s.minio_root_user,
        secret_key=s.minio_root_password.get_secret_value(),
        secure=s.minio_secure,
        region=region(s),
        http_client=http,
    )


def status_rows(settings: Settings) -> list[tuple[str, str, str, str, bool]]:
    """`status --env`'s rows for the store's TLS and region, beside AWS_ENDPOINT_URL_S3:
    (service, variable, value, value shown, secret), named as boto3 and the AWS CLI read them
    (AWS_CA_BUNDLE, AWS_REGION)."""
    s = settings
    rows = []
    if s.minio_secure and s.minio_ca is not None:
        rows.append(("minio", "AWS_CA_BUNDLE", str(s.minio_ca), str(s.minio_ca), False))
    rows.append(("minio", "AWS_REGION", region(s), region(s), False))
    return rows
