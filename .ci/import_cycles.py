#!/usr/bin/env python3
"""File-level import cycles in src/: prints each strongly connected component of more than one
file and exits 1 if there is any, 0 if the imports point one way.

An edge A -> B means that file A names something through a path that resolves to a module whose
file is B: `use crate::...`, `use super::...`, `use self::...`, a `use` of a child module, and
`crate::`/`super::`/`self::`/child-module paths anywhere in code. A path is resolved to the
longest prefix that is a module; the rest names an item of that module's file, so importing a
name a `mod.rs` re-exports is an edge to that `mod.rs`, and the `pub use` there is an edge from
it to the file that defines the name.

The module tree is followed from src/lib.rs (and src/main.rs, whose `earshot::` paths are the
library's) through `mod` declarations, `name.rs` and `name/mod.rs` layouts, inline `mod x { }`
blocks and `#[path]` attributes. A `mod child;` declaration alone is not an edge.

Items under `#[cfg(test)]` are left out by default: a test module reaching into a sibling for a
fixture is not a dependency of the library. `--include-tests` counts them too; `--self-test`
checks the parser on a made-up tree.

Python 3 standard library only.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

# --- tokens ----------------------------------------------------------------------------------


@dataclass
class Tok:
    kind: str  # "id", "punct"
    text: str
    line: int


def tokenize(src: str) -> list[Tok]:
    """Identifiers and punctuation, with comments, strings and char literals dropped (a path in a
    doc comment or a string is not an import)."""
    toks: list[Tok] = []
    i, n, line = 0, len(src), 1
    while i < n:
        c = src[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if src.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif src.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    line += src[i] == "\n"
                    i += 1
        elif c in "rb" and _raw_string_at(src, i):
            i, line = _skip_raw_string(src, i, line)
        elif c == '"' or (c == "b" and src.startswith('b"', i)):
            i = i + 1 if c == '"' else i + 2
            while i < n and src[i] != '"':
                if src[i] == "\\":
                    i += 1
                line += src[i] == "\n" if i < n else 0
                i += 1
            i += 1
        elif c == "'" or (c == "b" and src.startswith("b'", i)):
            start = i + 1 if c == "'" else i + 2
            if start < n and src[start] == "\\":
                j = start + 2  # past the escaped character, which may be a quote
                while j < n and src[j] != "'":
                    j += 1
                i = j + 1
            elif start + 1 < n and src[start + 1] == "'":
                i = start + 2
            else:  # a lifetime or a label
                i = start
                while i < n and (src[i].isalnum() or src[i] == "_"):
                    i += 1
        elif c.isalpha() or c == "_":
            j = i
            if src.startswith("r#", i) and i + 2 < n and (src[i + 2].isalpha() or src[i + 2] == "_"):
                j = i + 2  # a raw identifier
                i = j
            while j < n and (src[j].isalnum() or src[j] == "_"):
                j += 1
            toks.append(Tok("id", src[i:j], line))
            i = j
        elif src.startswith("::", i):
            toks.append(Tok("punct", "::", line))
            i += 2
        else:
            toks.append(Tok("punct", c, line))
            i += 1
    return toks


def _raw_string_at(src: str, i: int) -> bool:
    j = i + 1 if src[i] == "r" else (i + 2 if src.startswith("br", i) else -1)
    if j < 0:
        return False
    while j < len(src) and src[j] == "#":
        j += 1
    return j < len(src) and src[j] == '"'


def _skip_raw_string(src: str, i: int, line: int) -> tuple[int, int]:
    j = i + 1 if src[i] == "r" else i + 2
    hashes = 0
    while src[j] == "#":
        hashes, j = hashes + 1, j + 1
    close = '"' + "#" * hashes
    end = src.find(close, j + 1)
    end = len(src) if end < 0 else end + len(close)
    return end, line + src.count("\n", i, end)


# --- the module tree -------------------------------------------------------------------------


@dataclass
class Module:
    path: tuple[str, ...]  # ("crate", "client", "http")
    file: str  # the file holding its items (an inline module's is its parent's)
    children: dict[str, "Module"] = field(default_factory=dict)


@dataclass
class Ref:
    """A path as written, to resolve once every module is known."""

    module: tuple[str, ...]  # the module it is written in
    segments: list[str]
    line: int


@dataclass
class FileInfo:
    refs: list[Ref] = field(default_factory=list)


class Crate:
    def __init__(self, src_root: str, include_tests: bool):
        self.src_root = src_root
        self.include_tests = include_tests
        self.modules: dict[tuple[str, ...], Module] = {}
        self.files: dict[str, FileInfo] = {}

    def load_root(self, file: str, name: str) -> None:
        self._load_file(file, (name,), os.path.dirname(file))

    def _load_file(self, file: str, mod_path: tuple[str, ...], dir_: str) -> None:
        """`dir_` is where this file's `mod x;` children live."""
        if file in self.files or not os.path.isfile(file):
            return
        with open(file, encoding="utf-8") as f:
            toks = tokenize(f.read())
        self.files[file] = FileInfo()
        self.modules[mod_path] = Module(mod_path, file)
        self._parse_items(toks, 0, len(toks), file, mod_path, dir_)

    def _parse_items(self, toks: list[Tok], i: int, end: int, file: str,
                     mod_path: tuple[str, ...], dir_: str) -> None:
        info = self.files[file]
        path_attr: str | None = None
        test_only = False
        while i < end:
            t = toks[i]
            if t.text == "#" and i + 1 < end and toks[i + 1].text in "[!":
                j = i + 1 + (toks[i + 1].text == "!")
                close = _matching(toks, j)
                attr = toks[j + 1:close]
                words = [a.text for a in attr]
                is_test = words[:1] == ["cfg"] and "test" in words and not {"not", "any"} & set(words)
                if is_test and toks[i + 1].text == "!" and not self.include_tests:
                    return  # `#![cfg(test)]`: the whole module
                test_only = test_only or is_test
                if words[:1] == ["path"] and len(words) >= 2:
                    path_attr = self._path_attr_value(file, attr[0].line)
                i = close + 1
                continue
            if test_only and not self.include_tests:
                i = _item_end(toks, i, end)
                test_only, path_attr = False, None
                continue
            if t.kind == "id" and t.text == "mod" and i + 1 < end and toks[i + 1].kind == "id":
                name = toks[i + 1].text
                nxt = toks[i + 2].text if i + 2 < end else ";"
                child_path = mod_path + (name,)
                if nxt == "{":
                    close = _matching(toks, i + 2)
                    self.modules[child_path] = Module(child_path, file)
                    self.modules[mod_path].children[name] = self.modules[child_path]
                    self._parse_items(toks, i + 3, close, file, child_path, os.path.join(dir_, name))
                    i = close + 1
                else:
                    self._declare_file_module(file, mod_path, name, dir_, path_attr)
                    i += 2
                test_only, path_attr = False, None
                continue
            if t.kind == "id" and t.text == "use" and _is_use_item(toks, i):
                j = i + 1
                while j < end and toks[j].text != ";":
                    j += 1
                for segs in parse_use_tree(toks[i + 1:j]):
                    info.refs.append(Ref(mod_path, segs, t.line))
                i = j + 1
                test_only, path_attr = False, None
                continue
            if t.kind == "id" and i + 1 < end and toks[i + 1].text == "::" and not _after_path_sep(toks, i):
                segs, j = _read_path(toks, i, end)
                if not _is_visibility(toks, i):
                    info.refs.append(Ref(mod_path, segs, t.line))
                i = j
                continue
            i += 1

    def _path_attr_value(self, file: str, line: int) -> str | None:
        # Tokens drop strings, so the value is read back from the line it is on.
        with open(file, encoding="utf-8") as f:
            text = f.read().splitlines()[line - 1]
        start = text.find('"', text.find("path"))
        stop = text.find('"', start + 1)
        return text[start + 1:stop] if start >= 0 and stop > start else None

    def _declare_file_module(self, parent_file: str, mod_path: tuple[str, ...], name: str,
                             dir_: str, path_attr: str | None) -> None:
        if path_attr is not None:
            # Relative to the directory of the declaring file (outside inline modules).
            candidates = [os.path.normpath(os.path.join(os.path.dirname(parent_file), path_attr))]
        else:
            candidates = [os.path.join(dir_, name + ".rs"), os.path.join(dir_, name, "mod.rs")]
        for c in candidates:
            if os.path.isfile(c):
                child_path = mod_path + (name,)
                # `x/mod.rs` declares its children in `x/`; `x.rs` declares them in `x/` too.
                if os.path.basename(c) == "mod.rs":
                    child_dir = os.path.dirname(c)
                else:
                    child_dir = os.path.join(os.path.dirname(c), os.path.basename(c)[:-3])
                self._load_file(c, child_path, child_dir)
                if child_path in self.modules:
                    self.modules[mod_path].children[name] = self.modules[child_path]
                return

    def resolve(self, ref: Ref, extern_alias: dict[str, str]) -> Module | None:
        """The module the path lands in (its longest module prefix), or None if it is not ours."""
        segs = list(ref.segments)
        if not segs:
            return None
        head = segs[0]
        if head == "crate":
            base: tuple[str, ...] = ref.module[:1]
            rest = segs[1:]
        elif head in extern_alias:
            base = (extern_alias[head],)
            rest = segs[1:]
        elif head in ("super", "self"):
            base = ref.module
            rest = segs
            while rest and rest[0] in ("super", "self"):
                if rest[0] == "super":
                    base = base[:-1]
                rest = rest[1:]
            if not base:
                return None
        else:
            # A bare path is ours only if it starts with a child module of where it is written.
            here = self.modules.get(ref.module)
            if here is None or head not in here.children:
                return None
            base, rest = ref.module, segs
        mod = self.modules.get(base)
        if mod is None:
            return None
        for s in rest:
            if s in mod.children:
                mod = mod.children[s]
            else:
                break
        return mod


def _matching(toks: list[Tok], i: int) -> int:
    """The index of the bracket closing the one at `i`."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    open_, close = toks[i].text, pairs[toks[i].text]
    depth = 0
    for j in range(i, len(toks)):
        if toks[j].text == open_:
            depth += 1
        elif toks[j].text == close:
            depth -= 1
            if depth == 0:
                return j
    return len(toks) - 1


def _item_end(toks: list[Tok], i: int, end: int) -> int:
    """Just past the item starting at `i`: its `;`, or the close of its first `{ }` block."""
    while i < end:
        if toks[i].text == ";":
            return i + 1
        if toks[i].text == "{":
            return _matching(toks, i) + 1
        if toks[i].text in "([":
            i = _matching(toks, i) + 1
            continue
        i += 1
    return end


def _is_use_item(toks: list[Tok], i: int) -> bool:
    prev = toks[i - 1].text if i else ";"
    return prev not in ("::", ".")


def _after_path_sep(toks: list[Tok], i: int) -> bool:
    return i > 0 and toks[i - 1].text == "::"


def _is_visibility(toks: list[Tok], i: int) -> bool:
    # `pub(in crate::a)` restricts visibility; it imports nothing.
    return i >= 3 and toks[i - 1].text == "in" and toks[i - 2].text == "(" and toks[i - 3].text == "pub"


def _read_path(toks: list[Tok], i: int, end: int) -> tuple[list[str], int]:
    segs = [toks[i].text]
    j = i + 1
    while j + 1 < end and toks[j].text == "::" and toks[j + 1].kind == "id":
        segs.append(toks[j + 1].text)
        j += 2
    return segs, j


def parse_use_tree(toks: list[Tok]) -> list[list[str]]:
    """Every path a use tree names: `a::{b, c::{self, d}}` gives a::b, a::c, a::c::d; a glob
    names its prefix."""
    out: list[list[str]] = []
    pos = 0

    def tree(prefix: list[str]) -> None:
        nonlocal pos
        segs = list(prefix)
        if pos < len(toks) and toks[pos].text == "::":  # a leading `::`
            pos += 1
        while pos < len(toks):
            t = toks[pos]
            if t.text == "{":
                pos += 1
                while pos < len(toks) and toks[pos].text != "}":
                    tree(segs)
                    if pos < len(toks) and toks[pos].text == ",":
                        pos += 1
                pos += 1
                return
            if t.text == "*":
                pos += 1
                out.append(segs)
                return
            if t.kind == "id" and t.text == "self" and segs:
                pos += 1
                out.append(segs)
                _skip_alias()
                return
            if t.kind == "id":
                segs = segs + [t.text]
                pos += 1
                if pos < len(toks) and toks[pos].text == "::":
                    pos += 1
                    continue
                out.append(segs)
                _skip_alias()
                return
            pos += 1  # stray punctuation
            return

    def _skip_alias() -> None:
        nonlocal pos
        if pos + 1 < len(toks) and toks[pos].text == "as":
            pos += 2

    while pos < len(toks):
        before = pos
        tree([])
        if pos < len(toks) and toks[pos].text == ",":
            pos += 1
        if pos == before:
            pos += 1
    return out


# --- cycles ----------------------------------------------------------------------------------


def strongly_connected(nodes: list[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (the tree is deep enough to matter for recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def import_graph(repo: str, include_tests: bool) -> tuple[list[str], dict[str, set[str]], dict]:
    """The files of `repo/src` (relative to `repo`), the edges between them, and for each edge
    the first path that makes it (`file:line: path`)."""
    src = os.path.join(repo, "src")
    crate = Crate(src, include_tests)
    crate.load_root(os.path.join(src, "lib.rs"), "crate")
    main_rs = os.path.join(src, "main.rs")
    if os.path.isfile(main_rs):
        crate.load_root(main_rs, "main")

    def rel(p: str) -> str:
        return os.path.relpath(p, repo)

    edges: dict[str, set[str]] = {}
    why: dict[tuple[str, str], str] = {}
    for file, info in crate.files.items():
        for ref in info.refs:
            # `crate::` in main.rs is main's own; `earshot::` there is the library.
            aliases = {"earshot": "crate"} if ref.module[0] == "main" else {}
            target = crate.resolve(ref, aliases)
            if target is None or target.file == file:
                continue
            edge = (rel(file), rel(target.file))
            edges.setdefault(edge[0], set()).add(edge[1])
            why.setdefault(edge, f"{rel(file)}:{ref.line}: {'::'.join(ref.segments)}")
    return sorted(rel(f) for f in crate.files), edges, why


def self_test() -> int:
    """The layouts and path forms the graph must get right, on a tree made up for it."""
    import tempfile

    files = {
        "src/lib.rs": "pub mod a;\npub mod b;\nmod c;\n",
        # a/mod.rs layout; re-export of a child's item; a child module in a bare path.
        "src/a/mod.rs": "mod x;\npub use x::Thing;\nfn f() { y::g(); }\nmod y;\n",
        "src/a/x.rs": "pub struct Thing;\nuse super::super::b::{self, inner::Deep};\n",
        "src/a/y.rs": "pub fn g() {}\n",
        # b.rs with b/inner.rs (the name.rs layout); a grouped use back into `a`.
        "src/b.rs": "pub mod inner;\nuse crate::{a::Thing, c};\n",
        "src/b/inner.rs": "pub struct Deep;\n",
        # Test-only and commented paths are not imports; `'\\''` does not open a literal.
        "src/c.rs": "// use crate::a::x;\nconst Q: char = '\\'';\n"
        "#[cfg(test)]\nmod tests { use crate::b::inner::Deep; }\n"
        "pub fn s() -> &'static str { \"crate::b::x\" }\n",
    }
    with tempfile.TemporaryDirectory() as repo:
        for name, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(repo, name)), exist_ok=True)
            with open(os.path.join(repo, name), "w", encoding="utf-8") as f:
                f.write(text)
        _, edges, _ = import_graph(repo, include_tests=False)
        _, with_tests, _ = import_graph(repo, include_tests=True)
    want = {
        "src/a/mod.rs": {"src/a/x.rs", "src/a/y.rs"},
        "src/a/x.rs": {"src/b.rs", "src/b/inner.rs"},
        "src/b.rs": {"src/a/mod.rs", "src/c.rs"},
    }
    got = {k: v for k, v in edges.items() if v}
    ok = got == want and with_tests.get("src/c.rs") == {"src/b/inner.rs"}
    cycles = strongly_connected(sorted(set(want) | {"src/c.rs"}), edges)
    ok = ok and cycles == [["src/a/mod.rs", "src/a/x.rs", "src/b.rs"]]
    print("self-test", "passed" if ok else f"FAILED: {got} / {with_tests} / {cycles}")
    return 0 if ok else 1


def main(argv: list[str]) -> int:
    if "--self-test" in argv:
        return self_test()
    include_tests = "--include-tests" in argv
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    nodes, edges, why = import_graph(repo, include_tests)
    cycles = strongly_connected(nodes, edges)
    if not cycles:
        print(f"no import cycles among {len(nodes)} files")
        return 0
    for n, comp in enumerate(sorted(cycles), 1):
        members = set(comp)
        print(f"cycle {n}: {len(comp)} files")
        for f in comp:
            print(f"  {f}")
        print("  edges inside it:")
        for f in comp:
            for g in sorted(edges.get(f, ())):
                if g in members:
                    print(f"    {f} -> {g}    ({why[(f, g)]})")
    print(f"{len(cycles)} import cycle(s) among {len(nodes)} files")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
