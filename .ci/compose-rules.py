"""The rules docker-compose.yml promises in its comments, checked without Docker.

Usage: python compose-rules.py docker-compose.yml   (needs ruamel.yaml, which check-jsonschema
brings). Prints every broken rule and exits 1 if there is one.
"""

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
    for name, service in services.items():
        for port in service.get("ports", []):
            if not str(port).startswith("127.0.0.1:"):
                problems.append(f"{name}: port {port!r} is published beyond 127.0.0.1")
        if "healthcheck" not in service:
            problems.append(f"{name}: no healthcheck")
        if "build" not in service and service.get("image") in images:
            if service.get("pull_policy") != "never":
                problems.append(f"{name}: uses the image built by another service; set pull_policy: never")
    if len(built) != 1:
        problems.append(f"exactly one service should build the image, not {sorted(built)}")

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
