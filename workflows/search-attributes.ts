// Typed search attribute keys the rollout keeps up to date, so the Temporal
// UI list can be filtered by endpoint and phase and shows green's share.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const ROLLOUT_ENDPOINT = defineSearchAttributeKey('RolloutEndpoint', SearchAttributeType.KEYWORD);
export const ROLLOUT_PHASE = defineSearchAttributeKey('RolloutPhase', SearchAttributeType.KEYWORD);
export const GREEN_TRAFFIC_PERCENT = defineSearchAttributeKey('GreenTrafficPercent', SearchAttributeType.INT);
