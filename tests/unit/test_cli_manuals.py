"""The --help of every subcommand (examples, exit codes, a help text for every option) and what
scripts/gen-manuals makes of both parsers: man pages that name every subcommand and option and render
without a warning, and bash completion that completes groups, subcommands, options and choices."""
from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mxone_maintenance.agent.main import parser as agent_parser
from mxone_maintenance.core.version import product_version
from mxone_maintenance.utility.cli.parser import build_parser

REPO = Path(__file__).resolve().parents[2]
GENERATOR = REPO / "scripts" / "gen-manuals"
SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "COMMANDS", "EXIT STATUS", "ENVIRONMENT", "FILES",
            "EXAMPLES", "SEE ALSO"]
PARSERS = {"mxone_maintenance": build_parser, "mxone-cluster-agent": agent_parser}


def commands(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()):
    """(words, parser) of every subcommand that takes no further subcommand."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs and words:
        yield words, parser
    for action in subs:
        for name, sub in action.choices.items():
            yield from commands(sub, (*words, name))


def flags(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for a in parser._actions for flag in a.option_strings if a.help != argparse.SUPPRESS}


def roff(text: str) -> str:
    return text.replace("-", "\\-")


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("manuals")
    done = subprocess.run([sys.executable, str(GENERATOR), str(out)], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    return out


# --- --help ------------------------------------------------------------------------------------------------

UTILITY = list(commands(build_parser()))


@pytest.mark.parametrize(("words", "parser"), UTILITY, ids=[" ".join(w) for w, _ in UTILITY])
def test_every_help_has_an_example_and_the_exit_codes(words: tuple[str, ...], parser) -> None:
    text = parser.format_help()
    examples = text.split("examples:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert examples and all(line.startswith(f"  mxone_maintenance {' '.join(words)}") or
                            line.startswith("  mxone_maintenance --json " + " ".join(words)) for line in examples)
    assert "exit status:\n  0  done\n  1  the operation failed" in text and "\n  2  invalid request" in text


def test_every_option_has_a_help_text() -> None:
    missing = [f"{' '.join(words)} {'/'.join(a.option_strings) or a.dest}" for words, parser in UTILITY
               for a in parser._actions if not a.help]
    assert missing == []


def test_every_example_parses() -> None:
    examples = [line.split(None, 1)[1] if " " in line.strip() else "" for _, parser in [((), build_parser()), *UTILITY]
                for line in (parser.epilog or "").splitlines() if line.startswith("  mxone_maintenance")]
    assert len(examples) > len(UTILITY)
    for example in examples:
        words = example.split()
        if "--help" not in words:
            build_parser().parse_args(words)           # raises UsageError when it does not parse


# --- man pages ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("program", PARSERS)
def test_the_man_page_names_every_subcommand_and_option(made: Path, program: str) -> None:
    page = (made / "man8" / f"{program}.8").read_text()
    parser = PARSERS[program]()
    sections = dict(re.findall(r'^\.SS "([^"]+)"\n(.*?)(?=^\.S[SH] |\Z)', page, re.M | re.S))
    options = page.split("\n.SH OPTIONS\n", 1)[1].split("\n.SH ", 1)[0]
    assert all(roff(flag) in options for flag in flags(parser))
    for words, sub in commands(parser):
        section = sections[" ".join(words)]
        for flag in flags(sub) - flags(parser):
            assert roff(flag) in section, f"{' '.join(words)}: {flag} is not in its man page section"
        for action in sub._actions:
            assert all(f"\\fB{roff(str(choice))}\\fR" in section for choice in action.choices or ())


@pytest.mark.parametrize("program", PARSERS)
def test_the_man_page_has_its_sections_in_order(made: Path, program: str) -> None:
    page = (made / "man8" / f"{program}.8").read_text()
    lines = page.splitlines()
    assert lines[0].startswith(f'.TH {roff(program.upper())} 8 "') and f"{product_version()}" in lines[0]
    assert [line[4:] for line in lines if line.startswith(".SH ")] == SECTIONS
    assert "" not in lines, "a blank line in a man page is a paragraph break roff warns about"
    macros = {line.split()[0] for line in lines if line.startswith(".")}
    assert macros <= {".TH", ".SH", ".SS", ".PP", ".TP", ".RS", ".RE", ".nf", ".fi", ".br", ".nh", ".ad"}
    text = [line for line in lines if not line.startswith(".")]
    assert [line for line in text if re.search(r"(?<!\\)-", line)] == [], "every hyphen is escaped (\\-)"
    assert all(line.isascii() for line in lines)


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
@pytest.mark.parametrize("program", PARSERS)
def test_the_man_page_renders_without_warnings(made: Path, program: str) -> None:
    page = made / "man8" / f"{program}.8"
    done = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(page)], capture_output=True, text=True,
                          timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
    shown = subprocess.run(["groff", "-man", "-Tutf8", "-P", "-c", "-P", "-b", "-P", "-u", str(page)],
                           capture_output=True, text=True, timeout=60).stdout
    assert "EXIT STATUS" in shown and f"{program} --version" in shown.replace("\u2010", "-")


# --- bash completion ---------------------------------------------------------------------------------------

def complete(made: Path, program: str, *words: str) -> list[str]:
    """COMPREPLY when the cursor is at the end of `words` (the last one being typed)."""
    function = "_" + re.sub(r"\W", "_", program)
    quoted = " ".join(f"'{w}'" for w in (program, *words))
    script = (f"source {made / 'bash-completion' / program}; COMP_WORDS=({quoted}); COMP_CWORD={len(words)}; "
              f'{function}; printf "%s\\n" "${{COMPREPLY[@]}}"')
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
    return done.stdout.split()


needs_bash = pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")


@needs_bash
def test_completion_of_the_utility(made: Path) -> None:
    parser = build_parser()
    assert complete(made, "mxone_maintenance", "cl") == ["cluster"]
    assert complete(made, "mxone_maintenance", "") == ["cluster", "server", "standby"]
    cluster_actions = [words[1] for words, _ in commands(parser) if words[0] == "cluster"]
    assert complete(made, "mxone_maintenance", "cluster", "") == cluster_actions
    assert complete(made, "mxone_maintenance", "--root", "/tmp", "cluster", "cr") == ["create"]
    assert sorted(complete(made, "mxone_maintenance", "server", "add", "--a")) == ["--accept-new-host-key", "--address",
                                                                                   "--allow-down"]
    assert complete(made, "mxone_maintenance", "cluster", "create", "--fallback", "") == ["automatic", "manual"]
    assert complete(made, "mxone_maintenance", "cluster", "lock", "--lim", "1", "--to", "s") == ["standby"]
    assert set(complete(made, "mxone_maintenance", "-")) == flags(parser)


@needs_bash
def test_completion_of_the_agent(made: Path) -> None:
    assert complete(made, "mxone-cluster-agent", "st") == ["status"]
    assert complete(made, "mxone-cluster-agent", "--root", "/", "") == [w[0] for w, _ in commands(agent_parser())]
    assert "--json" in complete(made, "mxone-cluster-agent", "status", "--")


@needs_bash
@pytest.mark.parametrize("program", PARSERS)
def test_completion_is_registered_for_the_program(made: Path, program: str) -> None:
    script = f"source {made / 'bash-completion' / program}; complete -p {program}"
    done = subprocess.run(["bash", "--norc", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == f"complete -F _{re.sub(r'[^A-Za-z0-9]', '_', program)} {program}"


# --- the generator itself ----------------------------------------------------------------------------------

def generator():
    loader = importlib.machinery.SourceFileLoader("gen_manuals", str(GENERATOR))
    spec = importlib.util.spec_from_loader("gen_manuals", loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_manuals"] = module             # dataclasses look their module up
    loader.exec_module(module)
    return module


def test_an_example_that_no_longer_parses_stops_the_generator() -> None:
    gen = generator()
    gen.check_example(build_parser(), "mxone_maintenance cluster create --help")
    with pytest.raises(gen.GenError, match="cluster create --nope"):
        gen.check_example(build_parser(), "mxone_maintenance cluster create --nope")
    with pytest.raises(gen.GenError):
        gen.check_example(agent_parser(), "mxone-cluster-agent fallback two")


def test_the_generator_without_outdir_says_how_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(GENERATOR)], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", "gen-manuals: usage: scripts/gen-manuals OUTDIR\n")
    blocked = tmp_path / "file"
    blocked.write_text("")
    done = subprocess.run([sys.executable, str(GENERATOR), str(blocked)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stderr.startswith("gen-manuals: cannot write ")
    assert done.stderr.count("\n") == 1
