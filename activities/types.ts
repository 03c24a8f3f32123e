// The activity types workflow code may import (types only, never the implementations).
export type { RolloutActivities, EndpointSummary, SmokeRequest, MeasureRequest } from './index.js';
export type { GuardRequest } from './guard.js';
