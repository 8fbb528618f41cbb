import type { Scenario } from './scenario.js';
import type { Diagnostic, SourcePos } from '../diagnostic.js';
import type { NearPos } from './near-pos.js';

/** One input pattern of a node, as declared. */
export interface InputPattern {
  /** Glob relative to the node dir (posix). A leading '!' excludes. */
  glob: string;
  /** When true (the default for non-negated patterns), matching nothing is an error. */
  required: boolean;
  /** Near the node's position (near-pos.ts), as the other positions inside a declaration. */
  pos: NearPos;
}

export interface DepRef {
  id: string;
  pos: NearPos;
}

/** `uses: [nova.version]`: a metadata value published by a (transitive) dependency, e.g. a git project's version. */
export interface UseRef {
  dep: string;
  name: string;
  pos: NearPos;
}

/** A validated node declaration. Paths are relative and posix; no absolute path appears here. */
export interface NodeDecl {
  id: string;
  rule: string;
  /** Node directory relative to the workspace root ('' for the root). Commands run here. */
  dir: string;
  description?: string;
  deps: readonly DepRef[];
  inputs: readonly InputPattern[];
  /**
   * `inputs: traced`: the node's commands run under the file tracer and its
   * key holds what they were seen to read, look at, list and miss
   * (engine/tracing/), not declared globs or its deps' output digests.
   */
  traced?: true;
  /**
   * Output paths (files or directories) relative to the node dir, normalised,
   * never escaping it; for imported npm scripts also globs (`dist/**`,
   * `!dist/cache/**`, `*.tsbuildinfo`: cache/local/output-spec.ts).
   */
  outputs: readonly string[];
  /** A declared output the command did not produce is a warning, not a failure (npm scripts, as in turbo). */
  lenientOutputs?: true;
  /** Env var names whose values are hashed into the key and passed to the command. */
  env: readonly string[];
  /** Env var names passed to the command; only a digest of the value enters the key, never printed. */
  secretEnv: readonly string[];
  /** Env var names or `NAME_*` patterns passed to the command and never hashed (turbo's passThroughEnv). */
  passEnv?: string[];
  /** Never cached, always run (turbo's `cache: false`). */
  noCache?: true;
  /** Names of workspace toolchains whose version output enters the key. */
  toolchain: readonly string[];
  /** Dependency metadata this node consumes: its values enter the key and the command's env. */
  uses: readonly UseRef[];
  /** Rule-specific attributes, validated against the rule's schema. */
  attrs: Record<string, unknown>;
  /**
   * Set where a command may write into its node dir without declaring it (an
   * npm script): the dir is scanned before and after the command runs
   * (write-scan.ts), except `skip` (node-dir-relative: nested packages).
   * What the `siblings` (the other scripts of the package) created is not
   * an input either; nodes of one dir run one at a time. `declareIn` says
   * where its outputs are declared, for the note on undeclared writes.
   */
  writeScan?: { skip: string[]; siblings: string[]; declareIn: string };
  /** Position of the node's id key. */
  pos: SourcePos;
  /** Positions of the keys later stages point at: `dir`, `inputs`, `outputs` and each rule attribute (near `pos`: `fieldPosition`). */
  fieldPos: Record<string, NearPos>;
}

export interface ToolchainDecl {
  name: string;
  /** Shell command whose stdout identifies the toolchain version, e.g. "python3 --version". */
  command: string;
  pos: SourcePos;
}

/** The root file's `remote:` block: a shared cache. Secrets are named by env var, never written here. */
/** The root file's `cobuild:` block: the Redis the agents of a cobuild share. */
export interface CobuildDecl {
  redis: string;
  pos: SourcePos;
}

export interface RemoteDecl {
  url: string;
  protocol: 'bazel' | 'turbo';
  /** Turborepo team (sent as teamId). */
  team?: string;
  readOnly: boolean;
  /** Env var holding the bearer token. */
  tokenEnv?: string;
  /** Env var holding the Turborepo artifact signing key. */
  signingKeyEnv?: string;
  timeoutSeconds?: number;
  pos: SourcePos;
}

/** The root file's `history:` block: how much run history the checkout keeps. */
export interface HistoryDecl {
  /** Newest runs kept; older runs and their node rows are deleted after each build. */
  keepRuns: number;
  pos: SourcePos;
}

/** A scenario of the `bench:` block; runs, when not given, come from the block or the default. */
export type BenchScenarioDecl = Omit<Scenario, 'runs' | 'pos'> & { runs?: number; pos: SourcePos };

/** The root file's `bench:` block: named `kiln bench` scenarios and comparison settings. */
export interface BenchDecl {
  runs?: number;
  /** --compare: regression threshold in percent. */
  thresholdPct?: number;
  /** --compare: differences of medians below this many ms are noise. */
  noiseMs?: number;
  scenarios: BenchScenarioDecl[];
  pos: SourcePos;
}

export interface Workspace {
  /** What the loader read but does not do as written (turbo.json settings kiln does not honour): shown with every command. */
  warnings?: Diagnostic[];
  /** Absolute path of the workspace root (the directory of the root kiln.yaml). */
  root: string;
  /** Build files loaded, relative to root, root file first. */
  files: string[];
  /** Nodes in declaration order. Ids are unique, deps exist, the graph is acyclic. */
  nodes: NodeDecl[];
  toolchains: Map<string, ToolchainDecl>;
  remote?: RemoteDecl;
  cobuild?: CobuildDecl;
  history?: HistoryDecl;
  bench?: BenchDecl;
}
