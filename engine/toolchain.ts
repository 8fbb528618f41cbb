import type { ToolchainDecl } from './buildfile/types.js';
import type { Diagnostic } from './diagnostic.js';

/**
 * Resolves declared toolchains to their version output, each at most once per
 * build and only when a node that declares it needs a key.
 */
export class Toolchains {
  private readonly memo = new Map<string, Promise<{ version: string } | { error: Diagnostic }>>();

  constructor(
    private readonly decls: Map<string, ToolchainDecl>,
    private readonly env: Record<string, string>,
  ) {}

  version(name: string): Promise<{ version: string } | { error: Diagnostic }> {
    let p = this.memo.get(name);
    if (!p) {
      p = this.probe(this.decls.get(name)!);
      this.memo.set(name, p);
    }
    return p;
  }

  private async probe(decl: ToolchainDecl): Promise<{ version: string } | { error: Diagnostic }> {
    const { execa } = await import('execa'); // lazy: see rules/run.ts
    const r = await execa('/bin/sh', ['-c', decl.command], { env: this.env, extendEnv: false, reject: false, all: true });
    if (r.failed) {
      return {
        error: {
          pos: decl.pos,
          message: `toolchain '${decl.name}': \`${decl.command}\` failed (${r.exitCode ?? r.signal ?? 'error'})`,
          hint: 'the command must print the version of the tool and exit 0',
        },
      };
    }
    return { version: (r.all ?? '').trim() };
  }
}
