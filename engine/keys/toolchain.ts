import type { ToolchainDecl } from '../buildfile/types.js';
import type { Diagnostic } from '../diagnostic.js';
import { run } from '../proc.js';

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
    const failed = (why: string) => ({
      error: {
        pos: decl.pos,
        message: `toolchain '${decl.name}': \`${decl.command}\` failed (${why})`,
        hint: 'the command must print the version of the tool and exit 0',
      },
    });
    let r;
    try {
      r = await run('/bin/sh', ['-c', decl.command], { env: this.env });
    } catch (e) {
      return failed((e as Error).message);
    }
    if (r.code !== 0) return failed(String(r.code ?? r.signal));
    // Some tools print their version on stderr (java -version): both count.
    return { version: `${r.stdout}${r.stderr}`.trim() };
  }
}
