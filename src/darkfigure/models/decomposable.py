"""Decomposable (chordal) graphs on a few labelled lists, with their cliques and separators.

The `bma` family averages over every decomposable graphical log-linear model on K lists
(Madigan & York 1997, Biometrika 84(1):19-31). A graph is decomposable iff it is chordal, and
then its hyper-Dirichlet marginal likelihood factorises as the product over cliques divided by
the product over the separators of a junction tree (Dawid & Lauritzen 1993, Ann. Statist.
21(3)). Lists are vertices 0..K-1; vertex sets are bitmasks where list i is bit K-1-i, the same
"first list is the most significant bit" order as `darkfigure.tables.all_patterns`, so a
pattern code ANDed with a subset mask gives that pattern's cell in the subset's margin.

The labelled decomposable graph counts for K = 1..5 are 1, 2, 8, 61, 822 (OEIS A058862).
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass


@dataclass(frozen=True)
class Graph:
    """One decomposable graph: its cliques and the (multi)set of junction-tree separators.

    Separators between connected components are empty sets (mask 0); they are kept so that
    ``len(separators) == len(cliques) - 1`` always holds.
    """

    n_lists: int
    edges: frozenset[tuple[int, int]]
    cliques: tuple[int, ...]
    separators: tuple[int, ...]

    def label(self, names: tuple[str, ...] | list[str]) -> str:
        """Clique notation, e.g. ``[LA,NG][PF][GO,GP]``."""
        return "".join("[" + ",".join(names[i] for i in members(c, self.n_lists)) + "]"
                       for c in self.cliques)


def mask(vertices, n_lists: int) -> int:
    return sum(1 << (n_lists - 1 - v) for v in vertices)


def members(subset: int, n_lists: int) -> list[int]:
    return [v for v in range(n_lists) if subset >> (n_lists - 1 - v) & 1]


def _is_complete(subset: int, adjacency: list[int], n_lists: int) -> bool:
    vs = members(subset, n_lists)
    return all(adjacency[a] >> (n_lists - 1 - b) & 1 for a, b in itertools.combinations(vs, 2))


def _has_chordless_cycle(adjacency: list[int], n_lists: int) -> bool:
    """True if some 4..K vertices induce a cycle: a graph is chordal iff none do."""
    for size in range(4, n_lists + 1):
        for vs in itertools.combinations(range(n_lists), size):
            sub = mask(vs, n_lists)
            degrees = [bin(adjacency[v] & sub).count("1") for v in vs]
            if all(d == 2 for d in degrees) and _connected(sub, adjacency, n_lists):
                return True
    return False


def _connected(subset: int, adjacency: list[int], n_lists: int) -> bool:
    vs = members(subset, n_lists)
    seen, stack = {vs[0]}, [vs[0]]
    while stack:
        v = stack.pop()
        for w in members(adjacency[v] & subset, n_lists):
            if w not in seen:
                seen.add(w)
                stack.append(w)
    return len(seen) == len(vs)


def _junction_tree_separators(cliques: list[int]) -> list[int]:
    """Separators of a junction tree: the edges of a maximum-weight spanning tree of the clique
    intersection graph (weight = size of the intersection), by Kruskal. For a chordal graph any
    such tree has the running-intersection property (Jensen & Jensen 1994, UAI)."""
    pairs = sorted(itertools.combinations(range(len(cliques)), 2),
                   key=lambda ij: -bin(cliques[ij[0]] & cliques[ij[1]]).count("1"))
    component = list(range(len(cliques)))

    def root(i: int) -> int:
        while component[i] != i:
            i = component[i]
        return i

    separators = []
    for i, j in pairs:
        ri, rj = root(i), root(j)
        if ri != rj:
            component[ri] = rj
            separators.append(cliques[i] & cliques[j])
    return sorted(separators, reverse=True)


@functools.cache
def decomposable_graphs(n_lists: int) -> tuple[Graph, ...]:
    """Every decomposable graph on ``n_lists`` labelled vertices, from the empty graph (all
    lists independent) to the complete one (saturated model), ordered by number of edges."""
    pairs = list(itertools.combinations(range(n_lists), 2))
    graphs = []
    for n_edges in range(len(pairs) + 1):
        for edges in itertools.combinations(pairs, n_edges):
            adjacency = [0] * n_lists
            for a, b in edges:
                adjacency[a] |= 1 << (n_lists - 1 - b)
                adjacency[b] |= 1 << (n_lists - 1 - a)
            if _has_chordless_cycle(adjacency, n_lists):
                continue
            complete = [s for s in range(1, 2**n_lists) if _is_complete(s, adjacency, n_lists)]
            cliques = sorted((s for s in complete if not any(t != s and t & s == s
                                                            for t in complete)), reverse=True)
            graphs.append(Graph(n_lists, frozenset(edges), tuple(cliques),
                                tuple(_junction_tree_separators(cliques))))
    return tuple(graphs)
