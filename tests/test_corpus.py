"""The embedded demo corpus: deterministic, KILT-shaped, correct anchors, walkable, synthetic."""

from __future__ import annotations

import gzip
import random
import re
from collections import Counter

import pytest

from tests.conftest import jsonl, run_ltrl
from ltrl_cli.backends.base import title_key
from ltrl_cli.backends.kilt import href_title
from ltrl_cli.corpus import SYNTHETIC_CATEGORY, generate_demo
from ltrl_cli.corpus.names import DATES_A_YEAR, Distinct


def test_same_seed_same_pages_other_seed_other_pages():
    assert list(generate_demo(120, seed=3)) == list(generate_demo(120, seed=3))
    assert [p["wikipedia_title"] for p in generate_demo(120, seed=3)] != [
        p["wikipedia_title"] for p in generate_demo(120, seed=4)]


def test_kilt_layout(demo_pages):
    assert [p["wikipedia_id"] for p in demo_pages] == [str(i) for i in range(1, len(demo_pages) + 1)]
    for p in demo_pages:
        assert p["_id"] == p["wikipedia_id"]
        assert p["text"][0] == p["wikipedia_title"] + "\n"
        assert all(isinstance(t, str) and t.endswith("\n") for t in p["text"])
        assert SYNTHETIC_CATEGORY in p["categories"].split(",")
    assert len({p["wikipedia_title"] for p in demo_pages}) == len(demo_pages)


def test_anchor_offsets_point_at_the_anchor_text(demo_pages):
    checked = 0
    for p in demo_pages:
        for a in p["anchors"]:
            assert p["text"][a["paragraph_id"]][a["start"]:a["end"]] == a["text"]
            checked += 1
    assert checked > 8 * len(demo_pages)


def test_hrefs_are_url_encoded_titles_that_resolve(demo_pages):
    titles = {title_key(p["wikipedia_title"]) for p in demo_pages}
    hrefs = [a["href"] for p in demo_pages for a in p["anchors"]]
    assert not any(" " in h for h in hrefs)  # percent-encoded, as KILT writes them
    resolved = [href_title(h) in titles for h in hrefs]
    assert 0.95 < sum(resolved) / len(resolved) < 1  # a few red links, as in real dumps
    assert any("#" in h for h in hrefs) and any("_" in h for h in hrefs)


def test_every_page_has_enough_distinct_out_links(demo_pages):
    by_title = {title_key(p["wikipedia_title"]): p["wikipedia_id"] for p in demo_pages}
    for p in demo_pages:
        targets = {by_title.get(href_title(a["href"])) for a in p["anchors"]} - {None, p["wikipedia_id"]}
        assert len(targets) >= 8, p["wikipedia_title"]


def test_attribute_lines_and_unique_values(demo_pages):
    lines = [t.strip() for p in demo_pages for t in p["text"][2:] if re.match(r"^[A-Z][a-z ]+: ", t)]
    kinds = Counter(line.split(":")[0] for line in lines)
    for name in ("Born", "Population", "Founded", "Located in", "Members"):
        assert kinds[name] > 0, name
    assert any(re.fullmatch(r"Born: \d{1,2} [A-Z][a-z]+ \d{4}", line) for line in lines)
    for name in ("Born", "Population", "Members", "Pages", "Elevation"):
        values = [line for line in lines if line.split(":")[0] == name]
        assert len(values) == len(set(values)), f"{name} values repeat"


def test_topical_overlap_makes_confusable_pages(demo_pages):
    surnames = Counter(p["wikipedia_title"].split()[-1] for p in demo_pages if "Born: " in "".join(p["text"]))
    assert surnames.most_common(1)[0][1] >= 3  # families share a surname


def test_cli_writes_stdout_and_gzip(tmp_path):
    result = run_ltrl("corpus", "demo", "--pages", "30", "--seed", "2", "-o", "-")
    assert result.returncode == 0, result.stderr
    assert jsonl(result.stdout) == list(generate_demo(30, seed=2))
    target = tmp_path / "demo.jsonl.gz"
    assert run_ltrl("corpus", "demo", "--pages", "30", "--seed", "2", "-o", str(target)).returncode == 0
    assert jsonl(gzip.decompress(target.read_bytes())) == list(generate_demo(30, seed=2))
    again = run_ltrl("corpus", "demo", "--pages", "30", "-o", str(target))
    assert again.returncode == 2 and b"exists; pass --force" in again.stderr


def test_cli_writes_through_a_character_device_and_refuses_a_directory(tmp_path, char_device):
    import stat

    result = run_ltrl("corpus", "demo", "--pages", "30", "-o", str(char_device))  # no --force: nothing is overwritten
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(char_device.lstat().st_mode)
    folder = tmp_path / "folder"
    folder.mkdir()
    result = run_ltrl("corpus", "demo", "--pages", "30", "-o", str(folder), "--force")
    assert result.returncode == 2 and f"{folder} is a directory".encode() in result.stderr


class CountingRandom(random.Random):
    """A Random that counts the draws made from it."""

    draws = 0

    def random(self):
        self.draws += 1
        return super().random()

    def getrandbits(self, k):
        self.draws += 1
        return super().getrandbits(k)


def test_distinct_dates_leave_full_years_in_a_bounded_number_of_draws():
    # 40 years' worth of dates asked for one year: each year fills, and the next draws go
    # to the nearest year with dates left. The random walk this replaced took about 2,800
    # draws a date here (and minutes for World(300_000)); now it is about 16.
    rng = CountingRandom(0)
    distinct = Distinct(rng)
    values = [distinct.date("born", 1900) for _ in range(DATES_A_YEAR * 40)]
    assert len(set(values)) == len(values)
    years = Counter(int(value.rsplit(" ", 1)[1]) for value in values)
    assert max(years.values()) == DATES_A_YEAR and len(years) >= 40
    assert rng.draws / len(values) < 100


def test_too_small_is_refused():
    with pytest.raises(ValueError):
        list(generate_demo(5))


def test_corpus_tokenizer_trains_a_bpe_that_assemble_can_load(tmp_path):
    from ltrl_cli.backends.tokenize import load_tokenizer

    corpus, out = tmp_path / "demo.jsonl", tmp_path / "bpe.json"
    assert run_ltrl("corpus", "demo", "--pages", "60", "-o", str(corpus)).returncode == 0
    made = run_ltrl("corpus", "tokenizer", str(corpus), "-o", str(out), "--vocab-size", "2000")
    assert made.returncode == 0, made.stderr
    assert made.stdout == b"" and b"60 pages" in made.stderr
    tokenizer = load_tokenizer(str(out))
    assert 0 < tokenizer.count("Population: 48,210") < len("Population: 48,210")
    again = run_ltrl("corpus", "tokenizer", str(corpus), "-o", str(out))
    assert again.returncode == 2 and b"exists; pass --force" in again.stderr


def test_pages_are_as_long_as_encyclopedia_articles(demo_pages):
    words = [len(" ".join(p["text"]).split()) for p in demo_pages]
    assert sum(words) / len(words) >= 400 and min(words) >= 250
    for p in demo_pages[:50]:
        assert sum(t.startswith("Section::::") for t in p["text"]) == 3


def test_a_person_is_sometimes_linked_by_surname_alone(demo_pages):
    titles = {p["wikipedia_title"] for p in demo_pages}
    anchors = [a for p in demo_pages for a in p["anchors"] if href_title(a["href"]) in titles]
    surname_only = [a for a in anchors if a["text"] != href_title(a["href"]).split("#")[0]
                    and href_title(a["href"]).endswith(" " + a["text"])]
    assert 0.03 < len(surname_only) / len(anchors) < 0.2
