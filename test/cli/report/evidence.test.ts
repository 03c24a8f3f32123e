// The report's evidence: gate readings read back from real rollout histories
// (the committed ones the replay test uses) and placed in their steps, the
// verdict, and the decision trail across runs.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { historyFromJSON, type History } from '@temporalio/common/lib/proto-utils.js';
import { describe, expect, it } from 'vitest';
import { buildEvidence } from '../../../cli/report/evidence.js';
import { readRun, type RunRecord } from '../../../cli/report/read-history.js';
import type { GateReport, RolloutResult, RolloutStatus } from '../../../workflows/types.js';
import { HISTORIES_DIR } from '../../support/histories.js';
import { DECISIONS, INPUT, LAST_GATE, RUN, T0, fixtureEvidence, tick, win } from './fixture.js';

async function committed(name: string): Promise<History> {
  return historyFromJSON(JSON.parse(await readFile(path.join(HISTORIES_DIR, `${name}.json`), 'utf8')));
}

/** Read independently of the report's code: each measureWindows completion and the bake it belongs to (its window start). */
function readingsOf(history: History): { eventId: number; bake: number }[] {
  const bakeBySchedule = new Map<string, number>();
  const out: { eventId: number; bake: number }[] = [];
  for (const e of history.events ?? []) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled?.activityType?.name === 'measureWindows') {
      const input = defaultPayloadConverter.fromPayload<{ stepStart: { takenAtMs: number } }>(scheduled.input!.payloads![0]!);
      bakeBySchedule.set(String(e.eventId), input.stepStart.takenAtMs);
    }
    const completed = e.activityTaskCompletedEventAttributes;
    const bake = completed ? bakeBySchedule.get(String(completed.scheduledEventId)) : undefined;
    if (bake !== undefined) out.push({ eventId: Number(String(e.eventId)), bake });
  }
  return out;
}

const withoutTime = (gate: GateReport | undefined) => (gate ? { ...gate, atMs: 0 } : undefined);

describe('evidence from committed rollout histories', () => {
  it.each(['promoted', 'rolled-back-in-mirror', 'pause-resume', 'promote-early'])(
    '%s: every reading is read back, in the step whose bake took it',
    async (name) => {
      const history = await committed(name);
      const evidence = buildEvidence({ workflowId: `rollout-${name}`, runs: [readRun(history)], generatedAtMs: 0 });
      const readings = readingsOf(history);
      const placed = evidence.steps.flatMap((s) => s.ticks.map((t) => ({ eventId: t.eventId, step: s.index, kind: s.kind, traffic: t.greenTraffic })));

      expect(readings.length).toBeGreaterThan(0);
      expect(evidence.unplacedTicks).toEqual([]);
      expect(placed.map((p) => p.eventId).sort((a, b) => a - b)).toEqual(readings.map((r) => r.eventId));
      // One bake is one step, and no two bakes share a step.
      const stepOfBake = new Map<number, number>();
      for (const r of readings) {
        const step = placed.find((p) => p.eventId === r.eventId)?.step;
        expect(step).toBeDefined();
        if (!stepOfBake.has(r.bake)) stepOfBake.set(r.bake, step ?? -1);
        expect(stepOfBake.get(r.bake)).toBe(step);
      }
      expect(new Set(stepOfBake.values()).size).toBe(stepOfBake.size);
      for (const p of placed) expect(p.traffic).toBe(p.kind === 'mirror' ? 'mirror' : 'live');
    },
  );

  it("a rolled-back rollout: the failing reading is the workflow's own last gate, later steps not reached", async () => {
    const run = readRun(await committed('rolled-back-in-mirror'));
    const evidence = buildEvidence({ workflowId: 'rollout-mirror-5xx', runs: [run], generatedAtMs: 0 });
    const result = (run.closure as { result: RolloutResult }).result;

    expect(evidence).toMatchObject({
      state: 'rolled-back',
      execution: 'COMPLETED',
      endpoint: 'mirror-5xx',
      blue: 'blue',
      green: 'green',
      reason: result.reason,
    });
    const failed = evidence.steps[result.failedStep?.index ?? -1];
    expect(failed?.state).toBe('rolled back');
    expect(withoutTime(failed?.ticks.at(-1)?.gate)).toEqual(withoutTime(result.lastGate));
    expect(evidence.steps.slice((result.failedStep?.index ?? 0) + 1).map((s) => s.state)).toEqual(
      evidence.steps.slice((result.failedStep?.index ?? 0) + 1).map(() => 'not reached'),
    );
    expect(evidence.rollbackAtMs).toBeDefined();
    expect(evidence.notes).toEqual([]);
  });

  it('a promoted rollout: every step passed, decisions in order', async () => {
    const run = readRun(await committed('promoted'));
    const evidence = buildEvidence({ workflowId: 'rollout-promote-ok', runs: [run], generatedAtMs: 0 });
    expect(evidence.state).toBe('promoted');
    expect(evidence.steps.map((s) => s.state)).toEqual(evidence.steps.map(() => 'passed'));
    expect(evidence.steps.every((s) => s.startedAtMs !== undefined)).toBe(true);
    expect(evidence.decisions.map((d) => d.atMs)).toEqual([...evidence.decisions.map((d) => d.atMs)].sort((a, b) => a - b));
    expect(evidence.endedAtMs).toBe(run.closedAtMs);
  });
});

describe('evidence of the fixed rollout', () => {
  it('places readings by the decision trail and recomputes the verdict the workflow reached', () => {
    const e = fixtureEvidence();
    expect(e.steps.map((s) => [s.description, s.state, s.ticks.map((t) => t.eventId)])).toEqual([
      ['create', 'passed', []],
      ['mirror 10% 3s', 'passed', [40, 51, 62]],
      ['traffic 10% 3s', 'rolled back', [80, 91]],
      ['approval', 'not reached', []],
      ['traffic 100% 3s', 'not reached', []],
      ['deleteBlue', 'not reached', []],
    ]);
    expect(e.steps[1]?.ticks.map((t) => t.gate.phase)).toEqual(['Successful', 'Successful', 'Successful']);
    expect(withoutTime(e.steps[2]?.ticks.at(-1)?.gate)).toEqual(withoutTime(LAST_GATE));
    expect(e.lastGate).toEqual(LAST_GATE);
    expect(e.limits).toEqual({
      p95Ms: 250,
      p99Ms: 1000,
      errorRate: 0.01,
      minRequests: 20,
      latencyRatio: 1.25,
      errorRateDelta: 0.005,
      abortRate: 0.05,
      abortRateDelta: 0.05,
      intervalMs: 1000,
    });
    expect(e.rollbackAtMs).toBe(T0 + 6600);
    expect(e.notes).toEqual([]);
  });

  it('says so when the workflow judged its last reading otherwise than this saferoll would', () => {
    const differing = { ...LAST_GATE, phase: 'Successful' } as GateReport;
    const result = (RUN.closure as { result: RolloutResult }).result;
    const e = buildEvidence({
      workflowId: 'rollout-scoring',
      runs: [{ ...RUN, closure: { kind: 'completed', result: { ...result, lastGate: differing } } }],
      generatedAtMs: 0,
    });
    expect(e.notes.join(' ')).toMatch(/differs from the one recomputed here/);
  });

  it('does not call a reading that failed on a custom check (not in the windows) one judged otherwise', () => {
    const accuracy = { metric: 'custom', name: 'accuracy', rule: 'min', value: 0.85, limit: 0.92, phase: 'Failed', query: 'acc' } as const;
    const custom = { ...LAST_GATE, phase: 'Failed', checks: [...(LAST_GATE as GateReport).checks, accuracy] } as GateReport;
    const result = (RUN.closure as { result: RolloutResult }).result;
    const e = buildEvidence({
      workflowId: 'rollout-scoring',
      runs: [{ ...RUN, closure: { kind: 'completed', result: { ...result, lastGate: custom } } }],
      generatedAtMs: 0,
    });
    expect(e.notes).toEqual([]);
  });
});

describe('evidence across runs and states', () => {
  const carriedStatus = (decisions: typeof DECISIONS, stepIndex: number): RolloutStatus => ({
    endpoint: 'scoring',
    blue: 'v1',
    green: 'v2',
    policy: 'fixture',
    stepIndex,
    stepCount: 6,
    step: 'mirror 10% 3s',
    phase: 'Mirror',
    paused: false,
    waitingForApproval: false,
    traffic: { blue: 100, green: 0 },
    mirrorPercent: 10,
    decisions,
    startedAtMs: T0,
  });

  it("a rollout that continued as new: both runs' readings and the decisions each run carried", () => {
    const early = DECISIONS.slice(0, 3);
    const late = DECISIONS.slice(5);
    const first: RunRecord = {
      ...RUN,
      closedAtMs: T0 + 4200,
      ticks: RUN.ticks.slice(0, 3),
      closure: { kind: 'continued', nextRunId: 'run-2', carried: { status: carriedStatus(early, 1), undo: [] } },
    };
    const secondResult = { ...(RUN.closure as { result: RolloutResult }).result, decisions: late };
    const second: RunRecord = {
      ...RUN,
      runId: 'run-2',
      startedAtMs: T0 + 4200,
      previousRunId: 'run-1',
      input: { ...INPUT, carried: { status: carriedStatus(early, 1), undo: [] } },
      ticks: RUN.ticks.slice(3).map((t) => ({ ...t, runId: 'run-2' })),
    };
    second.closure = { kind: 'completed', result: secondResult };
    const e = buildEvidence({ workflowId: 'rollout-scoring', runs: [first, second], generatedAtMs: 0 });
    expect(e.runIds).toEqual(['run-1', 'run-2']);
    expect(e.startedAtMs).toBe(T0);
    expect(e.decisions.map((d) => d.message)).toEqual([...early, ...late].map((d) => d.message));
    expect(e.steps[1]?.ticks.map((t) => t.runId)).toEqual(['run-1', 'run-1', 'run-1']);
    expect(e.steps[2]?.ticks.map((t) => t.runId)).toEqual(['run-2', 'run-2']);
  });

  it('readings older than the decision trail are kept apart, with a note', () => {
    const old = tick(12, -30_000, 'mirror', [win(30, 0, 40), win(30, 0, 40)], [win(300, 0, 38), win(300, 0, 38)]);
    const e = buildEvidence({ workflowId: 'rollout-scoring', runs: [{ ...RUN, ticks: [old, ...RUN.ticks] }], generatedAtMs: 0 });
    expect(e.unplacedTicks.map((t) => t.eventId)).toEqual([12]);
    expect(e.notes.join(' ')).toMatch(/1 gate reading\(s\) are older than the decision trail/);
  });

  it('a terminated workflow: failed, no rollback ran, its step interrupted', () => {
    const e = buildEvidence({
      workflowId: 'rollout-scoring',
      runs: [{ ...RUN, ticks: RUN.ticks.slice(0, 2), closure: { kind: 'terminated', message: 'terminated: pulled the plug' } }],
      status: carriedStatus(DECISIONS.slice(0, 4), 1),
      generatedAtMs: 0,
    });
    expect(e).toMatchObject({ state: 'failed', execution: 'TERMINATED' });
    expect(e.reason).toMatch(/^terminated: pulled the plug; no rollback ran/);
    expect(e.steps.map((s) => s.state)).toEqual(['passed', 'interrupted', 'not reached', 'not reached', 'not reached', 'not reached']);
  });

  it('a running rollout is reported so far, from its status query', () => {
    const e = buildEvidence({
      workflowId: 'rollout-scoring',
      runs: [{ ...RUN, closedAtMs: undefined, ticks: RUN.ticks.slice(0, 2), closure: { kind: 'running' } }],
      status: carriedStatus(DECISIONS.slice(0, 4), 1),
      generatedAtMs: T0 + 3500,
    });
    expect(e).toMatchObject({ state: 'running', execution: 'RUNNING', endedAtMs: undefined });
    expect(e.reason).toBe('running: step 2/6 (mirror 10% 3s), phase Mirror');
    expect(e.steps.map((s) => s.state).slice(0, 3)).toEqual(['passed', 'running', 'not reached']);
    expect(e.steps[1]?.ticks).toHaveLength(2);
  });

  it('a running rollout whose worker does not answer: the history only, and a note', () => {
    const e = buildEvidence({
      workflowId: 'rollout-scoring',
      runs: [{ ...RUN, closure: { kind: 'running' } }],
      statusError: 'no worker answered within 5s',
      generatedAtMs: 0,
    });
    expect(e.decisions).toEqual([]);
    expect(e.unplacedTicks).toHaveLength(RUN.ticks.length);
    expect(e.notes.join(' ')).toMatch(/status query was not answered \(no worker answered within 5s\)/);
  });
});
