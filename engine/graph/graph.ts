import { DirectedGraph } from 'graphology';
import { topologicalSort } from 'graphology-dag';
import type { NodeDecl, Workspace } from '../buildfile/types.js';

/** The build graph: one node per NodeDecl (its attributes), an edge from each dep to its dependent. */
export type BuildGraph = DirectedGraph<NodeDecl>;

export function buildGraph(ws: Workspace): BuildGraph {
  const graph: BuildGraph = new DirectedGraph<NodeDecl>();
  for (const node of ws.nodes) graph.addNode(node.id, node);
  for (const node of ws.nodes) {
    for (const dep of node.deps) graph.mergeEdge(dep.id, node.id);
  }
  return graph;
}

/** Ids in dependency order (deps first), optionally only the `selected` ones. */
export function topoOrder(graph: BuildGraph, selected?: ReadonlySet<string>): string[] {
  const order = topologicalSort(graph);
  return selected ? order.filter((id) => selected.has(id)) : order;
}

/** Nodes in scope in declaration order, and the edges `[dep, dependent]` between them. */
function scope(graph: BuildGraph, selected?: ReadonlySet<string>): { ids: string[]; edges: [string, string][] } {
  const inScope = (id: string) => !selected || selected.has(id);
  const edges = graph.mapEdges((_e, _a, from, to): [string, string] => [from, to]);
  return { ids: graph.nodes().filter(inScope), edges: edges.filter(([from, to]) => inScope(from) && inScope(to)) };
}

/** Graphviz source for `kiln graph --format dot`; edges point from a dep to its dependent. */
export function toDot(graph: BuildGraph, selected?: ReadonlySet<string>): string {
  const quote = (s: string) => JSON.stringify(s);
  const { ids, edges } = scope(graph, selected);
  const lines = ['digraph kiln {', '  rankdir=LR;'];
  for (const id of ids) lines.push(`  ${quote(id)} [label=${quote(`${id}\n(${graph.getNodeAttributes(id).rule})`)}];`);
  for (const [from, to] of edges) lines.push(`  ${quote(from)} -> ${quote(to)};`);
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

export interface GraphJson {
  nodes: { id: string; rule: string; dir: string; deps: string[] }[];
  /** `[dep, dependent]` pairs. */
  edges: [string, string][];
}

/** Data for `kiln graph --format json`. */
export function toJson(graph: BuildGraph, selected?: ReadonlySet<string>): GraphJson {
  const { ids, edges } = scope(graph, selected);
  const nodes = ids.map((id) => {
    const n = graph.getNodeAttributes(id);
    return { id, rule: n.rule, dir: n.dir, deps: n.deps.map((d) => d.id) };
  });
  return { nodes, edges };
}
