"""`ltrl index` on a small KILT file written here: link resolution rules, counts, refusals."""

from __future__ import annotations

import gzip
import os
import random
import shutil
from pathlib import Path

import orjson
import pytest

from tests.conftest import run_ltrl, to_jsonl
from ltrl_cli.backends.index import open_index
from ltrl_cli.errors import BackendError


def page(pid: str, title: str, paragraphs: list[str], links: list[tuple[str, str]], **extra) -> dict:
    """A KILT page whose anchors point at the first occurrence of each anchor text."""
    text = [title + "\n"] + [p + "\n" for p in paragraphs]
    anchors = []
    for anchor_text, href in links:
        pid_, para = next((i, p) for i, p in enumerate(text) if anchor_text in p and i > 0)
        start = para.index(anchor_text)
        anchors.append({"text": anchor_text, "href": href, "paragraph_id": pid_, "start": start,
                        "end": start + len(anchor_text)})
    return {"_id": pid, "wikipedia_id": pid, "wikipedia_title": title, "text": text, "anchors": anchors,
            "categories": "Test", **extra}


PAGES = [
    page("10", "Dál Riata", ["Dál Riata was a kingdom near Argyll and the Isle of Man."],
         [("Argyll", "Argyll"), ("Isle of Man", "isle_of_Man#History")]),
    page("11", "Argyll", ["Argyll borders Dál Riata, and Argyll again.", "See Argyll history and Nowhere Land."],
         [("Dál Riata", "D%C3%A1l%20Riata"), ("Argyll again", "Argyll"), ("Argyll history", "Argyll#History"),
          ("Nowhere Land", "Nowhere%20Land")],
         unplaced_links=["Isle%20of%20Man", "D%C3%A1l%20Riata", "Missing%20page"]),
    page("12", "Isle of Man", ["The Isle of Man lies between Dál Riata and Argyll."],
         [("Dál Riata", "D%C3%A1l_Riata"), ("Argyll", "argyll"), ("Dál Riata", "D%C3%A1l%20Riata")]),
    page("13", "Columba", ["Columba travelled to Argyll."], [("Argyll", "Argyll")]),
    page("14", "List of kingdoms", ["Kingdoms: Dál Riata."], [("Dál Riata", "Dál Riata")]),
]
# Expected graph: 10 -> {11, 12}; 11 -> {10, 12 (unplaced)}; 12 -> {10, 11}; 13 -> {11}; 14 -> {10}.
# 11: "Argyll again" and "Argyll#History" are self-links, Nowhere Land and Missing page unresolved,
# the unplaced link to Dál Riata duplicates the anchor. 12: its second Dál Riata anchor is a duplicate.
EDGES = {("10", "11"), ("10", "12"), ("11", "10"), ("11", "12"), ("12", "10"), ("12", "11"), ("13", "11"),
         ("14", "10")}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("kilt")
    source = root / "small.jsonl.gz"
    source.write_bytes(gzip.compress(to_jsonl(PAGES)))
    result = run_ltrl("index", str(source), "-o", str(root / "idx"), "--threads", "1")
    return root, result


def test_summary_and_counts(built):
    root, result = built
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    summary = result.stderr.decode()
    assert "5 pages" in summary and "8 links resolved" in summary and "2 unresolved" in summary
    info = orjson.loads((root / "idx" / "COMPLETE").read_bytes())
    assert info["pages"] == 5 and info["resolved"] == 8 and info["unresolved"] == 2
    assert info["self_links"] == 2 and info["duplicates"] == 2
    assert info["links"] == 14


def test_links_resolve_by_wikipedia_rules(built):
    index = open_index(built[0] / "idx")
    graph = index.graph
    edges = {(graph.page_id(u), graph.page_id(int(v))) for u in range(len(graph)) for v in graph.neighbors(u)}
    assert edges == EDGES
    assert list(graph.out_degree) == [2, 2, 2, 1, 1]
    assert list(graph.in_degree) == [3, 3, 2, 0, 0]


def test_anchor_evidence_and_pages(built):
    index = open_index(built[0] / "idx")
    assert index.anchor_evidence("10", "12") == {
        "text": "Isle of Man", "paragraph_id": 1,
        "paragraph": "Dál Riata was a kingdom near Argyll and the Isle of Man."}
    assert index.anchor_evidence("11", "12") is None  # only an unplaced link
    assert index.anchor_evidence("12", "10")["text"] == "Dál Riata"  # the first of the duplicates
    assert index.page("11") == PAGES[1]  # a clean KILT page is stored as it came
    with pytest.raises(KeyError):
        index.page("99")


def test_maps_and_search(built):
    index = open_index(built[0] / "idx")
    assert len(index) == 5
    assert index.title("12") == "Isle of Man"
    assert index.id_for_title("isle_of_Man") == "12"
    assert index.id_for_title("Isle of man") is None  # only the first letter is case-free
    assert sorted(index.random_ids(10, random.Random(0))) == ["10", "11", "12", "13", "14"]
    hits = index.search("Columba travelled", k=3)
    assert hits[0].id == "13" and hits[0].title == "Columba" and "travelled" in hits[0].snippet
    batch = index.batch_search(["Columba", "kingdom Argyll"], k=2)
    assert [h.id for h in batch[0]] == ["13"] and len(batch[1]) == 2


def test_refuses_existing_dir_without_force(built):
    root, _ = built
    result = run_ltrl("index", str(root / "small.jsonl.gz"), "-o", str(root / "idx"))
    assert result.returncode == 1
    assert result.stderr.decode().strip() == f"ltrl index: {root / 'idx'} already exists; pass --force to rebuild it"


def test_force_refuses_a_directory_it_did_not_make(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("precious")
    source = tmp_path / "p.jsonl"
    source.write_bytes(to_jsonl(PAGES))
    result = run_ltrl("index", str(source), "-o", str(tmp_path / "mine"), "--force")
    assert result.returncode == 1 and b"was not made by `ltrl index`" in result.stderr
    assert (tmp_path / "mine" / "notes.txt").read_text() == "precious"


def test_force_rebuilds(built, tmp_path):
    root, _ = built
    target = tmp_path / "idx"
    shutil.copytree(root / "idx", target)
    source = tmp_path / "p.jsonl"
    source.write_bytes(to_jsonl(PAGES[:3]))
    result = run_ltrl("index", str(source), "-o", str(target), "--force", "--threads", "1")
    assert result.returncode == 0, result.stderr
    assert len(open_index(target)) == 3


def test_incomplete_index_is_refused(built, tmp_path):
    target = tmp_path / "idx"
    shutil.copytree(built[0] / "idx", target)
    (target / "COMPLETE").unlink()  # what a killed build leaves
    with pytest.raises(BackendError, match="is unfinished .* rebuild it with: ltrl index "):
        open_index(target)
    result = run_ltrl("walk", "--index", str(target), "-n", "1")
    assert result.returncode == 1 and b"is unfinished" in result.stderr and result.stdout == b""
    (target / ".ltrl-index").unlink()  # not ours: the hint is to build elsewhere
    with pytest.raises(BackendError, match="not an ltrl index \\(no COMPLETE marker\\); build one with"):
        open_index(target)


def _children(pid: int) -> dict[int, str]:
    """{pid: command name} of the processes whose parent is `pid`."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if entry.name.isdigit() and int(fields[1]) == pid:
                found[int(entry.name)] = (entry / "comm").read_text().strip()
        except (OSError, IndexError, ValueError):
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; nobody may be reaping it in a container


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table from /proc (Linux)")
def test_a_killed_build_leaves_no_jvm_and_the_hint_rebuilds_it(demo_pages, tmp_path):
    import shlex
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import ROOT

    source, target = tmp_path / "demo.jsonl", tmp_path / "idx"
    source.write_bytes(to_jsonl(demo_pages))
    build = subprocess.Popen([sys.executable, "-m", "ltrl_cli", "index", str(source), "-o", str(target),
                              "--threads", "1"], env={**os.environ, "PYTHONPATH": str(ROOT)},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    java = None
    try:
        while java is None and build.poll() is None:
            java = next((pid for pid, name in _children(build.pid).items() if name == "java"), None)
            time.sleep(0.01)
        assert java is not None, "the build ended before its JVM was seen"
        # Stopped, the JVM cannot finish on its own: it ends only if it is killed with its parent.
        os.kill(java, signal.SIGSTOP)
        build.kill()
        build.wait()
        for _ in range(500):
            if not _alive(java):
                break
            time.sleep(0.02)
        assert not _alive(java), "the JVM outlived the SIGKILLed `ltrl index`"
    finally:
        if java is not None and _alive(java):
            os.kill(java, signal.SIGKILL)
    with pytest.raises(BackendError) as refused:
        open_index(target)
    hint = str(refused.value).split("rebuild it with: ")[1]
    assert hint == f"ltrl index {source} -o {target} --force"
    result = run_ltrl(*shlex.split(hint)[1:], "--threads", "1")  # the command the message gives, as typed
    assert result.returncode == 0, result.stderr
    assert len(open_index(target)) == len(demo_pages)


def test_missing_index_is_named(tmp_path):
    with pytest.raises(BackendError, match=f"index {tmp_path / 'nope'} not found"):
        open_index(tmp_path / "nope")


def test_bad_kilt_line_names_the_line(tmp_path):
    source = tmp_path / "bad.jsonl"
    source.write_bytes(to_jsonl(PAGES[:2]) + b'{"wikipedia_id": "3", "text": []}\n')
    result = run_ltrl("index", str(source), "-o", str(tmp_path / "idx"))
    assert result.returncode == 1
    assert result.stderr.decode().strip() == (
        f"ltrl index: {source}: line 3: no title: expected a string field 'wikipedia_title' or 'title'")
    assert not (tmp_path / "idx").exists()  # nothing left to block the retry


def test_missing_source(tmp_path):
    result = run_ltrl("index", str(tmp_path / "none.jsonl"), "-o", str(tmp_path / "idx"))
    assert result.returncode == 1 and b"none.jsonl: no such file" in result.stderr


def test_a_repeated_page_id_is_skipped_and_counted(tmp_path):
    repeat = page("10", "Dál Riata (copy)", ["A second page claiming id 10."], [])
    source = tmp_path / "repeats.jsonl"
    source.write_bytes(to_jsonl(PAGES + [repeat]))
    result = run_ltrl("index", str(source), "-o", str(tmp_path / "idx"), "--threads", "1")
    assert result.returncode == 0, result.stderr
    stderr = result.stderr.decode()
    assert "skipped 1 page(s) whose id an earlier page already had (first: id '10')" in stderr
    assert "5 pages" in stderr and "1 repeated ids" in stderr
    info = orjson.loads((tmp_path / "idx" / "COMPLETE").read_bytes())
    assert (info["pages"], info["repeated_ids"]) == (5, 1)
    idx = open_index(tmp_path / "idx")
    try:  # Lucene and the graph agree: id 10 is the first page
        assert idx.page("10")["wikipedia_title"] == "Dál Riata"
        assert idx.title("10") == "Dál Riata"
        assert [h.id for h in idx.search("second page claiming", 5)] == []
    finally:
        idx.close()


def test_text_is_stored_once_and_the_record_beside_it(built):
    index = open_index(built[0] / "idx")
    node = index.node("11")
    assert index.pages.text(node).decode() == "".join(p + "\n" for p in PAGES[1]["text"])[:-1]
    record = orjson.loads(index.pages.meta(node))[1]
    assert record["text"] is None and record["anchors"] == PAGES[1]["anchors"]
    searcher = index.lucene._searcher  # Lucene keeps the id alone: the text is not stored twice
    assert searcher.doc_contents("11") is None and searcher.doc("11").get("id") == "11"
    index.close()


def test_opening_a_page_starts_no_jvm(built):
    index = open_index(built[0] / "idx")
    assert index.page("11")["text"] == PAGES[1]["text"]
    assert index._lucene is None


def test_a_damaged_text_store_names_the_page_and_the_rebuild(built, tmp_path):
    target = tmp_path / "idx"
    shutil.copytree(built[0] / "idx", target)
    blob = target / "pages" / "text.bin"
    data = bytearray(blob.read_bytes())
    data[4:] = bytes(len(data) - 4)  # every block after the first size header zeroed
    blob.write_bytes(bytes(data))
    index = open_index(target)
    with pytest.raises(BackendError, match=r"page 10: its stored text cannot be read .* rebuild it with: ltrl index"):
        index.page("10")


def test_a_text_store_cut_short_is_refused_at_open(built, tmp_path):
    target = tmp_path / "idx"
    shutil.copytree(built[0] / "idx", target)
    blob = target / "pages" / "text.bin"
    blob.write_bytes(blob.read_bytes()[:-10])
    with pytest.raises(BackendError, match=f"index {target} is damaged .*text.bin does not end where"):
        open_index(target)


def test_an_index_of_another_format_is_refused_with_the_rebuild_command(built, tmp_path):
    target = tmp_path / "idx"
    shutil.copytree(built[0] / "idx", target)
    info = orjson.loads((target / "COMPLETE").read_bytes())
    info["format"] = 1  # text stored twice, pages as raw JSON
    (target / "COMPLETE").write_bytes(orjson.dumps(info))
    with pytest.raises(BackendError, match=f"index {target} has format 1 and this ltrl reads format 3 .*"
                                           f"rebuild it with: ltrl index {built[0] / 'small.jsonl.gz'} -o {target} --force"):
        open_index(target)


def test_a_jvm_that_dies_before_reading_is_an_error_not_a_hang(tmp_path, monkeypatch):
    import subprocess

    from ltrl_cli.backends import lucene

    def start(feed):  # the JVM ends at once, before it opens the pipes it was given
        feed.proc = subprocess.Popen(["sh", "-c", "echo 'Error: no such class' >&2; exit 3"],
                                     stderr=open(feed.log_path, "ab"))

    monkeypatch.setattr(lucene.Feed, "_start", start)
    with pytest.raises(BackendError, match=r"Lucene indexing failed \(exit 3\); see .*build.log: Error: no such class"):
        lucene.Feed(tmp_path / "scratch", tmp_path / "lucene", tmp_path / "build.log", threads=2)


def test_a_missing_lz4_names_the_extra_to_install(monkeypatch):
    from ltrl_cli.backends import pagestore
    from ltrl_cli.errors import MissingDependency

    block = pagestore.encode_text("Paris")
    monkeypatch.setattr(pagestore, "lz4_block", None)
    for call in (lambda: pagestore.encode_text("Paris"), lambda: pagestore.decode_text(block)):
        with pytest.raises(MissingDependency, match=r"needs the Python package 'lz4'.*pip install 'ltrl\[index\]'"):
            call()
