import type pg from 'pg';
import { Clawd402Error } from '@clawd402/protocol';
import type { Actor } from '../repositories/audit-repository.ts';
import { liftIpBlock, listActiveIpBlocks, type IpBlock } from '../repositories/auth-failures-repository.ts';
import { auditedChange } from './audited-change.ts';

export type { IpBlock } from '../repositories/auth-failures-repository.ts';

/** IP blocks (failed logins, docs/identity.md) listed and lifted by operators; a lift is audited. */
export class IpBlocksService {
  constructor(private readonly deps: { pool: pg.Pool }) {}

  list(limit: number): Promise<IpBlock[]> {
    return listActiveIpBlocks(this.deps.pool, limit);
  }

  /** Lift the block on `ip`, audited with the acting user; `not_found` when none is in force. */
  async lift(ip: string, actor: Actor): Promise<IpBlock> {
    const lifted = await auditedChange(
      this.deps.pool,
      (client) => liftIpBlock(client, ip),
      (block) => ({
        actor,
        action: 'ip_block.lifted',
        subject: `ip:${ip}`,
        data: { reason: block.reason, blockedAt: block.blockedAt.toISOString(), until: block.until.toISOString() },
      }),
    );
    if (!lifted) throw new Clawd402Error('not_found', 'No block is in force for that address.');
    return lifted;
  }
}
