"""The dependency rule over the import graph (docs/architecture.md, "Layers"): every ``import``
in every ``.py`` under ``tutor/``, ``tools/``, ``knowledge/``, ``curriculum/``, ``storage/`` and
``app.py``, lazy ones inside functions included, read with ``ast`` (nothing is imported).

- ``storage`` (the database, the bottom floor) imports nothing of ours;
- ``tools``, ``knowledge`` and ``curriculum`` never import ``tutor`` or ``app``;
- ``knowledge`` never imports ``tools``;
- ``tutor.llm`` never imports the use cases, the agent, the facade or the faces;
- ``tutor.usecases`` never imports the agent, the facade (``tutor.service``) or the faces
  (``tutor.web``, ``tutor.cli``);
- ``tutor.agent`` never imports the facade or the faces;
- ``tutor.service`` (the ``Tutor`` facade, which builds the agent and the use cases) never imports
  the faces;
- ``tutor.web`` never imports ``tutor.cli``;
- nothing imports ``app`` (the CLI serves ``tutor.web.create_app``);
- every package may import ``tutor.errors`` and nothing else of ``tutor``'s for it: it is the
  error vocabulary all floors share (a lower layer raises ``NotFound``/``BadInput``/... as it
  means them), so it is a leaf that imports nothing of ours (``test_the_errors_module_is_a_leaf``).

A new violation fails with the file, line and import; ``ALLOWED`` lists the known exceptions, each
with the reason it stays for now."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("tutor", "tools", "knowledge", "curriculum", "storage")
OURS = (*PACKAGES, "app")

# (importer, imported module or package) pairs that break a rule but stay, each with why; an
# import of anything under the imported name is allowed. Keep it short.
ALLOWED: dict[tuple[str, str], str] = {}  # none today


def allowed(src: str, dst: str) -> bool:
    return any(src == a and _is(dst, b) for a, b in ALLOWED)


def _is(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def source_files() -> list[Path]:
    files = [REPO / "app.py"]
    for pkg in PACKAGES:
        files += sorted(p for p in (REPO / pkg).rglob("*.py") if "__pycache__" not in p.parts)
    return files


def imports_of(path: Path) -> Iterator[tuple[str, int]]:
    """Every module ``path`` imports (``from a.b import c`` yields ``a.b`` and ``a.b.c``), with
    its line; relative imports are resolved against the file's package."""
    me = module_name(path)
    package = me.split(".") if path.name == "__init__.py" else me.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            yield module, node.lineno
            for alias in node.names:
                yield f"{module}.{alias.name}", node.lineno


# (importer layer, layers it must not import, why): the tutor's floors from the top, each
# importing only those below it (docs/architecture.md, "Layers")
FACES = ("tutor.web", "tutor.cli")
TUTOR_RULES = (
    ("tutor.llm", ("tutor.usecases", "tutor.agent", "tutor.service", *FACES), "the models"),
    ("tutor.usecases", ("tutor.agent", "tutor.service", *FACES), "the use cases"),
    ("tutor.agent", ("tutor.service", *FACES), "the agent"),
    ("tutor.service", FACES, "the facade"),
    ("tutor.web", ("tutor.cli",), "the web faces"),
)


SHARED = "tutor.errors"  # the error vocabulary: a leaf every floor may import


def broken_rule(src: str, dst: str) -> str | None:
    """The rule ``src`` importing ``dst`` breaks, or None."""
    top = dst.split(".")[0]
    if top not in OURS:
        return None
    if _is(src, SHARED):
        return "tutor.errors is a leaf: it imports nothing of ours"
    if _is(dst, SHARED):
        return None
    if top == "app":
        return "nothing imports app (use tutor.web.create_app)"
    if _is(src, "storage") and top != "storage":
        return "storage imports nothing of ours"
    if src.split(".")[0] in ("tools", "knowledge", "curriculum") and top == "tutor":
        return "tools, knowledge and curriculum never import tutor or app"
    if _is(src, "knowledge") and top == "tools":
        return "knowledge never imports tools"
    for layer, above, what in TUTOR_RULES:
        if _is(src, layer) and any(_is(dst, a) for a in above):
            return f"{what} ({layer}) never import {', '.join(above)}"
    return None


def import_graph() -> list[tuple[str, str, str]]:
    """(importer, imported, where) for every import of one of our modules."""
    edges = []
    for path in source_files():
        src = module_name(path)
        for dst, line in imports_of(path):
            if dst.split(".")[0] in OURS:
                edges.append((src, dst, f"{path.relative_to(REPO)}:{line}"))
    return edges


def violations() -> list[str]:
    out = []
    for src, dst, where in import_graph():
        rule = broken_rule(src, dst)
        if rule and not allowed(src, dst):
            out.append(f"{where}: {src} imports {dst} ({rule})")
    return sorted(set(out))


def test_the_graph_is_read() -> None:
    """The scan sees real edges, lazy ones included (so an empty result means something)."""
    edges = {(s, d) for s, d, _ in import_graph()}
    assert len(source_files()) > 50
    assert ("tutor.service", "storage.store.Store") in edges  # top-level import
    assert ("tutor.service", "tools.kernel.KernelManager") in edges  # lazy, inside a method
    assert ("app", "tutor.web.create_app") in edges


def test_no_import_breaks_the_dependency_rule() -> None:
    found = violations()
    assert not found, "imports against the dependency rule (docs/architecture.md):\n" + "\n".join(found)


def test_the_errors_module_is_a_leaf() -> None:
    """Every floor imports tutor.errors, so it must import nothing of ours (else storage would
    reach the whole tutor through it); ``tutor/__init__`` only sets an env var."""
    path = REPO / "tutor" / "errors.py"
    assert [d for d, _ in imports_of(path) if d.split(".")[0] in OURS] == []
    init = [d for d, _ in imports_of(REPO / "tutor" / "__init__.py") if d.split(".")[0] in OURS]
    assert init == []


def test_allowed_exceptions_are_still_needed() -> None:
    """An exception that no longer occurs is removed from ALLOWED, so the list stays honest."""
    edges = {(s, d) for s, d, _ in import_graph()}
    assert not [(a, b) for a, b in ALLOWED if not any(s == a and _is(d, b) for s, d in edges)]


@pytest.mark.parametrize(
    "src,dst",
    [
        ("knowledge.cards", "tools.kernel"),
        ("tools.grader", "tutor.service"),
        ("tutor.errors", "storage.store"),
        ("storage.store", "tutor.service"),
        ("storage.store", "curriculum.catalog"),
        ("tutor.usecases.explain", "tutor.agent.nodes.teach"),
        ("tutor.usecases.labs", "tutor.web.ui.labs"),
        ("tutor.usecases.practice", "tutor.web.api.common"),
        ("tutor.usecases.planning", "tutor.service"),
        ("tutor.agent.graph", "tutor.web.api"),
        ("tutor.agent.nodes.teach", "tutor.service.Tutor"),
        ("tutor.llm.tasks", "tutor.usecases.explain"),
        ("tutor.llm.local", "tutor.agent.state"),
        ("tutor.web.ui", "tutor.cli"),
        ("tutor.service", "tutor.web.ui.common"),
        ("tutor.cli", "app"),
        ("storage.store", "app"),
    ],
)
def test_the_rules_catch_violations(src: str, dst: str) -> None:
    assert broken_rule(src, dst) is not None


@pytest.mark.parametrize(
    "src,dst",
    [
        ("tutor.cli", "tutor.web"),
        ("tutor.usecases.explain", "knowledge.cards"),
        ("tools.training.worker", "storage.store"),
        ("knowledge.cards", "curriculum.practice"),
        ("storage.store", "storage.store.schema"),
        ("tutor.agent.graph", "tutor.usecases.explain"),
        ("tutor.agent.graph", "tutor.llm"),
        ("tutor.usecases.planning", "tutor.llm.tasks"),
        ("tutor.usecases.labs", "tutor.errors"),
        ("tools.grader", "tutor.errors"),
        ("storage.store", "tutor.errors"),
        ("knowledge.retriever", "tutor.errors"),
        ("curriculum.exercises", "tutor.errors"),
        ("tutor.service", "tutor.agent.graph"),
        ("tutor.web.api", "tutor.service"),
        ("tutor.llm", "tutor.config"),
    ],
)
def test_the_rules_allow_the_right_direction(src: str, dst: str) -> None:
    assert broken_rule(src, dst) is None


# --- the store and the job manager are reached through the use cases (issue 12) ---
# The agent's nodes and the facade read learner records and act on training jobs only through
# tutor.usecases (learner_records, jobs, planning, ...), where the rules are (a caller sees only its
# own jobs, an old plan gets its defaults). They may hand the store or the job manager to a use case
# (``planning.make_plan(svc.llm, ..., svc.store, ...)``), not call its methods: no ``<x>.store.m()``
# or ``<x>.jobs.m()`` call in these files. Read with ``ast``; a method called through a local alias
# (``s = svc.store; s.m()``) is not seen.
BEHIND_USECASES = ("store", "jobs")  # the attributes that hold the store and the job manager
THROUGH_USECASES = ("tutor/agent/nodes/*.py", "tutor/service.py")
DIRECT_CALLS_ALLOWED: dict[tuple[str, str, str], str] = {
    ("tutor/service.py", "store", "close"): "the facade built the store, so it closes it (Tutor.close)",
}


def direct_calls(source: str) -> Iterator[tuple[str, str, int]]:
    """(holder, method, line) for every call of a method on ``<x>.store`` or ``<x>.jobs``."""
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Attribute)
            and node.func.value.attr in BEHIND_USECASES
        ):
            yield node.func.value.attr, node.func.attr, node.lineno


def through_usecases_files() -> list[Path]:
    return sorted({p for pattern in THROUGH_USECASES for p in REPO.glob(pattern)})


def direct_call_violations() -> list[str]:
    out = []
    for path in through_usecases_files():
        rel = path.relative_to(REPO).as_posix()
        for holder, method, line in direct_calls(path.read_text(encoding="utf-8")):
            if (rel, holder, method) not in DIRECT_CALLS_ALLOWED:
                out.append(f"{rel}:{line}: .{holder}.{method}(...) (call tutor.usecases instead)")
    return out


def test_nodes_and_facade_reach_the_store_and_jobs_through_the_usecases() -> None:
    assert len(through_usecases_files()) > 5  # the nodes and the facade are scanned
    found = direct_call_violations()
    assert not found, "direct store or job-manager calls (use tutor/usecases):\n" + "\n".join(found)


def test_allowed_direct_calls_are_still_needed() -> None:
    seen = {
        (p.relative_to(REPO).as_posix(), h, m)
        for p in through_usecases_files()
        for h, m, _ in direct_calls(p.read_text(encoding="utf-8"))
    }
    assert not [k for k in DIRECT_CALLS_ALLOWED if k not in seen]


@pytest.mark.parametrize(
    "source",
    [
        "svc.store.get_mastery(learner_id)",
        "def f(svc):\n    return {a for a in svc.store.attempts(l) if a['passed']}",
        "self.store.get_plan(learner_id).get('items')",
        "lambda: svc.jobs.cancel(job_id)",
        "self.jobs.submit(kind, params, learner_id=learner_id)",
    ],
)
def test_the_direct_call_rule_catches_a_planted_call(source: str) -> None:
    assert list(direct_calls(source))


@pytest.mark.parametrize(
    "source",
    [
        "learner_records.mastery(svc.store, learner_id)",
        "planning.next_item(svc.store, svc.learner, learner_id, plan)",
        "job_cases.cancel(svc.jobs, job_id)",
        "Conversations(graph, self.store)",
        "svc.learner.record_attempt(learner_id, ex_id)",
        "state.get('pending_jobs')",
    ],
)
def test_the_direct_call_rule_lets_use_case_calls_pass(source: str) -> None:
    assert list(direct_calls(source)) == []
