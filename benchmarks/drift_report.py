"""Benchmark: drift reports at scale, and how soon drift is detected.

    .venv/bin/python benchmarks/drift_report.py report [--turns 1000000 --days 90] [--reference FILE]
    .venv/bin/python benchmarks/drift_report.py delay [--seeds 5] [--reference FILE]

`report`: writes `--turns` synthetic turns over `--days` days into PostgreSQL (database `test` at
127.0.0.1:5432, trust auth; a schema of its own, `callbot_drift_bench_<hex>`, dropped at the end) with
COPY, then times `drift.report.make_report` over the whole range in a child process and prints its wall
time and peak RSS. Turns are drawn from the reference: a true intent from the test split's mix, then a
held-out item with that intent gives the predicted label, routed domain and confidence.

`delay`: detection delay in days for (a) discount questions x3, (b) an unknown topic (5% of turns,
read as the test split's out-of-scope texts are read), (c) worse recognition (the Vosk/Whisper CER of a
turn drawn from Beta distributions, mean 0.10 -> 0.16), at 300 and 3,000 turns a day, and false alerts in
90 stable days. Simulated from the test split's confusion statistics (each turn is a held-out item's
reading, no bot per turn); the judging is the real `drift.monitor.judge`. Shift from day 30.

`--reference`: a `drift_reference.json` (default: models/current's, else var/drift/reference-*.json).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import secrets
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from drift.aggregate import Counts  # noqa: E402
from drift.monitor import judge  # noqa: E402
from drift.reference import OOS, Reference  # noqa: E402
from drift.settings import DriftSettings  # noqa: E402
from drift.stats import histogram  # noqa: E402

BASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
DAY = 86400.0
DISCOUNT = "menu_discount"


def find_reference(given: Path | None) -> Path:
    if given is not None:
        return given
    current = REPO / "models" / "current"
    if current.is_file():
        path = REPO / "models" / current.read_text().strip() / "drift_reference.json"
        if path.is_file():
            return path
    found = sorted((REPO / "var" / "drift").glob("reference-*.json"))
    if not found:
        raise SystemExit("no drift reference: train a model (callbot train) or pass --reference")
    return found[-1]


class Sampler:
    """Turns drawn from the reference: a true label from a mix, then a held-out item with that label."""

    def __init__(self, ref: Reference) -> None:
        self.ref = ref
        self.k = len(ref.labels)
        self.by_label = [np.flatnonzero(ref.true == i) for i in range(self.k)]
        self.mix = np.bincount(ref.true, minlength=self.k) / len(ref.true)
        self.domains = sorted({d for d in ref.domains if d}) or ["common"]
        self.domain_index = np.array([self.domains.index(d) if d in self.domains else 0 for d in ref.domains])

    def items(self, n: int, rng: np.random.Generator, mix: np.ndarray | None = None) -> np.ndarray:
        mix = self.mix if mix is None else mix
        labels = rng.choice(self.k, size=n, p=mix)
        out = np.empty(n, dtype=int)
        for label in np.unique(labels):
            where = labels == label
            out[where] = rng.choice(self.by_label[label], size=int(where.sum()))
        return out


def boosted(s: Sampler, label: str, factor: float) -> np.ndarray:
    mix = s.mix.copy()
    mix[s.ref.labels.index(label)] *= factor
    return mix / mix.sum()


# -- report at scale --------------------------------------------------------------------------------


def write_postgres(url: str, s: Sampler, turns: int, days: int, end: float, seed: int) -> float:
    import psycopg2

    from callbot.database import create_engine, ensure_schema
    from telephony.calllog import metadata

    engine = create_engine(url)
    ensure_schema(engine, metadata, "calllog")
    engine.dispose()
    rng = np.random.default_rng(seed)
    per_day = turns // days
    started = time.perf_counter()
    ref = s.ref
    texts = ["가격이 얼마예요", "주차 되나요", "예약하고 싶어요", "할인 되나요", "몇 시까지 해요"]
    schema = url.split("search_path%3D")[1]
    conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="test")
    conn.autocommit = False
    cols = ("call_sid,turn,kind,at,caller_text,intent,intent_confidence,router_domain,outcome,confirm,"
            "vosk_text,second_text,second_outcome,bot_version")  # fmt: skip
    with conn.cursor() as cur:
        cur.execute(f"SET search_path TO {schema}")
        for day in range(days):
            n = per_day + (turns - per_day * days if day == days - 1 else 0)
            idx = s.items(n, rng)
            at = end - (days - day) * DAY + rng.uniform(0, DAY, n)
            buf, calls = io.StringIO(), io.StringIO()
            asked = rng.random(n) < 0.05
            no = rng.random(n) < 0.25
            for j, i in enumerate(idx):
                label = ref.labels[ref.predicted[i]]
                refused = label == OOS
                outcome = "confirm_asked" if asked[j] else "refused" if refused else "accepted"
                intent = "common_out_of_scope" if refused else label
                text = texts[j % len(texts)]
                confirm = ("no" if no[j] else "yes") if asked[j] else ""
                calls.write(f"CAb{day:03d}{j:07d}\t{at[j]:.3f}\tcompleted\n")
                buf.write(
                    f"CAb{day:03d}{j:07d}\t1\tspeech\t{at[j]:.3f}\t{text}\t{intent}\t{ref.confidence[i]:.4f}\t"
                    f"{ref.domains[i] or 'common'}\t{outcome}\t{confirm or chr(92) + 'N'}\t{text}\t{text}\tused\tbench\n"
                )
            buf.seek(0)
            calls.seek(0)
            cur.copy_expert("COPY calls (call_sid,started_at,status) FROM STDIN", calls)
            cur.copy_expert(f"COPY turns ({cols}) FROM STDIN", buf)
        conn.commit()
        cur.execute("ANALYZE turns")
        conn.commit()
    conn.close()
    return time.perf_counter() - started


def report_child(url: str, reference: Path, days: int, end: float) -> None:
    """In a child process: one report over the range; prints JSON (seconds, peak RSS)."""
    from callbot.database import create_engine
    from drift.report import make_report

    ref = Reference.load(reference)
    engine = create_engine(url)
    started = time.perf_counter()
    report = make_report(engine, ref, DriftSettings(), days, now=end - 1, known_words=None)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": round(seconds, 2), "peak_rss_mb": round(peak, 1),
                      "findings": len(report.findings), "alerts": len(report.alerts)}))  # fmt: skip


def run_report(args: argparse.Namespace) -> None:
    import sqlalchemy as sa

    reference = find_reference(args.reference)
    s = Sampler(Reference.load(reference))
    schema = "callbot_drift_bench_" + secrets.token_hex(4)
    base = sa.create_engine(BASE_URL, future=True)
    with base.begin() as db:
        db.execute(sa.text(f"CREATE SCHEMA {schema}"))
    url = f"{BASE_URL}?options=-csearch_path%3D{schema}"
    end = (time.time() // DAY) * DAY
    try:
        write_s = write_postgres(url, s, args.turns, args.days, end, args.seed)
        print(f"wrote {args.turns:,} turns over {args.days} days into {schema} with COPY in {write_s:.1f} s")
        out = subprocess.run(
            [sys.executable, __file__, "_child", url, str(reference), str(args.days), str(end)],
            capture_output=True, text=True, check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )  # fmt: skip
        result = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"90-day report: {result['seconds']} s, peak RSS {result['peak_rss_mb']} MB "
              f"({result['findings']} findings, {result['alerts']} alerts) on {cpu()}")  # fmt: skip
    finally:
        with base.begin() as db:
            db.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        base.dispose()


# -- detection delay ---------------------------------------------------------------------------------


def day_counts(
    s: Sampler, idx: np.ndarray, cers: np.ndarray, bins: int, cer_sample: int
) -> dict[str, Counts]:
    """Counts per scope of one day's turns (held-out item indices) and their CERs."""
    ref = s.ref
    out: dict[str, Counts] = {}
    scopes = np.array([ref.domains[i] or "common" for i in idx])
    for scope in ["all", *np.unique(scopes)]:
        mask = np.ones(len(idx), bool) if scope == "all" else scopes == scope
        sel = idx[mask]
        c = Counts()
        labels, counts = np.unique(ref.predicted[sel], return_counts=True)
        for label, n in zip(labels, counts, strict=True):
            c.labels[ref.labels[label]] += int(n)
        c.confidence = histogram(ref.confidence[sel], bins)
        c.speech = c.second = len(sel)
        c.cers = [float(x) for x in cers[mask][:cer_sample]]
        out[str(scope)] = c
    return out


def simulate(s: Sampler, per_day: int, shift: str, shift_day: int, days: int, seed: int,
             settings: DriftSettings) -> list:  # fmt: skip
    rng = np.random.default_rng(seed)
    counts: dict[tuple[str, int], Counts] = {}
    oos_items = s.by_label[s.ref.labels.index(OOS)]
    for day in range(days):
        on = shift != "stable" and day >= shift_day
        mix = boosted(s, DISCOUNT, 3.0) if on and shift == "discount" else None
        idx = s.items(per_day, rng, mix)
        if on and shift == "unknown":
            new = rng.random(per_day) < 0.05
            idx[new] = rng.choice(oos_items, size=int(new.sum()))
        mean = 0.16 if on and shift == "recognition" else 0.10
        cers = rng.beta(2.0, 2.0 * (1 - mean) / mean, size=per_day)
        for scope, c in day_counts(s, idx, cers, settings.confidence_bins, settings.cer_sample).items():
            counts[(scope, day)] = c
    return judge(s.ref, counts, 0, days - 1, settings)


SIGNAL_OF = {"discount": ("intent_mix",), "unknown": ("out_of_scope", "intent_mix", "confidence"),
             "recognition": ("recognition",)}  # fmt: skip


def run_delay(args: argparse.Namespace) -> None:
    reference = find_reference(args.reference)
    s = Sampler(Reference.load(reference))
    if DISCOUNT not in s.ref.labels:
        raise SystemExit(f"{reference}: no {DISCOUNT} intent")
    settings = DriftSettings()
    shift_day, days = 30, 90
    print(f"reference {reference.name}: {len(s.ref.true)} held-out texts, {len(s.ref.labels)} labels; "
          f"shift from day {shift_day}; {args.seeds} seeds; {cpu()}")  # fmt: skip
    for per_day in (300, 3000):
        false, kinds = [], Counter()
        for seed in range(args.seeds):
            found = simulate(s, per_day, "stable", shift_day, days, seed, settings)
            alerts = [f for f in found if f.level == "alert"]
            false.append(len(alerts))
            kinds.update(f"{f.scope}/{f.signal}" for f in alerts)
        print(f"{per_day:>5} turns/day  stable: {np.mean(false):.1f} false alert windows per 90 days "
              f"(per seed: {false}; {dict(kinds.most_common())})")  # fmt: skip
        for shift, signals in SIGNAL_OF.items():
            delays, where = [], set()
            for seed in range(args.seeds):
                found = simulate(s, per_day, shift, shift_day, shift_day + 28, 100 + seed, settings)
                hits = [f for f in found if f.level == "alert" and f.signal in signals
                        and f.day + f.days > shift_day]  # fmt: skip
                if hits:
                    first = min(hits, key=lambda f: f.day + f.days)
                    delays.append(first.day + first.days - shift_day)  # days of shifted traffic seen
                    where.add(f"{first.scope}/{first.signal}")
                else:
                    delays.append(None)
            got = [d for d in delays if d is not None]
            median = f"{np.median(got):.0f}" if got else "-"
            print(f"{per_day:>5} turns/day  ({shift}) median delay {median} day(s), per seed {delays}; "
                  f"first alert {', '.join(sorted(where)) or 'none'}")  # fmt: skip


def cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    return f"{os.cpu_count()} cores"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        report_child(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    rep = sub.add_parser("report")
    rep.add_argument("--turns", type=int, default=1_000_000)
    rep.add_argument("--days", type=int, default=90)
    rep.add_argument("--seed", type=int, default=0)
    rep.add_argument("--reference", type=Path, default=None)
    dl = sub.add_parser("delay")
    dl.add_argument("--seeds", type=int, default=5)
    dl.add_argument("--reference", type=Path, default=None)
    args = ap.parse_args()
    run_report(args) if args.what == "report" else run_delay(args)


if __name__ == "__main__":
    main()
