// An upstream (fast, slow or hung; see upstream.ts) in a process of its own,
// driven over IPC, so its work does not share the load generator's CPU and
// event loop. Started by startUpstreamProcess() in upstream-process.ts.
import { startBenchUpstream, type UpstreamMode } from './upstream.js';

export type UpstreamCommand = { type: 'stats' } | { type: 'resetPeak' } | { type: 'release' } | { type: 'mode'; mode: UpstreamMode };
export interface UpstreamStats {
  hits: number;
  inFlight: number;
  peakInFlight: number;
}

const mode = JSON.parse(process.env.BENCH_UPSTREAM_MODE ?? '{"kind":"fast"}') as UpstreamMode;
const upstream = await startBenchUpstream(mode);
process.on('message', (command: UpstreamCommand) => {
  if (command.type === 'resetPeak') upstream.resetPeak();
  else if (command.type === 'release') upstream.releaseHeld();
  else if (command.type === 'mode') upstream.mode = command.mode;
  const stats: UpstreamStats = { hits: upstream.hits, inFlight: upstream.inFlight, peakInFlight: upstream.peakInFlight };
  process.send?.({ type: 'stats', stats });
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
console.log(`bench upstream listening on ${upstream.url}`);
