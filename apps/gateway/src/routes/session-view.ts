import Type from 'typebox';

/** A login session's fields as the API shows them (GET /auth/sessions adds whether it is the caller's own). */
export const SessionFields = {
  id: Type.String(),
  createdAt: Type.String(),
  lastSeenAt: Type.String(),
  expiresAt: Type.String(),
  ip: Type.String(),
  userAgent: Type.Union([Type.String(), Type.Null()]),
};

/** A login session as the API shows it: its times as ISO strings, never its token. */
export function sessionView(s: {
  id: string;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
  ip: string;
  userAgent: string | null;
}) {
  return {
    id: s.id,
    createdAt: s.createdAt.toISOString(),
    lastSeenAt: s.lastSeenAt.toISOString(),
    expiresAt: s.expiresAt.toISOString(),
    ip: s.ip,
    userAgent: s.userAgent,
  };
}
