import { postJsonToChannel, type DeliveryContext } from './delivery-context.ts';
import { approvalLinks, payloadFacts, payloadSections, truncate, type NotificationMessage } from './message-content.ts';
import type { PostResult } from './pinned-http.ts';

/** Slack's three control characters; anything else in mrkdwn text is shown as typed (no `<!channel>`, no links). */
export function slackEscape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/**
 * A Slack incoming-webhook message: `text` (the notification fallback), and blocks: the subject, the payload's
 * sections in full (a report) or else its facts, the event, and for approvals two link buttons, Approve and Reject,
 * to the console.
 */
export function slackMessage(message: NotificationMessage, consoleBaseUrl: string | null): Record<string, unknown> {
  const links = approvalLinks(consoleBaseUrl, message.payload);
  const sections = payloadSections(message.payload);
  const facts = sections.length > 0 ? [] : payloadFacts(message.payload);
  const blocks: Record<string, unknown>[] = [
    { type: 'section', text: { type: 'mrkdwn', text: truncate(`*${slackEscape(message.subject)}*`, 3000) } },
  ];
  for (const section of sections) {
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: truncate([`*${slackEscape(section.title)}*`, ...section.lines.map(slackEscape)].join('\n'), 3000),
      },
    });
  }
  if (facts.length > 0) {
    blocks.push({
      type: 'section',
      fields: facts.map(([k, v]) => ({
        type: 'mrkdwn',
        text: truncate(`*${slackEscape(k)}*\n${slackEscape(v)}`, 2000),
      })),
    });
  }
  blocks.push({
    type: 'context',
    elements: [{ type: 'mrkdwn', text: truncate(`Clawd402 · ${slackEscape(message.event)}`, 3000) }],
  });
  if (links) {
    blocks.push({
      type: 'actions',
      elements: [
        {
          type: 'button',
          action_id: 'clawd402_approve',
          text: { type: 'plain_text', text: 'Approve' },
          style: 'primary',
          url: links.approve,
        },
        {
          type: 'button',
          action_id: 'clawd402_reject',
          text: { type: 'plain_text', text: 'Reject' },
          style: 'danger',
          url: links.reject,
        },
      ],
    });
  }
  return { text: truncate(slackEscape(message.subject), 3000), blocks };
}

/** POST the message to the (sealed) incoming-webhook URL. */
export async function sendSlack(
  webhookUrl: string,
  message: NotificationMessage,
  ctx: DeliveryContext,
): Promise<PostResult> {
  return postJsonToChannel(webhookUrl, JSON.stringify(slackMessage(message, ctx.consoleBaseUrl)), ctx);
}
