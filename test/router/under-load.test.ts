// Traffic and mirror changes while requests keep flowing: no request may be
// dropped or failed because of a change.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRouter, type TestRouter } from '../support/router.js';
import { startUpstream, type TestUpstream } from '../support/upstream.js';
import { waitFor } from '../support/wait-for.js';

let t: TestRouter;
const upstreams: TestUpstream[] = [];

beforeAll(async () => {
  t = await startTestRouter();
  await t.admin.putEndpoint('steady', { authMode: 'key' });
  for (const name of ['blue', 'green', 'canary']) {
    const upstream = await startUpstream(name, { delayMs: 2 });
    upstreams.push(upstream);
    await t.admin.putDeployment('steady', name, { instanceCount: 1, upstreams: [upstream.url] });
  }
  await waitFor(async () => (await t.admin.listDeployments('steady')).every((d) => d.provisioningState === 'Succeeded'));
  await t.admin.setTraffic('steady', { blue: 100 });
});

afterAll(async () => {
  await t.close();
  for (const upstream of upstreams) await upstream.close();
});

describe('traffic changes under load', () => {
  it('fails no request while the split and mirror change 100 times', async () => {
    const { primaryKey: key } = await t.admin.getKeys('steady');
    let stop = false;
    const statuses = new Map<number, number>();
    const errors: string[] = [];
    const client = async (): Promise<void> => {
      while (!stop) {
        try {
          const r = await t.call('steady', { key });
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
    };
    const clients = Array.from({ length: 16 }, () => client());
    const splits: [Record<string, number>, Record<string, number>][] = [
      [{ blue: 100 }, { green: 10 }],
      [{ blue: 90, green: 10 }, { canary: 20 }],
      [{ blue: 50, green: 50 }, {}],
      [{ green: 100 }, { blue: 50 }],
      [{ blue: 100 }, {}],
      [{ blue: 34, green: 33, canary: 33 }, {}],
    ];
    for (let i = 0; i < 100; i++) {
      const [traffic, mirror] = splits[i % splits.length] as [Record<string, number>, Record<string, number>];
      await t.admin.setTraffic('steady', traffic, mirror);
    }
    await waitFor(() => [...statuses.values()].reduce((a, b) => a + b, 0) >= 500, 20_000, 'enough requests sent');
    stop = true;
    await Promise.all(clients);
    expect(errors).toEqual([]);
    expect([...statuses.keys()]).toEqual([200]);
  });
});
