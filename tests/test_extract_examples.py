"""``warpfuzz extract`` over the example programs shipped inside warp-lang (``warp/examples``):
real kernels nobody here wrote. At least 95% of the kernels of the files that import (and are not
generic without an overload) get a record; the count is made independently of the extractor,
from each file's module-level ``@wp.kernel`` definitions."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

from support import records_of

EXAMPLES = Path(importlib.util.find_spec("warp").submodule_search_locations[0]) / "examples"
MIN_RATE = 0.95
# why a shipped example may fail to import here: an optional package, or a GPU this machine lacks
EXPECTED_IMPORT_FAILURE = re.compile(r"ModuleNotFoundError: No module named |Invalid device identifier: cuda")


def _is_kernel_decorator(node) -> bool:
    return ast.unparse(node.func if isinstance(node, ast.Call) else node) in ("wp.kernel", "warp.kernel")


def module_level_kernels(path: Path) -> list[tuple[str, str]]:
    """(name, definition text) of each module-level kernel a file defines at import, leaving out
    generic kernels (an ``Any`` annotation) that the file never overloads."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    tree = ast.parse(text)
    overloaded = {ast.unparse(n.value.args[0]) for n in tree.body
                  if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call) and ast.unparse(n.value.func) == "wp.overload"}
    overloaded |= {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and any(ast.unparse(d) == "wp.overload" for d in n.decorator_list)}
    kernels = []
    for node in tree.body:
        if not (isinstance(node, ast.FunctionDef) and any(map(_is_kernel_decorator, node.decorator_list))):
            continue
        generic = any("Any" in ast.unparse(a.annotation) for a in node.args.args if a.annotation)
        if generic and node.name not in overloaded:
            continue
        start = min([node.lineno] + [d.lineno for d in node.decorator_list])
        kernels.append((node.name, "".join(lines[start - 1 : node.end_lineno]).rstrip("\n")))
    return kernels


def test_extract_records_95_percent_of_the_shipped_example_kernels(warpfuzz, tmp_path):
    out = tmp_path / "examples"
    result = warpfuzz.run("extract", "--backend", "cpu", "--workers", "2", "--out", out, EXAMPLES, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    failed_imports = {}
    for line in result.stderr.splitlines():
        if line.startswith("  import failed: "):
            name, why = line.removeprefix("  import failed: ").split(": ", 1)
            failed_imports[name] = why
    unexpected = {name: why for name, why in failed_imports.items() if not EXPECTED_IMPORT_FAILURE.search(why)}
    assert not unexpected, f"examples that should import failed to: {unexpected}"

    files = [f for f in sorted(EXAMPLES.rglob("*.py")) if f.name != "__init__.py" and f.name not in failed_imports]
    kernels = [(f.relative_to(EXAMPLES), name, text) for f in files for name, text in module_level_kernels(f)]
    records = records_of(out)
    sources = [r["python_source"] for r in records]
    # a kernel whose normalized source repeats another file's is recorded once: its text is in that record
    missing = [f"{path}:{name}" for path, name, text in kernels if not any(text in s for s in sources)]
    rate = 1 - len(missing) / len(kernels)
    summary = (f"extract over warp/examples: records for {len(kernels) - len(missing)} of {len(kernels)} module-level kernels "
               f"in {len(files)} importable files ({rate:.1%}); the CLI said: {result.stdout.strip()}")
    print("\n" + summary)
    assert rate >= MIN_RATE, f"{summary}; without a record: {', '.join(missing)}"

    m = re.search(r"(\d+) records from (\d+) kernels in (\d+) files .*: (\d+) compiled", result.stdout)
    recorded, instances, all_files, compiled = map(int, m.groups())
    assert recorded == len(records) and all_files == len(files) + len(failed_imports)
    assert instances >= len(kernels) and compiled >= MIN_RATE * instances
    validate = warpfuzz.run("validate", out)
    assert validate.returncode == 0, validate.stderr[-2000:]
