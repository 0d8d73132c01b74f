"""The README is a landing page and the manual a site whose pages are all reachable, and
the benchmark page holds the figures benchmarks/results.json holds."""

import json
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def test_the_readme_is_a_landing_page_whose_links_lead_somewhere():
    readme = _read("README.md")
    assert len(readme.splitlines()) <= 200
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme)
    local = [link for link in links if "://" not in link]
    assert "docs/index.md" in local and "CHANGELOG.md" in local
    missing = [link for link in local if not os.path.exists(os.path.join(ROOT, link))]
    assert not missing, missing


def test_every_docs_page_is_in_the_site_navigation():
    nav = _read("mkdocs.yml")
    docs = os.path.join(ROOT, "docs")
    pages = sorted(os.path.relpath(os.path.join(d, n), docs).replace(os.sep, "/")
                   for d, _, names in os.walk(docs) for n in names if n.endswith(".md"))
    assert "corpora/meld.md" in pages  # pages in folders count too
    assert [p for p in pages if f": {p}" not in nav and f"- {p}" not in nav] == []


def test_the_benchmark_page_holds_what_results_json_holds():
    from benchmarks.report import BEGIN, END, markdown

    page = _read("docs", "benchmarks.md")
    table = page.split(BEGIN)[1].split(END)[0].strip()
    assert table == markdown(json.loads(_read("benchmarks", "results.json"))).strip()


def test_report_writes_the_table_between_the_markers_and_nothing_else(tmp_path):
    from benchmarks.report import BEGIN, END, write_page

    page = tmp_path / "page.md"
    page.write_text(f"# Title\n\nbefore\n{BEGIN}\nold table\n{END}\nafter\n")
    write_page(str(page), "| new | table |")
    assert page.read_text() == f"# Title\n\nbefore\n{BEGIN}\n| new | table |\n{END}\nafter\n"
    assert os.listdir(tmp_path) == ["page.md"]  # no temporary left
