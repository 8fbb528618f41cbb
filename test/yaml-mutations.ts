/** Damage done to valid build files by the fuzz tests: what hands and merges do to YAML. */

/** A build file using most of what the format offers: the seed of the fuzz tests. */
export const VALID = `include:
  - lib/kiln.yaml
toolchains:
  python: python3 --version
nodes:
  gen:
    rule: run
    description: "generate sources"
    deps: [lib]
    inputs:
      - "src/**/*.py"
      - {glob: VERSION, required: false}
      - "!src/**/test_*.py"
    outputs: [out/gen.txt, dist]
    env: [FOO, BAR]
    secretEnv: [TOKEN]
    toolchain: [python]
    cmd: make gen
    timeout: 30
  test:
    rule: run
    dir: tests
    deps:
      - gen
      - lib
    cmd: [pytest, -q]
    outputs: [report.xml]
  docs: {rule: run, cmd: "make docs", deps: [gen], outputs: [site/]}
`;

const INSERTS = [':', '-', '[', '{', '"', ']', '}', ',', '&a', '*a', '!', '#', '\t', ' ', '\n', '?', "'", '|', '>'];

type Mutation = (lines: string[], rand: () => number) => string[];
export const pick = (n: number, rand: () => number) => Math.floor(rand() * n);

const MUTATIONS: Mutation[] = [
  // delete a line
  (lines, rand) => lines.filter((_, i) => i !== pick(lines.length, rand)),
  // duplicate a line
  (lines, rand) => {
    const i = pick(lines.length, rand);
    return [...lines.slice(0, i + 1), ...lines.slice(i)];
  },
  // swap two lines
  (lines, rand) => {
    const [i, j] = [pick(lines.length, rand), pick(lines.length, rand)];
    const out = [...lines];
    [out[i], out[j]] = [out[j]!, out[i]!];
    return out;
  },
  // change the indentation of a line
  (lines, rand) => {
    const i = pick(lines.length, rand);
    const indent = ' '.repeat(pick(7, rand));
    return lines.map((l, k) => (k === i ? indent + l.trimStart() : l));
  },
  // replace a character with a random printable one
  (lines, rand) => {
    const text = lines.join('\n');
    const at = pick(text.length, rand);
    return (text.slice(0, at) + String.fromCharCode(32 + pick(95, rand)) + text.slice(at + 1)).split('\n');
  },
  // insert YAML punctuation
  (lines, rand) => {
    const text = lines.join('\n');
    const at = pick(text.length + 1, rand);
    return (text.slice(0, at) + INSERTS[pick(INSERTS.length, rand)]! + text.slice(at)).split('\n');
  },
  // truncate
  (lines, rand) => {
    const text = lines.join('\n');
    return text.slice(0, pick(text.length, rand)).split('\n');
  },
];

/** One to three random mutations of `text`. */
export function mutate(text: string, rand: () => number): string {
  let lines = text.split('\n');
  for (let n = 1 + pick(3, rand); n > 0; n--) lines = MUTATIONS[pick(MUTATIONS.length, rand)]!(lines, rand);
  return lines.join('\n');
}
