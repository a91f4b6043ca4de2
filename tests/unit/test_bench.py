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


def test_stress_counts_false_failovers_and_the_longest_gap_from_the_samples():
    from bench_stress import answer_stats

    samples = [(0.02, "lim1"), (0.04, "lim1"), (0.30, "sb1"), (0.32, "lim1"), (0.34, "sb1"), (1.00, "lim1")]
    stats = answer_stats(samples, "lim1", began=0.0, ended=1.10)
    assert stats["false_failovers"] == 2              # lim1 -> sb1 twice; sb1 -> lim1 is no failover
    assert stats["answers_by_others"] == 2
    assert abs(stats["longest_gap_ms"] - 660) < 1e-6  # 0.34 -> 1.00
    assert answer_stats([], "lim1", 0.0, 2.0)["longest_gap_ms"] == 2000   # nothing answered at all


def test_stress_drops_liveness_packets_and_arp_only_in_variant_2():
    from bench_stress import count_events, nft_rules

    plain, with_arp = nft_rules(20, arp=False), nft_rules(20, arp=True)
    assert "udp dport 7400 numgen random mod 100 < 20 counter drop" in plain
    assert "ip protocol 112 numgen random mod 100 < 20" in plain and "arp" not in plain
    assert 'hook ingress device "eth0"' in with_arp and "ether type arp numgen random mod 100 < 20" in with_arp
    history = b'{"at": 5, "kind": "takeover"}\n{"at": 15, "kind": "takeover"}\nbroken\n{"at": 16, "kind": "yield"}\n'
    assert count_events(history, 10, "takeover") == 1
