export { createCacheStage, type CacheStage, type CacheStageOptions } from './cache-stage.js';
export type { RouterCacheStats } from './router-cache.js';
export type { CacheTimers, ListenRole } from './menu-watch.js';
