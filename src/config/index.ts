export {
  resolveConnection,
  requireValue,
  sourceOf,
  type ConnectionFlags,
  type OriginField,
  type PrivateKeySource,
  type ResolveOptions,
  type ResolvedConnection,
  type Source,
} from './connection.js';
export {
  snowflakeHome,
  loadSnowflakeConfig,
  expandHome,
  resolvePath,
  type FileConnection,
  type SnowflakeConfig,
} from './files.js';
