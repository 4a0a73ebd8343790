"""HUB_PLAYGROUND_* settings: read from the environment, wrong values stop start-up."""

from __future__ import annotations

import pytest

from hub.config import ConfigError, Settings


def test_defaults_and_overrides() -> None:
    default = Settings.from_env({})
    assert (default.playground_workers, default.playground_cpu_ms) == (2, 100)
    assert default.playground_load_check is True
    custom = Settings.from_env(
        {
            "HUB_PLAYGROUND_WORKERS": "4",
            "HUB_PLAYGROUND_CPU_MS": "50",
            "HUB_PLAYGROUND_MEMORY_MB": "32",
            "HUB_PLAYGROUND_TIMEOUT": "2.5",
            "HUB_PLAYGROUND_RATE": "10",
            "HUB_PLAYGROUND_LOAD_CHECK": "false",
        }
    )
    assert custom.playground_workers == 4 and custom.playground_memory_mb == 32
    assert custom.playground_timeout_seconds == 2.5 and custom.playground_rate_per_minute == 10
    assert custom.playground_load_check is False


@pytest.mark.parametrize(
    ("var", "raw"),
    [
        ("HUB_PLAYGROUND_WORKERS", "0"),
        ("HUB_PLAYGROUND_CPU_MS", "fast"),
        ("HUB_PLAYGROUND_TIMEOUT", "-1"),
    ],
)
def test_bad_values_name_the_setting(var: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=var):
        Settings.from_env({var: raw})
