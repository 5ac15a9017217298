/**
 * The Redis the integration tests use: `process.env.TEST_REDIS_URL`, else `redis://127.0.0.1:6379` (the local Redis
 * every project machine and CI run; it keeps nothing on disk). Tests use this real server, never a mock; give keys
 * a per-test prefix, since parallel test files share it.
 */
export function testRedisUrl(): string {
  return process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
}
