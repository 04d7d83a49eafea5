"""Kafka: KAFKA_SECURITY_PROTOCOL (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL), SASL by
KAFKA_SASL_MECHANISM (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) with KAFKA_SASL_USERNAME and
KAFKA_SASL_PASSWORD, the CA bundle KAFKA_SSL_CA; the combinations that cannot work, and
kafka-python's connection arguments."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from macroinfra.connections._ca import verify_problem

if TYPE_CHECKING:
    from macroinfra.settings import Settings

SSL_PROTOCOLS = ("SSL", "SASL_SSL")
SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"


def uses_tls(settings: Settings) -> bool:
    return settings.kafka_security_protocol in SSL_PROTOCOLS


def uses_sasl(settings: Settings) -> bool:
    return settings.kafka_security_protocol in SASL_PROTOCOLS


def problems(settings: Settings) -> list[str]:
    """Combinations that cannot work, one line each; never a secret value."""
    s, found = settings, []
    protocol = f"KAFKA_SECURITY_PROTOCOL={s.kafka_security_protocol}"
    if uses_sasl(s):
        if s.kafka_sasl_mechanism is None:
            found.append(f"{protocol} needs KAFKA_SASL_MECHANISM: set it to {MECHANISMS}")
        if not s.kafka_sasl_username:
            found.append(f"{protocol} needs KAFKA_SASL_USERNAME: set the SASL user")
        if s.kafka_sasl_password is None or not s.kafka_sasl_password.get_secret_value():
            found.append(f"{protocol} needs KAFKA_SASL_PASSWORD: set the SASL user's password")
    else:
        sasl_set = [
            name
            for name, value in (
                ("KAFKA_SASL_MECHANISM", s.kafka_sasl_mechanism),
                ("KAFKA_SASL_USERNAME", s.kafka_sasl_username),
                ("KAFKA_SASL_PASSWORD", s.kafka_sasl_password),
            )
            if value is not None
        ]
        if sasl_set:
            found.append(
                f"{', '.join(sasl_set)} set, but {protocol} does not use SASL: set "
                "KAFKA_SECURITY_PROTOCOL=SASL_SSL (or SASL_PLAINTEXT), or unset them"
            )
    if uses_tls(s):
        problem = verify_problem("KAFKA_SSL_CA", s.kafka_ssl_ca, f"{protocol}")
        if problem:
            found.append(problem)
    elif s.kafka_ssl_ca is not None:
        found.append(
            f"KAFKA_SSL_CA is set, but {protocol} does not use TLS: set "
            "KAFKA_SECURITY_PROTOCOL=SSL (or SASL_SSL), or unset KAFKA_SSL_CA"
        )
    return found


def client_options(settings: Settings) -> dict[str, Any]:
    """kafka-python's keyword arguments for security (KafkaAdminClient, KafkaProducer, ...):
    the certificate and the host name are always verified when TLS is on."""
    s = settings
    options: dict[str, Any] = {"security_protocol": s.kafka_security_protocol}
    if uses_tls(s):
        options["ssl_check_hostname"] = True
        if s.kafka_ssl_ca is not None:
            options["ssl_cafile"] = str(s.kafka_ssl_ca)
    if uses_sasl(s):
        options["sasl_mechanism"] = s.kafka_sasl_mechanism
        options["sasl_plain_username"] = s.kafka_sasl_username
        if s.kafka_sasl_password is not None:
            options["sasl_plain_password"] = s.kafka_sasl_password.get_secret_value()
    return options


def status_rows(settings: Settings) -> list[tuple[str, str, str, str, bool]]:
    """`status --env`'s rows for Kafka's security, beside KAFKA_BOOTSTRAP_SERVERS:
    (service, variable, value, value shown, secret), as macroinfra reads them back."""
    from macroinfra.redaction import REDACTED

    s = settings
    if s.kafka_security_protocol == "PLAINTEXT":
        return []
    rows = [
        (
            "kafka",
            "KAFKA_SECURITY_PROTOCOL",
            s.kafka_security_protocol,
            s.kafka_security_protocol,
            False,
        )
    ]
    if uses_sasl(s):
        for name, value in (
            ("KAFKA_SASL_MECHANISM", s.kafka_sasl_mechanism),
            ("KAFKA_SASL_USERNAME", s.kafka_sasl_username),
        ):
            if value:
                rows.append(("kafka", name, value, value, False))
        if s.kafka_sasl_password is not None:
            secret = s.kafka_sasl_password.get_secret_value()
            rows.append(("kafka", "KAFKA_SASL_PASSWORD", secret, REDACTED, True))
    if uses_tls(s) and s.kafka_ssl_ca is not None:
        ca = str(s.kafka_ssl_ca)
        rows.append(("kafka", "KAFKA_SSL_CA", ca, ca, False))
    return rows
