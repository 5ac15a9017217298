export { buildApp, type Services, type BuildOptions } from './app.ts';
export { loadConfig, ConfigError, type GatewayConfig, type ChainConfig } from './config.ts';
export { startServer } from './server.ts';
export { migrate } from './db/migrate.ts';
export { createPool, withTransaction } from './db/pool.ts';
export { createAgentWithKey } from './repositories/agents-repository.ts';
export { createUser } from './repositories/users-repository.ts';
export { verifyAuditChain, appendAudit } from './repositories/audit-repository.ts';
export { upsertAsset } from './repositories/assets-repository.ts';
