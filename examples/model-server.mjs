// A tiny sample model server for tests, the demo and benchmarks: node built-ins
// only, no build. Behaviour per instance comes from the environment and can be
// changed at runtime through /_control, so a benchmark can degrade "green".
//
//   PORT                  port on 127.0.0.1 (default 0: pick one and print it)
//   MODEL_VERSION         reported in every answer (default "v1")
//   LATENCY_MS            delay added to every scoring answer (default 0)
//   ERROR_RATE            fraction 0..1 of scoring answers that are 500s (default 0)
//   READY_DELAY_MS        /healthz answers 503 until this long after start (default 0)
//   CRASH_AFTER_REQUESTS  exit(1) after answering that many scoring requests (default off)
//   MODEL_ACCURACY        the model-quality gauge GET /metrics exports as model_accuracy,
//                         0..1 (default 0.95); lower it to play a model that answers
//                         fast and without errors but wrongly
//   PREDICTION_SHIFT      added to every score (kept within 0..1; default 0): a model as
//                         fast and error-free as another whose predictions differ, which
//                         only shadow comparison sees (also `predictionShift` in /_control)
import { createServer } from 'node:http';
import { Buffer } from 'node:buffer';
import process from 'node:process';
import { setTimeout } from 'node:timers';

const env = process.env;
const version = env.MODEL_VERSION || 'v1';
const readyAt = Date.now() + numberFrom(env.READY_DELAY_MS, 0);
const crashAfter = numberFrom(env.CRASH_AFTER_REQUESTS, 0);
const settings = {
  latencyMs: numberFrom(env.LATENCY_MS, 0),
  errorRate: numberFrom(env.ERROR_RATE, 0),
  accuracy: numberFrom(env.MODEL_ACCURACY, 0.95),
  predictionShift: numberFrom(env.PREDICTION_SHIFT, 0),
};

let scored = 0;
// Errors come from an accumulator, not from Math.random: ERROR_RATE=0.1 fails
// exactly every 10th request, so tests and benchmarks are deterministic.
let errorCredit = 0;

function numberFrom(text, fallback) {
  const value = Number(text);
  return text === undefined || text === '' || !Number.isFinite(value) ? fallback : value;
}

function send(res, status, body, onSent) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text, onSent);
}

function control(req, res, body) {
  if (req.method === 'POST') {
    let update;
    try {
      update = JSON.parse(body.toString('utf8') || '{}');
    } catch {
      return send(res, 400, { error: 'body must be JSON' });
    }
    for (const key of ['latencyMs', 'errorRate', 'accuracy', 'predictionShift']) {
      if (update[key] === undefined) continue;
      const share = key === 'errorRate' || key === 'accuracy';
      const shift = key === 'predictionShift';
      if (typeof update[key] !== 'number' || (shift ? Math.abs(update[key]) > 1 : update[key] < 0) || (share && update[key] > 1)) {
        return send(res, 400, { error: `${key} must be a number${share ? ' in 0..1' : shift ? ' in -1..1' : ' >= 0'}` });
      }
      settings[key] = update[key];
    }
    errorCredit = 0;
  }
  send(res, 200, settings);
}

// Prometheus text format. No endpoint or deployment labels: Prometheus adds
// them from the routing core's service discovery (GET /v1/prometheus/targets).
function metrics(res) {
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
  res.end(
    [
      '# HELP model_accuracy Share of labelled requests this model answers correctly (MODEL_ACCURACY, or accuracy through /_control).',
      '# TYPE model_accuracy gauge',
      `model_accuracy ${settings.accuracy}`,
      '# HELP model_scored_total Scoring requests answered.',
      '# TYPE model_scored_total counter',
      `model_scored_total ${scored}`,
      '',
    ].join('\n'),
  );
}

function score(res, body) {
  scored += 1;
  const crash = crashAfter > 0 && scored >= crashAfter;
  errorCredit += settings.errorRate;
  // The epsilon absorbs float drift (ten times 0.1 is 0.9999999999999999).
  const fail = errorCredit >= 1 - 1e-9;
  if (fail) errorCredit -= 1;
  const answer = () => {
    const payload = fail ? { error: 'injected failure', version, pid: process.pid } : { score: prediction(body), version, pid: process.pid };
    // Exit only once the answer is flushed, so the client still gets it.
    send(res, fail ? 500 : 200, payload, crash ? () => process.exit(1) : undefined);
  };
  if (settings.latencyMs > 0) setTimeout(answer, settings.latencyMs);
  else answer();
}

// Deterministic in the request (its size), so two servers with the same
// settings answer a request alike and shadow comparison can tell them apart
// only by predictionShift.
function prediction(body) {
  const base = body.length / (body.length + 100) + settings.predictionShift;
  return Math.round(1000 * Math.min(1, Math.max(0, base))) / 1000;
}

const server = createServer((req, res) => {
  // Drain the body before answering so keep-alive connections stay reusable.
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') return Date.now() >= readyAt ? send(res, 200, 'ok') : send(res, 503, 'starting');
    if (path === '/_control') return control(req, res, body);
    if (path === '/metrics' && req.method === 'GET') return metrics(res);
    score(res, body);
  });
});
// Longer than the proxy's idle timeout, so the proxy closes idle sockets first
// and never reuses one that we are closing at the same moment.
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;

server.listen(numberFrom(env.PORT, 0), '127.0.0.1', () => {
  const { port } = server.address();
  process.stdout.write(`model-server ${version} listening on http://127.0.0.1:${port} (pid ${process.pid})\n`);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  // A client holding a busy connection must not keep us alive for ever.
  setTimeout(() => process.exit(0), 2_000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
