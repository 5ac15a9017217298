import type pg from 'pg';
import type { GatewayConfig } from '../config.ts';
import { withTransaction } from '../db/pool.ts';
import { checkDestination } from '../notifications/destination-policy.ts';
import { secretContext, secretHint, splitChannelInput, type ChannelInput } from '../notifications/channel-settings.ts';
import { appendAudit } from '../repositories/audit-repository.ts';
import { upsertChannel } from '../repositories/notifications-repository.ts';
import type { SecretBox } from '../security/secret-box.ts';

export const BREAKER_WEBHOOK_CHANNEL = 'circuit-breaker-webhook';
export const BREAKER_EMAIL_CHANNEL = 'circuit-breaker-email';

/**
 * CIRCUIT_BREAKER_WEBHOOK and CIRCUIT_BREAKER_EMAIL become ordinary notification channels (so delivery, retries,
 * SSRF checks and HMAC signing are the notification outbox's), written at boot from the configuration. Returns every
 * channel a rising breaker notifies: these plus CIRCUIT_BREAKER_CHANNELS.
 */
export async function provisionBreakerChannels(
  pool: pg.Pool,
  config: GatewayConfig,
  secrets: SecretBox | null,
  destinationRules: Parameters<typeof checkDestination>[1],
): Promise<string[]> {
  const { money } = config;
  const inputs: [string, ChannelInput][] = [];
  if (money.alertWebhookUrl !== null) {
    inputs.push([
      BREAKER_WEBHOOK_CHANNEL,
      { kind: 'webhook', url: money.alertWebhookUrl, secret: money.alertWebhookSecret! },
    ]);
  }
  if (money.alertEmail !== null && money.smtp !== null) {
    const { smtp } = money;
    inputs.push([
      BREAKER_EMAIL_CHANNEL,
      {
        kind: 'email',
        host: smtp.host,
        port: smtp.port,
        tls: smtp.tls,
        from: smtp.from,
        to: [money.alertEmail],
        ...(smtp.username !== null ? { username: smtp.username } : {}),
        ...(smtp.password !== null ? { password: smtp.password } : {}),
      },
    ]);
  }
  for (const [name, input] of inputs) {
    const { settings, secret, url } = splitChannelInput(input);
    if (url !== null) await checkDestination(url, destinationRules);
    if (secret !== null && secrets === null) {
      throw new Error(`${name}: SECRETS_KEY_FILE is required to keep the channel's secret sealed at rest`);
    }
    await withTransaction(pool, async (client) => {
      await upsertChannel(client, {
        name,
        settings,
        secretSealed: secret === null ? null : secrets!.seal(secret, secretContext(name, input.kind)),
        secretHint: secret === null ? null : secretHint(input.kind, secret),
      });
      await appendAudit(client, {
        actor: 'system:config',
        action: 'notifications.channel_provisioned',
        subject: `channel:${name}`,
        data: { kind: input.kind },
      });
    });
  }
  return [...inputs.map(([name]) => name), ...money.alertChannels];
}
