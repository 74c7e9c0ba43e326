"""The `console` section of callbot.yml (every key has a default)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from callbot.config import Config

if TYPE_CHECKING:
    from telephony.settings import TelephonySettings


@dataclass(frozen=True)
class ConsoleSettings:
    database_url: str  # the call log's (telephony.database_url, else SQLite calls.db under state_dir)
    state_dir: Path  # saved caller audio lives under <state_dir>/calls/
    build_dir: Path  # build/examples.csv names the intents a label may take
    session_hours: float = 12.0
    page_size: int = 50
    low_confidence: float = 0.5  # telephony.low_confidence: intent confidence under it is a risk
    router_unsure: float = 0.6  # router confidence under it is a risk
    port: int = 8090  # `callbot console` alone
    config_path: Path | None = None  # the callbot.yml background jobs run with
    models_dir: Path = Path("models")
    common_domain: str = "common"
    eval_sets: tuple[Path, ...] = ()  # labelled CSVs a candidate is compared on (default build/test.csv)
    gate_max_drop_points: float = 1.0  # a set whose accuracy drops by more blocks the promotion
    replicas: tuple[str, ...] = ()  # base URLs reloaded one by one on promotion (empty: this process)
    holdout_days: float = 0.0  # labels this recent stay out of `data build` and are a comparison set
    job_lost_seconds: float = 60.0  # a running job without a heartbeat this long is shown as lost
    model_store: str = "none"  # models.store (a folder made absolute): promotion publishes the version there
    conversations: tuple[Path, ...] = ()  # conversation suites (files or folders) a comparison plays
    gate_conversation_max_drop_points: float = 0.0  # a suite whose pass rate drops by more blocks it


def read_console_settings(config: Config, telephony: TelephonySettings | None = None) -> ConsoleSettings:
    """Validate the `console` section; raises `ConfigError` listing every bad key. `telephony`: the
    server's own settings when it mounts the console (the call log it writes is the one shown)."""
    from bot.model_store import store_setting
    from telephony.settings import read_telephony_settings

    telephony = telephony or read_telephony_settings(config)
    r = config.reader("console")
    paths = config.section("paths")
    build_dir = config.resolve(str(paths.get("build_dir") or "build"))
    settings = ConsoleSettings(
        database_url=telephony.sqlalchemy_url,
        state_dir=telephony.state_dir,
        build_dir=build_dir,
        session_hours=r.float("session_hours", 12.0, min=0.1, max=24.0 * 30),
        page_size=r.int("page_size", 50, min=5, max=500),
        low_confidence=telephony.low_confidence,
        router_unsure=r.float("router_unsure", 0.6, min=0.0, max=1.0),
        port=r.int("port", 8090, min=1, max=65535),
        config_path=config.path,
        models_dir=telephony.models_dir,
        common_domain=str(config.section("data").get("common_domain") or "common"),
        eval_sets=tuple(config.resolve(p) for p in r.str_list("eval_sets", [str(build_dir / "test.csv")])),
        gate_max_drop_points=r.float("gate_max_drop_points", 1.0, min=0.0, max=100.0),
        replicas=tuple(u.rstrip("/") for u in r.str_list("replicas", [])),
        holdout_days=r.float("holdout_days", 0.0, min=0.0, max=3650.0),
        job_lost_seconds=r.float("job_lost_seconds", 60.0, min=5.0, max=86400.0),
        model_store=store_setting(config),
        conversations=tuple(config.resolve(p) for p in r.str_list("conversations", [])),
        gate_conversation_max_drop_points=r.float(
            "gate_conversation_max_drop_points", 0.0, min=0.0, max=100.0
        ),
    )
    r.done(
        known=(
            "session_hours",
            "page_size",
            "router_unsure",
            "port",
            "eval_sets",
            "gate_max_drop_points",
            "replicas",
            "holdout_days",
            "job_lost_seconds",
            "conversations",
            "gate_conversation_max_drop_points",
        )
    )
    return settings
