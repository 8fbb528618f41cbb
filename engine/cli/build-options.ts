import type { Workspace } from '../buildfile/types.js';
import type { RemoteSetup } from '../../cache/remote/config.js';
import { didYouMean, UserError } from '../diagnostic.js';
import { rules } from '../../rules/index.js';
import { nodeIndex } from '../graph/node-index.js';

/** The remote cache setup, loading the protocol clients only when a remote is configured at all. */
export async function remoteFor(
  ws: Workspace,
  values: { 'remote-cache'?: string; 'remote-read-only'?: boolean; 'no-remote'?: boolean },
): Promise<RemoteSetup | undefined> {
  if (values['no-remote'] || !(values['remote-cache'] ?? process.env.KILN_REMOTE_CACHE ?? ws.remote)) return undefined;
  const { configureRemote } = await import('../../cache/remote/config.js');
  const configured = configureRemote(ws.remote, process.env, {
    ...(values['remote-cache'] ? { url: values['remote-cache'] } : {}),
    readOnly: Boolean(values['remote-read-only']),
  });
  if ('error' in configured) throw new UserError([configured.error]);
  return configured.setup;
}

/** `--override NODE=VALUE` entries, each naming a node whose rule supports overrides. */
export function parseOverrides(ws: Workspace, raw: string[]): Map<string, string> {
  const overrides = new Map<string, string>();
  for (const entry of raw) {
    const eq = entry.indexOf('=');
    const id = entry.slice(0, eq);
    const node = nodeIndex(ws).get(id);
    if (eq <= 0 || eq === entry.length - 1) {
      throw new UserError([{ message: `--override '${entry}' is not NODE=REF or NODE=PATH` }]);
    }
    if (!node) {
      const guess = didYouMean(id, ws.nodes.map((n) => n.id));
      throw new UserError([{ message: `--override: no node '${id}'`, ...(guess ? { hint: `did you mean '${guess}'?` } : {}) }]);
    }
    if (!rules.get(node.rule)?.overridable) {
      throw new UserError([{ message: `--override: node '${id}' (rule ${node.rule}) cannot be overridden`, hint: 'overrides apply to git projects' }]);
    }
    overrides.set(id, entry.slice(eq + 1));
  }
  return overrides;
}
