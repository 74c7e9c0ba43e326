"""Writing the build: example tables, the review file, the out-of-scope overlap list and one Rasa 3.6
project per domain plus the router.

All files go to a temporary sibling folder that replaces the previous build only when complete.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from data.errors import DataError
from data.overlap import COLUMNS as OVERLAP_COLUMNS
from data.overlap import FILE_NAME as OVERLAP_FILE

if TYPE_CHECKING:
    from data.build import Example
    from data.report import BuildReport
    from data.settings import DataSettings
    from data.sources import SourceData

RASA_VERSION = "3.1"
ROUTER = "router"
FALLBACK_RESPONSE = "확인 후 다시 안내해 드리겠습니다."
EXAMPLE_COLUMNS = ["text", "intent", "domain", "kind", "source", "split"]
REVIEW_COLUMNS = [
    "conversation_id", "turn", "speaker", "text", "intent", "domain", "suggested_intent", "similarity", "source",
]  # fmt: skip


def write_outputs(
    settings: DataSettings,
    examples: list[Example],
    review: list[dict],
    sources: SourceData,
    report: BuildReport,
    overlap_rows: Iterable[dict[str, str]] = (),
) -> None:
    target = settings.build_dir
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        _write_csv(tmp / "examples.csv", EXAMPLE_COLUMNS, (_row(e) for e in examples))
        _write_csv(
            tmp / "test.csv",
            ["text", "intent", "domain", "kind"],
            (
                {"text": e.text, "intent": e.intent, "domain": e.domain, "kind": e.kind}
                for e in examples
                if e.split == "test"
            ),
        )
        _write_csv(tmp / "review.csv", REVIEW_COLUMNS, review)
        _write_csv(tmp / OVERLAP_FILE, OVERLAP_COLUMNS, overlap_rows)
        write_rasa_projects(tmp / "rasa", settings, examples, sources)
        report.save(tmp / "report.json")
        _swap(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap(tmp: Path, target: Path) -> None:
    """Replace `target` with `tmp`: the old build is moved aside first and removed last."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _row(e: Example) -> dict[str, str]:
    return {
        "text": e.text,
        "intent": e.intent,
        "domain": e.domain,
        "kind": e.kind,
        "source": e.source,
        "split": e.split,
    }


def _write_csv(path: Path, columns: list[str], rows) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def write_rasa_projects(
    root: Path, settings: DataSettings, examples: list[Example], sources: SourceData
) -> None:
    """One project per domain (its intents + the common intents) and the router project (labels = domains)."""
    train = [e for e in examples if e.split == "train"]
    by_domain: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for e in train:
        by_domain[e.domain][e.intent].append(e.text)
    common = dict(by_domain.get(settings.common_domain, {}))
    for domain in sorted(by_domain):
        intents = dict(by_domain[domain])
        if domain != settings.common_domain:
            intents.update(common)
        _write_domain_project(root / domain, domain, intents, settings, sources)
    router = {
        domain: [t for texts in intents.values() for t in texts] for domain, intents in by_domain.items()
    }
    project = root / ROUTER
    (project / "data").mkdir(parents=True)
    _write_nlu(project / "data" / "nlu.yml", router)
    _dump(project / "domain.yml", {"version": RASA_VERSION, "intents": sorted(router)})


def _write_domain_project(
    project: Path, domain: str, intents: dict[str, list[str]], settings: DataSettings, sources: SourceData
) -> None:
    (project / "data").mkdir(parents=True)
    overlay = settings.overlay_dir / domain if settings.overlay_dir else None
    overlay_files = (
        sorted(overlay.glob("*.yml")) + sorted(overlay.glob("*.yaml")) if overlay and overlay.is_dir() else []
    )
    covered: set[str] = set()
    overlay_domain: dict[str, Any] = {}
    for path in overlay_files:
        content = _load_yaml(path)
        if path.stem == "domain":
            overlay_domain = content
        else:
            covered |= _intents_in_steps(content)
            shutil.copyfile(path, project / "data" / f"overlay_{path.name}")

    names = sorted(intents)
    responses = {f"utter_{i}": [{"text": _response(i, sources)}] for i in names}
    generated: dict[str, Any] = {
        "version": RASA_VERSION,
        "intents": names,
        "responses": responses,
        "session_config": {"session_expiration_time": 60, "carry_over_slots_to_new_session": False},
    }
    _dump(project / "domain.yml", merge_domain(generated, overlay_domain))
    _write_nlu(project / "data" / "nlu.yml", intents)
    rules = [
        {"rule": f"answer {i}", "steps": [{"intent": i}, {"action": f"utter_{i}"}]}
        for i in names
        if i not in covered
    ]
    _dump(project / "data" / "rules.yml", {"version": RASA_VERSION, "rules": rules})


def _response(intent: str, sources: SourceData) -> str:
    """The QnA answer, else the agent reply that most often followed this intent in the logs."""
    if intent in sources.answers:
        return sources.answers[intent]
    replies = sources.agent_replies.get(intent)
    if replies:
        return replies.most_common(1)[0][0]
    return FALLBACK_RESPONSE


def merge_domain(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Deep merge: mappings merged recursively (overlay wins), lists unioned in order."""
    out = dict(base)
    for key, value in overlay.items():
        if key in out and isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = merge_domain(out[key], value)
        elif key in out and isinstance(out[key], list) and isinstance(value, list):
            out[key] = out[key] + [v for v in value if v not in out[key]]
        else:
            out[key] = value
    return out


def _intents_in_steps(content: dict[str, Any]) -> set[str]:
    """Intents an overlay answers itself: those opening an unconditioned rule or a story.

    An intent that appears only later in a rule ("네" after a read-back) keeps its plain answer rule.
    """
    found: set[str] = set()
    for section in ("rules", "stories"):
        for item in content.get(section) or []:
            if section == "rules" and item.get("condition"):
                continue
            steps = item.get("steps") or []
            first = steps[0] if steps else {}
            if not isinstance(first, dict):
                continue
            if "intent" in first:
                found.add(first["intent"])
            found |= {
                alt["intent"] for alt in first.get("or", []) if isinstance(alt, dict) and "intent" in alt
            }
    return found


def _write_nlu(path: Path, intents: dict[str, list[str]]) -> None:
    """Rasa NLU YAML written directly: a generic YAML emitter takes seconds on 100k examples.

    Texts are single-line, normalized and free of entity markup (`clean.for_training`), so each is
    safe as a line of a literal block.
    """
    lines = [f'version: "{RASA_VERSION}"', "nlu:"]
    for name, texts in sorted(intents.items()):
        lines.append(f"- intent: {name}")
        lines.append("  examples: |")
        lines.extend(f"    - {t}" for t in sorted(set(texts)))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: invalid overlay YAML: {exc}") from exc
    if not isinstance(content, dict):
        raise DataError(f"{path}: overlay must be a YAML mapping")
    return content


class _LiteralDumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_LiteralDumper.add_representer(str, _str_presenter)


def _dump(path: Path, content: dict[str, Any]) -> None:
    path.write_text(
        yaml.dump(content, Dumper=_LiteralDumper, allow_unicode=True, sort_keys=False, width=1000),
        encoding="utf-8",
    )
