"""Text -> AST: reads a source file safely, parses it with Lark (LALR) and builds `ast` nodes with spans.

This module is the only code that knows the shape of the parse tree.
"""

from __future__ import annotations

import gc
import itertools
import os
import re
import stat
import sys
from fractions import Fraction
from functools import lru_cache
from importlib import resources
from pathlib import Path

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from . import ast
from .syntax_hints import hint_for
from .diagnostics import Diagnostic, Sources, Span
from .limits import MAX_JOINT_CELLS, MAX_SOURCE_BYTES

MAX_SYNTAX_ERRORS = 20
# Nesting depth of the parse tree (operators, calls, if/else, lists, objects, types): a real spec stays far
# below it, and every pass after the parser can recurse this deep without reaching Python's recursion limit.
MAX_NESTING = 100
DECL_KEYWORDS = ("from", "dataset", "field", "joint", "fragment", "prompt", "judge", "constraint", "def", "reference")


# Comments are %ignore'd by the grammar; lark hands each one to this callback while lexing (its recipe for
# collecting comments), so fmt can keep them without a second lexer that would have to track grammar.lark.
_comments: list[Token] = []


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = resources.files("synthc").joinpath("grammar.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True,
                lexer_callbacks={"COMMENT": _comments.append})


def read_source(path: str | Path, display: str | None = None) -> tuple[str | None, Diagnostic | None]:
    """The file's text, or a diagnostic saying why it cannot be a spec (missing, directory, binary, ...)."""
    p = Path(path)
    name = display or str(path)
    span = Span(name, 1, 1, 1, 1)

    def bad(message: str, hint: str | None = None):
        return None, Diagnostic("SDS003", message, span, hint)

    if not p.exists():
        return bad(f"no such file: {name}")
    if p.is_dir():
        return bad(f"{name} is a directory, not a .sds file", "name a spec file, e.g. `specs/valid/minimal.sds`")
    try:
        data = read_bounded(p, MAX_SOURCE_BYTES)
    except OSError as e:
        return bad(f"cannot read {name}: {e.strerror}")
    if len(data) > MAX_SOURCE_BYTES:
        return bad(f"{name} is over {MAX_SOURCE_BYTES:,} bytes, the most a spec may have")
    if b"\x00" in data:
        return bad(f"{name} is a binary file, not a .sds spec")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        return None, Diagnostic(
            "SDS003", f"{name} is not valid UTF-8 (byte 0x{data[e.start]:02x})",
            Span(name, line, col, line, col + 1), "save the file as UTF-8",
        )
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        return bad(f"{name} is empty", "a spec needs at least a `dataset` header; see LANGUAGE.md")
    return text, None


def read_bounded(path: Path, limit: int) -> bytes:
    """At most limit + 1 bytes of the file, whatever size it reports: a device (/dev/zero) or a pipe reports
    none, and a file can grow while it is read. Opening does not wait for a FIFO's writer; reading then takes
    what a writer sends until it closes (a FIFO nobody writes reads as empty)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            os.set_blocking(fd, True)
        chunks, got = [], 0
        while got <= limit:
            try:
                chunk = os.read(fd, min(1 << 20, limit + 1 - got))
            except BlockingIOError:  # a character device with nothing to give now
                break
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def parse(text: str, path: str) -> tuple[ast.Module | None, list[Diagnostic]]:
    """Parse one file's text. On a syntax error, every top-level declaration is tried on its own so that
    one run reports the errors of all of them."""
    _comments.clear()
    # The tree and the AST are many small acyclic objects: the cyclic collector would walk them again and
    # again while they are built (a third of the time on a large table) and can free none of them.
    collecting = gc.isenabled()
    gc.disable()
    oversized = _oversized_joint(text, path)
    if oversized is not None:
        return None, [oversized]
    try:
        try:
            tree = _parser().parse(text)
            found = list(_comments)
        except UnexpectedInput as e:
            return None, _all_syntax_errors(text, path, e)
        deep = _too_deep(tree, path)
        if deep is not None:
            return None, [deep]
        try:
            decls = _Builder(path).transform(tree)
        except VisitError as e:  # a malformed literal that the grammar let through (e.g. an impossible date)
            if isinstance(e.orig_exc, _LiteralError):
                return None, [e.orig_exc.diagnostic]
            raise
    finally:
        if collecting:
            gc.enable()
    comments = []
    for c in found:
        body = str(c).rstrip()
        tok = Token("COMMENT", body, c.start_pos, c.line, c.column, c.line, c.column + len(body))
        comments.append(ast.Comment(body, _tok_span(path, tok)))
    return ast.Module(path, tuple(decls), tuple(comments)), []


_JOINT_START = re.compile(r"(?m)^[ \t]*joint\b[^{]*\{")
_JOINT_END = re.compile(r"(?m)^[ \t]*\}")
_JOINT_CELL = re.compile(r'\((?:[^()"]|"(?:[^"\\\n]|\\.)*")*\)[ \t]*:')


def joint_cells_diagnostic(cells: int, span: Span) -> Diagnostic:
    """SDS095: a joint table past MAX_JOINT_CELLS, at its first cell past the limit."""
    return Diagnostic("SDS095", f"the joint table has {cells:,} cells; the limit is {MAX_JOINT_CELLS:,}", span,
                      "tie fewer fields together; fields that are independent need no joint table")


def _oversized_joint(text: str, path: str) -> Diagnostic | None:
    """SDS095 found by a scan of the text before it is parsed: a joint table of 100,000 cells (1.8 MB) took
    14-24 s and 600 MB to parse before the checker counted its cells. Counts the `(...):` cells of each
    `joint ... {` block up to its closing `}` at the start of a line; a table the scan cannot read is left to
    the parser (and the checker's own count)."""
    for start in _JOINT_START.finditer(text):
        end = _JOINT_END.search(text, start.end())
        stop = end.start() if end else len(text)
        cells = list(itertools.islice(_JOINT_CELL.finditer(text, start.end(), stop), MAX_JOINT_CELLS + 1))
        if len(cells) <= MAX_JOINT_CELLS:
            continue
        total = MAX_JOINT_CELLS + 1 + sum(1 for _ in _JOINT_CELL.finditer(text, cells[-1].end(), stop))
        at = cells[-1].start()
        line = text.count("\n", 0, at) + 1
        col = at - (text.rfind("\n", 0, at) + 1) + 1
        eol = text.find("\n", at)
        cell = text[at: len(text) if eol < 0 else eol].split("#", 1)[0].rstrip().rstrip(",")
        return joint_cells_diagnostic(total, Span(path, line, col, line, col + len(cell)))
    return None


_CHAIN_OPS = frozenset({"binop", "or_", "and_"})  # left-assoc operators: a flat chain is a deep tree


def _too_deep(tree: Tree, path: str) -> Diagnostic | None:
    """SDS032 at the first node nested deeper than MAX_NESTING, found without recursion: every later pass
    (the transformer, the checker, the SQL builder) walks the tree recursively."""
    stack = [(tree, 0, 0)]  # (node, depth, how many of its nearest ancestors are operators in a row)
    while stack:
        node, depth, chain = stack.pop()
        if depth > MAX_NESTING:
            meta = node.meta
            span = Span(path, meta.line, meta.column, meta.line, meta.column + 1) if not meta.empty \
                else Span(path, 1, 1, 1, 1)
            if chain > MAX_NESTING // 2:  # `a + b + c + ...` nests once per operator: say so, not "nested"
                return Diagnostic("SDS032", f"this chain of operators is more than {MAX_NESTING} levels deep "
                                            "(`a + b + c` counts one level per operator)", span,
                                  "split it: compute parts in derived fields (`field part1 = a + b + ...`) "
                                  "and combine the parts")
            return Diagnostic("SDS032", f"this is nested more than {MAX_NESTING} levels deep", span,
                              "nest less: move a part into a derived field or a `def`")
        op = node.data in _CHAIN_OPS
        stack.extend((c, depth + 1, chain + 1 if op else 0) for c in reversed(node.children) if isinstance(c, Tree))
    return None


def _all_syntax_errors(text: str, path: str, first: UnexpectedInput) -> list[Diagnostic]:
    diags = [_syntax_diagnostic(first, text, path)]
    lines = text.split("\n")
    starts = [i for i, ln in enumerate(lines) if ln.split(" ", 1)[0] in DECL_KEYWORDS]
    starts.append(len(lines))
    for a, b in zip(starts, starts[1:]):
        if len(diags) >= MAX_SYNTAX_ERRORS:
            break
        if a <= first.line - 1 < b:
            continue  # already reported
        chunk = "\n" * a + "\n".join(lines[a:b])
        try:
            _parser().parse(chunk)
        except UnexpectedInput as e:
            if _at_end(e):
                if first.line - 1 == b:
                    continue  # the unclosed block is what made the next declaration fail: one error, not two
                diags.append(_unclosed(lines, a, b, path))
            else:
                diags.append(_syntax_diagnostic(e, chunk, path))  # the chunk keeps the file's line numbers
    return sorted(diags, key=lambda d: (d.span.line, d.span.col))


def _at_end(e: UnexpectedInput) -> bool:
    return isinstance(e, UnexpectedEOF) or (isinstance(e, UnexpectedToken) and e.token.type == "$END")


def _unclosed(lines: list[str], a: int, b: int, path: str) -> Diagnostic:
    last = max((i for i in range(a, b) if lines[i].strip()), default=a)
    col = len(lines[last].rstrip()) + 1
    return Diagnostic("SDS001", "this declaration is not finished", Span(path, last + 1, col, last + 1, col + 1),
                      "is a `}` or a value missing here?")


_TERMINAL_NAMES = {
    "NAME": "a name", "STRING": "a string", "LONG_STRING": "a string", "NUMBER": "a number",
    "PERCENT": "a percentage", "DATE": "a date", "COMP_OP": "a comparison", "ADD_OP": "`+` or `-`",
    "MUL_OP": "`*` or `/`", "$END": "end of file",
}


def _describe(term: str) -> str:
    if term in _TERMINAL_NAMES:
        return _TERMINAL_NAMES[term]
    try:
        pattern = _parser().get_terminal(term).pattern
    except KeyError:
        return term
    return f"`{pattern.value}`" if pattern.type == "str" else term.lower()


def _syntax_diagnostic(e: UnexpectedInput, text: str, path: str) -> Diagnostic:
    if isinstance(e, UnexpectedCharacters):
        ch = text[e.pos_in_stream] if e.pos_in_stream < len(text) else ""
        if ch == '"':
            return Diagnostic("SDS002", "unterminated string", Span(path, e.line, e.column, e.line, e.column + 1),
                              'close the string with `"` on the same line, or use `"""` for several lines')
        shown = repr(ch) if not ch.isprintable() or ch.isspace() else f"`{ch}`"
        return Diagnostic("SDS002", f"unexpected character {shown}", Span(path, e.line, e.column, e.line, e.column + 1),
                          _char_hint(ch))
    if isinstance(e, UnexpectedEOF) or (isinstance(e, UnexpectedToken) and e.token.type == "$END"):
        lines = text.split("\n")
        n = max((i + 1 for i, ln in enumerate(lines) if ln.strip()), default=1)
        col = len(lines[n - 1].rstrip()) + 1
        expected = sorted(_describe(t) for t in getattr(e, "expected", ()) or ())
        hint = f"expected {_join(expected)}" if expected else None
        if "`}`" in expected:
            hint = "a `{` block is not closed with `}`"
        return Diagnostic("SDS001", "unexpected end of file", Span(path, n, col, n, col + 1), hint)
    assert isinstance(e, UnexpectedToken)
    tok = e.token
    expected = sorted({_describe(t) for t in _acceptable(e)})
    span = _tok_span(path, tok)
    shown = str(tok).split("\n")[0]
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    keywords = {f"`{k}`" for k in DECL_KEYWORDS}
    if expected and set(expected) <= keywords | {"end of file"}:
        hint = f"a declaration starts with one of: {', '.join(DECL_KEYWORDS)}"
    else:
        hint = f"expected {_join(expected)}"
    line = text.split("\n")[tok.line - 1] if tok.line else ""
    matched = hint_for(e, _parser().parse)
    if matched:
        return Diagnostic("SDS001", f"unexpected `{shown}`", span, matched)
    words = line.split()
    if words and words[0] in DECL_KEYWORDS and not keywords & set(expected):
        if tok.column == 1:
            hint = "the declaration above is not finished: is a value, `)` or `}` missing?"
        elif len(words) > 1 and line.index(words[1]) + 1 == tok.column:  # a keyword read as a setting name
            hint = "is a `}` missing above? this line starts a new declaration inside an unclosed block"
    return Diagnostic("SDS001", f"unexpected `{shown}`", span, hint)


def _acceptable(e: UnexpectedToken) -> set[str]:
    """The tokens that could really come next: LALR's `expected` also lists those of default reductions."""
    try:
        return set(e.interactive_parser.accepts()) or set(e.expected)
    except Exception:  # the interactive parser is an aid for the message only
        return set(e.expected)


def _char_hint(ch: str) -> str | None:
    if ch in "'`":
        return 'strings use double quotes: "like this"'
    if ch in ";":
        return "declarations end at the end of the line; no `;` is needed"
    return None


def _join(items: list[str]) -> str:
    if len(items) > 10:
        return ", ".join(items[:10]) + f" or {len(items) - 10} more"
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _tok_span(path: str, tok: Token) -> Span:
    line = tok.line or 1
    col = tok.column or 1
    end_line = tok.end_line or line
    end_col = tok.end_column or col + len(str(tok))
    return Span(path, line, col, end_line, end_col)


# ---- tree -> AST ------------------------------------------------------------


class _LiteralError(Exception):
    def __init__(self, diagnostic: Diagnostic):
        self.diagnostic = diagnostic


_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}


def unescape(body: str) -> str:
    """String escapes: \\n \\t \\r \\" \\\\; any other backslash is kept as written (handy in regexes)."""
    out = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


# A literal is exact (a Fraction), but every number ends up as a double somewhere (DuckDB, JSON, numpy), so
# one that a double cannot hold is an error at the literal. The exponent is bounded before the Fraction is
# built: `1e999999999` would otherwise compute a billion-digit integer.
MAX_LITERAL = Fraction(sys.float_info.max)
_NUMBER_PARTS = re.compile(r"(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?")


def _number(text: str, span: Span) -> Fraction:
    m = _NUMBER_PARTS.fullmatch(text)
    exp = m.group(3) if m else None
    digits = len(m.group(1).lstrip("0")) if m else len(text)
    if len(text) > 400 or (exp is not None and abs(int(exp)) + digits > 400):
        raise _LiteralError(_too_large(text, span))
    value = Fraction(text)
    if value > MAX_LITERAL:
        raise _LiteralError(_too_large(text, span))
    return value


def _too_large(text: str, span: Span) -> Diagnostic:
    shown = text if len(text) <= 24 else text[:21] + "..."
    return Diagnostic("SDS031", f"the number `{shown}` is out of range", span,
                      "a number must fit a double: at most about 1.8e308, and an exponent within e-308..e308")


@v_args(meta=True)
class _Builder(Transformer):
    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def _span(self, meta, children=()) -> Span:
        if not getattr(meta, "empty", True):
            return Span(self.path, meta.line, meta.column, meta.end_line, meta.end_column)
        for c in children:
            s = getattr(c, "span", None)
            if s is not None:
                return s
            if isinstance(c, Token):
                return _tok_span(self.path, c)
        return Span(self.path, 1, 1, 1, 1)

    def _tspan(self, tok: Token) -> Span:
        return _tok_span(self.path, tok)

    # -- top level
    def start(self, meta, children):
        return list(children)

    def import_decl(self, meta, ch):
        (module, module_span, is_file), names = ch
        return ast.Import(module, is_file, names, self._span(meta), module_span)

    def module_file(self, meta, ch):
        return unescape(ch[0][1:-1]), self._tspan(ch[0]), True

    def module_std(self, meta, ch):
        return ".".join(str(t) for t in ch), self._span(meta, ch), False

    def import_all(self, meta, ch):
        return None

    def import_list(self, meta, ch):
        return tuple(ch)

    def import_name(self, meta, ch):
        name, alias = ch
        return ast.ImportName(str(name), str(alias) if alias is not None else None, self._span(meta, ch))

    def dataset_decl(self, meta, ch):
        name, *settings = ch
        return ast.Dataset(str(name), tuple(settings), self._span(meta), self._tspan(name))

    def setting(self, meta, ch):
        key, value = ch
        return ast.Setting(str(key), value, self._span(meta), self._tspan(key))

    def setting_range(self, meta, ch):
        key, low, high = ch
        rng = ast.RangeLit(low, high, low.span.to(high.span))
        return ast.Setting(str(key), rng, self._span(meta), self._tspan(key))

    # -- fields
    def field_typed(self, meta, ch):
        name, type_, dist, source, attrs = ch
        return ast.Field(
            str(name), self._span(meta), self._tspan(name), type=type_, dist=dist,
            source=str(source) if source is not None else None,
            source_span=self._tspan(source) if source is not None else None,
            attrs=attrs or (),
        )

    def field_derived(self, meta, ch):
        name, expr, attrs = ch
        return ast.Field(str(name), self._span(meta), self._tspan(name), expr=expr, attrs=attrs or ())

    def source_clause(self, meta, ch):
        return ch[0]

    def attrs(self, meta, ch):
        return tuple(ch)

    def _type(kind):  # noqa: N805 - a factory for the simple type rules
        def build(self, meta, ch):
            values = rng = None
            for c in ch:
                if isinstance(c, ast.RangeLit):
                    rng = c
                elif isinstance(c, tuple):
                    values = c
            return ast.TypeExpr(kind, self._span(meta, ch), values=values, range=rng)

        return build

    t_category = _type("category")
    t_bool = _type("bool")
    t_int = _type("int")
    t_float = _type("float")
    t_date = _type("date")
    t_text = _type("text")
    t_enum = _type("enum")

    def t_list(self, meta, ch):
        return ast.TypeExpr("list", self._span(meta, ch), item=ch[0])

    def t_object(self, meta, ch):
        return ast.TypeExpr("object", self._span(meta, ch), members=tuple(ch))

    def member(self, meta, ch):
        name, type_, attrs = ch
        return ast.Member(str(name), type_, attrs or (), self._span(meta, ch))

    def value_list(self, meta, ch):
        return tuple(c for c in ch if c is not None)

    def range(self, meta, ch):
        low, high = ch
        return ast.RangeLit(low, high, low.span.to(high.span))

    def signed(self, meta, ch):
        tok = ch[0]
        if tok.type == "DATE":
            return self._date(tok)
        return ast.Lit("number", _number(str(tok), self._tspan(tok)), self._tspan(tok))

    def negative(self, meta, ch):
        tok = ch[0]
        return ast.Lit("number", -_number(str(tok), self._tspan(tok)), self._span(meta, ch))

    # -- distributions
    def dist_plain(self, meta, ch):
        return ch[0]

    def dist_given(self, meta, ch):
        name, *cases = ch
        return ast.Given(str(name), self._tspan(name), tuple(cases), self._span(meta, ch))

    def case(self, meta, ch):
        key, dist = ch
        return ast.Case(key, dist, self._span(meta, ch))

    def dist(self, meta, ch):
        return ch[0]

    def dist_share(self, meta, ch):
        return ast.ShareDist(ch[0], ch[0].span)

    def dist_named(self, meta, ch):
        return ast.NamedDist(str(ch[0]), None, self._span(meta, ch))

    def dist_call(self, meta, ch):
        name, *args = ch
        return ast.NamedDist(str(name), tuple(a for a in args if a is not None), self._span(meta, ch))

    def dist_arg(self, meta, ch):
        name, value = ch
        if isinstance(value, ast.Share):
            value = ast.Lit("percent", value.value, value.span)
        return ast.DistArg(str(name), value, self._span(meta, ch))

    def share_table(self, meta, ch):
        return ast.ShareTable(tuple(ch), self._span(meta, ch))

    def share_entry(self, meta, ch):
        key, share = ch
        return ast.ShareEntry(key, share, self._span(meta, ch))

    def share_percent(self, meta, ch):
        tok = ch[0]
        return ast.Share(_number(str(tok)[:-1], self._tspan(tok)) / 100, str(tok), self._tspan(tok))

    def share_fraction(self, meta, ch):
        num, den = ch
        span = self._tspan(num).to(self._tspan(den))
        numerator, denominator = _number(str(num), self._tspan(num)), _number(str(den), self._tspan(den))
        if denominator == 0:
            raise _LiteralError(Diagnostic("SDS015", "a share cannot divide by zero", span))
        return ast.Share(numerator / denominator, f"{num}/{den}", span)

    def share_number(self, meta, ch):
        tok = ch[0]
        return ast.Share(_number(str(tok), self._tspan(tok)), str(tok), self._tspan(tok))

    # -- joint, fragments, prompts, constraints
    def joint_decl(self, meta, ch):
        names = [c for c in ch if isinstance(c, Token)]
        entries = [c for c in ch if isinstance(c, ast.JointEntry)]
        return ast.Joint(tuple(map(str, names)), tuple(map(self._tspan, names)), tuple(entries), self._span(meta, ch))

    def joint_entry(self, meta, ch):
        *keys, share = ch
        return ast.JointEntry(tuple(keys), share, self._span(meta, ch))

    def fragment_decl(self, meta, ch):
        name, expr = ch
        return ast.Fragment(str(name), expr, self._span(meta), self._tspan(name))

    def prompt_decl(self, meta, ch):
        name, *settings = ch
        return ast.Prompt(str(name), tuple(settings), self._span(meta), self._tspan(name))

    def judge_decl(self, meta, ch):
        name, *settings = ch
        return ast.Judge(str(name), tuple(settings), self._span(meta), self._tspan(name))

    def constraint_decl(self, meta, ch):
        name, expr, per = ch
        return ast.Constraint(str(name), expr, self._span(meta), self._tspan(name), per or ())

    def per_clause(self, meta, ch):
        return tuple(ast.Ref(str(n), self._tspan(n)) for n in ch)

    def def_decl(self, meta, ch):
        name, *rest = ch
        expr = rest[-1]
        params = tuple(str(p) for p in rest[:-1] if p is not None)
        return ast.Def(str(name), params, expr, self._span(meta), self._tspan(name))

    def reference_decl(self, meta, ch):
        name, path, *entries = ch
        entries = tuple(e for e in entries if e is not None)
        maps = tuple(e for e in entries if isinstance(e, ast.ColumnMap))
        settings = tuple(e for e in entries if isinstance(e, ast.Setting))
        return ast.Reference(str(name), unescape(str(path)[1:-1]), maps, settings, self._span(meta),
                             self._tspan(name), self._tspan(path), entries)

    def column_map(self, meta, ch):
        column, field = ch
        text = unescape(str(column)[1:-1]) if column.type == "STRING" else str(column)
        return ast.ColumnMap(text, str(field), self._span(meta), self._tspan(column), self._tspan(field))

    # -- expressions
    def implies(self, meta, ch):
        return ast.BinOp("=>", ch[0], ch[1], self._span(meta, ch))

    def or_(self, meta, ch):
        return ast.BinOp("or", ch[0], ch[1], self._span(meta, ch))

    def and_(self, meta, ch):
        return ast.BinOp("and", ch[0], ch[1], self._span(meta, ch))

    def not_(self, meta, ch):
        return ast.Unary("not", ch[0], self._span(meta, ch))

    def neg(self, meta, ch):
        operand = ch[0]
        if isinstance(operand, ast.Lit) and operand.kind in ("number", "percent"):
            return ast.Lit(operand.kind, -operand.value, self._span(meta, ch))
        return ast.Unary("-", operand, self._span(meta, ch))

    def compare(self, meta, ch):
        return ast.BinOp(str(ch[1]), ch[0], ch[2], self._span(meta, ch))

    def binop(self, meta, ch):
        return ast.BinOp(str(ch[1]), ch[0], ch[2], self._span(meta, ch))

    def in_list(self, meta, ch):
        return ast.InList(ch[0], ch[1], False, self._span(meta, ch))

    def not_in_list(self, meta, ch):
        return ast.InList(ch[0], ch[1], True, self._span(meta, ch))

    def in_range(self, meta, ch):
        return ast.InRange(ch[0], ch[1], ch[2], False, self._span(meta, ch))

    def not_in_range(self, meta, ch):
        return ast.InRange(ch[0], ch[1], ch[2], True, self._span(meta, ch))

    def name(self, meta, ch):
        return ast.Ref(str(ch[0]), self._tspan(ch[0]))

    def dot(self, meta, ch):
        return ast.Dot(ch[0], str(ch[1]), self._span(meta, ch), self._tspan(ch[1]))

    def call(self, meta, ch):
        fn, *args = ch
        return ast.Call(str(fn), tuple(a for a in args if a is not None), self._span(meta, ch), self._tspan(fn))

    def if_(self, meta, ch):
        return ast.If(ch[0], ch[1], ch[2], self._span(meta, ch))

    def list(self, meta, ch):
        return ast.ListLit(tuple(c for c in ch if c is not None), self._span(meta, ch))

    def object(self, meta, ch):
        return ast.ObjectLit(tuple(c for c in ch if c is not None), self._span(meta, ch))

    def object_entry(self, meta, ch):
        return (str(ch[0]), ch[1])

    def string(self, meta, ch):
        tok = ch[0]
        raw = str(tok)
        long = raw.startswith('"""')
        body = raw[3:-3] if long else raw[1:-1]
        return ast.Lit("string", unescape(body), self._tspan(tok), long=long)

    def number(self, meta, ch):
        return ast.Lit("number", _number(str(ch[0]), self._tspan(ch[0])), self._tspan(ch[0]))

    def percent(self, meta, ch):
        return ast.Lit("percent", _number(str(ch[0])[:-1], self._tspan(ch[0])) / 100, self._tspan(ch[0]))

    def date(self, meta, ch):
        return self._date(ch[0])

    def _date(self, tok: Token) -> ast.Lit:
        import datetime

        try:
            datetime.date.fromisoformat(str(tok))
        except ValueError:
            raise _LiteralError(Diagnostic("SDS002", f"`{tok}` is not a calendar date", self._tspan(tok),
                                           "dates are written YYYY-MM-DD")) from None
        return ast.Lit("date", str(tok), self._tspan(tok))

    def true(self, meta, ch):
        return ast.Lit("bool", True, self._span(meta, ch))

    def false(self, meta, ch):
        return ast.Lit("bool", False, self._span(meta, ch))


def load(path: str | Path, sources: Sources, display: str | None = None) -> tuple[ast.Module | None, list[Diagnostic]]:
    """Read and parse one file, recording its text in `sources` for diagnostics."""
    name = display or str(path)
    text, diag = read_source(path, name)
    if diag is not None:
        return None, [diag]
    sources.add(name, text)
    return parse(text, name)
