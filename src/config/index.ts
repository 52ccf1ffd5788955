export {
  connectionReport,
  describeSources,
  resolveConnection,
  requireValue,
  sourceOf,
  type ConnectionFlags,
  type ConnectionReport,
  type OriginField,
  type PrivateKeySource,
  type ResolveOptions,
  type ResolvedConnection,
  type Source,
} from './connection.js';
export {
  snowflakeHome,
  platformConfigFolder,
  loadSnowflakeConfig,
  expandHome,
  resolvePath,
  type FileConnection,
  type SnowflakeConfig,
} from './files.js';
