// The workflows the saferoll worker registers.
export { rolloutWorkflow } from './rollout.js';
