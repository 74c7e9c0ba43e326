"""QnA sheets and chat logs -> candidate customer utterances, with every skipped row accounted for."""

from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from data.clean import normalize
from data.errors import DataError, where
from data.readers import read_table, resolve_columns
from data.settings import DataSettings

logger = logging.getLogger(__name__)

_INTENT_NAME = re.compile(r"^[\w.-]+$")


@dataclass
class Utterance:
    """One customer utterance: a QnA question or a customer chat turn."""

    text: str
    intent: str | None
    domain: str | None
    source: str  # "file:row"
    origin: str  # "qna", "chat" (later "chat-auto") or "operator" (a console label of a live turn)
    conversation: str = ""
    turn: str = ""


@dataclass
class Problem:
    reason: str
    where: str
    message: str


@dataclass
class SourceData:
    utterances: list[Utterance] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)  # intent -> response text (QnA answer)
    agent_replies: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    intent_domains: dict[str, str] = field(default_factory=dict)
    rows_read: Counter[str] = field(default_factory=Counter)  # per file
    dropped: Counter[str] = field(default_factory=Counter)  # per reason
    problems: list[Problem] = field(default_factory=list)

    def drop(self, reason: str, place: str, message: str) -> None:
        self.dropped[reason] += 1
        self.problems.append(Problem(reason, place, message))


def load_sources(settings: DataSettings) -> SourceData:
    """Read every QnA sheet, then every chat log. Whole-file problems raise DataError."""
    if not settings.qna and not settings.chat_logs:
        raise DataError("no input: give QnA sheets (data.qna) and/or chat logs (data.chat_logs)")
    out = SourceData()
    for path in settings.qna:
        _load_qna(path, settings, out)
    for path in settings.chat_logs:
        _load_chat(path, settings, out)
    return out


def add_operator_labels(labels: list[dict], settings: DataSettings, out: SourceData) -> None:
    """Labels operators gave live caller turns in the console (`console.labels.current_labels` rows:
    id, call_sid, turn, text, intent, domain), put first: a label corrects a sheet row with the same text
    (the sheet's row is then listed as a label conflict)."""
    place_of = "operator labels"
    out.rows_read[place_of] += len(labels)
    taken: list[Utterance] = []
    for label in labels:
        place = f"operator:label-{label['id']}"
        text = normalize(str(label.get("text") or ""))
        intent = normalize(str(label.get("intent") or ""))
        if not text:
            out.drop(
                "empty", place, f"{place}: empty text (call {label.get('call_sid')} turn {label.get('turn')})"
            )
            continue
        domain = _domain_of(normalize(str(label.get("domain") or "")), place, intent, settings, out)
        if domain is None or not _check_intent(intent, domain, place, out):
            continue
        taken.append(
            Utterance(
                text,
                intent,
                domain,
                place,
                "operator",
                str(label.get("call_sid") or ""),
                str(label.get("turn") or ""),
            )
        )
    out.utterances[:0] = taken


def _domain_of(
    value: str, place: str, intent: str | None, settings: DataSettings, out: SourceData
) -> str | None:
    """The row's domain, or None (and a recorded problem) when it is unknown."""
    domain = value or (out.intent_domains.get(intent or "")) or settings.default_domain
    if not domain:
        out.drop("no_domain", place, f"{place}: no domain for intent '{intent}' (fill the domain column)")
        return None
    if domain not in settings.domains:
        out.drop(
            "unknown_domain",
            place,
            f"{place}: unknown domain '{domain}' (known: {', '.join(settings.domains)}; see data.domains)",
        )
        return None
    return domain


def _check_intent(intent: str, domain: str, place: str, out: SourceData) -> bool:
    if not _INTENT_NAME.match(intent):
        out.drop("bad_intent_name", place, f"{place}: intent name '{intent}' has spaces or symbols")
        return False
    known = out.intent_domains.setdefault(intent, domain)
    if known != domain:
        out.drop(
            "intent_domain_conflict",
            place,
            f"{place}: intent '{intent}' is in domain '{known}' elsewhere, here '{domain}'",
        )
        return False
    return True


def _load_qna(path: Path, settings: DataSettings, out: SourceData) -> None:
    frame = read_table(path, settings.encoding)
    cols = resolve_columns(frame, path, settings.qna_columns, required=["question", "answer"])
    out.rows_read[str(path)] += len(frame)
    _note_bad_lines(frame, path, out)
    if cols["intent"] is None:
        frame = frame.assign(_intent=_intents_from_answers(frame[cols["answer"]]))
        cols["intent"] = "_intent"
    for rec in frame.to_dict("records"):
        place = where(path.name, rec["_row"])
        question = normalize(rec[cols["question"]])
        answer = normalize(rec[cols["answer"]])
        intent = normalize(rec[cols["intent"]])
        if not question:
            out.drop("empty", place, f"{place}: empty question")
            continue
        if not intent:
            intent = _intents_from_answers(pd.Series([answer]))[0] if answer else ""
        if not intent:
            out.drop(
                "no_intent",
                where(path.name, rec["_row"], cols["answer"]),
                f"{place}: no intent and no answer",
            )
            continue
        domain = _domain_of(
            normalize(rec[cols["domain"]]) if cols["domain"] else "", place, intent, settings, out
        )
        if domain is None or not _check_intent(intent, domain, place, out):
            continue
        if answer:
            out.answers.setdefault(intent, answer)
        out.utterances.append(Utterance(question, intent, domain, place, "qna"))


def _intents_from_answers(answers: pd.Series) -> list[str]:
    """Questions sharing an answer form one intent, named `faq_<first words of the answer>`."""
    names: dict[str, str] = {}
    used: Counter[str] = Counter()
    result = []
    for answer in answers:
        key = normalize(str(answer))
        if key not in names:
            words = re.findall(r"[0-9A-Za-z가-힣]+", key)[:3]
            base = "faq_" + "_".join(words) if words else "faq"
            used[base] += 1
            names[key] = base if used[base] == 1 else f"{base}_{used[base]}"
        result.append(names[key] if key else "")
    return result


def _load_chat(path: Path, settings: DataSettings, out: SourceData) -> None:
    frame = read_table(path, settings.encoding)
    cols = resolve_columns(frame, path, settings.chat_columns, required=["conversation", "speaker", "text"])
    if cols["order"] is None and cols["timestamp"] is None:
        raise DataError(
            f"{path}: needs a turn order or a timestamp column "
            f"(one of: {', '.join(settings.chat_columns['order'] + settings.chat_columns['timestamp'])})"
        )
    out.rows_read[str(path)] += len(frame)
    _note_bad_lines(frame, path, out)
    frame = frame.assign(
        _conv=frame[cols["conversation"]].map(normalize), _key=_order_key(frame, cols, path, out)
    )
    frame = frame.sort_values(["_conv", "_key", "_row"], kind="stable")
    customers = {s.lower() for s in settings.customer_speakers}
    agents = {s.lower() for s in settings.agent_speakers}
    last_intent: dict[str, str | None] = {}
    for rec in frame.to_dict("records"):
        place = where(path.name, rec["_row"])
        conv = rec["_conv"]
        speaker = normalize(rec[cols["speaker"]]).lower()
        text = normalize(rec[cols["text"]])
        if not conv:
            out.drop(
                "malformed",
                place,
                f"{where(path.name, rec['_row'], cols['conversation'])}: no conversation id",
            )
            continue
        if speaker in agents:
            intent = last_intent.pop(conv, None)
            if intent and text:
                out.agent_replies[intent][text] += 1
            out.dropped["agent_turn"] += 1
            continue
        if speaker not in customers:
            out.drop(
                "unknown_speaker",
                where(path.name, rec["_row"], cols["speaker"]),
                f"{place}: unknown speaker '{rec[cols['speaker']]}' (data.customer_speakers / data.agent_speakers)",
            )
            continue
        if not text:
            out.drop("empty", place, f"{place}: empty customer turn")
            continue
        intent = normalize(rec[cols["intent"]]) if cols["intent"] else ""
        domain_value = normalize(rec[cols["domain"]]) if cols["domain"] else ""
        utterance = Utterance(text, None, None, place, "chat", conv, str(rec["_key"]))
        if intent:
            domain = _domain_of(domain_value, place, intent, settings, out)
            if domain is None or not _check_intent(intent, domain, place, out):
                continue
            utterance.intent, utterance.domain = intent, domain
        elif domain_value and domain_value not in settings.domains:
            out.drop("unknown_domain", place, f"{place}: unknown domain '{domain_value}'")
            continue
        last_intent[conv] = utterance.intent
        out.utterances.append(utterance)


def _order_key(frame: pd.DataFrame, cols: dict[str, str | None], path: Path, out: SourceData) -> pd.Series:
    """Sort key within a conversation: the numeric turn order, else the parsed timestamp."""
    if cols["order"] is not None:
        key = pd.to_numeric(frame[cols["order"]], errors="coerce")
    else:
        key = pd.to_datetime(frame[cols["timestamp"]], errors="coerce").astype("int64").astype(float)
        key[key < 0] = float("nan")
    for row in frame.loc[key.isna(), "_row"]:
        column = cols["order"] or cols["timestamp"]
        out.problems.append(
            Problem(
                "bad_order",
                where(path.name, row, column),
                f"{where(path.name, row, column)}: unreadable value",
            )
        )
    return key.fillna(float("inf"))


def _note_bad_lines(frame: pd.DataFrame, path: Path, out: SourceData) -> None:
    bad = frame.attrs.get("bad_lines", 0)
    if bad:
        rows = frame.attrs.get("bad_rows") or []
        listed = f" (rows {', '.join(map(str, rows[:20]))})" if rows else ""
        out.dropped["malformed"] += bad
        out.problems.append(
            Problem(
                "malformed", path.name, f"{path.name}: {bad} malformed rows skipped{listed}: too many cells"
            )
        )
