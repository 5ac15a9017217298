import type { SmtpTls } from './channel-settings.ts';
import type { DeliveryContext } from './delivery-context.ts';
import { DeliveryError } from './delivery-error.ts';
import {
  approvalLinks,
  oneLine,
  payloadFacts,
  payloadSections,
  truncate,
  type NotificationMessage,
} from './message-content.ts';

export interface EmailSettings {
  host: string;
  port: number;
  tls: SmtpTls;
  username: string | null;
  from: string;
  to: string[];
}

/**
 * A plain-text email (no HTML: nothing from a payload can become markup or a disguised link): the subject, the event,
 * the payload's sections in full (a report) or else its facts, and approval links.
 */
export function emailMessage(
  message: NotificationMessage,
  consoleBaseUrl: string | null,
): { subject: string; text: string } {
  const links = approvalLinks(consoleBaseUrl, message.payload);
  const lines = [oneLine(message.subject), '', `Event: ${oneLine(message.event)}`];
  const sections = payloadSections(message.payload);
  for (const section of sections) {
    lines.push('', oneLine(section.title), ...section.lines.map((line) => `  ${oneLine(line)}`));
  }
  if (sections.length === 0) {
    for (const [key, value] of payloadFacts(message.payload, 20)) lines.push(`${oneLine(key)}: ${oneLine(value)}`);
  }
  if (links) lines.push('', `Approve: ${links.approve}`, `Reject:  ${links.reject}`);
  lines.push('', '-- ', `Clawd402 notification ${message.id}`);
  return { subject: truncate(`[Clawd402] ${oneLine(message.subject)}`, 200), text: lines.join('\n') };
}

/**
 * Send over SMTP with nodemailer: implicit TLS, STARTTLS required, or (outside production) plain. The SMTP host is
 * not held to the public-address rule the HTTP channels are: mail relays usually sit on the private network. Only
 * admins configure it, and failures are reported as `smtp_error` with the SMTP reply code, never the server's text.
 */
export async function sendEmail(
  settings: EmailSettings,
  password: string | null,
  message: NotificationMessage,
  ctx: DeliveryContext,
): Promise<{ status: null }> {
  if (ctx.rules.production && settings.tls === 'none') {
    throw new DeliveryError('smtp_error', 'SMTP without TLS is refused in production.', { retryable: false });
  }
  // Loaded by the first email (and kept): about 13 MiB of memory a gateway without email channels does not hold.
  const { default: nodemailer } = await import('nodemailer');
  const transport = nodemailer.createTransport({
    host: settings.host,
    port: settings.port,
    secure: settings.tls === 'implicit',
    requireTLS: settings.tls === 'starttls',
    ignoreTLS: settings.tls === 'none',
    ...(settings.username ? { auth: { user: settings.username, pass: password ?? '' } } : {}),
    tls: { minVersion: 'TLSv1.2' },
    connectionTimeout: ctx.timeoutMs,
    greetingTimeout: ctx.timeoutMs,
    socketTimeout: ctx.timeoutMs,
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  const { subject, text } = emailMessage(message, ctx.consoleBaseUrl);
  try {
    await transport.sendMail({
      from: settings.from,
      to: settings.to,
      subject,
      text,
      headers: { 'X-Clawd402-Event': oneLine(message.event), 'X-Clawd402-Delivery': message.id },
    });
    return { status: null };
  } catch (error) {
    const code = (error as { responseCode?: number }).responseCode;
    // 5xx SMTP replies are permanent (bad recipient, refused sender); everything else may pass on a retry.
    const permanent = typeof code === 'number' && code >= 500 && code < 600;
    throw new DeliveryError(
      'smtp_error',
      typeof code === 'number' ? `The SMTP server answered ${code}.` : 'The SMTP connection failed.',
      { retryable: !permanent },
    );
  } finally {
    transport.close();
  }
}
