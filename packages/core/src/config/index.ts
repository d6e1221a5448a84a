export { toBreakerOptions, toMessageProcessorOptions, toRateLimiterOptions, toRetryOptions } from './consumers.js';
export { optionsFromEnv } from './env.js';
export { ENV_DEFAULTS, ENV_VARIABLES, type Env, type EnvOptions, type EnvUnit, type EnvVariable } from './options.js';
