#!/usr/bin/env python3
"""No function of the engine over 100 lines (issue 14).

Every `fn` item with a body in engine/src is measured from its `fn` line to
its closing brace, by brace matching over the source with strings, character
literals and comments blanked out. Exempt: the prompt and completion parsers
(extract.rs, prompts.rs), the offline designer (llm/builtin.rs,
llm/vocabulary.rs) and `#[cfg(test)]` modules. Prints every offender and
exits 1 when there is one.

    python3 scripts/fn_lengths.py [--max N] [ROOT]
"""

import argparse
import re
import sys
from pathlib import Path

EXEMPT = {"extract.rs", "prompts.rs", "llm/builtin.rs", "llm/vocabulary.rs"}

CHAR_LITERAL = re.compile(r"'(?:\\u\{[0-9a-fA-F]+\}|\\x[0-9a-fA-F]{2}|\\.|[^\\'\n])'")
RAW_STRING = re.compile(r'b?r(#*)"')


def blank(text: str) -> str:
    """`text` with the insides of strings, characters and comments replaced
    by spaces (newlines kept), so braces left are the code's."""
    out = list(text)
    i, n = 0, len(text)

    def wipe(start: int, end: int) -> None:
        for k in range(start, end):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            wipe(i, end)
            i = end
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            wipe(i, j)
            i = j
        elif (m := RAW_STRING.match(text, i)) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            close = '"' + m.group(1)
            end = text.find(close, m.end())
            end = n if end < 0 else end + len(close)
            wipe(i, end)
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            wipe(i, j + 1)
            i = j + 1
        elif c == "'":
            m = CHAR_LITERAL.match(text, i)
            if m:
                wipe(i, m.end())
                i = m.end()
            else:  # a lifetime or a label
                i += 1
        else:
            i += 1
    return "".join(out)


def matching_brace(code: str, open_at: int) -> int:
    """Index of the brace closing the one at `open_at` (or the end)."""
    depth = 0
    for k in range(open_at, len(code)):
        if code[k] == "{":
            depth += 1
        elif code[k] == "}":
            depth -= 1
            if depth == 0:
                return k
    return len(code) - 1


def test_modules(code: str) -> list[tuple[int, int]]:
    """Spans of `#[cfg(test)] mod name { … }`."""
    spans = []
    for m in re.finditer(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{", code):
        open_at = m.end() - 1
        spans.append((m.start(), matching_brace(code, open_at)))
    return spans


def body_start(code: str, after: int) -> int | None:
    """Index of the `{` opening the body of the fn whose name ends at `after`,
    or None for a declaration without a body (`;` first)."""
    depth = 0
    for k in range(after, len(code)):
        ch = code[k]
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and ch == "{":
            return k
        elif depth == 0 and ch == ";":
            return None
    return None


def long_functions(path: Path, limit: int) -> list[tuple[int, str, int]]:
    code = blank(path.read_text(encoding="utf-8"))
    skipped = test_modules(code)
    found = []
    for m in re.finditer(r"\bfn\s+([A-Za-z_]\w*)", code):
        if any(a <= m.start() <= b for a, b in skipped):
            continue
        open_at = body_start(code, m.end())
        if open_at is None:
            continue
        close_at = matching_brace(code, open_at)
        first = code.count("\n", 0, m.start()) + 1
        last = code.count("\n", 0, close_at) + 1
        lines = last - first + 1
        if lines > limit:
            found.append((first, m.group(1), lines))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=100, help="most lines a function may have")
    parser.add_argument("root", nargs="?", default=Path(__file__).resolve().parent.parent / "engine" / "src")
    args = parser.parse_args()
    root = Path(args.root).resolve()
    shown = root.parent.parent if root.name == "src" else root
    offenders = []
    for path in sorted(root.rglob("*.rs")):
        rel = path.relative_to(root).as_posix()
        if rel in EXEMPT:
            continue
        for line, name, lines in long_functions(path, args.max):
            offenders.append(f"{path.relative_to(shown).as_posix()}:{line}: fn {name} has {lines} lines (at most {args.max})")
    for o in offenders:
        print(o)
    if offenders:
        print(f"{len(offenders)} function(s) over {args.max} lines; split them into named steps")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
