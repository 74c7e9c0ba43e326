"""Derived Vosk model folders whose `graph/Gr.fst` is a domain language model.

`callbot train` calls `build_from_examples_csv` (or `build_domain_model` with its own texts) to write a
model folder next to the trained bots: every file of the base model is a symlink except `graph/Gr.fst`
(the domain n-gram), `graph/words.txt` (the original word table, needed because the new graph carries
no symbols) and, by default, `conf/mfcc.conf` (dither off, so evaluations are reproducible).
`build_named_models` builds one folder per named text set (e.g. a reservation-form LM for that
dialogue state).

By default the folder then gets a static `graph/HCLG.fst` compiled from `HCLr.fst` and the new `Gr.fst`
(`stt.lm.static_graph`), and leaves the lookahead pair out, so Vosk decodes a precompiled graph. Without
the OpenFst tools, or when the compilation fails, the lookahead graph is kept (it decodes the same text,
with more CPU) and the report says why.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from callbot.config import Config
from stt.lm.errors import LmError
from stt.lm.fstio import write_vector_fst
from stt.lm.model_path import check_model_folder
from stt.lm.ngram import build_fst, estimate_witten_bell
from stt.lm.segment import Segmenter
from stt.lm.static_graph import compile_static_graph
from stt.lm.unigram import general_distribution
from stt.lm.vocab import read_vocabulary, write_words_txt

logger = logging.getLogger(__name__)

REPORT_NAME = "lm_report.json"
EXAMPLES_CSV = "examples.csv"  # in paths.build_dir, written by `callbot data build`
STT_FOLDER = "stt"  # in a trained version folder: `domain` and the named LMs
GRAPH = "graph/Gr.fst"
WORDS = "graph/words.txt"
HCL = "graph/HCLr.fst"
DISAMBIG = "graph/disambig_tid.int"
STATIC_GRAPH = "graph/HCLG.fst"
MFCC = "conf/mfcc.conf"
# Larger Vosk models rescore lattices with the general LM from these folders: that would undo the domain
# graph, so a derived model leaves them out.
NOT_LINKED = frozenset({"rescore", "rnnlm"})
# The unigram share of general words (the way out for off-domain speech), and how many of the base
# model's most frequent words get it, by frequency (stt.lm.unigram). Frequency-weighted words are far
# more likely than the old even spread over all 503k words (~1e-7 each), so the share is smaller: at 0.05
# frequent words crowded a small bot's own phrases out of espeak-ng speech ("다섯 명 예약" lost from a
# 5-sentence LM), at 0.01 they come through as they did before, at the same CER on the sample.
GENERAL_WEIGHT = 0.01
GENERAL_WORDS = 20000


@dataclass(frozen=True)
class LmReport:
    """What a build produced: counts of the text, size of the graph, time taken."""

    out_dir: str
    base_model: str
    sentences: int  # sentences with at least one vocabulary word
    empty_sentences: int  # sentences left with no word after normalization
    tokens: int
    oov: int  # eojeols with characters no vocabulary word covers (dropped)
    states: int
    arcs: int
    size_bytes: int
    seconds: float
    order: int
    general_weight: float
    general_words: int  # base-model words sharing general_weight (0: the whole vocabulary, evenly)
    dither_zero: bool
    graph: str = "lookahead"  # what Vosk decodes: "static" (graph/HCLG.fst) or "lookahead" (HCLr o Gr)
    graph_arcs: int = 0  # of the static HCLG
    graph_seconds: float = 0.0
    graph_note: str = ""  # why the lookahead graph was kept

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def build_domain_model(
    base_model: Path,
    texts: Iterable[str],
    out_dir: Path,
    *,
    general_weight: float = GENERAL_WEIGHT,
    general_words: int = GENERAL_WORDS,
    order: int = 3,
    dither_zero: bool = True,
    static_graph: bool = True,
) -> LmReport:
    """Build a derived model folder at `out_dir` whose language model is estimated from `texts`.

    The folder is built next to `out_dir` and renamed into place; on any failure the previous folder is
    left as it was. Raises LmError for a bad base model, no usable text or an unwritable destination.
    """
    started = time.perf_counter()
    base = Path(base_model).absolute()
    out = Path(out_dir).absolute()
    check_model_folder(base)
    _check_destination(base, out)
    vocab = read_vocabulary(base / GRAPH)

    segmenter = Segmenter(vocab)
    sentences: list[list[int]] = []
    empty = 0
    for text in texts:
        words = segmenter.words(text)
        if words:
            sentences.append([vocab.ids[w] for w in words])
        else:
            empty += 1
    segmenter.log_summary()
    if not sentences:
        raise LmError(f"no usable text for the domain language model of {out}: every sentence was empty")

    general_ids, general_probs = general_distribution(vocab, base / GRAPH, general_words)
    model = estimate_witten_bell(
        sentences,
        bos=vocab.bos_id,
        eos=vocab.eos_id,
        general_ids=general_ids,
        general_weight=general_weight,
        general_probs=general_probs,
        order=order,
    )
    fst = build_fst(model)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        tmp.chmod(0o755)
        replaced = {GRAPH, WORDS, *NOT_LINKED} | ({MFCC} if dither_zero else set())
        _link_tree(base, tmp, replaced)
        size = write_vector_fst(fst, tmp / GRAPH)
        write_words_txt(vocab, tmp / WORDS)
        if dither_zero:
            _write_mfcc_without_dither(base / MFCC, tmp / MFCC)
        graph = _compile_graph(tmp) if static_graph else {"graph_note": "static_graph is off"}
        report = LmReport(
            out_dir=str(out),
            base_model=str(base),
            sentences=len(sentences),
            empty_sentences=empty,
            tokens=segmenter.stats.tokens,
            oov=segmenter.stats.oov,
            states=fst.num_states,
            arcs=fst.num_arcs,
            size_bytes=size,
            seconds=round(time.perf_counter() - started, 3),
            order=order,
            general_weight=general_weight,
            general_words=len(general_ids) if general_weight > 0 else 0,
            dither_zero=dither_zero,
            **graph,
        )
        (tmp / REPORT_NAME).write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
        _swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info(
        "stt.lm.built out=%s sentences=%d tokens=%d oov=%d states=%d arcs=%d bytes=%d graph=%s seconds=%.2f",
        out,
        report.sentences,
        report.tokens,
        report.oov,
        report.states,
        report.arcs,
        report.size_bytes,
        report.graph,
        report.seconds,
    )
    return report


# Training text written with a recognizer's learned errors (data.augment.asr_errors) teaches the NLU to
# read misheard words; a language model must not learn to expect them.
NOT_LM_KINDS = frozenset({"asr_learned"})


def read_examples_texts(
    csv_path: Path, *, splits: Collection[str] | None = ("train",), domains: Collection[str] | None = None
) -> list[str]:
    """The `text` column of `build/examples.csv`, filtered by `split` and `domain` when those are given;
    rows of the kinds in `NOT_LM_KINDS` are left out."""
    path = Path(csv_path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            columns = reader.fieldnames or []
            if "text" not in columns:
                raise LmError(f"{path}: no 'text' column (columns: {', '.join(columns) or 'none'})")
            texts = []
            for row in reader:
                if splits is not None and "split" in columns and row.get("split") not in splits:
                    continue
                if domains is not None and row.get("domain") not in domains:
                    continue
                if row.get("kind") in NOT_LM_KINDS:
                    continue
                if row.get("text"):
                    texts.append(row["text"])
    except OSError as exc:
        raise LmError(f"cannot read examples {path}: {exc.strerror}") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise LmError(f"{path}: unreadable CSV ({exc})") from exc
    return texts


def build_from_examples_csv(
    csv_path: Path,
    base_model: Path,
    out_dir: Path,
    *,
    splits: Collection[str] | None = ("train",),
    domains: Collection[str] | None = None,
    general_weight: float = GENERAL_WEIGHT,
    general_words: int = GENERAL_WORDS,
    order: int = 3,
    dither_zero: bool = True,
    static_graph: bool = True,
) -> LmReport:
    """`build_domain_model` over the texts of `build/examples.csv` (train split, all domains by default)."""
    texts = read_examples_texts(csv_path, splits=splits, domains=domains)
    if not texts:
        raise LmError(f"{csv_path}: no example texts for splits={splits} domains={domains}")
    return build_domain_model(
        base_model,
        texts,
        out_dir,
        general_weight=general_weight,
        general_words=general_words,
        order=order,
        dither_zero=dither_zero,
        static_graph=static_graph,
    )


def build_named_models(
    base_model: Path,
    text_sets: Mapping[str, Iterable[str]],
    out_root: Path,
    *,
    general_weight: float = GENERAL_WEIGHT,
    general_words: int = GENERAL_WORDS,
    order: int = 3,
    dither_zero: bool = True,
    static_graph: bool = True,
) -> dict[str, LmReport]:
    """One derived model folder `out_root/<name>` per named text set (e.g. per dialogue state)."""
    reports = {}
    for name, texts in text_sets.items():
        if not name or "/" in name or name.startswith("."):
            raise LmError(f"bad language model name {name!r}: use a plain folder name")
        reports[name] = build_domain_model(
            base_model,
            texts,
            Path(out_root) / name,
            general_weight=general_weight,
            general_words=general_words,
            order=order,
            dither_zero=dither_zero,
            static_graph=static_graph,
        )
    return reports


def post_train(config: Config, build_dir: Path, version_dir: Path) -> dict[str, LmReport]:
    """`callbot train` hook `stt_lm`: the domain LM (+ named LMs) of `build_dir/examples.csv` into
    `version_dir/stt/`, where the engine finds it through `models/current`. Raises LmError/ConfigError.
    """
    from stt.lm.model_path import find_bundled_model
    from stt.lm.settings import build_configured, read_domain_lm_settings  # (settings imports this module)

    settings = read_domain_lm_settings(config)
    out_root = Path(version_dir) / STT_FOLDER
    reports = build_configured(settings, Path(build_dir) / EXAMPLES_CSV, find_bundled_model(), out_root)
    for name, r in reports.items():
        logger.info(
            "stt.lm.post_train name=%s folder=%s sentences=%d oov=%d arcs=%d seconds=%.2f",
            name,
            r.out_dir,
            r.sentences,
            r.oov,
            r.arcs,
            r.seconds,
        )
    return reports


def _compile_graph(folder: Path) -> dict[str, object]:
    """Compile `folder`'s static graph and drop its lookahead pair; on failure keep them (LmReport fields)."""
    try:
        static = compile_static_graph(folder / HCL, folder / GRAPH, folder / DISAMBIG, folder / STATIC_GRAPH)
    except LmError as exc:
        logger.warning(
            "stt.lm.static_graph.skipped folder=%s reason=%s (the lookahead graph is kept)", folder, exc
        )
        return {"graph_note": str(exc)}
    (folder / HCL).unlink()  # Vosk then loads HCLG.fst alone; Gr.fst stays as the record of the LM
    (folder / DISAMBIG).unlink()
    logger.info(
        "stt.lm.static_graph states=%d arcs=%d seconds=%.1f", static.states, static.arcs, static.seconds
    )
    return {"graph": "static", "graph_arcs": static.arcs, "graph_seconds": static.seconds}


def _check_destination(base: Path, out: Path) -> None:
    if out.resolve() == base.resolve() or base.resolve() in out.resolve().parents:
        raise LmError(f"{out}: the derived model cannot be written into the base model {base}")
    if out.exists() and not out.is_dir():
        raise LmError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / REPORT_NAME).is_file():
        raise LmError(
            f"{out}: a non-empty folder that is not a derived model ({REPORT_NAME} missing); not replaced"
        )


def _link_tree(src: Path, dst: Path, replaced: set[str], prefix: str = "") -> None:
    """Mirror `src` in `dst` with symlinks, descending only into folders that hold a replaced file."""
    for entry in sorted(src.iterdir()):
        rel = f"{prefix}{entry.name}"
        if rel in replaced:
            continue
        target = dst / entry.name
        if entry.is_dir() and any(r.startswith(rel + "/") for r in replaced):
            target.mkdir()
            _link_tree(entry, target, replaced, rel + "/")
        else:
            target.symlink_to(entry.resolve())
    for rel in replaced:
        if rel.startswith(prefix) and "/" in rel[len(prefix) :]:
            (dst / rel[len(prefix) :]).parent.mkdir(parents=True, exist_ok=True)


def _write_mfcc_without_dither(src: Path, dst: Path) -> None:
    lines = [ln for ln in src.read_text(encoding="utf-8").splitlines() if not ln.startswith("--dither")]
    dst.write_text("\n".join([*lines, "--dither=0"]) + "\n", encoding="utf-8")


def _swap_into_place(tmp: Path, out: Path) -> None:
    """Rename the finished folder to `out`; the previous one is moved aside first and removed after."""
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        shutil.rmtree(old, ignore_errors=True)
        os.rename(out, old)
    try:
        os.rename(tmp, out)
    except OSError as exc:
        if old is not None:
            os.rename(old, out)
        raise LmError(f"cannot move the new model into {out}: {exc.strerror}") from exc
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
