// Typed search attribute keys the rollout keeps up to date, so the Temporal
// UI list can be filtered by endpoint and phase and shows green's share; and
// the same keys by name and server type, for registering them on a dev server
// or a cluster.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const ROLLOUT_ENDPOINT = defineSearchAttributeKey('RolloutEndpoint', SearchAttributeType.KEYWORD);
export const ROLLOUT_PHASE = defineSearchAttributeKey('RolloutPhase', SearchAttributeType.KEYWORD);
export const GREEN_TRAFFIC_PERCENT = defineSearchAttributeKey('GreenTrafficPercent', SearchAttributeType.INT);

/** Every key, with its type as the Temporal CLI spells it (`--type Keyword`). */
export const SEARCH_ATTRIBUTES = [ROLLOUT_ENDPOINT, ROLLOUT_PHASE, GREEN_TRAFFIC_PERCENT].map((key) => ({
  name: key.name,
  type: key.type === SearchAttributeType.INT ? 'Int' : 'Keyword',
}));
