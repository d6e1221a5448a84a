export type { Disposer, Subscribe } from './emitter.js';
