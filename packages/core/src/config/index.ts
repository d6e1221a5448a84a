export { optionsFromEnv } from './env.js';
export { ENV_DEFAULTS, ENV_VARIABLES, type Env, type EnvOptions, type EnvVariable } from './options.js';
export { toRetryOptions } from './retry.js';
