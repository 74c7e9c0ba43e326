"""How long the sample takes from its files to trained models: `callbot data build` then `callbot train`,
everything `make run` does before serving, on fresh folders (no earlier build, models or reply audio).

The configuration is callbot.yml (or --config) with `paths` pointed into a temporary folder, so nothing
of the checkout is touched or reused. Prints wall-clock and CPU seconds of each command (CPU: user +
system of the command and its children, worker processes included), the load average around the run
(the machine's other work slows it), each model's training seconds and the thresholds chosen.

    .venv/bin/python benchmarks/train_time.py
    .venv/bin/python benchmarks/train_time.py --set bot.train_workers=1 --json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def config_copy(source: Path, root: Path, overrides: list[str]) -> Path:
    """`source` with its relative paths made absolute (to its folder) and `paths` moved under `root`."""
    raw = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    base = source.parent.resolve()
    raw["paths"] = {k: str(root / k) for k in ("build_dir", "models_dir", "state_dir")}
    data = raw.setdefault("data", {})
    for key in ("qna", "chat_logs"):
        data[key] = [str(base / p) for p in data.get(key) or []]
    if data.get("overlay_dir"):
        data["overlay_dir"] = str(base / data["overlay_dir"])
    bot = raw.setdefault("bot", {})
    for key in ("actions_dir", "stores_file"):
        if bot.get(key):
            bot[key] = str(base / bot[key])
    bot["vocabulary_files"] = [str(base / p) for p in bot.get("vocabulary_files") or []]
    raw.setdefault("stt", {})["work_dir"] = str(root / "state_dir" / "stt")
    for item in overrides:
        dotted, _, value = item.partition("=")
        *parents, leaf = dotted.split(".")
        node = raw
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = yaml.safe_load(value)
    out = root / "callbot.yml"
    out.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return out


def timed(command: list[str]) -> dict[str, object]:
    """Run `command`; its wall and CPU seconds, the load around it and its stderr lines (its progress with
    `--json`), each with the second it arrived."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    started = time.monotonic()
    lines = []
    with subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stderr is not None and proc.stdout is not None
        for line in proc.stderr:
            lines.append(f"{time.monotonic() - started:7.1f}  {line.rstrip()}")
        proc.stdout.read()
    if proc.returncode:
        raise SystemExit(f"{' '.join(command[-2:])} failed ({proc.returncode}):\n" + "\n".join(lines[-20:]))
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "wall": round(wall, 1),
        "cpu": round(cpu, 1),
        "load_before": load,
        "load_after": os.getloadavg()[0],
        "progress": lines,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=REPO / "callbot.yml")
    ap.add_argument("--set", action="append", default=[], help="a config override, e.g. bot.train_workers=1")
    ap.add_argument(
        "--keep", type=Path, default=None, help="work in this folder and keep it (default: a temp one)"
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="callbot-train-time-") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        config = config_copy(args.config, root.resolve(), args.set)
        callbot = [sys.executable, "-c", "from callbot.cli.main import app; app()", "--config", str(config)]
        build = timed([*callbot, "data", "build"])
        train = timed([*callbot, "train", "--json"])
        models = root / "models_dir"
        version = (models / "current").read_text(encoding="utf-8").strip()
        manifest = json.loads((models / version / "manifest.json").read_text(encoding="utf-8"))
    report = {
        "cpu_count": os.cpu_count(),
        "data_build": build,
        "train": train,
        "total_wall": round(build["wall"] + train["wall"], 1),
        "models": {name: m["seconds"] for name, m in manifest["models"].items()},
        "thresholds": {
            k: manifest["thresholds"].get(k) for k in ("router", "domain_default", "out_of_scope")
        },
    }
    if args.json:
        print(json.dumps(report, indent=1))
        return
    print(f"data build: {build['wall']} s wall, {build['cpu']} s CPU")
    print(f"train:      {train['wall']} s wall, {train['cpu']} s CPU")
    print(f"total:      {report['total_wall']} s wall; load average {build['load_before']:.1f} -> "
          f"{train['load_after']:.1f} on {report['cpu_count']} cores")  # fmt: skip
    print("\n".join(train["progress"]))  # type: ignore[arg-type]
    print("models (s): " + ", ".join(f"{k} {v}" for k, v in report["models"].items()))
    print(f"thresholds: {report['thresholds']}")


if __name__ == "__main__":
    main()
