"""The compose runtime, in parts:

- `engine`: does a Docker engine answer, and the python-on-whales client that talks to it;
- `containers`: what Docker says about each container, and whether it is ready;
- `errors`: Docker's failures as one line with a hint, secrets scrubbed;
- `runtime`: `ComposeRuntime` itself (what it runs, on which ports; up, down, ps, logs...).
"""

from macroinfra.runtime.compose.containers import ONE_SHOTS, ContainerInfo
from macroinfra.runtime.compose.engine import docker_engine_reachable
from macroinfra.runtime.compose.errors import (
    DOLLAR_IN_ENV,
    classify_docker_output,
    unset_variable_warning,
)
from macroinfra.runtime.compose.runtime import (
    LOG_LINES,
    POLL_S,
    PROJECT,
    ComposeRuntime,
    compose_file,
    published_address,
)

__all__ = [
    "DOLLAR_IN_ENV",
    "LOG_LINES",
    "ONE_SHOTS",
    "POLL_S",
    "PROJECT",
    "ComposeRuntime",
    "ContainerInfo",
    "classify_docker_output",
    "compose_file",
    "docker_engine_reachable",
    "published_address",
    "unset_variable_warning",
]
