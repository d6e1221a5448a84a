export * from './clock/index.js';
export * from './errors/index.js';
export * from './events/index.js';
export * from './policy/index.js';
export * from './retry/index.js';
