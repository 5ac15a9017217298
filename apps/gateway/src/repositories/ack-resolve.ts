/** What alerts and incidents move to: open → acknowledged → resolved (open → resolved too). */
export type AckResolveTarget = 'acknowledged' | 'resolved';

/**
 * The one statement of the lifecycle alerts and incidents share: move row `$1` of `table` to `$2` from one of the
 * statuses `$3` allows, stamping who (`$4`) and when it was acknowledged or resolved; `onlyIf` narrows the rows (SQL,
 * no values). Parameters come from {@link ackResolveParams}; the row is returned as `columns` (none when it does not
 * exist or is already past the target).
 */
export function ackResolveUpdate(table: 'alerts' | 'incidents', columns: string, onlyIf = 'true'): string {
  return `UPDATE ${table} SET status = $2,
            acknowledged_at = CASE WHEN $2 = 'acknowledged' THEN now() ELSE acknowledged_at END,
            acknowledged_by = CASE WHEN $2 = 'acknowledged' THEN $4 ELSE acknowledged_by END,
            resolved_at = CASE WHEN $2 = 'resolved' THEN now() ELSE resolved_at END,
            resolved_by = CASE WHEN $2 = 'resolved' THEN $4 ELSE resolved_by END
      WHERE id = $1 AND ${onlyIf} AND status = ANY($3::text[])
      RETURNING ${columns}`;
}

/** The parameters of {@link ackResolveUpdate}: acknowledging moves only open rows; resolving open or acknowledged. */
export function ackResolveParams(id: string, to: AckResolveTarget, actor: string): unknown[] {
  return [id, to, to === 'acknowledged' ? ['open'] : ['open', 'acknowledged'], actor];
}
