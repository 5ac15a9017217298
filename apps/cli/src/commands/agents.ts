import { CliError } from '../cli-error.ts';
import type { Command, Options } from '../command.ts';
import { gatewayCommand, integerOption, seg, table } from '../gateway/gateway-command.ts';

interface KeyView {
  id: string;
  keyId: string;
  label: string | null;
  scopes: { chains: number[] | null; types: string[] | null };
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
}
interface AgentView {
  id: string;
  name: string;
  signerAddress: string;
  disabled: boolean;
  keys: KeyView[];
}
/** A key as the gateway shows it once, at creation. */
interface IssuedKey {
  apiKeyId: string;
  agentId: string;
  apiKey: string;
}

const agentsList = gatewayCommand<{ items: AgentView[] }>({
  path: ['agents', 'list'],
  summary: 'agents with their signer address and API keys',
  run: (client) => client.call('GET', '/admin/agents'),
  render: (r) =>
    r.items.length === 0
      ? ['no agents']
      : r.items.flatMap((a) => [
          `${a.id}  ${a.name}  ${a.signerAddress}${a.disabled ? '  DISABLED' : ''}`,
          ...table(
            a.keys.map((k) => [
              `  key ${k.id}`,
              k.label ?? '-',
              k.revokedAt ? `revoked ${k.revokedAt}` : k.expiresAt ? `expires ${k.expiresAt}` : 'no expiry',
              `last used ${k.lastUsedAt ?? 'never'}`,
            ]),
          ),
        ]),
});

const SHOWN_ONCE = 'The API key below is shown once: store it now (it cannot be read again).';
const renderIssued = (k: IssuedKey): string[] => [
  SHOWN_ONCE,
  `key id   ${k.apiKeyId}`,
  `agent    ${k.agentId}`,
  `api key  ${k.apiKey}`,
];

/** Scopes and expiry of a new key from --chains 1,8453 --types transfer,contract_call --expires-in-days N. */
function newKeyBody(o: Options): Record<string, unknown> {
  const list = (name: string): string[] | undefined =>
    typeof o[name] === 'string'
      ? String(o[name])
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : undefined;
  const chains = list('chains')?.map((c) => {
    if (!/^[1-9][0-9]{0,15}$/.test(c)) throw new CliError('usage', `--chains: ${c} is not a chain id`);
    return Number(c);
  });
  const types = list('types');
  const days = integerOption(o, 'expires-in-days');
  return {
    ...(typeof o.label === 'string' ? { label: o.label } : {}),
    ...(chains || types ? { scopes: { ...(chains ? { chains } : {}), ...(types ? { types } : {}) } } : {}),
    ...(days ? { expiresInDays: days } : {}),
  };
}

const keysCreate = gatewayCommand<IssuedKey>({
  path: ['keys', 'create'],
  summary: 'issue a new API key for an agent (shown once)',
  options: {
    agent: { type: 'string', value: 'AGENT_ID', description: 'the agent (required)' },
    label: { type: 'string', value: 'TEXT', description: 'a label to tell keys apart' },
    chains: { type: 'string', value: 'ID,ID', description: 'scope: only these chains' },
    types: { type: 'string', value: 'TYPE,TYPE', description: 'scope: only these intent types' },
    'expires-in-days': { type: 'string', value: 'N', description: 'expires N days from now (default: never)' },
  },
  run: (client, o) => {
    if (typeof o.agent !== 'string') throw new CliError('config_missing', '--agent is required');
    return client.call('POST', `/admin/agents/${seg(o.agent)}/keys`, newKeyBody(o));
  },
  render: renderIssued,
});

const keysRotate = gatewayCommand<IssuedKey>({
  path: ['keys', 'rotate'],
  summary: 'issue the replacement of a key (shown once); the old key keeps working for the overlap',
  args: [{ name: 'KEY_ID', description: 'the key to replace (its id, from agents list)' }],
  options: {
    'overlap-seconds': {
      type: 'string',
      value: 'N',
      description: 'how long the old key keeps working (default 86400; 0 ends it now)',
    },
  },
  run: (client, o) => {
    const overlap = o['overlap-seconds'];
    if (overlap !== undefined && !/^(0|[1-9][0-9]{0,7})$/.test(String(overlap)))
      throw new CliError('usage', '--overlap-seconds must be a whole number of seconds');
    return client.call(
      'POST',
      `/admin/keys/${seg(o.KEY_ID)}/rotate`,
      overlap !== undefined ? { overlapSeconds: Number(overlap) } : {},
    );
  },
  render: renderIssued,
});

const keysRevoke = gatewayCommand<KeyView>({
  path: ['keys', 'revoke'],
  summary: 'revoke a key at once, on every gateway process',
  args: [{ name: 'KEY_ID', description: 'the key to revoke' }],
  run: (client, o) => client.call('POST', `/admin/keys/${seg(o.KEY_ID)}/revoke`),
  render: (k) => [`key ${k.id} revoked at ${k.revokedAt}`],
});

export const agentCommands: Command[] = [agentsList, keysCreate, keysRotate, keysRevoke] as Command[];
