// The example graph of the report tests: slow -> mid -> join is the longest
// chain (the critical path, by construction); fast runs beside it on a second worker.
export const GRAPH = `
nodes:
  slow:
    rule: run
    inputs: [slow.txt]
    outputs: [out/slow]
    cmd: sleep 0.4 && mkdir -p out && cp slow.txt out/slow
  fast:
    rule: run
    outputs: [out/fast]
    cmd: sleep 0.1 && mkdir -p out && echo fast > out/fast
  mid:
    rule: run
    deps: [slow]
    outputs: [out/mid]
    cmd: sleep 0.1 && mkdir -p out && cp out/slow out/mid
  join:
    rule: run
    deps: [mid, fast]
    outputs: [out/join]
    cmd: mkdir -p out && cat out/mid out/fast > out/join
`;
