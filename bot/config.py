"""The `bot` section of callbot.yml: NLU pipeline, training and rejection settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from callbot.config import Config

DEFAULT_OUT_OF_SCOPE_SHARE = 1 / 3  # expected share of out-of-scope turns in live calls

TOKENIZERS = ("kiwi", "whitespace")


@dataclass(frozen=True)
class BotSettings:
    """Validated `bot.*` keys with their defaults."""

    tokenizer: str = "kiwi"
    epochs: int = 25
    router_epochs: int = 25
    random_seed: int = 42
    transformer_layers: int = 0
    char_ngrams: tuple[int, int] = (1, 4)
    memoization: bool = True
    novelty: bool = True  # NoveltyFeaturizer (bot.nlu.novelty): which content words are new
    novelty_rare_max_df: int = 2
    linear_blend: float = (
        0.5  # LinearBlendClassifier (bot.nlu.linear_blend): the linear model's share; 0 = DIET alone
    )
    # Character n-grams over the jamo spelling (a word misheard by one jamo stays close): in DIET's input
    # (bot.nlu.jamo_featurizer) and in the linear model's (bot.nlu.linear_blend); None = off.
    jamo_ngrams: tuple[int, int] | None = None
    post_train: tuple[str, ...] = ()
    train_workers: int = 2  # models trained at once in worker processes (bot.train_jobs); 1 = one by one
    out_of_scope_intents: tuple[str, ...] = ("out_of_scope",)
    calibrate: bool = True
    min_in_scope_recall: float = 0.97
    out_of_scope_share: float = DEFAULT_OUT_OF_SCOPE_SHARE  # weighs the balanced calibration
    default_router_threshold: float = 0.5
    default_domain_threshold: float = 0.5
    build_dir: Path = Path("build")
    models_dir: Path = Path("models")
    # The company's files whose words are the business's own besides the examples (bot.nlu.vocabulary):
    # the store table (`bot.stores_file`) always, and these (a menu, a price list), CSV or text.
    vocabulary_files: tuple[Path, ...] = ()

    @classmethod
    def from_config(cls, config: Config) -> BotSettings:
        """Read and validate `bot.*` (and the `paths.*` keys it needs), reporting every bad key at once."""
        r = config.reader("bot")
        d = cls()
        ngrams = r.value("char_ngrams", list(d.char_ngrams), list, _ngram_check)
        valid_ngrams = isinstance(ngrams, list) and _ngram_check(ngrams) is None
        jamo = r.value("jamo_ngrams", None, list, _ngram_check)
        valid_jamo = isinstance(jamo, list) and _ngram_check(jamo) is None
        settings = cls(
            tokenizer=r.str("tokenizer", d.tokenizer, choices=TOKENIZERS),
            epochs=r.int("epochs", d.epochs, min=1, max=1000),
            router_epochs=r.int("router_epochs", d.router_epochs, min=1, max=1000),
            random_seed=r.int("random_seed", d.random_seed, min=0),
            transformer_layers=r.int("transformer_layers", d.transformer_layers, min=0, max=4),
            char_ngrams=(ngrams[0], ngrams[1]) if valid_ngrams else d.char_ngrams,
            memoization=r.bool("memoization", d.memoization),
            novelty=r.bool("novelty", d.novelty),
            novelty_rare_max_df=r.int("novelty_rare_max_df", d.novelty_rare_max_df, min=0, max=50),
            linear_blend=r.float("linear_blend", d.linear_blend, min=0, max=1),
            jamo_ngrams=(jamo[0], jamo[1]) if valid_jamo else None,
            post_train=tuple(r.str_list("post_train", list(d.post_train))),
            train_workers=r.int("train_workers", d.train_workers, min=1, max=16),
            out_of_scope_intents=tuple(r.str_list("out_of_scope_intents", list(d.out_of_scope_intents))),
            calibrate=r.bool("calibrate", d.calibrate),
            out_of_scope_share=r.float("out_of_scope_share", d.out_of_scope_share, min=0.01, max=0.9),
            min_in_scope_recall=r.float("min_in_scope_recall", d.min_in_scope_recall, min=0.5, max=1.0),
            default_router_threshold=r.float("router_threshold", d.default_router_threshold, min=0, max=1),
            default_domain_threshold=r.float("domain_threshold", d.default_domain_threshold, min=0, max=1),
            build_dir=_path(config, "build_dir", "build"),
            models_dir=_path(config, "models_dir", "models"),
            vocabulary_files=_vocabulary_files(r),
        )
        # No `known=`: the runtime reads more `bot.*` keys (bot.routing.RoutingSettings) from this section.
        r.done()
        return settings


def _vocabulary_files(r) -> tuple[Path, ...]:  # noqa: ANN001 - SectionReader
    files = [r.path("stores_file", None, must_exist=True)]
    for i, name in enumerate(r.str_list("vocabulary_files", [])):
        path = r.config.resolve(name)
        if not path.is_file():
            r.error(f"vocabulary_files[{i}]", f"file not found: {path}")
        files.append(path)
    return tuple(f for f in files if f is not None and f.is_file())


def _ngram_check(v: list) -> str | None:
    ok = len(v) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in v) and 1 <= v[0] <= v[1]
    return None if ok else f"expected [min, max] with 1 <= min <= max, got {v!r}"


def _path(config: Config, key: str, default: str) -> Path:
    r = config.reader("paths")
    p = r.path(key, default)
    r.done()
    return p
