"""How MongoDB, Kafka and the S3 store are reached: MONGO_URL (mongodb:// and mongodb+srv://)
parsed and merged with the parts, the combinations that cannot work (exit 2, one line each, no
secret echoed), and the client arguments handed to pymongo, kafka-python and the MinIO SDK."""

from __future__ import annotations

import pytest

from macroinfra.connections import _ca, kafka, mongo, s3
from macroinfra.errors import ConfigError
from macroinfra.settings import load_settings

SECRET = "Hunter2%2Fpass"  # as it appears in a URL; the password is 'Hunter2/pass'
PASSWORD = "Hunter2/pass"


def problems(**settings) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, **settings)
    lines = list(caught.value.problems)
    for line in lines:
        assert PASSWORD not in line and SECRET not in line and "s3cret" not in line
    return lines


# -- MONGO_URL ------------------------------------------------------------------------------


def test_url_parts_fill_the_settings():
    url = f"mongodb://alice:{SECRET}@db1.example.test:27018/reports?authSource=ops&tls=true"
    s = load_settings(None, mongo_url=url)
    assert (s.mongo_host, s.mongo_port, s.mongo_user) == ("db1.example.test", 27018, "alice")
    assert s.mongo_password.get_secret_value() == PASSWORD
    assert (s.mongo_tls, s.mongo_auth_source) == (True, "ops")
    options = mongo.client_options(s)
    assert options["host"] == "db1.example.test" and options["port"] == 27018
    assert options["directConnection"] is True and options["password"] == PASSWORD
    assert options["authSource"] == "ops" and options["tls"] is True


def test_srv_url_means_tls_and_is_handed_to_the_driver_whole():
    url = f"mongodb+srv://alice:{SECRET}@cluster0.example.test/?retryWrites=true"
    s = load_settings(None, mongo_url=url, mongo_tls_ca="/etc/ssl/certs/ca-certificates.crt")
    t = mongo.target(s)
    assert t.srv and t.tls and t.host == "cluster0.example.test"
    options = mongo.client_options(s)
    assert options["host"] == url and "directConnection" not in options
    assert options["tls"] is True
    assert options["tlsCAFile"] == "/etc/ssl/certs/ca-certificates.crt"


def test_several_hosts_go_to_the_driver_as_the_url():
    url = "mongodb://u:p@a.example.test:27017,b.example.test:27018/?replicaSet=rs0"
    s = load_settings(None, mongo_url=url)
    assert mongo.client_options(s)["host"] == url
    assert [h for h, _ in mongo.parse_url(url).hosts] == ["a.example.test", "b.example.test"]


def test_ipv6_host_and_default_port():
    parsed = mongo.parse_url("mongodb://[::1]/")
    assert parsed.hosts == [("::1", None)]
    assert load_settings(None, mongo_url="mongodb://[::1]/").mongo_port == 27017


@pytest.mark.parametrize(
    ("url", "words"),
    [
        (f"postgresql://u:{SECRET}@h/", "must begin with mongodb:// or mongodb+srv://"),
        (f"mongodb+srv://u:{SECRET}@h.example.test:27017/", "exactly one host name"),
        (f"mongodb+srv://u:{SECRET}@a.example.test,b.example.test/", "exactly one host"),
        ("mongodb://u:Hunter2/pass@h/", "percent-encode"),
        ("mongodb://u:p@ss@h/", "percent-encode"),
        (f"mongodb://u:{SECRET}@h:99999/", "port must be a number"),
        (f"mongodb://u:{SECRET}@/", "names no host"),
        (f"mongodb://u:{SECRET}@h/?tls=maybe", "tls= must be true or false"),
    ],
)
def test_bad_urls_are_one_line_without_the_url(url, words):
    (line,) = problems(mongo_url=url)
    assert line.startswith("MONGO_URL: ") and words in line
    assert "Hunter2" not in line and "p@ss" not in line


def test_url_and_parts_that_disagree_are_named_without_values():
    url = f"mongodb://alice:{SECRET}@db1.example.test:27018/?authSource=ops&tls=true"
    lines = problems(
        mongo_url=url,
        mongo_host="db2.example.test",
        mongo_user="bob",
        mongo_password="s3cret-other",
        mongo_tls=False,
        mongo_auth_source="admin",
    )
    for variable in (
        "MONGO_HOST",
        "MONGO_USER",
        "MONGO_PASSWORD",
        "MONGO_TLS",
        "MONGO_AUTH_SOURCE",
    ):
        assert any(line.startswith(f"{variable} and MONGO_URL disagree") for line in lines), lines
    assert not any("db2" in line or "bob" in line for line in lines)


def test_parts_that_agree_with_the_url_are_no_problem():
    url = "mongodb://alice:pw@db1.example.test:27018/?authSource=ops"
    s = load_settings(
        None, mongo_url=url, mongo_host="db1.example.test", mongo_port=27018, mongo_user="alice"
    )
    assert mongo.problems(s) == []


def test_srv_url_with_a_host_setting_too():
    (line,) = problems(mongo_url="mongodb+srv://u:p@c.example.test/", mongo_host="c.example.test")
    assert line.startswith("MONGO_HOST is set, but MONGO_URL names the hosts itself")


def test_ca_without_tls_is_a_problem(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    (line,) = problems(mongo_tls_ca=str(ca))
    assert line.startswith("MONGO_TLS_CA is set but TLS is off")


def test_display_url_masks_the_password_and_secret_options():
    url = (
        f"mongodb+srv://alice:{SECRET}@cluster0.example.test/app"
        "?authMechanismProperties=AWS_SESSION_TOKEN:tok3n&replicaSet=rs0"
    )
    shown = mongo.display_url(load_settings(None, mongo_url=url))
    assert shown.startswith("mongodb+srv://alice:***@cluster0.example.test/app?")
    assert "authSource=admin" in shown and "tls=true" in shown and "replicaset=rs0" in shown
    assert "Hunter2" not in shown and "tok3n" not in shown
    plain = mongo.display_url(load_settings(None, mongo_password="s3cret"))
    assert plain == "mongodb://macro_user:***@127.0.0.1:27017/?authSource=admin"


# -- CA bundles -------------------------------------------------------------------------------


def test_unusable_ca_files(tmp_path):
    not_pem = tmp_path / "ca.der"
    not_pem.write_bytes(b"\x30\x82\x01\x0a binary")
    broken = tmp_path / "broken.pem"
    broken.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    missing = tmp_path / "missing.pem"
    assert "holds no PEM certificate" in _ca.ca_problem("X_CA", not_pem)
    assert "not a valid PEM certificate bundle" in _ca.ca_problem("X_CA", broken)
    assert "no such file" in _ca.ca_problem("X_CA", missing)
    assert "is a folder" in _ca.ca_problem("X_CA", tmp_path)
    lines = problems(
        mongo_tls=True,
        mongo_tls_ca=str(not_pem),
        kafka_security_protocol="SSL",
        kafka_ssl_ca=str(missing),
        minio_secure=True,
        minio_ca=str(tmp_path),
    )
    assert [line.split(":")[0] for line in lines] == ["MONGO_TLS_CA", "KAFKA_SSL_CA", "MINIO_CA"]


def test_verification_without_a_ca_when_the_system_store_is_empty(monkeypatch):
    monkeypatch.setattr(_ca, "system_store_empty", lambda: True)
    lines = problems(mongo_tls=True, kafka_security_protocol="SSL", minio_secure=True)
    assert len(lines) == 3
    for line, variable in zip(lines, ("MONGO_TLS_CA", "KAFKA_SSL_CA", "MINIO_CA"), strict=True):
        assert "system trust store is empty" in line and f"set {variable}" in line


# -- Kafka ------------------------------------------------------------------------------------


def test_sasl_needs_a_mechanism_a_user_and_a_password():
    lines = problems(kafka_security_protocol="SASL_SSL", kafka_sasl_username="ingest")
    assert lines == [
        "KAFKA_SECURITY_PROTOCOL=SASL_SSL needs KAFKA_SASL_MECHANISM: set it to PLAIN, "
        "SCRAM-SHA-256 or SCRAM-SHA-512",
        "KAFKA_SECURITY_PROTOCOL=SASL_SSL needs KAFKA_SASL_PASSWORD: set the SASL user's password",
    ]


def test_sasl_settings_without_a_sasl_protocol():
    (line,) = problems(kafka_sasl_mechanism="PLAIN", kafka_sasl_password="s3cret")
    assert line.startswith("KAFKA_SASL_MECHANISM, KAFKA_SASL_PASSWORD set, but ")
    assert "KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use SASL" in line


def test_ca_without_tls(tmp_path):
    (line,) = problems(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="PLAIN",
        kafka_sasl_username="u",
        kafka_sasl_password="p",
        kafka_ssl_ca=str(tmp_path / "ca.pem"),
    )
    assert line.startswith("KAFKA_SSL_CA is set, but KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT")


def test_kafka_client_options(tmp_path):
    ca = tmp_path / "ca.pem"
    s = load_settings(
        None,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="ingest",
        kafka_sasl_password="s3cret",
    )
    assert kafka.client_options(s) == {
        "security_protocol": "SASL_SSL",
        "ssl_check_hostname": True,
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "ingest",
        "sasl_plain_password": "s3cret",
    }
    assert kafka.client_options(load_settings(None)) == {"security_protocol": "PLAINTEXT"}
    del ca


# -- S3 ---------------------------------------------------------------------------------------


def test_s3_problems_and_client(tmp_path):
    (line,) = problems(minio_ca=str(tmp_path / "ca.pem"))
    assert line.startswith("MINIO_CA is set, but MINIO_SECURE=false")
    (line,) = problems(minio_region="EU West/1")
    assert line.startswith("MINIO_REGION: ")
    s = load_settings(None, minio_secure=True, minio_region="eu-west-3")
    assert s3.http_options(s) == {"cert_reqs": "CERT_REQUIRED"}
    assert s3.region(s) == "eu-west-3" and s3.region(load_settings(None)) == "us-east-1"


# -- the command line -------------------------------------------------------------------------


def test_doctor_exits_2_with_one_line_per_problem_and_no_secret(cli, tmp_path):
    result = cli(
        "doctor",
        env={
            "MONGO_URL": f"mongodb+srv://alice:{SECRET}@c.example.test:27017/",
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_USERNAME": "ingest",
            "MINIO_SECURE": "true",
            "MINIO_CA": str(tmp_path / "absent.pem"),
        },
    )
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert PASSWORD not in result.output and SECRET not in result.output
    lines = [ln.strip() for ln in result.stderr.splitlines() if ln.startswith("  ")]
    assert [ln.split(" ")[0].rstrip(":") for ln in lines] == [
        "MONGO_URL",
        "KAFKA_SECURITY_PROTOCOL=SASL_SSL",
        "KAFKA_SECURITY_PROTOCOL=SASL_SSL",
        "MINIO_CA",
    ]


def test_status_rows_name_the_security_settings_and_mask_the_password(tmp_path):
    s = load_settings(
        None,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username="ingest",
        kafka_sasl_password="s3cret",
        minio_secure=True,
        minio_region="eu-west-3",
    )
    rows = {name: (real, shown, secret) for _, name, real, shown, secret in kafka.status_rows(s)}
    assert rows["KAFKA_SECURITY_PROTOCOL"] == ("SASL_SSL", "SASL_SSL", False)
    assert rows["KAFKA_SASL_PASSWORD"] == ("s3cret", "***", True)
    assert "KAFKA_SSL_CA" not in rows
    assert kafka.status_rows(load_settings(None)) == []
    assert [r[1:3] for r in s3.status_rows(s)] == [("AWS_REGION", "eu-west-3")]


def test_the_url_password_is_a_secret_to_scrub():
    s = load_settings(None, mongo_url=f"mongodb://u:{SECRET}@h.example.test/")
    assert mongo.secrets(s) == [PASSWORD]
    assert mongo.build_url(s, PASSWORD).startswith(f"mongodb://u:{SECRET}@h.example.test/?")


def test_config_show_names_mongo_url_as_the_source_of_the_parts(cli):
    result = cli(
        "config", "show", "--json", env={"MONGO_URL": f"mongodb://alice:{SECRET}@db.example.test/"}
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output and SECRET not in result.output
    import json

    rows = {row["name"]: row for row in json.loads(result.stdout)["settings"]}
    assert rows["MONGO_HOST"]["value"] == "db.example.test"
    assert rows["MONGO_HOST"]["source"] == rows["MONGO_USER"]["source"]
    assert "MONGO_URL" in rows["MONGO_HOST"]["source"]
    assert rows["MONGO_PASSWORD"]["value"] == "***"


def test_system_store_empty_looks_where_openssl_looks(monkeypatch, tmp_path):
    import ssl

    def paths(cafile, capath):
        return ssl.DefaultVerifyPaths(cafile, capath, "SSL_CERT_FILE", "", "SSL_CERT_DIR", "")

    empty_file, empty_dir = tmp_path / "none.pem", tmp_path / "certs"
    empty_file.write_text("")
    empty_dir.mkdir()
    cases = [
        (paths(None, None), True),
        (paths(str(empty_file), str(empty_dir)), True),
        (paths(None, str(tmp_path)), False),  # holds a file
    ]
    bundle = tmp_path / "bundle.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    cases.append((paths(str(bundle), None), False))
    for found, empty in cases:
        monkeypatch.setattr(ssl, "get_default_verify_paths", lambda found=found: found)
        _ca.system_store_empty.cache_clear()
        assert _ca.system_store_empty() is empty, found
    _ca.system_store_empty.cache_clear()
