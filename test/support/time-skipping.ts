// The SDK's time-skipping test environment, for workflow logic with mocked
// activities: timers and bakes pass in no time. Runs the test server that
// scripts/install-temporal-test-server.sh puts in .tools/bin
// (SAFEROLL_TEST_SERVER names another one).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { SEARCH_ATTRIBUTES } from '../../workflows/search-attributes.js';
import { PROJECT_ROOT } from './cli.js';
import { workflowBundle } from './temporal.js';

export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const server = process.env.SAFEROLL_TEST_SERVER ?? path.join(PROJECT_ROOT, '.tools/bin/temporal-test-server');
  if (!existsSync(server)) throw new Error(`no time-skipping test server at ${server}: run scripts/install-temporal-test-server.sh`);
  await workflowBundle(); // installs the quiet runtime before the environment creates one
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: server } } });
  // The rollout upserts these; the test server refuses a workflow task that names an unknown one.
  const { INDEXED_VALUE_TYPE_KEYWORD: KEYWORD, INDEXED_VALUE_TYPE_INT: INT } = temporal.api.enums.v1.IndexedValueType;
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(SEARCH_ATTRIBUTES.map((a) => [a.name, a.type === 'Int' ? INT : KEYWORD])),
  });
  return env;
}
