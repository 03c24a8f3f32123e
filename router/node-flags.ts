// Node flags for the routing core's own process, wherever saferoll starts it
// (`saferoll dev`, the benchmarks; README "Benchmarks" for `saferoll router`
// started by hand). V8 shrinks the young generation to 1 MiB after the
// router idles a while (20 s measured) and regrows it slowly; the data plane
// allocates ~17 KB per request, so after every quiet spell about one request
// in 60-100 paid a young-generation GC pause (~0.5 ms), right at the p99 of
// unloaded latency. Pinned at V8's default maximum (16 MiB, what a busy
// router already has), that is one in ~800, whatever the traffic did before.
export const ROUTER_NODE_FLAGS: readonly string[] = ['--min-semi-space-size=16'];
