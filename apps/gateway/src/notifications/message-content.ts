export type { NotificationMessage } from '../domain/notification.ts';

export interface ApprovalLinks {
  view: string;
  approve: string;
  reject: string;
}

const APPROVAL_ID = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * Console links for a payload that names an approval (`payload.approvalId`): `<CONSOLE_BASE_URL>/console/approvals/<id>`,
 * with `?decision=approve|reject` preselecting the button. The links only open the console page; deciding still
 * takes a logged-in approver's explicit confirmation there. Null without a console base URL or an approval id.
 */
export function approvalLinks(consoleBaseUrl: string | null, payload: Record<string, unknown>): ApprovalLinks | null {
  const id = payload.approvalId;
  if (!consoleBaseUrl || typeof id !== 'string' || !APPROVAL_ID.test(id)) return null;
  const view = `${consoleBaseUrl.replace(/\/+$/, '')}/console/approvals/${encodeURIComponent(id)}`;
  return { view, approve: `${view}?decision=approve`, reject: `${view}?decision=reject` };
}

/** Top-level scalar facts of the payload, as display strings (at most `max`, each value at most 200 characters). */
export function payloadFacts(payload: Record<string, unknown>, max = 10): [string, string][] {
  const facts: [string, string][] = [];
  for (const [key, value] of Object.entries(payload)) {
    if (facts.length >= max) break;
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value))
      facts.push([key.slice(0, 64), truncate(String(value), 200)]);
  }
  return facts;
}

/** A titled block of plain text lines that every format shows in full (not cut to facts). */
export interface MessageSection {
  title: string;
  lines: string[];
}

const MAX_SECTIONS = 20;
const MAX_LINES = 60;

/**
 * `payload.sections` (the weekly security report's body): at most 20 sections of at most 60 lines, each line cut to
 * 300 characters; [] when the payload has none or they are not sections (a payload is the caller's, not a peer's,
 * but a format never trusts its shape).
 */
export function payloadSections(payload: Record<string, unknown>): MessageSection[] {
  const raw = payload.sections;
  if (!Array.isArray(raw)) return [];
  const sections: MessageSection[] = [];
  for (const section of raw.slice(0, MAX_SECTIONS)) {
    const { title, lines } = (section ?? {}) as { title?: unknown; lines?: unknown };
    if (typeof title !== 'string' || !Array.isArray(lines)) continue;
    sections.push({
      title: truncate(title, 200),
      lines: lines
        .slice(0, MAX_LINES)
        .filter((l): l is string => typeof l === 'string')
        .map((l) => truncate(l, 300)),
    });
  }
  return sections;
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Control characters (CR, LF, …) out of a one-line text such as an email subject. */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what this removes
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
}
