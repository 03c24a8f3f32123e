// The search attributes a rollout keeps up to date, by name and server type,
// for registering them on a dev server or a cluster. (Workflow code uses the
// typed keys in workflows/search-attributes.ts.)
export const SEARCH_ATTRIBUTES = [
  { name: 'RolloutEndpoint', type: 'Keyword' },
  { name: 'RolloutPhase', type: 'Keyword' },
  { name: 'GreenTrafficPercent', type: 'Int' },
] as const;
