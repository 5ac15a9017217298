import type pg from 'pg';
import type { AuditFinding } from '../domain/audit-findings.ts';
import {
  auditPrevHashAt,
  listAuditRecords,
  verifyAuditChain,
  type AuditFilter,
  type AuditRecordView,
} from '../repositories/audit-repository.ts';

export type { AuditFilter, AuditRecordView } from '../repositories/audit-repository.ts';

/** Widest segment verified on a read (rows); a wider one is reported unverified, for `pnpm audit:verify`. */
export const SEGMENT_MAX_ROWS = 20_000;

/** The verification of the chain segment a page of records lies in (from its lowest to its highest seq). */
export interface SegmentVerification {
  fromSeq: number;
  toSeq: number;
  /** Rows walked (every row of the segment, filtered out or not). */
  rows: number;
  /** True when every row links to the one before and hashes to its hash; null when not checked (too wide). */
  ok: boolean | null;
  findings: AuditFinding[];
  note: string | null;
}

/**
 * The operator's read of the audit log (docs/audit.md): records filtered by subject, action, actor and time, newest
 * first, with the chain segment they lie in verified by the same walk as `pnpm audit:verify` (verifyAuditChain),
 * anchored on the stored prev_hash of the segment's first row. That proves the segment is internally intact (no row
 * edited, removed or reordered inside it); only the full walk with the signed checkpoints proves the whole history.
 */
export class AuditService {
  constructor(private readonly deps: { pool: pg.Pool }) {}

  async list(filter: AuditFilter): Promise<{ items: AuditRecordView[]; segment: SegmentVerification | null }> {
    const items = await listAuditRecords(this.deps.pool, filter);
    return { items, segment: await this.verifySegment(items) };
  }

  /** Verify the contiguous chain segment from the lowest to the highest seq of `items`. */
  async verifySegment(items: readonly AuditRecordView[]): Promise<SegmentVerification | null> {
    if (items.length === 0) return null;
    const fromSeq = Math.min(...items.map((i) => i.seq));
    const toSeq = Math.max(...items.map((i) => i.seq));
    const width = toSeq - fromSeq + 1;
    if (width > SEGMENT_MAX_ROWS) {
      return {
        fromSeq,
        toSeq,
        rows: 0,
        ok: null,
        findings: [],
        note: `segment of ${width} rows not verified on a read (at most ${SEGMENT_MAX_ROWS}); narrow the filter or run pnpm audit:verify`,
      };
    }
    const anchor = await auditPrevHashAt(this.deps.pool, fromSeq);
    const walk = await verifyAuditChain(this.deps.pool, {
      from: { count: fromSeq - 1, head: anchor ?? '' },
      upTo: toSeq,
      maxFindings: 20,
    });
    return { fromSeq, toSeq, rows: walk.rows, ok: walk.ok, findings: walk.findings, note: null };
  }
}
