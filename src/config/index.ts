export * from './schema.js';
export {
  GUIDE_IGNORED_VARIABLES,
  GUIDE_TRANSLATED_VARIABLES,
  applyEnvironment,
  type EnvOverlay,
} from './env.js';
export {
  ENV_BINDINGS,
  GUIDE_ENV_BINDINGS,
  envBindings,
  filePathsIn,
  guideEnvBindings,
  isLiveKey,
  sectionSettings,
  settingsIn,
  type EnvBinding,
  type EnvType,
  type SectionSetting,
} from './catalog.js';
export { env, setting, settings, type Setting } from './settings.js';
export { parseSetting, type Origins } from './wording.js';
export * from './secrets.js';
export * from './validate.js';
export * from './load.js';
export * from './redact.js';
export * from './config-error.js';
export * from './listen-error.js';
export { CONFIG_SCHEMA_FILE, configJsonSchema, type JsonSchema } from './config-json-schema.js';
export type { AuditConfig, AuditLevelRule } from './audit.js';
export { AUDIT_LEVELS } from './audit.js';
export type { CacheConfig, TtlRule } from './cache.js';
export type { FlowConfig } from './flow.js';
export type { PolicyConfig, PolicyRuleConfig, PolicyConditionConfig } from './policy.js';
