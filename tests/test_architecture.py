"""Architecture: the import graph of `timecoin` has no cycles.

The layers contract of import-linter (pyproject.toml) orders the packages;
this test covers what it does not: modules of one package importing each
other in a circle. Imports under `if TYPE_CHECKING:` count, since a cycle
there still ties the modules together (they must pass narrow protocols
instead). Import-linter's own graph builder, grimp, reads the imports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import grimp

ROOT_PACKAGE = "timecoin"


def strongly_connected_components(
    nodes: Iterable[str], successors: Callable[[str], Iterable[str]]
) -> list[list[str]]:
    """The strongly connected components of a directed graph (Tarjan's
    algorithm, iterative), each sorted; a node alone in its component
    appears only when it has an edge to itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for root in sorted(nodes):
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(sorted(successors(root))))]
        while work:
            node, edges = work[-1]
            advanced = False
            for succ in edges:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(successors(succ)))))
                    advanced = True
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in successors(node):
                    components.append(sorted(component))
    return components


def find_import_cycles(graph: grimp.ImportGraph, package: str) -> list[str]:
    """One description per cycle of imports among the modules of `package`:
    the modules of the strongly connected component and the imports that
    tie them (importer line: statement)."""
    modules = {m for m in graph.modules if m == package or m.startswith(package + ".")}

    def successors(module: str) -> set[str]:
        return graph.find_modules_directly_imported_by(module) & modules

    reports = []
    for component in strongly_connected_components(modules, successors):
        members = set(component)
        lines = [f"cycle among {', '.join(component)}:"]
        for importer in component:
            for imported in sorted(successors(importer) & members):
                for detail in graph.get_import_details(importer=importer, imported=imported):
                    lines.append(f"  {importer}:{detail['line_number']}: {detail['line_contents']}")
        reports.append("\n".join(lines))
    return reports


def test_finds_a_cycle_and_only_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}, "f": set()}
    components = strongly_connected_components(graph, lambda node: graph[node])
    assert sorted(components) == [["a", "b", "c"], ["e"]]


def test_no_import_cycles() -> None:
    graph = grimp.build_graph(ROOT_PACKAGE, cache_dir=None)
    cycles = find_import_cycles(graph, ROOT_PACKAGE)
    assert not cycles, "import cycles in the source:\n" + "\n".join(cycles)
