#!/usr/bin/env python3
"""Finds file-level import cycles in the workspace's crates.

For each crate, the module tree is read from its roots (`src/lib.rs`,
`src/main.rs`, `src/bin/*.rs`) by following `mod name;` declarations, and an
edge A -> B is drawn when file A names something in file B through a
`use crate::…` / `use super::…` / `use self::…` statement or an inline
`crate::…` / `super::…` path in code. A name that a module re-exports
(`pub use x::Item`, or any `use` a child can see) is followed to the file that
defines it, so `use super::LlmError` in `llm/record.rs` points at
`llm/error.rs`, not at `llm/mod.rs`.

A module owning its children is not a dependency: edges from a module to its
own descendants (declarations, re-exports, a facade calling into them) are
left out, so `mod.rs` re-exports never make a cycle. Every other cycle is
printed, one per strongly connected component, and the exit status is 1.

Usage: python3 scripts/import_cycles.py [CRATE_DIR ...]
(default: core envs reward_sandbox rl engine). Standard library only.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

DEFAULT_CRATES = ["core", "envs", "reward_sandbox", "rl", "engine"]
ITEM_KINDS = r"(?:fn|struct|enum|trait|type|const|static|mod|union|macro_rules!)"


def strip_comments_and_strings(src: str) -> str:
    """Blanks comments, string and char literals (keeping line structure)."""
    out = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            i = j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append("\n" * src.count("\n", i, j))
            i = j
        elif c == "r" and re.match(r'r#*"', src[i:i + 300]) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            m = re.match(r'r(#*)"', src[i:])
            end = src.find('"' + m.group(1), i + len(m.group(0)))
            end = n if end < 0 else end + 1 + len(m.group(1))
            out.append('""' + "\n" * src.count("\n", i, end))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            out.append('""' + "\n" * src.count("\n", i, j))
            i = j + 1
        elif c == "'":
            # A char literal ('a', '\n', '\u{1F600}') or a lifetime ('a).
            m = re.match(r"'(?:\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", src[i:])
            if m:
                out.append("' '")
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def split_top(text: str, sep: str = ",") -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def expand_use_tree(tree: str, prefix: list[str]) -> list[tuple[list[str], str]]:
    """`a::{b, c::d as e}` -> [(['a','b'], 'b'), (['a','c','d'], 'e')]."""
    tree = re.sub(r"\s+", "", tree)
    if tree.startswith("::"):
        tree = tree[2:]
    brace = tree.find("{")
    if brace >= 0 and tree.endswith("}"):
        head = [s for s in tree[:brace].split("::") if s]
        out = []
        for part in split_top(tree[brace + 1:-1]):
            out.extend(expand_use_tree(part, prefix + head))
        return out
    segs = [s for s in tree.split("::") if s]
    path = prefix + segs
    return [(path, path[-1] if path else "")]


USE_RE = re.compile(r"\b(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);")


def parse_uses(code: str) -> list[tuple[int, bool, list[str], str]]:
    """(offset, is_pub, path, bound name) for every `use` item in code."""
    out = []
    for m in USE_RE.finditer(code):
        raw = m.group(2)
        # handle `x as y` before whitespace is squeezed
        parts = []
        for path, _ in expand_use_tree(re.sub(r"\s+as\s+", "@as@", raw), []):
            last = path[-1] if path else ""
            bound = last
            if "@as@" in last:
                real, bound = last.split("@as@", 1)
                path = path[:-1] + [real]
            parts.append((path, bound))
        for path, bound in parts:
            out.append((m.start(), bool(m.group(1)), path, bound))
    return out


class Crate:
    def __init__(self, root_dir: Path):
        self.dir = root_dir
        self.files: dict[Path, tuple[str, ...]] = {}  # file -> module path
        self.mods: dict[tuple[str, ...], Path] = {}  # module path -> file (file modules)
        self.inline: set[tuple[str, ...]] = set()  # inline module paths
        self.code: dict[Path, str] = {}

    def load(self) -> None:
        roots = [self.dir / "src" / "lib.rs", self.dir / "src" / "main.rs"]
        roots += sorted((self.dir / "src" / "bin").glob("*.rs"))
        for root in roots:
            if root.exists():
                # each root is its own crate; prefix its tree with its file name
                # so lib and bin trees do not mix.
                tag = ("<" + root.relative_to(self.dir).as_posix() + ">",)
                self.walk(root, tag, is_dir_owner=True)

    def walk(self, path: Path, modpath: tuple[str, ...], is_dir_owner: bool) -> None:
        if path in self.files:
            return
        code = strip_comments_and_strings(path.read_text(encoding="utf-8"))
        self.files[path] = modpath
        self.mods[modpath] = path
        self.code[path] = code
        base = path.parent if is_dir_owner else path.parent / path.stem
        for m in re.finditer(r"(?m)^[ \t]*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", code):
            if self.inline_prefix(code, m.start()):
                continue  # a `mod x;` inside an inline module: not handled
            name = m.group(1)
            a, b = base / f"{name}.rs", base / name / "mod.rs"
            if a.exists():
                self.walk(a, modpath + (name,), is_dir_owner=False)
            elif b.exists():
                self.walk(b, modpath + (name,), is_dir_owner=True)
        for start, names in self.inline_modules(code):
            self.inline.add(modpath + tuple(names))

    @staticmethod
    def inline_modules(code: str) -> list[tuple[int, list[str]]]:
        """(offset, nested names) of each inline `mod x { … }` in code."""
        out, stack, depth = [], [], 0
        tokens = re.finditer(r"\bmod\s+(\w+)\s*\{|\{|\}", code)
        for t in tokens:
            if t.group(1):
                stack.append((t.group(1), depth))
                depth += 1
                out.append((t.start(), [s for s, _ in stack]))
            elif t.group(0) == "{":
                depth += 1
            else:
                depth -= 1
                if stack and stack[-1][1] == depth:
                    stack.pop()
        return out

    def inline_prefix(self, code: str, offset: int) -> list[str]:
        """The inline module names enclosing `offset` in code."""
        stack, depth = [], 0
        for t in re.finditer(r"\bmod\s+(\w+)\s*\{|\{|\}", code[:offset]):
            if t.group(1):
                stack.append((t.group(1), depth))
                depth += 1
            elif t.group(0) == "{":
                depth += 1
            else:
                depth -= 1
                if stack and stack[-1][1] == depth:
                    stack.pop()
        return [s for s, _ in stack]

    def is_module(self, modpath: tuple[str, ...]) -> bool:
        return modpath in self.mods or modpath in self.inline

    def file_of(self, modpath: tuple[str, ...]) -> Path | None:
        for k in range(len(modpath), 0, -1):
            if modpath[:k] in self.mods:
                return self.mods[modpath[:k]]
        return None

    def uses_in(self, modpath: tuple[str, ...]) -> list[tuple[list[str], str]]:
        """The `use` items written directly in module `modpath` (file or inline)."""
        path = self.file_of(modpath)
        if path is None:
            return []
        fmod = self.files[path]
        inner = list(modpath[len(fmod):])
        code = self.code[path]
        return [
            (p, bound)
            for off, _pub, p, bound in parse_uses(code)
            if self.inline_prefix(code, off) == inner
        ]

    def resolve(self, cur: tuple[str, ...], segs: list[str], seen: set) -> tuple[str, ...] | None:
        """The module that defines what `segs` names, seen from module `cur`."""
        if not segs:
            return None
        root = cur[:1]
        first = segs[0]
        if first == "crate":
            mod, rest = root, segs[1:]
        elif first in ("super", "self"):
            mod, rest = cur, segs
            while rest and rest[0] in ("super", "self"):
                if rest[0] == "super":
                    if len(mod) <= 1:
                        return None
                    mod = mod[:-1]
                rest = rest[1:]
        elif self.is_module(cur + (first,)):
            mod, rest = cur, segs  # a child module named without `self::`
        else:
            return None  # an external crate or a local name
        while rest and self.is_module(mod + (rest[0],)):
            mod, rest = mod + (rest[0],), rest[1:]
        if not rest or rest[0] in ("*", "self"):
            return mod
        return self.follow(mod, rest[0], seen)

    def follow(self, mod: tuple[str, ...], name: str, seen: set) -> tuple[str, ...]:
        """Follows `name` through the imports of `mod` to where it is defined."""
        key = (mod, name)
        if key in seen:
            return mod
        seen = seen | {key}
        path = self.file_of(mod)
        code = self.code.get(path, "") if path else ""
        if re.search(rf"\b{ITEM_KINDS}\s+{re.escape(name)}\b", code):
            if not any(bound == name for _, bound in self.uses_in(mod)):
                return mod
        for p, bound in self.uses_in(mod):
            if bound == name:
                target = self.resolve(mod, p, seen)
                return target if target is not None else mod
        for p, bound in self.uses_in(mod):
            if bound == "*":
                src = self.resolve(mod, p[:-1] + ["*"], seen)
                if src is None:
                    continue
                spath = self.file_of(src)
                if spath and re.search(rf"\b{ITEM_KINDS}\s+{re.escape(name)}\b", self.code[spath]):
                    return self.follow(src, name, seen)
        return mod

    def edges(self) -> dict[Path, dict[Path, str]]:
        graph: dict[Path, dict[Path, str]] = {f: {} for f in self.files}
        inline_path = re.compile(r"(?<![\w$:])((?:crate|super|self)(?:::\w+)+)")
        for path, fmod in self.files.items():
            code = self.code[path]
            refs: list[tuple[int, list[str]]] = []
            for off, _pub, p, _bound in parse_uses(code):
                refs.append((off, p))
            use_spans = [(m.start(), m.end()) for m in USE_RE.finditer(code)]
            for m in inline_path.finditer(code):
                if any(a <= m.start() < b for a, b in use_spans):
                    continue
                refs.append((m.start(), m.group(1).split("::")))
            for off, segs in refs:
                if not segs or segs[0] not in ("crate", "super", "self") and not self.is_module(
                    fmod + tuple(self.inline_prefix(code, off)) + (segs[0],)
                ):
                    continue
                cur = fmod + tuple(self.inline_prefix(code, off))
                target = self.resolve(cur, segs, set())
                if target is None:
                    continue
                tfile = self.file_of(target)
                if tfile is None or tfile == path:
                    continue
                tmod = self.files[tfile]
                if tmod[: len(fmod)] == fmod:
                    continue  # a module owning its descendants
                line = code.count("\n", 0, off) + 1
                graph[path].setdefault(tfile, f"{path.name}:{line} {'::'.join(segs)}")
        return graph


def strongly_connected(graph: dict[Path, dict[Path, str]]) -> list[list[Path]]:
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v: Path) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main(argv: list[str]) -> int:
    repo = Path(__file__).resolve().parent.parent
    crates = argv or DEFAULT_CRATES
    found = False
    for name in crates:
        crate = Crate(repo / name)
        crate.load()
        graph = crate.edges()
        n_edges = sum(len(v) for v in graph.values())
        comps = strongly_connected(graph)
        status = "cycle" if comps else "ok"
        print(f"{name}: {len(graph)} files, {n_edges} edges, {status}")
        for comp in comps:
            found = True
            members = set(comp)
            print("  cycle among: " + ", ".join(p.relative_to(repo).as_posix() for p in comp))
            for a in comp:
                for b, why in sorted(graph[a].items()):
                    if b in members:
                        print(
                            f"    {a.relative_to(repo).as_posix()} -> "
                            f"{b.relative_to(repo).as_posix()}  ({why})"
                        )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
