export * from './schema.js';
export {
  ROUTER_ENV_VARIABLES,
  GLOBAL_ENV_VARIABLES,
  GUIDE_ENV_VARIABLES,
  GUIDE_IGNORED_VARIABLES,
  applyEnvironment,
  type EnvOverlay,
} from './env.js';
export * from './secrets.js';
export * from './validate.js';
export * from './load.js';
export * from './redact.js';
export * from './config-error.js';
export * from './sections.js';
export { Checker, type Mapping } from './checker.js';
export { CONFIG_SCHEMA_FILE, configJsonSchema, type JsonSchema } from './config-json-schema.js';
