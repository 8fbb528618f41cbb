import * as v from 'valibot';
import type { NodeContext } from './rule.js';
import { attrPos, type Located } from './tree.js';

/** `${dep.name}` in an attribute: a metadata value the node declares in `uses`. */
const REFERENCE = /\$\{([^}]*)\}/g;

/** `mtime`: seconds since the epoch, or a string such as "${nova.epoch}". */
export const MTIME_SCHEMA = v.optional(
  v.union([v.pipe(v.number(), v.integer(), v.minValue(0)), v.pipe(v.string(), v.minLength(1))], 'expected seconds since the epoch or a string such as "${nova.epoch}"'),
  undefined,
);

/**
 * Expands the `${dep.name}` references of a string attribute from the
 * dependencies' metadata. A reference not declared in `uses` is a located
 * mistake: an undeclared value would not be in the key. `undefined` when a
 * declared value is not published: the engine reports that (at the `uses`
 * entry) right after resolve.
 */
export function expandUses(ctx: NodeContext, attr: string, text: string): Located<string | undefined> {
  const declared = new Set(ctx.node.uses.map((u) => `${u.dep}.${u.name}`));
  let missing = false;
  for (const [, ref] of text.matchAll(REFERENCE)) {
    if (declared.has(ref!)) continue;
    const hint = ref!.includes('.') ? `add uses: [${ref}]` : 'a reference is ${<node id>.<name>}, e.g. ${nova.version}';
    return { ok: false, diagnostic: { pos: attrPos(ctx, attr), message: `${attr} references \${${ref}}, which node '${ctx.node.id}' does not declare in uses`, hint, node: ctx.node.id } };
  }
  const value = text.replace(REFERENCE, (_, ref: string) => {
    const use = ctx.node.uses.find((u) => `${u.dep}.${u.name}` === ref)!;
    const published = ctx.deps.get(use.dep)?.meta[use.name];
    if (published === undefined) missing = true;
    return published ?? '';
  });
  return { ok: true, value: missing ? undefined : value };
}

/**
 * The mtime of every archive entry, in seconds: the `mtime` attribute, else
 * SOURCE_DATE_EPOCH when the node declares it in `env`, else 0. Both are in
 * the key (an attribute, a used value, a declared env var).
 */
export function archiveMtime(ctx: NodeContext): { ok: true; value: number } | { ok: false; error: string } {
  const attr = ctx.node.attrs.mtime as number | string | undefined;
  let text: string;
  let what: string;
  if (typeof attr === 'number') return { ok: true, value: attr };
  if (attr !== undefined) {
    const expanded = expandUses(ctx, 'mtime', attr);
    text = expanded.ok ? (expanded.value ?? '') : '';
    what = `mtime '${attr}' expands to '${text}'`;
  } else if (ctx.node.env.includes('SOURCE_DATE_EPOCH') && ctx.env.SOURCE_DATE_EPOCH !== undefined) {
    text = ctx.env.SOURCE_DATE_EPOCH;
    what = `SOURCE_DATE_EPOCH is '${text}'`;
  } else {
    return { ok: true, value: 0 };
  }
  if (/^\d{1,11}$/.test(text)) return { ok: true, value: Number(text) };
  return { ok: false, error: `${what}, which is not a number of seconds since the epoch` };
}

/** Checks the references of `mtime` before the key, so a missing `uses` is reported as a build-file mistake. */
export function checkMtime(ctx: NodeContext): Located<undefined> {
  const attr = ctx.node.attrs.mtime;
  if (typeof attr !== 'string') return { ok: true, value: undefined };
  const r = expandUses(ctx, 'mtime', attr);
  return r.ok ? { ok: true, value: undefined } : r;
}
