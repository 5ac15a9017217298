/** Notification channels for tests that route to the local receivers (support/receivers.ts) through the admin API. */
import assert from 'node:assert/strict';
import { callJson } from './stack.ts';

/** The one login the local SMTP receiver accepts and the email channels send with (test-only, never real). */
export const SMTP_LOGIN = { username: 'mailer', password: 'smtp-test-only-password-Kq7w' };

/** PUT /admin/notifications/channels/:name with `token`; fails the test unless the channel is saved (201). */
export async function putChannel(baseUrl: string, token: string, name: string, body: unknown): Promise<void> {
  const res = await callJson(baseUrl, token, 'PUT', `/admin/notifications/channels/${name}`, body);
  assert.equal(res.status, 201, JSON.stringify(res.body));
}

/** An email channel to `to` through the local SMTP receiver on `port`: plain SMTP, SMTP_LOGIN, from clawd402@example.com. */
export function localSmtpChannel(port: number, to: string[]) {
  return { kind: 'email', host: '127.0.0.1', port, tls: 'none', ...SMTP_LOGIN, from: 'clawd402@example.com', to };
}
