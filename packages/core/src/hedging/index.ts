export { type HedgeEvent, HedgeLostError, HedgePolicy, hedge } from './hedge.js';
export { HEDGE_DEFAULTS, type HedgeOptions } from './options.js';
