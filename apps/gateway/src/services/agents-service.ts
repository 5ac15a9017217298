import type pg from 'pg';
import { DEFAULT_KEY_AGE_SETTINGS, type KeyAgeSettings } from '../domain/key-age.ts';
import type { Address } from 'viem';
import { Clawd402Error } from '@clawd402/protocol';
import type { SignerClient } from '@clawd402/signer-client';
import { withTransaction } from '../db/pool.ts';
import type { KeyScopes } from '../domain/agent.ts';
import type { UserPrincipal } from '../domain/principal.ts';
import { isUuid } from '../lib/uuid.ts';
import { findSubject } from './subjects.ts';
import {
  agentNameExists,
  assignAgentSigner,
  createAgentWithKey,
  disableAgent,
  enabledAgentExists,
  findApiKeyById,
  issueApiKey,
  keyAgeReport,
  listAgents,
  revokeApiKey,
  rotateApiKey,
  setApiKeyScopes,
  type AgentView,
  type ApiKeyView,
  type KeyAgeRow,
} from '../repositories/agents-repository.ts';
import { appendAudit } from '../repositories/audit-repository.ts';
import { auditedChange } from './audited-change.ts';
import { releaseQuarantine } from '../repositories/key-quarantine-repository.ts';

export type { AgentView, ApiKeyView, KeyAgeRow } from '../repositories/agents-repository.ts';

/** What a new API key may be used for, its label, and when it expires (null: never). */
export interface NewKey {
  label: string | null;
  scopes: KeyScopes;
  expiresAt: Date | null;
}

/** A key as shown once, at creation: the only time the secret leaves the gateway. */
export interface IssuedKey {
  apiKeyId: string;
  agentId: string;
  apiKey: string;
}

/** A signer key as operators see it: addresses and metadata (never key material) and the agents bound to it. */
export type SignerKeyView = Awaited<ReturnType<SignerClient['listKeys']>>['keys'][number] & { agents: string[] };

const sameAddress = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

/**
 * Agents and their API keys: agents are principals owned by an operator and bound to a signer key; their keys carry
 * scopes and an expiry, are shown once, rotate with an overlap window and are revoked at once. Every change is
 * audited with the acting user.
 */
export class AgentsService {
  constructor(private readonly deps: { pool: pg.Pool; signer: SignerClient; keyAge?: KeyAgeSettings }) {}

  list(): Promise<AgentView[]> {
    return listAgents(this.deps.pool);
  }

  /** The API key with this id (its database id, not the key id), or `not_found`. */
  async key(id: string): Promise<ApiKeyView> {
    return findSubject(id, (uuid) => findApiKeyById(this.deps.pool, uuid), 'No such API key.');
  }

  async create(actor: UserPrincipal, input: { name: string; signerAddress: Address } & NewKey): Promise<IssuedKey> {
    const { pool, signer } = this.deps;
    const { signerAddress } = input;
    // Only a key the signer holds can be assigned (the gateway sees addresses, never keys).
    const held = (await signer.status()).keys.some((k) => sameAddress(k.address, signerAddress));
    if (!held) throw new Clawd402Error('signer_key_unknown', undefined, { details: { signerAddress } });
    if (await agentNameExists(pool, input.name)) throw new Clawd402Error('agent_name_taken');
    const created = await createAgentWithKey(pool, {
      name: input.name,
      signerAddress,
      ownerUserId: actor.userId,
      label: input.label,
      scopes: input.scopes,
      expiresAt: input.expiresAt,
    });
    await appendAudit(pool, {
      actor: `user:${actor.userId}`,
      action: 'agent.created',
      subject: `agent:${created.agentId}`,
      data: { name: input.name, signerAddress, apiKeyId: created.apiKeyId, scopes: input.scopes },
    });
    return created;
  }

  async issueKey(actor: UserPrincipal, agentId: string, key: NewKey): Promise<IssuedKey> {
    const { pool } = this.deps;
    if (!isUuid(agentId) || !(await enabledAgentExists(pool, agentId)))
      throw new Clawd402Error('not_found', 'No such agent.');
    const issued = await auditedChange(
      pool,
      (client) => issueApiKey(client, agentId, key),
      (k) => ({
        actor: `user:${actor.userId}`,
        action: 'api_key.issued',
        subject: `agent:${agentId}`,
        data: { apiKeyId: k.apiKeyId, scopes: key.scopes },
      }),
    );
    return { apiKeyId: issued.apiKeyId, agentId, apiKey: issued.apiKey };
  }

  /** A successor key with the same scopes; the old one keeps working for `overlapSeconds`. */
  async rotateKey(actor: UserPrincipal, id: string, overlapSeconds: number): Promise<IssuedKey> {
    const old = await this.key(id);
    if (old.revokedAt || old.replacedBy)
      throw new Clawd402Error('forbidden', 'This key is revoked or already rotated.');
    const next = await auditedChange(
      this.deps.pool,
      (client) => rotateApiKey(client, old, overlapSeconds),
      (k) => ({
        actor: `user:${actor.userId}`,
        action: 'api_key.rotated',
        subject: `agent:${old.agentId}`,
        data: { from: old.id, to: k.apiKeyId, overlapSeconds },
      }),
    );
    return { apiKeyId: next.apiKeyId, agentId: old.agentId, apiKey: next.apiKey };
  }

  /**
   * Replace what a key may be used for (null: any). It applies to the key's next request, access tokens issued
   * before included (the scopes are read on every agent request). A revoked key cannot be changed.
   */
  async setScopes(actor: UserPrincipal, id: string, scopes: KeyScopes): Promise<ApiKeyView> {
    const target = await this.key(id);
    const changed = await auditedChange(
      this.deps.pool,
      (client) => setApiKeyScopes(client, target.id, scopes),
      () => ({
        actor: `user:${actor.userId}`,
        action: 'api_key.scopes_changed',
        subject: `agent:${target.agentId}`,
        data: { apiKeyId: target.id, from: target.scopes, to: scopes },
      }),
    );
    if (!changed) throw new Clawd402Error('forbidden', 'This key is revoked.');
    return (await findApiKeyById(this.deps.pool, target.id))!;
  }

  async revokeKey(actor: UserPrincipal, id: string): Promise<ApiKeyView> {
    const target = await this.key(id);
    await auditedChange(
      this.deps.pool,
      async (client) => {
        await revokeApiKey(client, target.id); // audited even when the key was already revoked
      },
      () => ({
        actor: `user:${actor.userId}`,
        action: 'api_key.revoked',
        subject: `agent:${target.agentId}`,
        data: { apiKeyId: target.id },
      }),
    );
    return (await findApiKeyById(this.deps.pool, target.id))!;
  }

  /** Lift an input-hygiene quarantine early (docs/intent-hygiene.md); the key's next hits count from zero. */
  async releaseQuarantine(actor: UserPrincipal, id: string, reason: string): Promise<{ apiKeyId: string }> {
    const target = await this.key(id);
    const released = await withTransaction(this.deps.pool, (client) =>
      releaseQuarantine(client, target.id, `user:${actor.userId}`, reason),
    );
    if (!released) throw new Clawd402Error('not_found', 'The key is not in quarantine.');
    return { apiKeyId: target.id };
  }

  async disable(actor: UserPrincipal, agentId: string): Promise<void> {
    const done = isUuid(agentId)
      ? await auditedChange(
          this.deps.pool,
          (client) => disableAgent(client, agentId, `disabled by user:${actor.userId}`),
          () => ({ actor: `user:${actor.userId}`, action: 'agent.disabled', subject: `agent:${agentId}`, data: {} }),
        )
      : false;
    if (!done) throw new Clawd402Error('not_found', 'No such enabled agent.');
  }

  /** The signer's keys with the agents bound to each. */
  async signerKeys(): Promise<SignerKeyView[]> {
    const [listing, agents] = await Promise.all([this.deps.signer.listKeys(), listAgents(this.deps.pool)]);
    return listing.keys.map((k) => ({
      ...k,
      agents: agents.filter((a) => sameAddress(a.signerAddress, k.address)).map((a) => a.id),
    }));
  }

  /** Bind an agent to another key; only an active key the signer holds (a rotated-out key signs cancellations only). */
  async assignSigner(actor: UserPrincipal, agentId: string, signerAddress: Address): Promise<void> {
    const held = (await this.deps.signer.listKeys()).keys.find((k) => sameAddress(k.address, signerAddress));
    if (held?.state !== 'active')
      throw new Clawd402Error('signer_key_unknown', 'The signer holds no active key with that address.', {
        details: { signerAddress },
      });
    const moved = isUuid(agentId)
      ? await auditedChange(
          this.deps.pool,
          (client) => assignAgentSigner(client, agentId, signerAddress),
          (previous) => ({
            actor: `user:${actor.userId}`,
            action: 'agent.key_assigned',
            subject: `agent:${agentId}`,
            data: { from: previous.from, to: signerAddress },
          }),
        )
      : null;
    if (!moved) throw new Clawd402Error('not_found', 'No such agent.');
  }

  keyAgeReport(): Promise<KeyAgeRow[]> {
    return keyAgeReport(this.deps.pool, this.deps.keyAge ?? DEFAULT_KEY_AGE_SETTINGS);
  }
}
