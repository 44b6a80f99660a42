"""The deployment a replay file carries in its header, and which deployment a replay uses.

A file written by ``cuas simulate`` or ``cuas record`` carries the sites and sensors it was
made with (``cuas.replay.format``), so ``cuas replay FILE`` gives that file's tracks with no
other argument. ``--config`` overrides it; then every recorded sensor must be in that
config, or the replay stops naming the sensors it lacks (a radar replayed without its
position would give no tracks, silently).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from cuas.config import ConfigError, DeploymentConfig, load_config, parse_config
from cuas.replay.format import Header, ReplayFormatError, ReplayReader

DEPLOYMENT_VERSION = 1
CARRIED_SECTIONS = {"tracker", "alerts", "sites", "sensors"}
REPLAY_SOURCE = "replay:"


def header_deployment(config: DeploymentConfig) -> dict[str, Any]:
    """The header's ``deployment``: sites and sensors, tracker and alert settings that are
    not the defaults; sources become ``replay:`` (the file is the source on replay, and a
    live address has no business in a recording)."""
    raw = config.model_dump(mode="json", include=CARRIED_SECTIONS, exclude_defaults=True)
    for sensor in raw.get("sensors", []):
        sensor["source"] = REPLAY_SOURCE
    return {"version": DEPLOYMENT_VERSION, **raw}


def carried_deployment(header: Header, path: Path) -> DeploymentConfig | None:
    """The deployment in a replay file's header; None for a file that carries none."""
    raw = header.deployment
    if raw is None:
        return None
    if raw.get("version") != DEPLOYMENT_VERSION:
        raise ReplayFormatError(
            f"{path}: header deployment version {raw.get('version')!r}; this build reads "
            f"version {DEPLOYMENT_VERSION} (pass --config to replay it with a config of yours)"
        )
    body = {k: v for k, v in raw.items() if k != "version"}
    try:
        return parse_config(body, path)
    except ConfigError as exc:
        raise ConfigError(
            f"{exc} (in the deployment the replay file carries; pass --config to use another)"
        ) from None


def replay_deployment(
    path: Path, config_path: Path | None, default_config: Callable[[], Path]
) -> DeploymentConfig:
    """The deployment to replay ``path`` with: ``--config`` when given, else the one the file
    carries, else the default config (an old or imported file: its header's drivers fill in
    sensors the default lacks, as before). A config that is chosen, given or carried, must
    know every recorded sensor."""
    header = ReplayReader(path).header
    if config_path is not None:
        config = load_config(config_path)
    else:
        carried = carried_deployment(header, path)
        if carried is None:
            return load_config(default_config())
        config = carried
    check_sensors_known(config, header, path, "--config" if config_path else "its header")
    return config


def check_sensors_known(config: DeploymentConfig, header: Header, path: Path, origin: str) -> None:
    """Raise ConfigError naming the recorded sensors the config lacks."""
    known = {s.id for s in config.sensors}
    missing = sorted(set(header.sensors) - known)
    if missing:
        names = ", ".join(repr(m) for m in missing)
        raise ConfigError(
            f"{path}: recorded sensor(s) {names} are not in the deployment from {origin}; "
            "pass a --config that has them (or none, to use the deployment the file carries)"
        )
