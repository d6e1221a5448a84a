export { type Disposer, Emitter, onType, type Subscribe } from './emitter.js';
