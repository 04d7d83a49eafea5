"""MongoDB: MONGO_URL (mongodb:// or mongodb+srv://) or the parts (MONGO_HOST, MONGO_PORT,
MONGO_USER, MONGO_PASSWORD, MONGO_TLS, MONGO_TLS_CA, MONGO_AUTH_SOURCE), the combinations that
cannot work, and pymongo's connection arguments.

What the URL says wins over a part left at its default; a part set explicitly that says
otherwise is a problem. A `mongodb+srv://` URL means TLS unless it says `tls=false`, and its
hosts come from DNS when the client connects (pymongo needs dnspython for that).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote

from pydantic import SecretStr

from macroinfra.addresses import check_host
from macroinfra.connections._ca import ca_problem, verify_problem
from macroinfra.redaction import REDACTED

if TYPE_CHECKING:
    from macroinfra.settings import Settings

URL_SETTING = "mongo_url"  # the setting whose value gives the fields of url_fields
SCHEME, SRV_SCHEME = "mongodb://", "mongodb+srv://"
DEFAULT_PORT = 27017
TRUE, FALSE = {"true", "1", "yes"}, {"false", "0", "no"}
# URL options shown as they are by display_url(); any other value (a token, a key) is masked.
PLAIN_OPTIONS = {
    "appname",
    "authmechanism",
    "compressors",
    "directconnection",
    "journal",
    "loadbalanced",
    "maxpoolsize",
    "readpreference",
    "replicaset",
    "retryreads",
    "retrywrites",
    "tlscafile",
    "w",
    "wtimeoutms",
}


class UrlError(ValueError):
    """MONGO_URL cannot be read; the message never holds the URL."""


@dataclass(frozen=True)
class MongoUrl:
    srv: bool
    hosts: list[tuple[str, int | None]]
    user: str | None
    password: str | None = field(repr=False)
    database: str | None
    options: dict[str, str]  # lower-cased names

    def option(self, name: str) -> str | None:
        return self.options.get(name.lower())

    @property
    def tls(self) -> bool | None:
        """What the URL says about TLS: tls= or ssl=, else True for +srv, else None."""
        value = self.option("tls") or self.option("ssl")
        if value is not None:
            return value.lower() in TRUE
        return True if self.srv else None


def parse_url(url: str) -> MongoUrl:
    """MONGO_URL's parts; UrlError (never echoing the URL) when it cannot be read."""
    if url.startswith(SRV_SCHEME):
        srv, rest = True, url[len(SRV_SCHEME) :]
    elif url.startswith(SCHEME):
        srv, rest = False, url[len(SCHEME) :]
    else:
        raise UrlError(f"must begin with {SCHEME} or {SRV_SCHEME}")
    location, _, query = rest.partition("?")
    # The last '@' ends the user info, so a '/' in an unencoded password is caught below.
    userinfo, at, after = location.rpartition("@")
    host_list, _, database = after.partition("/")
    user = password = None
    if at:
        raw_user, colon, raw_password = userinfo.partition(":")
        if "@" in userinfo or ":" in raw_password or "/" in userinfo:
            raise UrlError("percent-encode ':', '/' and '@' in the user name and password")
        user = unquote(raw_user) or None
        password = unquote(raw_password) if colon else None
    if not host_list:
        raise UrlError("names no host")
    hosts = [_host_port(h) for h in host_list.split(",")]
    if srv and (len(hosts) != 1 or hosts[0][1] is not None):
        raise UrlError(f"a {SRV_SCHEME} URL names exactly one host name, without a port")
    options: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        options[key.lower()] = value
    for key in ("tls", "ssl", "directconnection"):
        if key in options and options[key].lower() not in TRUE | FALSE:
            raise UrlError(f"{key}= must be true or false")
    return MongoUrl(srv, hosts, user, password, unquote(database) or None, options)


def _host_port(entry: str) -> tuple[str, int | None]:
    if entry.startswith("["):
        host, _, tail = entry[1:].partition("]")
        port = tail[1:] if tail.startswith(":") else None
    else:
        host, colon, port_text = entry.partition(":")
        port = port_text if colon else None
    if port is not None and (not port.isdigit() or not 1 <= int(port) <= 65535):
        raise UrlError("a port must be a number from 1 to 65535")
    try:
        check_host(unquote(host))
    except ValueError as exc:
        raise UrlError(f"bad host name: {exc}") from None
    return unquote(host), int(port) if port is not None else None


@dataclass(frozen=True)
class MongoTarget:
    """What the client connects to, the URL and the parts merged."""

    url: MongoUrl | None
    host: str  # the first host (the SRV name for +srv)
    port: int
    user: str | None
    password: str | None = field(repr=False)
    auth_source: str
    tls: bool
    tls_ca: Path | None

    @property
    def srv(self) -> bool:
        return self.url is not None and self.url.srv

    @property
    def single_host(self) -> bool:
        return self.url is None or (not self.url.srv and len(self.url.hosts) == 1)


def _explicit(settings: Settings, name: str) -> bool:
    return name in settings.model_fields_set


def _url(settings: Settings) -> MongoUrl | None:
    if settings.mongo_url is None:
        return None
    try:
        return parse_url(settings.mongo_url.get_secret_value())
    except UrlError:
        return None


def target(settings: Settings) -> MongoTarget:
    """The URL's values, the explicit parts where the URL says nothing, else the defaults."""
    s, url = settings, _url(settings)
    if url is None:
        return MongoTarget(
            None,
            s.mongo_host,
            s.mongo_port,
            s.mongo_user,
            s.mongo_password.get_secret_value(),
            s.mongo_auth_source,
            s.mongo_tls,
            s.mongo_tls_ca,
        )
    host, port = url.hosts[0]
    ca = url.option("tlsCAFile")
    return MongoTarget(
        url,
        host,
        port or DEFAULT_PORT,
        url.user if url.user is not None else s.mongo_user,
        url.password if url.password is not None else s.mongo_password.get_secret_value(),
        url.option("authSource") or s.mongo_auth_source,
        url.tls if url.tls is not None else s.mongo_tls,
        Path(ca) if ca else s.mongo_tls_ca,
    )


def url_fields(settings: Settings) -> dict[str, Any]:
    """The field values MONGO_URL gives, for the fields not set explicitly."""
    url = _url(settings)
    if url is None:
        return {}
    host, port = url.hosts[0]
    values: dict[str, Any] = {"mongo_host": host}
    if port is not None:
        values["mongo_port"] = port
    if url.user is not None:
        values["mongo_user"] = url.user
    if url.password is not None:
        values["mongo_password"] = SecretStr(url.password)
    if url.tls is not None:
        values["mongo_tls"] = url.tls
    if url.option("authSource"):
        values["mongo_auth_source"] = url.option("authSource")
    if url.option("tlsCAFile"):
        values["mongo_tls_ca"] = Path(str(url.option("tlsCAFile")))
    return {k: v for k, v in values.items() if not _explicit(settings, k)}


def problems(settings: Settings) -> list[str]:
    """Combinations that cannot work, one line each; never a secret value."""
    s, found = settings, []
    if s.mongo_url is not None:
        try:
            found.extend(_disagreements(s, parse_url(s.mongo_url.get_secret_value())))
        except UrlError as exc:
            # What TLS the URL means is unknown: only the CA file itself can be checked.
            found.append(f"MONGO_URL: {exc}: fix the URL")
            problem = ca_problem("MONGO_TLS_CA", s.mongo_tls_ca) if s.mongo_tls_ca else None
            return found + ([problem] if problem else [])
    t = target(s)
    if t.tls_ca is not None and not t.tls:
        found.append(
            "MONGO_TLS_CA is set but TLS is off: set MONGO_TLS=true (or tls=true in MONGO_URL), "
            "or unset MONGO_TLS_CA"
        )
    elif t.tls:
        problem = verify_problem("MONGO_TLS_CA", t.tls_ca, "MongoDB TLS")
        if problem:
            found.append(problem)
    return found


def _disagreements(s: Settings, url: MongoUrl) -> list[str]:
    found = []

    def differs(variable: str, field_name: str, url_value: Any, value: Any, what: str) -> None:
        if url_value is not None and _explicit(s, field_name) and url_value != value:
            found.append(
                f"{variable} and MONGO_URL disagree on the {what}: unset {variable}, "
                "or make the two agree"
            )

    if url.srv or len(url.hosts) > 1:
        for variable, name in (("MONGO_HOST", "mongo_host"), ("MONGO_PORT", "mongo_port")):
            if _explicit(s, name):
                found.append(
                    f"{variable} is set, but MONGO_URL names the hosts itself: unset {variable}"
                )
    else:
        host, port = url.hosts[0]
        differs("MONGO_HOST", "mongo_host", host, s.mongo_host, "host")
        differs("MONGO_PORT", "mongo_port", port or DEFAULT_PORT, s.mongo_port, "port")
    differs("MONGO_USER", "mongo_user", url.user, s.mongo_user, "user")
    password = s.mongo_password.get_secret_value()
    differs("MONGO_PASSWORD", "mongo_password", url.password, password, "password")
    differs("MONGO_TLS", "mongo_tls", url.tls, s.mongo_tls, "use of TLS")
    differs(
        "MONGO_AUTH_SOURCE",
        "mongo_auth_source",
        url.option("authSource"),
        s.mongo_auth_source,
        "authentication database",
    )
    ca = url.option("tlsCAFile")
    differs("MONGO_TLS_CA", "mongo_tls_ca", Path(ca) if ca else None, s.mongo_tls_ca, "CA file")
    return found


def client_options(settings: Settings) -> dict[str, Any]:
    """pymongo's MongoClient keyword arguments (no timeouts): the URL when it names several
    hosts or an SRV record, else host and port with a direct connection."""
    t = target(settings)
    options: dict[str, Any] = {
        "username": t.user,
        "password": t.password,
        "authSource": t.auth_source,
        "tls": t.tls,
    }
    if t.tls and t.tls_ca is not None:
        options["tlsCAFile"] = str(t.tls_ca)
    if t.single_host and not t.srv:
        options.update(host=t.host, port=t.port, directConnection=True)
    else:
        assert settings.mongo_url is not None
        options["host"] = settings.mongo_url.get_secret_value()
    return {k: v for k, v in options.items() if v is not None}


def build_url(settings: Settings, password: str | None) -> str:
    """The connection URL pymongo (and mongosh) take: MONGO_URL's hosts and options, or the
    parts, with authSource, tls and tlsCAFile as the settings say. `password` is written
    quoted; REDACTED (or None: no password) also masks the URL options that may hold a token.
    """
    t = target(settings)
    masked = password is None or password == REDACTED
    if t.url is not None:
        scheme = SRV_SCHEME if t.srv else SCHEME
        hosts = ",".join(_netloc(h, p) for h, p in t.url.hosts)
    else:
        scheme, hosts = SCHEME, _netloc(t.host, t.port)
    auth = ""
    if t.user:
        shown = password if password == REDACTED else quote(password or "", safe="")
        auth = quote(t.user, safe="") + (f":{shown}" if password and t.password else "") + "@"
    query = {"authSource": t.auth_source}
    if t.tls:
        query["tls"] = "true"
        if t.tls_ca is not None:
            query["tlsCAFile"] = str(t.tls_ca)
    elif t.srv:
        query["tls"] = "false"
    if t.url is not None:
        for key, value in t.url.options.items():
            if key not in {"authsource", "tls", "ssl", "tlscafile"}:
                query[key] = value if key in PLAIN_OPTIONS or not masked else REDACTED
    text = "&".join(f"{k}={quote(str(v), safe='/')}" for k, v in query.items())
    database = f"/{quote(t.url.database, safe='')}" if t.url and t.url.database else "/"
    return f"{scheme}{auth}{hosts}{database}?{text}"


def display_url(settings: Settings) -> str:
    """The connection URL with the password as ***: for `status --env` and `config show`."""
    return build_url(settings, REDACTED)


def secrets(settings: Settings) -> list[str]:
    """The secret values MONGO_URL holds (its password), for the output scrubber."""
    t = target(settings)
    return [t.password] if t.url is not None and t.password else []


def _netloc(host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"
