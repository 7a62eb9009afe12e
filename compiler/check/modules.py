"""Imports: loads the root spec and every module it imports, and resolves each module's names.

`from std.people import age_band` reads `stdlib/people.sds` shipped with synthc; `from "./common.sds" import tone`
reads a file relative to the importing one, which must stay inside the project (the nearest folder above the
root spec holding `synthc.toml` or `.git`, else the root spec's folder). Stdlib modules may import each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .. import ast, syntax
from ..diagnostics import Diagnostic, Sources, did_you_mean

STD_PREFIX = "std"

# Words an expression reads as keywords: a declaration so named could never be referred to.
RESERVED = frozenset({"true", "false", "if", "then", "else", "and", "or", "not", "in"})

# What a name can denote, and the declarations that bind names.
Named = ast.Field | ast.Fragment | ast.Prompt | ast.Judge | ast.Constraint | ast.Def


@dataclass(frozen=True)
class Key:
    """A declaration's identity: the module it is written in and its name there."""

    module: str
    name: str


@dataclass
class ModuleInfo:
    id: str  # display path: relative to the project for files, `std/people.sds` for the stdlib
    ast: ast.Module
    path: Path | None  # None for stdlib modules
    is_std: bool
    decls: dict[str, Named] = field(default_factory=dict)
    # name visible in this module -> (the key of the declaration it denotes, the import that brought it)
    scope: dict[str, tuple[Key, ast.ImportName | None]] = field(default_factory=dict)


@dataclass
class Program:
    root: str
    modules: dict[str, ModuleInfo]
    diagnostics: list[Diagnostic]

    def decl(self, key: Key) -> Named:
        return self.modules[key.module].decls[key.name]


def project_root(spec: Path) -> Path:
    here = spec.resolve().parent
    for d in (here, *here.parents):
        if (d / "synthc.toml").exists() or (d / ".git").exists():
            return d
    return here


def std_modules() -> list[str]:
    return sorted(p.name[:-4] for p in resources.files("synthc.stdlib").iterdir() if p.name.endswith(".sds"))


def load_program(spec_path: str | Path, sources: Sources, display: str | None = None) -> Program:
    """Parse the root spec and, recursively, every module it imports; report import errors."""
    spec_path = Path(spec_path)
    root_dir = project_root(spec_path) if spec_path.exists() else spec_path.parent
    loader = _Loader(root_dir, sources)
    root_id = display or str(spec_path)
    loader.load_file(spec_path, root_id, stack=[])
    prog = Program(root_id, loader.modules, loader.diagnostics)
    if root_id in loader.modules:
        _bind_names(prog)
    return prog


class _Loader:
    def __init__(self, root_dir: Path, sources: Sources):
        self.root_dir = root_dir.resolve()
        self.sources = sources
        self.modules: dict[str, ModuleInfo] = {}
        self.failed: set[str] = set()
        self.diagnostics: list[Diagnostic] = []

    def load_file(self, path: Path, mod_id: str, stack: list[str], is_std: bool = False) -> bool:
        if mod_id in self.modules:
            return True
        if mod_id in self.failed:
            return False
        if is_std:
            text = resources.files("synthc.stdlib").joinpath(path.name).read_text(encoding="utf-8")
            self.sources.add(mod_id, text)
            module, diags = syntax.parse(text, mod_id)
        else:
            module, diags = syntax.load(path, self.sources, mod_id)
        self.diagnostics += diags
        if module is None:
            self.failed.add(mod_id)
            return False
        info = ModuleInfo(mod_id, module, None if is_std else path, is_std)
        self.modules[mod_id] = info
        for decl in module.decls:
            if isinstance(decl, ast.Import):
                self._follow(info, decl, stack + [mod_id])
        return True

    def _follow(self, importer: ModuleInfo, imp: ast.Import, stack: list[str]) -> None:
        target = self._resolve(importer, imp)
        if target is None:
            return
        path, mod_id, is_std = target
        if mod_id in stack:
            cycle = " -> ".join(stack[stack.index(mod_id):] + [mod_id])
            self.diagnostics.append(Diagnostic("SDS021", f"import cycle: {cycle}", imp.module_span,
                                               "move the shared declarations into a module both can import"))
            return
        self.load_file(path, mod_id, stack, is_std)

    def _resolve(self, importer: ModuleInfo, imp: ast.Import) -> tuple[Path, str, bool] | None:
        if not imp.is_file:
            parts = imp.module.split(".")
            if parts[0] != STD_PREFIX or len(parts) != 2:
                self.diagnostics.append(Diagnostic(
                    "SDS020", f"unknown module `{imp.module}`", imp.module_span,
                    'standard modules are named `std.NAME`; project files are imported by path: from "./file.sds" import x',
                ))
                return None
            name = parts[1]
            available = std_modules()
            if name not in available:
                hint = did_you_mean(name, available) or f"the standard library has: {', '.join(available)}"
                self.diagnostics.append(Diagnostic("SDS020", f"no standard module `{imp.module}`", imp.module_span, hint))
                return None
            return Path(f"{name}.sds"), f"std/{name}.sds", True
        if importer.is_std:
            self.diagnostics.append(Diagnostic("SDS022", "a standard module cannot import project files", imp.module_span))
            return None
        rel = imp.module
        if Path(rel).is_absolute():
            self.diagnostics.append(Diagnostic("SDS022", f"import path `{rel}` is absolute", imp.module_span,
                                               'import project files by a path relative to the importing file, e.g. "./common.sds"'))
            return None
        try:
            target = (importer.path.resolve().parent / rel).resolve()
        except (RuntimeError, OSError):  # a symlink loop (RuntimeError before Python 3.13, OSError after)
            self.diagnostics.append(Diagnostic("SDS020", f"module file `{rel}` is a symbolic link that leads back to "
                                                         "itself", imp.module_span,
                                               "point the link at the module file, or import the file itself"))
            return None
        try:
            shown = target.relative_to(self.root_dir)
        except ValueError:
            self.diagnostics.append(Diagnostic(
                "SDS022", f"import path `{rel}` leaves the project", imp.module_span,
                "a spec may import files inside its project only (the folder with synthc.toml or .git)",
            ))
            return None
        if not target.is_file():
            self.diagnostics.append(Diagnostic("SDS020", f"module file `{rel}` not found", imp.module_span,
                                               f"looked for {shown}"))
            return None
        return target, str(shown), False


def _bind_names(prog: Program) -> None:
    """Fill every module's declarations and scope; report duplicates and unknown imported names."""
    for info in prog.modules.values():
        for decl in info.ast.decls:
            if isinstance(decl, (ast.Import, ast.Dataset, ast.Joint, ast.Reference)):
                continue
            if decl.name in RESERVED:
                prog.diagnostics.append(Diagnostic("SDS002", f"`{decl.name}` is a reserved word and cannot name a "
                                                             "declaration", decl.name_span))
                continue
            prior = info.decls.get(decl.name)
            if prior is not None:
                prog.diagnostics.append(Diagnostic(
                    "SDS005", f"`{decl.name}` is declared twice", decl.name_span, None,
                    notes=(("first declared here", prior.name_span),),
                ))
                continue
            info.decls[decl.name] = decl
            info.scope[decl.name] = (Key(info.id, decl.name), None)
    # Imports are bound in a second sweep, following chains of re-exports to the declaring module.
    for info in prog.modules.values():
        for decl in info.ast.decls:
            if isinstance(decl, ast.Import):
                _bind_import(prog, info, decl)


def _target_id(info: ModuleInfo, imp: ast.Import, prog: Program) -> str | None:
    if not imp.is_file:
        mod_id = f"std/{imp.module.split('.', 1)[-1]}.sds"
    else:
        if info.path is None:
            return None
        try:
            wanted = (info.path.resolve().parent / imp.module).resolve()
        except (RuntimeError, OSError):  # a symlink loop: reported where the import was loaded (SDS020)
            return None
        for mid, m in prog.modules.items():
            if m.path is not None and m.path.resolve() == wanted:
                return mid
        return None
    return mod_id if mod_id in prog.modules else None


def _bind_import(prog: Program, info: ModuleInfo, imp: ast.Import) -> None:
    target_id = _target_id(info, imp, prog)
    if target_id is None:
        return  # already reported by the loader
    target = prog.modules[target_id]
    exported = {n: k for n, (k, via) in target.scope.items() if via is None}  # a module exports what it declares
    names = imp.names
    if names is None:
        names = tuple(ast.ImportName(n, None, imp.span) for n in sorted(exported))
    for item in names:
        key = exported.get(item.name)
        if key is None:
            re_export = _imported_by(target, item.name)
            hint = did_you_mean(item.name, exported) or (
                f"`{target_id}` declares: {', '.join(sorted(exported))}" if exported else None)
            message = f"`{target_id}` has no declaration `{item.name}`"
            if re_export is not None:
                message = f"`{target_id}` imports `{item.name}` but does not declare it"
                source = re_export.module if not re_export.is_file else f'"{re_export.module}"'
                hint = f"import it from the module that declares it ({source}, as `{target_id}` does)"
            prog.diagnostics.append(Diagnostic("SDS023", message, item.span, hint))
            continue
        local = item.alias or item.name
        existing = info.scope.get(local)
        if existing is not None and existing[0] != key:
            prog.diagnostics.append(Diagnostic("SDS005", f"`{local}` is already defined in this file", item.span,
                                               f"import it under another name: `{item.name} as other_name`"))
            continue
        info.scope[local] = (key, item)


def _imported_by(module: ModuleInfo, name: str) -> ast.Import | None:
    """The import through which `module` brings `name` into its scope, read from its source."""
    for d in module.ast.decls:
        if isinstance(d, ast.Import) and d.names is not None:
            if any((n.alias or n.name) == name for n in d.names):
                return d
    return None
