"""Compile a derived model's lookahead graph (`HCLr.fst` + `Gr.fst`) into one static `HCLG.fst`.

A Vosk lookahead model composes its HCL transducer with the grammar lazily, in every recognizer, while
it decodes. Measured on the bundled Korean model with the domain LM: about 60% of decoding CPU goes to
that composition (label reachability and arc expansion), a recognizer's first hearing of a sentence
costs ~4x a repeat (216 ms vs 50 ms for a short question), and each recognizer keeps its own cache.
Composing once at train time gives the same graph (identical transcripts) that every recognizer shares.

The composition uses OpenFst's command-line tools (Debian: `apt-get install libfst-tools`). Debian ships
the lookahead FST types as `libfstlookahead.so` rather than as a plugin OpenFst finds by name, so
`fstcompose` runs with that library preloaded. Disambiguation symbols are then mapped to epsilon (what
Vosk's lazy path does) and the result is converted to a ConstFst, which Vosk loads as `graph/HCLG.fst`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from stt.lm.errors import LmError
from stt.lm.vocab import read_fst_header

TOOLS = ("fstcompose", "fstrelabel", "fstconvert")
LOOKAHEAD_LIBRARY = "libfstlookahead.so"
TIMEOUT_S = 900.0


class StaticGraphUnavailable(LmError):
    """The OpenFst tools (or their lookahead library) are not installed: the lookahead graph is kept."""


@dataclass(frozen=True)
class StaticGraph:
    states: int
    arcs: int
    seconds: float


@dataclass(frozen=True)
class _Tools:
    compose: str
    relabel: str
    convert: str
    lookahead: Path


def find_tools() -> _Tools:
    """The OpenFst executables and the lookahead library next to their libfst; raises StaticGraphUnavailable."""
    found = {name: shutil.which(name) for name in TOOLS}
    missing = [name for name, exe in found.items() if exe is None]
    if missing:
        raise StaticGraphUnavailable(
            f"OpenFst tools not found on PATH: {', '.join(missing)} (apt-get install libfst-tools)"
        )
    compose = str(found["fstcompose"])
    lookahead = _lookahead_library(compose)
    return _Tools(compose, str(found["fstrelabel"]), str(found["fstconvert"]), lookahead)


def _lookahead_library(fstcompose: str) -> Path:
    """`libfstlookahead.so*` in the folder of the libfst that `fstcompose` links (same OpenFst version)."""
    try:
        linked = subprocess.run(["ldd", fstcompose], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StaticGraphUnavailable(f"cannot list the libraries of {fstcompose}: {exc}") from exc
    match = re.search(r"libfst\.so[.\d]*\s*=>\s*(\S+)", linked)
    if match is None:
        raise StaticGraphUnavailable(f"{fstcompose} does not link a shared libfst (ldd found none)")
    candidates = sorted(Path(match.group(1)).parent.glob(f"{LOOKAHEAD_LIBRARY}*"))
    if not candidates:
        raise StaticGraphUnavailable(
            f"no {LOOKAHEAD_LIBRARY} next to {match.group(1)}: OpenFst was built without lookahead FSTs"
        )
    return candidates[0]


def compile_static_graph(
    hcl: Path, grammar: Path, disambig: Path, out: Path, *, timeout: float = TIMEOUT_S
) -> StaticGraph:
    """Write `out` (a ConstFst) = `hcl` o `grammar` with the disambiguation transition ids removed.

    Raises StaticGraphUnavailable without the tools, LmError naming the step and files when one fails.
    Intermediate files live in a temporary folder beside `out`; `out` appears only when complete.
    """
    started = time.perf_counter()
    tools = find_tools()
    pairs = "".join(f"{tid} 0\n" for tid in _disambiguation_ids(disambig))
    preload = " ".join(p for p in (str(tools.lookahead), os.environ.get("LD_PRELOAD", "")) if p)
    with tempfile.TemporaryDirectory(prefix=".hclg-", dir=out.parent) as work:
        tmp = Path(work)
        (tmp / "disambig.pairs").write_text(pairs, encoding="ascii")
        steps = [
            ([tools.compose, str(hcl), str(grammar), str(tmp / "composed.fst")], {"LD_PRELOAD": preload}),
            (
                [
                    tools.relabel,
                    f"--relabel_ipairs={tmp / 'disambig.pairs'}",
                    str(tmp / "composed.fst"),
                    str(tmp / "relabeled.fst"),
                ],
                {},
            ),
            ([tools.convert, "--fst_type=const", str(tmp / "relabeled.fst"), str(tmp / "HCLG.fst")], {}),
        ]
        for argv, env in steps:
            _run(argv, env, timeout, what=f"{hcl} + {grammar}")
        header = read_fst_header(tmp / "HCLG.fst")
        if header.fst_type != "const" or header.states <= 0:
            raise LmError(
                f"{tmp / 'HCLG.fst'}: fstconvert wrote a {header.fst_type} FST of {header.states} states"
            )
        os.replace(tmp / "HCLG.fst", out)
    return StaticGraph(header.states, header.arcs, round(time.perf_counter() - started, 3))


def _disambiguation_ids(path: Path) -> list[int]:
    try:
        fields = path.read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError) as exc:
        raise LmError(f"cannot read the disambiguation ids {path}: {exc}") from exc
    if not fields or not all(f.isdigit() for f in fields):
        raise LmError(f"{path}: expected transition ids, one a line")
    return [int(f) for f in fields]


def _run(argv: list[str], env: dict[str, str], timeout: float, what: str) -> None:
    tool = Path(argv[0]).name
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, env={**os.environ, **env}, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise LmError(f"{tool} did not finish within {timeout:.0f} s on {what}") from exc
    except OSError as exc:
        raise LmError(f"cannot run {argv[0]}: {exc.strerror}") from exc
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise LmError(f"{tool} failed on {what}: {detail}")
