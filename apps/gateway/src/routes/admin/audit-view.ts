import Type from 'typebox';
import type { AuditRecordView, SegmentVerification } from '../../services/audit-service.ts';

/** One audit record as the admin API answers it (GET /admin/audit, GET /admin/intents/:id). */
export const AuditRecordSchema = Type.Object(
  {
    seq: Type.Integer(),
    at: Type.String(),
    actor: Type.String(),
    action: Type.String(),
    subject: Type.Union([Type.String(), Type.Null()]),
    data: Type.Unknown(),
    prevHash: Type.String(),
    hash: Type.String(),
  },
  { additionalProperties: false },
);

/** The chain segment the records lie in, verified (null when there are no records). */
export const SegmentSchema = Type.Union([
  Type.Object(
    {
      fromSeq: Type.Integer(),
      toSeq: Type.Integer(),
      rows: Type.Integer(),
      ok: Type.Union([Type.Boolean(), Type.Null()]),
      findings: Type.Array(
        Type.Object(
          { kind: Type.String(), seq: Type.Integer(), detail: Type.String() },
          { additionalProperties: false },
        ),
      ),
      note: Type.Union([Type.String(), Type.Null()]),
    },
    { additionalProperties: false },
  ),
  Type.Null(),
]);

export function auditRecordView(r: AuditRecordView) {
  return { ...r, at: r.at.toISOString() };
}

export function segmentView(s: SegmentVerification | null) {
  return s && { ...s, findings: s.findings.map((f) => ({ kind: f.kind, seq: f.seq, detail: f.detail })) };
}

/** `?since=`/`?until=`: an ISO 8601 date-time. */
export const DateTimeQuery = Type.String({ format: 'date-time', maxLength: 40 });
