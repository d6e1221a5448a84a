export { type Disposer, type ListenerErrorHandler, onListenerError, type Subscribe } from './emitter.js';
