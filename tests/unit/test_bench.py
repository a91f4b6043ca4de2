"""scripts/bench's runner: a benchmark that fails is one line, the others still run and report, and the
exit status says whether all ran (the benchmarks themselves run in the lab, from scripts/bench)."""
from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

import bench  # noqa: E402


def test_a_failing_benchmark_is_one_line_and_the_others_still_report(tmp_path, capsys, monkeypatch):
    def broken(args):
        raise RuntimeError("keepalived is not installed\n(apt-get install keepalived)")

    monkeypatch.setitem(bench.BENCHES, "first", lambda args: {"first_s": 1.5})
    monkeypatch.setitem(bench.BENCHES, "broken", broken)
    monkeypatch.setitem(bench.BENCHES, "last", lambda args: {"last_s": 0.25})
    out = tmp_path / "bench.json"
    status = bench.main(["--only", "first,broken,last", "--json", str(out)])
    printed = capsys.readouterr()
    assert status == 1
    assert "bench: broken failed: keepalived is not installed (apt-get install keepalived)" in printed.err
    assert "Traceback" not in printed.err + printed.out
    assert "first_s" in printed.out and "last_s" in printed.out
    assert json.loads(out.read_text()) == {"first_s": 1.5, "last_s": 0.25}


def test_all_benchmarks_ran_exits_0(tmp_path, monkeypatch):
    monkeypatch.setitem(bench.BENCHES, "one", lambda args: {"one_s": 2.0})
    assert bench.main(["--only", "one", "--json", str(tmp_path / "b.json")]) == 0


def test_an_unknown_benchmark_is_named(tmp_path, capsys):
    assert bench.main(["--only", "nosuch", "--json", str(tmp_path / "b.json")]) == 1
    assert "bench: unknown benchmark 'nosuch'" in capsys.readouterr().err
