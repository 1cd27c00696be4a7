"""The rules docker-compose.yml promises in its comments, checked without Docker.

Usage: python compose-rules.py docker-compose.yml   (needs ruamel.yaml, which check-jsonschema
brings). Prints every broken rule and exits 1 if there is one.
"""

import os
import re
import sys

from ruamel.yaml import YAML

# What a create may take past AYRSHARE_TIMEOUT_SECS to record its outcome (RECORDING_ALLOWANCE
# in src/publishing/mod.rs), and the least margin on top before SIGKILL.
RECORDING_ALLOWANCE_SECS = 10
MARGIN_SECS = 5


def seconds(duration):
    """A compose duration such as 50s, 1m30s or 1m, in seconds."""
    total, text = 0, str(duration)
    for amount, unit in re.findall(r"(\d+)(h|m|s)", text):
        total += int(amount) * {"h": 3600, "m": 60, "s": 1}[unit]
    if not re.fullmatch(r"(\d+(h|m|s))+", text):
        raise ValueError(f"unreadable duration {text!r}")
    return total


def check(path):
    text = open(path, encoding="utf-8").read()
    compose = YAML(typ="safe").load(text)
    services = compose["services"]
    problems = []

    # `${VAR:?message}` makes every compose command fail without VAR, `down` included.
    for match in re.finditer(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?\?", text):
        problems.append(f"required-variable interpolation {match.group(0)}...}} breaks `docker compose down`")

    built = {name: s for name, s in services.items() if "build" in s}
    images = {s.get("image") for s in built.values()}
    host_ports = {}
    for name, service in services.items():
        for port in service.get("ports", []):
            if not str(port).startswith("127.0.0.1:"):
                problems.append(f"{name}: port {port!r} is published beyond 127.0.0.1")
            host = ":".join(str(port).split(":")[:2])
            if host in host_ports:
                problems.append(f"{name}: publishes {host}, as {host_ports[host]} does")
            host_ports[host] = name
        if "healthcheck" not in service:
            problems.append(f"{name}: no healthcheck")
        if "build" not in service and service.get("image") in images:
            if service.get("pull_policy") != "never":
                problems.append(f"{name}: uses the image built by another service; set pull_policy: never")
    for image in images:
        builders = sorted(name for name, s in built.items() if s.get("image") == image)
        if len(builders) != 1:
            problems.append(f"exactly one service should build {image}, not {builders}")
    if "mosaic-social" not in built:
        problems.append("mosaic-social must build the service image")

    # The `mock` profile: the simulator alone, from the Dockerfile's mock-ayrshare target, which no
    # service of the default stack may need.
    mock = services.get("mock", {})
    build = mock.get("build", {})
    if mock.get("profiles") != ["mock"]:
        problems.append("mock: must be in the `mock` profile only")
    if not isinstance(build, dict) or build.get("target") != "mock-ayrshare":
        problems.append("mock: must build the Dockerfile's mock-ayrshare target")
    if "--healthcheck" not in mock.get("healthcheck", {}).get("test", []):
        problems.append("mock: the healthcheck must be `mock-ayrshare --healthcheck`")
    for name, service in services.items():
        if "profiles" not in service and "mock" in service.get("depends_on", {}):
            problems.append(f"{name}: depends on the mock profile's service")
    dockerfile = open(os.path.join(os.path.dirname(os.path.abspath(path)), "Dockerfile"), encoding="utf-8").read()
    if not re.search(r"^FROM \S+ AS mock-ayrshare$", dockerfile, re.MULTILINE):
        problems.append("Dockerfile: no mock-ayrshare target for the mock service")

    app = services["mosaic-social"]
    if app.get("depends_on", {}).get("postgres", {}).get("condition") != "service_healthy":
        problems.append("mosaic-social: must wait for postgres to be healthy")
    if "healthcheck" not in " ".join(app.get("healthcheck", {}).get("test", [])):
        problems.append("mosaic-social: the healthcheck must probe /readyz (`mosaic-social healthcheck`)")

    timeout = str(app["environment"].get("AYRSHARE_TIMEOUT_SECS", ""))
    if not timeout.isdigit():
        problems.append("mosaic-social: AYRSHARE_TIMEOUT_SECS must be a literal number, as stop_grace_period derives from it")
    else:
        needed = int(timeout) + RECORDING_ALLOWANCE_SECS + MARGIN_SECS
        grace = seconds(app.get("stop_grace_period", "10s"))
        if grace < needed:
            problems.append(
                f"mosaic-social: stop_grace_period {grace}s < AYRSHARE_TIMEOUT_SECS {timeout} s "
                f"+ {RECORDING_ALLOWANCE_SECS} s recording + {MARGIN_SECS} s margin"
            )

    for problem in problems:
        print(f"{path}: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"{path}: compose rules hold ({len(services)} services)")


if __name__ == "__main__":
    check(sys.argv[1])
