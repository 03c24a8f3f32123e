// What an operator does to a rollout in the real Temporal UI (2.42, served by
// the test run's dev server), clicked through in headless Chromium: find it by
// endpoint and by phase, read its current details, cancel it, abort it with a
// signal (each ends in blue 100% with green deleted), and tell a rolled-back
// rollout (Failed) from a promoted one (Completed) in the workflow list.
import type { WorkflowHandle } from '@temporalio/client';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { abortSignal, rolloutWorkflowId, statusQuery } from '../../workflows/messages.js';
import type { rolloutWorkflow } from '../../workflows/rollout.js';
import { launchTestBrowser, type TestBrowser } from '../support/browser.js';
import { startLoad, type Load } from '../support/load.js';
import { RolloutTestBed, createEndpointWithBlue, longBakes, modelServer, testPolicy } from '../support/rollout-fixture.js';
import { waitFor } from '../support/wait-for.js';
import { rolloutResult } from '../../cli/follow-rollout.js';

const ui = inject('temporalUiUrl');
let bed: RolloutTestBed;
let browser: TestBrowser;
const loads = new Set<Load>();

beforeAll(async () => {
  if (!ui) throw new Error('the Temporal dev server was started without its UI');
  bed = await RolloutTestBed.create();
  await bed.startWorker();
  browser = await launchTestBrowser();
});
afterEach(async (context) => {
  if (context.task.result?.state === 'fail') await browser?.screenshot(context.task.name);
});
afterAll(async () => {
  await browser?.close();
  await Promise.all([...loads].map(stopLoad));
  await bed?.close();
});

/** A rollout of `endpoint` under steady load, baking in Mirror and listed so by the server. */
async function rolloutInMirror(endpoint: string): Promise<{ handle: WorkflowHandle<typeof rolloutWorkflow>; load: Load }> {
  const key = await createEndpointWithBlue(bed.router, endpoint);
  const load = startLoad(bed.router.router.dataUrl, endpoint, key);
  loads.add(load);
  const handle = await bed.start(endpoint, modelServer('green'), longBakes());
  await waitFor(async () => (await handle.query(statusQuery)).phase === 'Mirror', 30_000, 'mirror phase');
  // The list page fetches once: wait until visibility has the phase, so a miss is the UI's.
  const query = `WorkflowId="${handle.workflowId}" AND RolloutPhase="Mirror"`;
  await waitFor(async () => (await bed.env.client.workflow.count(query)).count > 0, 30_000, 'listed in Mirror');
  return { handle, load };
}

function stopLoad(load: Load): ReturnType<Load['stop']> {
  loads.delete(load);
  return load.stop();
}

async function expectRolledBackToBlue(endpoint: string): Promise<void> {
  const view = await bed.router.admin.getEndpoint(endpoint);
  expect(view.traffic).toEqual({ blue: 100 });
  expect(view.mirrorTraffic).toEqual({});
  expect((await bed.router.admin.listDeployments(endpoint)).map((d) => d.name)).toEqual(['blue']);
}

/** The namespace's workflow list filtered by a visibility query (the UI's `query` URL parameter). */
async function openWorkflowList(page: Page, query: string): Promise<void> {
  await page.goto(`${ui}/namespaces/default/workflows?query=${encodeURIComponent(query)}`);
}

/** From a list showing it, clicks through to the workflow's detail page. */
async function openWorkflow(page: Page, workflowId: string): Promise<void> {
  await page.getByRole('link', { name: workflowId, exact: true }).click();
  await page.getByRole('heading', { level: 1, name: workflowId }).waitFor();
  await page.getByRole('button', { name: 'Request Cancellation' }).waitFor(); // only while it runs
}

describe('the Temporal UI on a rollout', () => {
  it('finds a rollout by endpoint and phase, shows its current details, and "Request Cancellation" rolls it back', { timeout: 240_000 }, async () => {
    const endpoint = 'e2e-ui-cancel';
    const workflowId = rolloutWorkflowId(endpoint);
    const { handle, load } = await rolloutInMirror(endpoint);
    const { page } = browser;

    await openWorkflowList(page, `RolloutPhase="Mirror"`);
    await page.getByRole('link', { name: workflowId, exact: true }).waitFor();
    await openWorkflowList(page, `RolloutEndpoint="${endpoint}"`);
    await page.getByRole('link', { name: workflowId, exact: true }).waitFor();

    await openWorkflow(page, workflowId);
    // Current details (setCurrentDetails) are on the User Metadata tab, as
    // markdown rendered in an iframe, fetched when the tab opens.
    await page.getByRole('tab', { name: 'User Metadata' }).click();
    await page.getByText('Current Details', { exact: true }).waitFor();
    const details = page.getByRole('main').locator('iframe').contentFrame();
    await details.getByText('Mirror', { exact: true }).waitFor();
    await details.getByText(/^traffic: blue/).waitFor();
    await expect(details.getByText(/^traffic: blue/).innerText()).resolves.toMatch(/mirror 50%/);

    await page.getByRole('button', { name: 'Request Cancellation' }).click();
    const confirm = page.getByRole('dialog', { name: 'Cancel Workflow' });
    await confirm.getByRole('button', { name: 'Confirm' }).click();
    await confirm.waitFor({ state: 'hidden' });

    const result = await rolloutResult(handle);
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(/cancelled/);
    await expectRolledBackToBlue(endpoint);
    expect((await stopLoad(load)).failures).toEqual([]);
  });

  it('"Send a Signal" abort with a reason rolls the rollout back with that reason', { timeout: 240_000 }, async () => {
    const endpoint = 'e2e-ui-abort';
    const workflowId = rolloutWorkflowId(endpoint);
    const { handle, load } = await rolloutInMirror(endpoint);
    const { page } = browser;

    await openWorkflowList(page, `RolloutEndpoint="${endpoint}"`);
    await openWorkflow(page, workflowId);
    await page.getByRole('button', { name: 'More Actions' }).click();
    await page.getByRole('menuitem', { name: 'Send a Signal' }).click();
    const dialog = page.getByRole('dialog', { name: 'Send a Signal' });
    // The signal names come from the worker's answer to the UI's metadata query.
    await dialog.getByRole('button', { name: 'Select a signal' }).click();
    await dialog.getByRole('option', { name: 'abort', exact: true }).click();
    // The input is a JSON editor; the select's own textbox is the disabled one.
    await dialog.getByRole('textbox', { disabled: false }).fill('"bad build"');
    await Promise.all([page.getByText('Workflow signaled.').waitFor(), dialog.getByRole('button', { name: 'Submit' }).click()]);

    const result = await rolloutResult(handle);
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toBe('bad build');
    await expectRolledBackToBlue(endpoint);
    expect((await stopLoad(load)).failures).toEqual([]);
  });

  it('the workflow list tells a rolled-back rollout (Failed) from a promoted one (Completed) at a glance', { timeout: 240_000 }, async () => {
    const rolledBack = await rolloutInMirror('e2e-ui-failed');
    await rolledBack.handle.signal(abortSignal, 'bad build');
    expect((await rolloutResult(rolledBack.handle)).outcome).toBe('rolled-back');
    await stopLoad(rolledBack.load);

    const endpoint = 'e2e-ui-promoted';
    const key = await createEndpointWithBlue(bed.router, endpoint);
    const load = startLoad(bed.router.router.dataUrl, endpoint, key);
    loads.add(load);
    // Loose latency: a busy machine must not turn this promotion into a rollback.
    const quick = testPolicy({
      slo: { latency: { p95Ms: 60_000 }, errorRate: 0.01, minRequests: 20 },
      baseline: {},
      steps: [{ kind: 'create' }, { kind: 'traffic', percent: 100, forMs: 1_000 }, { kind: 'deleteBlue', afterMs: 0 }],
    });
    const promoted = await bed.start(endpoint, modelServer('green'), quick);
    expect((await rolloutResult(promoted)).outcome).toBe('promoted');
    await stopLoad(load);

    const both = `WorkflowId="${rolledBack.handle.workflowId}" OR WorkflowId="${promoted.workflowId}"`;
    await waitFor(async () => (await bed.env.client.workflow.count(`(${both}) AND ExecutionStatus!="Running"`)).count === 2, 30_000, 'both listed as closed');
    const { page } = browser;
    await openWorkflowList(page, both);
    const row = (workflowId: string) => page.getByRole('row').filter({ has: page.getByRole('link', { name: workflowId, exact: true }) });
    // The status column is shown by default (custom search attributes are not): it alone tells them apart.
    await row(rolledBack.handle.workflowId).getByText('Failed', { exact: true }).waitFor();
    await row(promoted.workflowId).getByText('Completed', { exact: true }).waitFor();
    await expect(row(rolledBack.handle.workflowId).getByText('Completed', { exact: true }).count()).resolves.toBe(0);
    await expect(row(promoted.workflowId).getByText('Failed', { exact: true }).count()).resolves.toBe(0);

    // On the rolled-back one's page, the failure says why.
    await page.getByRole('link', { name: rolledBack.handle.workflowId, exact: true }).click();
    await page.getByRole('heading', { level: 1, name: rolledBack.handle.workflowId }).waitFor();
    await page.getByText('rolled back: bad build').first().waitFor();
  });

  it('"Send an Update" rollback in the watch window after promotion puts blue back with the reason', { timeout: 240_000 }, async () => {
    const endpoint = 'e2e-ui-rollback';
    const workflowId = rolloutWorkflowId(endpoint);
    const key = await createEndpointWithBlue(bed.router, endpoint);
    const load = startLoad(bed.router.router.dataUrl, endpoint, key);
    loads.add(load);
    const watch = testPolicy({
      slo: { latency: { p95Ms: 60_000 }, errorRate: 0.01, minRequests: 20 },
      baseline: {},
      steps: [{ kind: 'create' }, { kind: 'traffic', percent: 100, forMs: 1_000 }, { kind: 'deleteBlue', afterMs: 600_000 }],
    });
    const handle = await bed.start(endpoint, modelServer('green'), watch);
    await waitFor(async () => (await handle.query(statusQuery)).phase === 'DeletingBlue', 60_000, 'in the watch window');
    const { page } = browser;

    await openWorkflowList(page, `RolloutEndpoint="${endpoint}"`);
    await openWorkflow(page, workflowId);
    await page.getByRole('button', { name: 'More Actions' }).click();
    await page.getByRole('menuitem', { name: 'Send an Update' }).click();
    const dialog = page.getByRole('dialog', { name: 'Send an Update' });
    await dialog.getByRole('button', { name: 'Select an Update' }).click();
    await dialog.getByRole('option', { name: 'rollback', exact: true }).click();
    // The textboxes: the select's own (disabled), the update id, then the JSON editor for the data.
    await dialog.getByRole('textbox', { disabled: false }).last().fill('"latency alarms"');
    await dialog.getByRole('button', { name: 'Submit' }).click();

    const result = await rolloutResult(handle);
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toBe('latency alarms');
    await expectRolledBackToBlue(endpoint);
    expect((await stopLoad(load)).failures).toEqual([]);
  });
});
