// The real cache servers the remote tests talk to. One implementation,
// shared with the benchmarks: bench/servers.ts.
export { startKilnServer, startNginx, startRedis, startTurbo, type RunningServer, type ServerPlace } from '../../bench/servers.js';
