"""How often a store named by a caller is still found after the recognizer got letters wrong.

    .venv/bin/python benchmarks/store_names_misheard.py
    .venv/bin/python benchmarks/store_names_misheard.py --stores my/stores.csv --errors my-errors.json

Every store name and alias of `--stores`, in a few caller phrasings, is written with recognition errors
drawn from `--errors` (an error model of `callbot stt errors`; default: the bundled one, learned from
Whisper base on real read speech). Prints, over the sentences the errors changed, the share where the
right store is found by exact name only and with the one-jamo near match of `StoreDirectory`, and the
share where a wrong store is found (must stay 0). Also prints how many sentences without a store name
(the sample's eval sets and built training text) the near match takes for a store.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.stores import StoreDirectory  # noqa: E402
from data.augment.asr_errors import ErrorModel, noisy  # noqa: E402
from data.settings import BUNDLED_ASR_ERRORS  # noqa: E402

FRAMES = ("{}", "{}이요", "{}으로 예약할게", "{} 몇 시까지 해요", "{} 주차 돼요?")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stores", type=Path, default=ROOT / "examples/restaurant/stores.csv")
    ap.add_argument("--errors", type=Path, default=BUNDLED_ASR_ERRORS)
    ap.add_argument("--per-phrase", type=int, default=10)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--plain",
        nargs="*",
        type=Path,
        help="CSV files with a `text` column and no store names",
        default=sorted((ROOT / "examples/restaurant/eval").glob("*.csv")),
    )
    args = ap.parse_args()
    stores = StoreDirectory.from_csv(args.stores)
    model = ErrorModel.load(args.errors)
    rng = random.Random(args.seed)
    print(f"stores: {args.stores}  errors: {args.errors}")
    for strength in (1.0, 2.0):
        altered = exact = near = wrong_exact = wrong_near = 0
        for store in stores.stores:
            for name in (store.name, *store.aliases):
                for frame in FRAMES:
                    said = frame.format(name)
                    for _ in range(args.per_phrase):
                        heard = noisy(said, model, rng, strength)
                        if heard == said:
                            continue
                        altered += 1
                        by_name = stores.find_exact(heard)
                        found = stores.find_in_text(heard)
                        exact += by_name == store
                        near += found == store
                        wrong_exact += by_name not in (None, store)
                        wrong_near += found not in (None, store)
        print(
            f"error rate x{strength:g}: {altered} sentences changed; right store "
            f"{exact / altered:.3f} by exact name -> {near / altered:.3f} with the near match; "
            f"wrong store {wrong_exact / altered:.3f} -> {wrong_near / altered:.3f}"
        )
    plain = taken = 0
    for path in args.plain:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                text = row.get("text") or ""
                if not text.strip() or stores.find_exact(text) is not None:
                    continue
                plain += 1
                taken += stores.find_near(text) is not None
    print(f"sentences without a store name taken for one by the near match: {taken} of {plain}")


if __name__ == "__main__":
    main()
