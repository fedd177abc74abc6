"""No import cycles: every module imports on its own, and feature packages depend on each other one way only.

Features tell each other what happened through published events and registered hooks (docs/events.md), so
the package graph stays a DAG: base (common, errors, extensions, config) ← features ← the app layer
(the app factory, worker, CLI, demo data, web apps), which alone may import everything.
"""
import ast
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "patient_api"
BASE = {"common", "errors", "extensions", "config"}
FEATURES = {"accounts", "billing", "booking", "credit", "directory", "family", "homecare", "inpatient", "integration",
            "kiosk", "records", "referrals", "results", "sms", "wechat"}
APP = {"__init__", "cli", "demo", "demo_clinical", "webapp_routes", "webapps", "worker"}
CHANNELS = {"wechat"}  # delivery channels: features record messages in the outbox, never import a channel

# Each module in turn with every patient_api module forgotten first, so one that imports only because
# another was imported before it (a cycle hidden by import order) fails here.
# Prometheus metrics live in a process-wide registry: a module's metrics are unregistered before it runs again.
ISOLATED_IMPORTS = """
import importlib, json, sys, traceback
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase
failures = {}
for name in json.loads(sys.argv[1]):
    for loaded in [m for m in sys.modules if m == "patient_api" or m.startswith("patient_api.")]:
        for value in list(vars(sys.modules.pop(loaded)).values()):
            if isinstance(value, MetricWrapperBase):
                REGISTRY.unregister(value)
    try:
        importlib.import_module(name)
    except Exception:
        failures[name] = traceback.format_exc(limit=-3)
print(json.dumps(failures))
"""


def module_name(path):
    """patient_api.billing.payments from its path."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules():
    return sorted(module_name(path) for path in PACKAGE.rglob("*.py"))


def node_of(name):
    """The graph node of a module: its top-level subpackage, top-level module, or __init__ for the package."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imported(path):
    """(module imported, line) for every import in a file, top-level or inside a function."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level:
            base = ".".join(package[:len(package) - node.level + 1] + ([node.module] if node.module else []))
            if node.module:
                yield base, node.lineno
            else:  # from .. import sms: each name may be a module
                yield from ((f"{base}.{alias.name}", node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module, node.lineno


def edges():
    """{(from node, to node): [where, …]} between different nodes of patient_api."""
    found = defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        source = node_of(module_name(path))
        for target, line in imported(path):
            if target == "patient_api" or target.startswith("patient_api."):
                if node_of(target) != source:
                    found[source, node_of(target)].append(f"{path.relative_to(ROOT)}:{line}")
    return found


def cycles(graph):
    """Strongly connected components with more than one node (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while not component or node not in component:
                component.add(stack.pop())
            on_stack.difference_update(component)
            if len(component) > 1:
                found.append(sorted(component))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def explain(found, nodes):
    """The import lines behind the edges among these nodes, for the failure message."""
    return "\n".join(f"  {a} → {b}: {', '.join(where[:3])}" for (a, b), where in sorted(found.items())
                     if a in nodes and b in nodes)


def test_every_module_imports_on_its_own():
    names = modules()
    result = subprocess.run([sys.executable, "-c", ISOLATED_IMPORTS, json.dumps(names)], cwd=ROOT,
                            capture_output=True, text=True, timeout=900)  # a hang guard, not a speed limit
    assert result.returncode == 0, result.stderr[-3000:]
    failures = json.loads(result.stdout.strip().splitlines()[-1])
    assert not failures, "\n".join(f"{name}:\n{trace}" for name, trace in failures.items())


def test_every_package_has_a_layer():
    unknown = {node_of(name) for name in modules()} - BASE - FEATURES - APP
    assert not unknown, f"add {sorted(unknown)} to BASE, FEATURES or APP in tests/test_imports.py"


def test_no_cycles_between_features():
    found = edges()
    graph = defaultdict(set)
    for a, b in found:
        if a in FEATURES and b in FEATURES:
            graph[a].add(b)
    loops = cycles(graph)
    assert not loops, "import cycles between feature packages:\n" + "\n".join(
        f"{' ↔ '.join(loop)}\n{explain(found, set(loop))}" for loop in loops)


def test_layers_point_down():
    """The base imports no feature, and no feature imports the app layer (which imports them all)."""
    wrong = {edge: where for edge, where in edges().items()
             if (edge[0] in BASE and edge[1] not in BASE) or (edge[0] in FEATURES and edge[1] in APP)}
    assert not wrong, "\n".join(f"{a} → {b}: {', '.join(where)}" for (a, b), where in sorted(wrong.items()))


def test_features_reach_channels_only_through_the_outbox():
    wrong = {edge: where for edge, where in edges().items()
             if edge[1] in CHANNELS and edge[0] not in APP}
    assert not wrong, "\n".join(f"{a} → {b}: {', '.join(where)}" for (a, b), where in sorted(wrong.items()))


def test_billing_does_not_know_who_listens():
    """Booking, inpatient and the channel subscribe to billing; billing imports none of them."""
    found = edges()
    wrong = {b: found["billing", b] for b in ("booking", "inpatient", "wechat") if ("billing", b) in found}
    assert not wrong, wrong
