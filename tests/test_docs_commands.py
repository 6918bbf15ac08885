"""The docs show only commands, flags, scripts, files and links that exist, and docs/commands.md is current.

Every command in README.md and docs/ (not docs/log/, a diary, nor docs/commands.md, which is generated) that
runs `device`, `convert`, `train` or `python -m train.scenes` (also as `python -m ...` or `.venv/bin/...`), in a
code block or in inline code, is checked against the real argparse parsers, imported, never run: the subcommand
exists and every flag shown is accepted by it. `train`'s parser imports no TensorFlow, so it is checked like
the others. A `scripts/NAME` mentioned anywhere must exist, and a long flag given to it must appear in its
source (unless it passes its arguments on with "$@"). Repository paths in code and relative links must exist,
and a link's #anchor must be a heading of the page it points to.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").rglob("*.md")
                                    if "log" not in p.relative_to(ROOT / "docs").parts[:-1]
                                    and p.name != "commands.md")]
COMMAND_DOCS = ROOT / "docs" / "commands.md"
GENERATOR = ROOT / "scripts" / "make_command_docs.py"
NOT_SHELL = {"text", "json", "python", "py", "csv", "toml", "yaml", "ini", "html", "js", "javascript"}
PLACEHOLDER = re.compile(r"^(<.*>|[A-Z][A-Z_]*|\.\.\.|…)$")  # device <command>, device COMMAND, train ...
FLAG = re.compile(r"^--?[A-Za-z][\w-]*$")
TOP_DIRS = ("device/", "train/", "convert/", "scripts/", "tests/", "docs/")


# --------------------------------------------------------------------------------------- the parsers
def load_generator():
    spec = importlib.util.spec_from_file_location("make_command_docs", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def parsers() -> dict[str, argparse.ArgumentParser]:
    """Each command as the docs name it -> its parser (imported from the code, as make_command_docs does)."""
    gen = load_generator()
    with gen.fixed_environment():
        return dict(gen.top_parsers())


def option_strings(parser: argparse.ArgumentParser) -> set[str]:
    return {s for action in parser._actions for s in action.option_strings}


# --------------------------------------------------------------------------------------- reading the docs
@dataclass(frozen=True)
class Snippet:
    doc: Path
    line: int
    text: str

    def where(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}: {self.text.strip()}"


def snippets(doc: Path) -> list[Snippet]:
    """Shell lines of fenced code blocks (continuations joined) and inline code spans outside them."""
    found: list[Snippet] = []
    fence: str | None = None
    pending, start = "", 0
    for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            fence = None if fence is not None else (stripped[3:].strip().lower() or "sh")
            continue
        if fence is not None:
            if fence in NOT_SHELL:
                continue
            if not pending:
                start = number
            if stripped.endswith("\\"):
                pending += stripped[:-1] + " "
                continue
            found.append(Snippet(doc, start, pending + stripped))
            pending = ""
            continue
        for span in re.findall(r"(?<!`)`([^`]+)`(?!`)", line):
            found.append(Snippet(doc, number, span))
    return found


def strip_comment(text: str) -> str:
    """The text before a shell comment: a '#' at the start or after a space, outside quotes."""
    quote = None
    for i, c in enumerate(text):
        if quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or text[i - 1].isspace()):
            return text[:i]
    return text


def simple_commands(text: str) -> list[str]:
    """Split at ; && || | outside quotes and [brackets] (a synopsis like [--token T | --no-auth] stays whole)."""
    parts, current, quote, depth, i = [], "", None, 0, 0
    while i < len(text):
        c = text[i]
        if quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c in "[(":
            depth += 1
        elif c in "])":
            depth = max(0, depth - 1)
        elif depth == 0 and c in ";|&":
            parts.append(current)
            current = ""
            i += 2 if text[i:i + 2] in ("&&", "||") else 1
            continue
        current += c
        i += 1
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def words(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:  # an unbalanced quote in a synopsis: plain words will do
        return command.split()


@dataclass(frozen=True)
class Call:
    program: str  # "device", "convert", "train", "python -m train.scenes", or "scripts/NAME"
    args: tuple[str, ...]
    snippet: Snippet


def calls(snippet: Snippet) -> list[Call]:
    """The commands of ours that a snippet runs."""
    found = []
    for command in simple_commands(strip_comment(snippet.text)):
        w = words(command)
        while w and (w[0] in ("$", "sudo", "exec", "time", "bash", "sh") or re.match(r"^\w+=", w[0])
                     or w[0] == "nice"):
            w = w[3:] if w[0] == "nice" and len(w) > 2 and w[1] == "-n" else w[1:]
        if not w:
            continue
        head = w[0]
        if re.fullmatch(r"(\S*/)?python(3(\.\d+)?)?", head) and len(w) > 1:
            if w[1] == "-m" and len(w) > 2 and w[2] in ("device", "convert", "train", "train.scenes"):
                name = "python -m train.scenes" if w[2] == "train.scenes" else w[2]
                found.append(Call(name, tuple(w[3:]), snippet))
            elif re.fullmatch(r"(\./)?scripts/[\w.-]+", w[1]):
                found.append(Call(w[1].removeprefix("./"), tuple(w[2:]), snippet))
            continue
        base = head.rsplit("/", 1)[-1]
        if base in ("device", "convert", "train") and (head == base or head.endswith("/bin/" + base)):
            if len(w) > 1 and not w[1].endswith(":"):  # `device` alone names it; `device read: error: ...` quotes it
                found.append(Call(base, tuple(w[1:]), snippet))
        elif re.fullmatch(r"(\./)?scripts/[\w.-]+", head):
            found.append(Call(head.removeprefix("./"), tuple(w[1:]), snippet))
    return found


def flags(args: tuple[str, ...]) -> list[str]:
    """The flags among a command's words: --name, --name=value, -x, also inside [brackets] or (groups)."""
    out = []
    for arg in args:
        for piece in arg.split("|"):
            token = piece.strip("[](),").split("=", 1)[0]
            if FLAG.match(token):
                out.append(token)
    return out


def all_calls() -> list[Call]:
    return [call for doc in DOCS for snippet in snippets(doc) for call in calls(snippet)]


# --------------------------------------------------------------------------------------- the checks
def check_call(call: Call) -> list[str]:
    """What is wrong with one documented command (empty when nothing)."""
    if call.program.startswith("scripts/"):
        return check_script_call(call)
    parser = parsers()[call.program]
    subs = load_generator().subparsers_of(parser)
    accepted = option_strings(parser)
    args = call.args
    if subs:
        first = next((a for a in args if not FLAG.match(a.split("=", 1)[0])), None)
        if first is None:
            if not all(f in ("-h", "--help") for f in flags(args)):
                return [f"{call.program} needs a subcommand ({', '.join(subs)})"]
        elif PLACEHOLDER.match(first):
            accepted |= set().union(*(option_strings(p) for p in subs.values()))
        elif first in subs:
            accepted |= option_strings(subs[first])
        else:
            return [f"{call.program} has no subcommand {first!r} (it has {', '.join(subs)})"]
    return [f"{call.program}{' ' + first if subs and first else ''} does not accept {flag}"
            for flag in flags(args) if flag not in accepted]


def check_script_call(call: Call) -> list[str]:
    path = ROOT / call.program
    if not path.is_file():
        return [f"{call.program} does not exist"]
    source = path.read_text(encoding="utf-8")
    if re.search(r'^\s*exec\s(?!.*"\$0").*"\$@"', source, re.M):  # passes its arguments on (to pytest, device)
        return []
    return [f"{call.program} does not know {flag}" for flag in flags(call.args)
            if flag.startswith("--") and flag not in ("--help",) and flag not in source]


def test_the_docs_show_commands_at_all():
    programs = {call.program for call in all_calls()}
    assert {"device", "convert", "train", "python -m train.scenes"} <= programs, programs


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_in_the_docs_exists_with_its_flags(doc):
    problems = [f"{snippet.where()}\n    -> {problem}"
                for snippet in snippets(doc) for call in calls(snippet) for problem in check_call(call)]
    assert not problems, "commands in the docs that the code does not have:\n" + "\n".join(problems)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_script_the_docs_mention_exists(doc):
    text = doc.read_text(encoding="utf-8")
    missing = sorted({m for m in re.findall(r"(?<![\w.-])scripts/([\w.-]*\w)", text)
                      if not (ROOT / "scripts" / m).exists()})
    assert not missing, f"{doc.relative_to(ROOT)} mentions scripts that do not exist: " + ", ".join(missing)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_repository_path_in_the_docs_exists(doc):
    """Paths such as `device/recognition/views.py` or device/samples/*.jpg, in code, from the repository root."""
    missing = set()
    for snippet in snippets(doc):
        for word in re.findall(r"[\w./*<>-]+", snippet.text):
            word = word.rstrip(".")
            if not word.startswith(TOP_DIRS) or "<" in word or word.endswith("..."):
                continue
            exists = any(ROOT.glob(word)) if "*" in word else (ROOT / word).exists() or (ROOT / f"{word}.py").exists()
            if not exists:  # a module may be named without its .py
                missing.add(word)
    assert not missing, f"{doc.relative_to(ROOT)} names files that do not exist: " + ", ".join(sorted(missing))


def anchors(doc: Path) -> set[str]:
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces to hyphens, -1 for twins."""
    seen: dict[str, int] = {}
    out = set()
    fence = False
    for line in doc.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("```"):
            fence = not fence
        m = None if fence else re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1))
        slug = re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_in_the_docs_leads_somewhere(doc):
    broken = []
    text = re.sub(r"```.*?```", "", doc.read_text(encoding="utf-8"), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+:", target):
            continue
        path_part, _, anchor = target.partition("#")
        path = (doc.parent / path_part).resolve() if path_part else doc
        if not path.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            broken.append(f"{target} (no heading #{anchor} in {path.relative_to(ROOT)})")
    assert not broken, f"{doc.relative_to(ROOT)} has broken links: " + ", ".join(broken)


def test_docs_commands_md_is_what_the_parsers_print():
    gen = load_generator()
    current = COMMAND_DOCS.read_text(encoding="utf-8") if COMMAND_DOCS.exists() else ""
    made_with = re.search(r"\(Python (\d+\.\d+),", current)
    if made_with and made_with.group(1) != gen.PYTHON:
        pytest.skip(f"docs/commands.md was made with Python {made_with.group(1)}, this is {gen.PYTHON}: "
                    "argparse lays out --help differently between versions")
    assert current == gen.render(), (
        "docs/commands.md is out of date with the command-line parsers: run python scripts/make_command_docs.py")


def test_the_checker_catches_what_it_is_for():
    """Guards of the checks themselves: a removed flag, a wrong subcommand, a missing script are caught."""
    def problems(text: str) -> list[str]:
        return [p for call in calls(Snippet(ROOT / "README.md", 1, text)) for p in check_call(call)]

    assert problems("device read x.jpg --json --looks 3 -v") == []
    assert problems("python -m device read x.jpg --no-such-flag")
    assert problems("device nosuch --json")
    assert problems(".venv/bin/convert --int8 m.keras --sidecar")
    assert problems("train --config paper --no-such-flag")
    assert problems("python -m train.scenes --count 5 --no-such-flag")
    assert problems("scripts/no-such-script.sh")
    assert problems("device live [--source S] [--token T | --no-auth]") == []
    assert problems("device <command> --help") == []
    assert problems("cd x && device read a.jpg | head -1  # device bench --bogus") == []
    assert problems("scripts/setup-pi.sh --serve 0.0.0.0:8000 --no-such-option")


def test_the_parsers_import_no_tensorflow():
    """The check runs where only the device runtime is installed: building every parser imports no TensorFlow.

    In a fresh interpreter, since other tests of the suite import TensorFlow into this one."""
    code = (f"import importlib.util, sys; spec = importlib.util.spec_from_file_location('g', {str(GENERATOR)!r}); "
            "g = importlib.util.module_from_spec(spec); spec.loader.exec_module(g)\n"
            "with g.fixed_environment(): dict(g.top_parsers())\n"
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"], "building the parsers imported TensorFlow or Keras"
