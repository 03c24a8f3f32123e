// The state file's format: its JSON shape (zod, reusing the admin API's
// schemas) and the rules its data must obey (the admin API's own rules), read
// into the in-memory model (Maps) and written back out as JSON. A file the
// API could not have produced is refused, naming the field.
import { z } from 'zod';
import { nullPrototypeDict } from '../shared/reserved-keys.js';
import { instanceCountViolation } from './deployment-rules.js';
import { deploymentKey, type RouterState } from './model.js';
import type { RuleViolation } from './rule-violation.js';
import {
  endpointName,
  firstProblem,
  instanceCount,
  keyedMap,
  metricsPath,
  missingAsRequired,
  percentMap,
  processSource,
  resourceName,
  tags,
  upstreamsSource,
} from './schemas.js';
import { compareSpec } from './shadow/compare-schema.js';
import { trafficViolation } from './traffic-rules.js';

// The provider owns what it records to re-adopt an instance: these fields are
// required, whatever else it adds is kept as it is.
const instanceRecord = z.looseObject({
  id: z.string(),
  port: z.number().int().min(0).max(65_535),
  pid: z.number().int().min(1),
  startTime: z.number().int().min(0).optional(),
  logFile: z.string(),
});

const timestamp = z.string().min(1);

// The guard lease as guard-lease.ts's GuardRecord keeps it.
const guardRecord = z.discriminatedUnion('state', [
  z.strictObject({ state: z.literal('held'), fallback: resourceName, ttlMs: z.number().int().positive(), expiresAt: timestamp }),
  z.strictObject({
    state: z.literal('fired'),
    fallback: resourceName,
    ttlMs: z.number().int().positive(),
    expiredAt: timestamp,
    firedAt: timestamp,
    reason: z.string(),
  }),
]);

const endpointRecord = z.strictObject({
  name: endpointName,
  authMode: z.literal('key'),
  description: z.string().optional(),
  tags,
  keys: z.strictObject({ primary: z.string().min(1), secondary: z.string().min(1) }),
  traffic: percentMap,
  mirrorTraffic: percentMap,
  mirrorCompare: compareSpec.optional(),
  guard: guardRecord.optional(),
  createdAt: timestamp,
  updatedAt: timestamp,
});

const deploymentRecord = z.strictObject({
  endpoint: endpointName,
  name: resourceName,
  instanceCount,
  source: z.union([upstreamsSource, processSource]),
  metricsPath: metricsPath.optional(),
  provisioningState: z.enum(['Creating', 'Updating', 'Succeeded', 'Failed', 'Deleting']),
  reason: z.string().optional(),
  instances: z.array(instanceRecord),
  createdAt: timestamp,
  updatedAt: timestamp,
});

const stateFile = z.strictObject({
  version: z.literal(1, { error: (issue) => `this router reads state version 1, got ${JSON.stringify(issue.input) ?? 'none'}` }),
  endpoints: keyedMap(z.string(), endpointRecord),
  deployments: keyedMap(z.string(), deploymentRecord),
});

/** The model held in parsed state-file JSON, or the first thing wrong with it (`field` '' for the whole file). */
export function readState(json: unknown): { state: RouterState } | { violation: RuleViolation } {
  const parsed = stateFile.safeParse(json, { error: missingAsRequired });
  if (!parsed.success) return { violation: firstProblem(parsed.error.issues, '') };
  const state: RouterState = parsed.data;
  const violation = stateViolation(state);
  return violation ? { violation } : { state };
}

/** The state as the file's JSON text. */
export function writeState(state: RouterState): string {
  return JSON.stringify(state, (_key, value: unknown) => (value instanceof Map ? nullPrototypeDict(value as Map<string, unknown>) : value), 2);
}

/** The rules across records: keys match names, every deployment has its endpoint, traffic obeys the admin API's rules. */
function stateViolation(state: RouterState): RuleViolation | undefined {
  for (const [key, endpoint] of state.endpoints) {
    if (endpoint.name !== key) return { field: `endpoints.${key}.name`, message: `must be the endpoint's key "${key}", got "${endpoint.name}"` };
  }
  for (const [key, deployment] of state.deployments) {
    const expected = deploymentKey(deployment.endpoint, deployment.name);
    if (key !== expected)
      return {
        field: `deployments.${key}`,
        message: `holds deployment "${deployment.name}" of endpoint "${deployment.endpoint}", so its key must be "${expected}"`,
      };
    // Deleting an endpoint marks its deployments Deleting and removes the
    // endpoint at once; a restart in between finishes their deletion.
    if (!state.endpoints.has(deployment.endpoint) && deployment.provisioningState !== 'Deleting') {
      return { field: `deployments.${key}.endpoint`, message: `endpoint "${deployment.endpoint}" does not exist` };
    }
    const count = instanceCountViolation(deployment.source, deployment.instanceCount);
    if (count) return within(`deployments.${key}`, count);
  }
  for (const [name, endpoint] of state.endpoints) {
    // Shares already routed are judged as the API judges keeping them (any state but Deleting).
    const traffic = trafficViolation(endpoint.traffic, endpoint.mirrorTraffic, (d) => state.deployments.get(deploymentKey(name, d)), endpoint);
    if (traffic) return within(`endpoints.${name}`, traffic);
  }
  return undefined;
}

function within(prefix: string, violation: RuleViolation): RuleViolation {
  return { field: `${prefix}.${violation.field}`, message: violation.message };
}
