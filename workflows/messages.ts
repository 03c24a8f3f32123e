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

/** `promote --force`: past a failed gate that holds the rollout (onFailure.action pause). */
export interface PromoteOptions {
  force?: boolean | undefined;
  /** Recorded with a forced promotion. */
  reason?: string | undefined;
}
/**
 * Ends the current bake now; refused unless a bake runs and no gate has
 * failed. With `force`, goes on past the failed gate of a held rollout;
 * refused unless one is held. (No input, as the UI may send, is a plain promote.)
 */
export const promoteUpdate = defineUpdate<string, [options: PromoteOptions]>('promote');
/** Passes a manual approval step; refused unless one is waiting. */
// The note is optional in practice (the UI may send no input); its type is plain for the client's overloads.
export const approveUpdate = defineUpdate<string, [note: string]>('approve');
/**
 * Puts blue back to 100% at once (the rollback path, with this reason), from
 * the first step until blue's deletion begins, watch window included; refused
 * after that, or while a rollback already runs.
 */
export const rollbackUpdate = defineUpdate<string, [reason: string]>('rollback');
export const statusQuery = defineQuery<RolloutStatus>('status');
