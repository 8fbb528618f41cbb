import { isMap, isScalar } from './yaml/tree.js';
import { ENV_NAME } from './names.js';
import type { Entry, SourceFile } from './source.js';
import type { RemoteDecl } from './types.js';
import { boolValue, textValue } from './values.js';

const REMOTE_KEYS = ['url', 'protocol', 'team', 'readOnly', 'tokenEnv', 'signingKeyEnv', 'timeout'];
const PROTOCOLS = ['bazel', 'turbo'];

/**
 * The root file's `remote:` block. Secrets never live in a build file: it
 * names the env vars that hold them (tokenEnv, signingKeyEnv).
 */
export function readRemote(file: SourceFile, e: Entry): RemoteDecl | undefined {
  if (!e.value || !isMap(e.value)) {
    file.report(e.at, 'expected a mapping with url, protocol, ...', 'e.g. `remote: {url: "http://cache:9090/", protocol: bazel}`');
    return undefined;
  }
  const decl: Partial<RemoteDecl> = { pos: file.pos(e.keyNode) };
  let ok = true;
  const bad = (at: Entry['at'], message: string, hint?: string) => {
    file.report(at, message, hint);
    ok = false;
  };
  for (const f of file.uniqueEntries(e.value)) {
    if (f.key === 'readOnly') {
      const v = boolValue(file, f.value, f.at);
      if (v === undefined) ok = false;
      else decl.readOnly = v;
      continue;
    }
    if (f.key === 'timeout') {
      const v = isScalar(f.value) ? f.value.value : undefined;
      if (typeof v !== 'number' || !(v > 0)) bad(f.at, 'expected a timeout in seconds (a positive number)');
      else decl.timeoutSeconds = v;
      continue;
    }
    if (!REMOTE_KEYS.includes(f.key)) {
      file.unknownKey(f, 'remote', REMOTE_KEYS);
      ok = false;
      continue;
    }
    const text = textValue(file, f.value, f.at, `a string for ${f.key}`);
    if (text === undefined) {
      ok = false;
    } else if (f.key === 'url') {
      if (!/^https?:\/\/[^/]/.test(text)) bad(f.at, `remote url '${text}' is not an http(s) URL`);
      else if (/^https?:\/\/[^/]*@/.test(text)) bad(f.at, 'remote url must not contain credentials', 'put the token in an env var named by tokenEnv');
      else decl.url = text;
    } else if (f.key === 'protocol') {
      if (!PROTOCOLS.includes(text)) bad(f.at, `unknown remote protocol '${text}'`, `one of: ${PROTOCOLS.join(', ')}`);
      else decl.protocol = text as RemoteDecl['protocol'];
    } else if (f.key === 'team') {
      decl.team = text;
    } else if (!ENV_NAME.test(text)) {
      bad(f.at, `'${text}' is not an env var name`);
    } else if (f.key === 'tokenEnv') {
      decl.tokenEnv = text;
    } else {
      decl.signingKeyEnv = text;
    }
  }
  if (ok && decl.url === undefined) bad(e.keyNode, 'remote needs a url');
  if (ok && decl.protocol === 'turbo' && decl.team === undefined) {
    bad(e.keyNode, 'a turbo remote needs a team', 'the Turborepo API namespaces artifacts by team (teamId or slug)');
  }
  return ok ? ({ protocol: 'bazel', readOnly: false, ...decl } as RemoteDecl) : undefined;
}
