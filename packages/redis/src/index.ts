export { REDIS_STORE_DEFAULTS, type RedisStoreOptions } from './options.js';
export { RedisStore, redisStore } from './store.js';
