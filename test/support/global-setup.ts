// One real Temporal dev server for the whole test run (vitest globalSetup):
// test files connect to it with TestWorkflowEnvironment.createFromExistingServer.
import type { TestProject } from 'vitest/node';
import { startTemporalDevServer, type DevServer } from '../../cli/temporal-dev-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalUiUrl: string;
  }
}

let server: DevServer | undefined;

export async function setup(project: TestProject): Promise<void> {
  server = await startTemporalDevServer({});
  project.provide('temporalAddress', server.address);
  project.provide('temporalUiUrl', server.uiUrl ?? '');
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
