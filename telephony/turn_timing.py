"""Where a speech turn's reply latency goes: timestamps the call session records for the call log.

End of speech + the VAD window -> the final transcript (`final_ms`: decode backlog + finalisation) ->
the bot's reply (`reply_ms`) -> the first frame sent (`tts_ms`); see `telephony.calllog.turns_table`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DecodeTiming:
    stt_ms: float  # the decode call, from submission to its results
    wait_ms: float | None  # ... of which waiting for a decode thread
    endpoint_at: float  # arrival of the frame where the utterance ended (the batch's last if unknown)


def arrival(batch: list[tuple[bytes, float]], first: int, sample: int | None) -> float:
    """When the mu-law frame holding input sample `sample - 1` arrived; `first` is the batch's first sample."""
    pos = first
    if sample is not None and first < sample:
        for payload, at in batch:
            pos += len(payload)  # mu-law: one byte per sample
            if pos >= sample:
                return at
    return batch[-1][1]


def wait_ms(recognition: object, submitted: float) -> float | None:
    started = getattr(recognition, "decode_started", None)
    return round(max(0.0, started - submitted) * 1000, 1) if isinstance(started, float) else None


def ms_between(since: float | None, until: float) -> float | None:
    return None if since is None else round((until - since) * 1000, 1)
