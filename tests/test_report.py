"""`taugepa report`: one standalone, escaped HTML file with summary, charts, comparison, transcripts."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser

import pytest
from scores_files import HOSTILE_AGENT, HOSTILE_USER, benchmark_scores, hostile_rescored_scores

from taugepa.cli import main


class PageParser(HTMLParser):
    """Collects what the test checks: tags, attributes that load things, images, script bodies."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.loading: list[str] = []
        self.images: list[str] = []
        self.scripts = 0
        self.handlers: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.loading.append(value)
            if name.startswith("on"):
                self.handlers.append(name)
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        if tag == "script":
            self.scripts += 1


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, v1_tasks_file):
    folder = tmp_path_factory.mktemp("report")
    # mixed: trial 0 oracle, trials 1-2 null, so tasks that need writes pass 1 of 3
    mixed = benchmark_scores(folder / "mixed.json", v1_tasks_file, {0: "oracle", 1: "null", 2: "null"})
    oracle = benchmark_scores(folder / "oracle.json", v1_tasks_file, {0: "oracle", 1: "oracle", 2: "oracle"})
    return folder, mixed, oracle


def test_report_of_two_files_has_every_section(two_runs, capsys):
    folder, mixed, oracle = two_runs
    out = folder / "report.html"
    assert main(["report", f"mixed={mixed}", f"oracle={oracle}", "--out", str(out), "--title", "demo"]) == 0
    printed = capsys.readouterr().out
    assert "report of 2 scores file(s) (mixed, oracle)" in printed
    page = out.read_text()
    # pass rate and compliance side by side at the top, on the page and in the terminal
    block = json.loads(oracle.read_text())["summary"]["compliance"]
    share = f"{block['rate']:.1%} ({block['compliant']}/{block['episodes']} scored episodes"
    headline = f"oracle: pass rate 100.0% ({block['episodes']}/{block['episodes']}) · compliance {share}"
    assert headline in printed and f'<p class="tg-headline" id="headline-1">{headline}' in page
    assert page.index("tg-headline") < page.index('id="summary"')
    rows = re.findall(r"<tr><th>([^<]*)</th>", page[page.index('id="summary"') :])
    assert rows[rows.index("pass rate (passed / scored)") + 1] == (
        "compliance (scored episodes with no definite violation)"
    )
    parser = PageParser()
    parser.feed(page)
    for heading in ("Summary", "Charts", "Per-task comparison", "Tasks: mixed", "Tasks: oracle"):
        assert f"<h2>{heading}</h2>" in page
    # three charts, each a real PNG embedded in the page; nothing else is loaded
    assert len(parser.images) == 3
    for source in parser.images:
        assert base64.b64decode(source.removeprefix("data:image/png;base64,"))[:8] == b"\x89PNG\r\n\x1a\n"
    assert all(value.startswith("data:") for value in parser.loading), parser.loading
    assert "default-src 'none'" in page
    # pass^k: the first 6 v1 tasks all write, so under the mix each passes 1 of 3 trials
    summary = re.search(r'<table class="tg" id="summary">.*?</table>', page, re.S).group(0)
    assert "pass^3" in summary and "33.3%" in summary and "0.0%" in summary
    # two files: the comparison counts fixed tasks (mixed 1/3 -> oracle 3/3)
    assert "6 fixed, 0 broken, 0 same" in page
    assert page.count('class="tg-transcript"') == 12  # one per task per file


def test_model_and_user_text_is_escaped(tmp_path, v1_tasks_file):
    scores = hostile_rescored_scores(tmp_path / "hostile.json", v1_tasks_file)
    out = tmp_path / "report.html"
    assert main(["report", str(scores), "--out", str(out)]) == 0
    page = out.read_text()
    parser = PageParser()
    parser.feed(page)
    assert parser.scripts == 1  # only the page's own filter script
    assert parser.handlers == []  # no onerror= or any other handler got through
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#x27;user&#x27;)&lt;/script&gt; I need help &amp; fast" in page
    assert "&lt;img src=x onerror=&quot;alert(&#x27;agent&#x27;)&quot;&gt;" in page
    assert HOSTILE_USER not in page and HOSTILE_AGENT not in page


def test_report_of_a_rescored_run_shows_the_recorded_rewards(shared_data, v1_tasks_file, tmp_path):
    scores = tmp_path / "rescored.json"
    sample = shared_data / "tau-bench-v1" / "gpt-4o-airline-sample.json"
    assert main(["rescore", str(sample), "--tasks", str(v1_tasks_file), "--scores-out", str(scores)]) == 0
    out = tmp_path / "report.html"
    assert main(["report", str(scores), "--out", str(out)]) == 0
    page = out.read_text()
    assert "<th>agreement with recorded rewards</th><td>25/25</td>" in page
    assert "24.0% (6/25)" in page
    assert "<th>recorded</th>" in page


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[]", "is not a taugepa scores file"),
        ("{bad", "is not a readable JSON scores file"),
    ],
)
def test_bad_scores_file_is_one_line_and_writes_nothing(tmp_path, capsys, content, message):
    scores = tmp_path / "scores.json"
    scores.write_text(content)
    out = tmp_path / "report.html"
    assert main(["report", str(scores), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_missing_scores_file_is_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope.json"), "--out", str(tmp_path / "r.html")]) == 2
    assert "scores file not found" in capsys.readouterr().err


def test_partial_runs_say_so_in_the_report_and_in_compare(two_runs, capsys):
    import json

    folder, mixed, oracle = two_runs
    document = json.loads(oracle.read_text())
    document["interrupted"] = {"reason": "Ctrl-C", "episodes_done": 18, "episodes_planned": 40}
    partial = folder / "partial.json"
    partial.write_text(json.dumps(document))
    out = folder / "partial.html"
    assert main(["report", f"cut={partial}", "--out", str(out)]) == 0
    page = out.read_text()
    assert (
        '<p class="tg-partial">cut: interrupted (Ctrl-C) after 18 of 40 episodes: partial, '
        "not the run&#x27;s result</p>" in page
    )
    capsys.readouterr()
    main(["compare", str(mixed), str(partial)])
    assert f"note: {partial} is interrupted (Ctrl-C) after 18 of 40 episodes" in capsys.readouterr().out
