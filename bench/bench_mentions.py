"""Benchmark: links inferred from title mentions (`ltrl index --link-mentions`).

Two measurements, each run by hand (not in the tests):

1. quality, on the shared Wikispeedia file with its anchors removed: for each page, the
   links `MentionLinker` infers against the page's real links (placed anchors and
   `unplaced_links` that resolve to a page of the file). Reports the share of real links
   recovered (recall) and the share of inferred links that are real (precision).
       .venv/bin/python bench/bench_mentions.py quality

2. scale, on synthetic titles (KILT has 5.9M): builds the automaton over N made-up titles
   in a child process, then matches the Wikispeedia text against it. Reports build time,
   peak RSS and matching speed (characters per second), so the cost at KILT's title count
   is measured, not guessed.
       .venv/bin/python bench/bench_mentions.py scale --titles 5900000
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WIKISPEEDIA = ROOT.parent / "shared" / "data" / "wikispeedia-kilt.jsonl.gz"


def _pages(path: Path, limit: int | None = None) -> list[dict]:
    from ltrl_cli.backends.kilt import read_pages

    if not path.exists():
        sys.exit(f"missing {path} (give --data)")
    pages = []
    for page in read_pages(path):
        pages.append(page)
        if limit and len(pages) >= limit:
            break
    return pages


def quality(args) -> dict:
    from ltrl_cli.backends.base import title_key
    from ltrl_cli.backends.kilt import href_title
    from ltrl_cli.backends.mentions import MentionLinker

    pages = _pages(args.data)
    titles = {title_key(p["wikipedia_title"]) for p in pages}
    started = time.perf_counter()
    linker = MentionLinker((p["wikipedia_title"] for p in pages), min_chars=args.min_chars)
    built = time.perf_counter() - started
    real_total = inferred_total = hit = 0
    chars = 0
    started = time.perf_counter()
    for page in pages:
        own = title_key(page["wikipedia_title"])
        real = {href_title(a["href"]) for a in page["anchors"]} | {href_title(h) for h in page.get("unplaced_links", [])}
        real = {t for t in real if t in titles and t != own}
        bare = {**page, "anchors": [], "unplaced_links": []}
        inferred = {href_title(a["href"]) for a in linker.anchors(bare)}
        chars += sum(len(p) for p in page["text"])
        real_total += len(real)
        inferred_total += len(inferred)
        hit += len(real & inferred)
    seconds = time.perf_counter() - started
    return {"pages": len(pages), "titles_matched": linker.titles, "real_links": real_total,
            "inferred_links": inferred_total, "real_and_inferred": hit,
            "recall": round(hit / max(real_total, 1), 4), "precision": round(hit / max(inferred_total, 1), 4),
            "build_s": round(built, 2), "match_s": round(seconds, 2), "chars_per_s": int(chars / seconds),
            "min_chars": args.min_chars}


def _synthetic_titles(n: int, seed: int = 0):
    """Title-like strings: 1-4 capitalised made-up words, some with a '(qualifier)'."""
    rng = random.Random(seed)
    syllables = ["ka", "lo", "ber", "tin", "mar", "so", "vel", "dra", "nor", "qui", "pet", "lan", "gor", "fi",
                 "ste", "ru", "han", "mo", "zel", "ad", "wen", "ost", "ri", "cal"]
    for _ in range(n):
        words = []
        for _ in range(rng.choice((1, 2, 2, 2, 3, 3, 4))):
            word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
            words.append(word.capitalize())
        title = " ".join(words)
        if rng.random() < 0.05:
            title += " (" + rng.choice(["film", "album", "river", "band", "village"]) + ")"
        yield title


def scale_child(args) -> dict:
    from ltrl_cli.backends.mentions import MentionLinker

    pages = _pages(args.data, args.text_pages)
    real_titles = [p["wikipedia_title"] for p in pages]
    started, cpu = time.perf_counter(), time.process_time()
    linker = MentionLinker(list(real_titles) + list(_synthetic_titles(args.titles)))
    built, built_cpu = time.perf_counter() - started, time.process_time() - cpu
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    chars, found = 0, 0
    started = time.perf_counter()
    for page in pages:
        found += len(linker.anchors({**page, "anchors": []}))
        chars += sum(len(p) for p in page["text"])
    seconds = time.perf_counter() - started
    return {"synthetic_titles": args.titles, "titles_in_automaton": linker.titles, "build_s": round(built, 1),
            "build_cpu_s": round(built_cpu, 1), "peak_rss_mb": int(rss_mb), "text_pages": len(pages), "text_chars": chars,
            "match_s": round(seconds, 2), "chars_per_s": int(chars / seconds), "pages_per_s": int(len(pages) / seconds),
            "inferred": found}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    q = sub.add_parser("quality")
    q.add_argument("--min-chars", type=int, default=4)
    s = sub.add_parser("scale")
    s.add_argument("--titles", type=int, default=5_900_000)
    s.add_argument("--text-pages", type=int, default=1000)
    s.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    for p in (q, s):
        p.add_argument("--data", type=Path, default=WIKISPEEDIA, help="the Wikispeedia KILT file")
    args = parser.parse_args()
    if args.what == "quality":
        print(json.dumps(quality(args)))
    elif args.child:
        print(json.dumps(scale_child(args)))
    else:  # a fresh process, so peak RSS is this measurement's own
        out = subprocess.run([sys.executable, __file__, "scale", "--child", "--titles", str(args.titles),
                              "--text-pages", str(args.text_pages), "--data", str(args.data)], capture_output=True, text=True, check=True)
        print(out.stdout.strip())


if __name__ == "__main__":
    main()
