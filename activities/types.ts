// The activity types workflow code may import (types only, never the implementations).
export type { RolloutActivities, EndpointSummary, SmokeRequest, MeasureRequest, TickWindows } from './index.js';
export type { GuardRequest } from './guard.js';
export type { RolloutEvent } from './notifications/rollout-event.js';
export type { CustomMetricsRequest } from './custom-metrics.js';
export type { CustomReading } from '../analysis/custom-checks.js';
export type { ShadowPairsRequest, ShadowPairsReading } from './shadow.js';
