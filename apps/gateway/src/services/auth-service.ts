import type pg from 'pg';
import { Clawd402Error, logEvent } from '@clawd402/protocol';
import type { Logger } from '../domain/logger.ts';
import { parseApiKey, verifySecret } from '../lib/api-keys.ts';
import { BatchLanes } from '../intent-path/batch-lane.ts';
import { findAgentKeyAccess, findApiKey, touchApiKey, type AgentKeyAccess } from '../repositories/agents-repository.ts';
import { activeIpBlock } from '../repositories/auth-failures-repository.ts';
import { recordKeySighting } from '../repositories/incidents-repository.ts';
import { touchSession } from '../repositories/sessions-repository.ts';
import { clientNetwork } from '../security/client-address.ts';
import type { TokenService } from '../security/tokens.ts';

/** Key checks answered by one round trip, at most. */
const KEY_CHECK_BATCH = 256;

/**
 * What authentication reads from Postgres: the API-key exchange for an access token, and the per-request re-checks a
 * token cannot carry (the key still usable and not quarantined, the session still active).
 */
export class AuthService {
  /**
   * The per-request key checks, in one lane: the first goes at once; those that arrive while it is answered go
   * together in the next round trip. Each is still read from Postgres after its request arrived, never cached.
   */
  private readonly keyChecks: BatchLanes<{ apiKeyId: string; agentId: string }, AgentKeyAccess>;

  constructor(private readonly deps: { pool: pg.Pool; tokens: TokenService }) {
    this.keyChecks = new BatchLanes(
      async (batch) => (await findAgentKeyAccess(deps.pool, batch)).map((value) => ({ ok: true, value })),
      KEY_CHECK_BATCH,
    );
  }

  /**
   * Exchange an agent API key for an access token. The key is checked with argon2id once; unknown key ids cost the same
   * time as known ones; every failure is the same `invalid_api_key` (the reason is logged, never the key). Where it
   * was exchanged from (network and user agent) is recorded for the incident watch (`new_network_burst`).
   */
  async exchangeApiKey(
    apiKey: string,
    from: { ip: string; userAgent: string | undefined },
    log: Logger,
  ): Promise<{ token: string; expiresIn: number }> {
    const { pool, tokens } = this.deps;
    const { ip } = from;
    const network = clientNetwork(ip);
    // A network an incident blocked (block_network) exchanges no key; checked before the key, so it costs no argon2.
    // (A single address blocked after failed logins still may: that block is about passwords.)
    if (await activeIpBlock(pool, [network])) {
      logEvent(log, 'auth.network_blocked', { ip, network });
      throw new Clawd402Error('ip_blocked');
    }
    const parsed = parseApiKey(apiKey);
    const record = parsed ? await findApiKey(pool, parsed.keyId) : null;
    const valid = await verifySecret(record?.secretHash ?? null, parsed?.secret ?? 'x');
    if (!record || !valid || !record.usable) {
      logEvent(log, 'auth.api_key_refused', {
        reason: !parsed
          ? 'malformed'
          : !record
            ? 'unknown key id'
            : !valid
              ? 'wrong secret'
              : 'revoked, expired or agent disabled',
        ip,
      });
      throw new Clawd402Error('invalid_api_key');
    }
    await touchApiKey(pool, record.id);
    await recordKeySighting(pool, record.id, network, (from.userAgent ?? '').slice(0, 200));
    return tokens.issueAgentToken(record.agentId, record.id);
  }

  /**
   * An agent token's key as it stands now: null when the key is revoked or expired or the agent disabled; otherwise
   * its signer and scopes, and until when it is quarantined (null when it is not).
   */
  agentKey(apiKeyId: string, agentId: string): Promise<AgentKeyAccess> {
    return this.keyChecks.run('keys', { apiKeyId, agentId });
  }

  /** Slide a user session's idle window; null when the session has ended. */
  touchSession(sessionId: string, userId: string): Promise<{ totpEnabled: boolean } | null> {
    return touchSession(this.deps.pool, sessionId, userId);
  }
}
