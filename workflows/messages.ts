// Everything the CLI and the workflow must agree on: task queue, workflow id,
// signals, updates and the status query (samples-typescript early-return's
// shared.ts pattern). Safe to import from client code.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { RolloutStatus } from './types.js';

export const TASK_QUEUE = 'saferoll';

/** One rollout per endpoint: Temporal refuses a second start with the same id while one runs. */
export function rolloutWorkflowId(endpoint: string): string {
  return `rollout-${endpoint}`;
}

export const abortSignal = defineSignal<[reason?: string]>('abort');
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
/** Ends the current bake now; refused unless a bake runs and no gate has failed. */
export const promoteUpdate = defineUpdate<string>('promote');
/** Passes a manual approval step; refused unless one is waiting. */
// The note is optional in practice (the UI may send no input); its type is plain for the client's overloads.
export const approveUpdate = defineUpdate<string, [note: string]>('approve');
export const statusQuery = defineQuery<RolloutStatus>('status');
