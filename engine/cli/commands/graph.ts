import { UserError } from '../../diagnostic.js';
import { buildGraph, toDot, toJson } from '../../graph/graph.js';
import { parseCommand } from '../args.js';
import { loadForCommand, selectForCommand } from '../workspace.js';

const USAGE = `usage: kiln graph [targets...] [--format dot|json]

Prints the build graph (edges point from a dependency to its dependent).
With targets, only those nodes and their transitive deps.`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand('graph', argv, { format: { type: 'string' } }, USAGE);
  const format = values.format ?? 'dot';
  if (format !== 'dot' && format !== 'json') {
    throw new UserError([{ message: `graph: --format must be dot or json, got '${format}'` }]);
  }
  const ws = await loadForCommand(values);
  const selected = positionals.length > 0 ? selectForCommand(ws, positionals) : undefined;
  const graph = buildGraph(ws);
  process.stdout.write(format === 'dot' ? toDot(graph, selected) : `${JSON.stringify(toJson(graph, selected), null, 2)}\n`);
  return 0;
}
