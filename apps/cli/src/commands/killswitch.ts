import { CliError } from '../cli-error.ts';
import type { Command, Options } from '../command.ts';
import { ask, confirm, isInteractive, stdinLine } from '../gateway/prompt.ts';
import type { GatewayClient } from '../gateway/gateway-client.ts';
import { REASON_OPTION, YES_OPTION, gatewayCommand, seg, stringOption } from '../gateway/gateway-command.ts';

/** The typed confirmations POST /admin/killswitch and /release require (docs/killswitch.md). */
const ENGAGE = 'ENGAGE KILL SWITCH';
const RELEASE = 'RELEASE KILL SWITCH';

interface KillSwitchView {
  engaged: boolean;
  engagedAt: string | null;
  engagedBy: string | null;
  reason: string | null;
  releaseVotes: unknown[];
}
interface Status {
  killSwitch: KillSwitchView;
  signer: { latched: boolean; latchId: string | null; since: string | null } | null;
  pauses: { scope: string; pausedAt: string; pausedBy: string; reason: string }[];
}

const TOTP_OPTION = {
  'totp-stdin': { type: 'boolean' as const, description: 'read your TOTP code from stdin (else it is asked)' },
};

/** A fresh TOTP code for the owner's step-up: the first line of stdin, or typed on the terminal without echo. */
async function stepUpCode(o: Options): Promise<string> {
  if (o['totp-stdin'] === true) return (await stdinLine(0)).trim();
  if (!isInteractive())
    throw new CliError('usage', 'no terminal to type the TOTP code on: pass it on stdin with --totp-stdin');
  return (await ask('TOTP code: ', true)).trim();
}

const describeStatus = (s: Status): string[] => [
  `kill switch  ${s.killSwitch.engaged ? `ENGAGED since ${s.killSwitch.engagedAt} by ${s.killSwitch.engagedBy}: ${s.killSwitch.reason}` : 'released'}`,
  `signer       ${s.signer === null ? 'not answering' : s.signer.latched ? `latched (latch ${s.signer.latchId})` : 'not latched'}`,
  ...(s.pauses.length === 0
    ? ['pauses       none']
    : s.pauses.map((p) => `paused       ${p.scope} since ${p.pausedAt} by ${p.pausedBy}: ${p.reason}`)),
];

const status = gatewayCommand<Status>({
  path: ['killswitch', 'status'],
  summary: "the kill switch, the signer's latch and every pause",
  run: (client) => client.call('GET', '/admin/killswitch'),
  render: describeStatus,
});

const on = gatewayCommand<{ killSwitch: KillSwitchView; signer: unknown; cancellations: unknown }>({
  path: ['killswitch', 'on'],
  summary: 'stop all signing now: engage the kill switch (owners; TOTP step-up)',
  details: [
    'Asks y/N on the terminal (--yes for scripts), then your TOTP code (or --totp-stdin). Every gateway stops',
    'signing within a second, the signer latches, in-flight transactions are cancelled (docs/killswitch.md).',
  ].join('\n'),
  options: { ...REASON_OPTION, ...TOTP_OPTION, ...YES_OPTION },
  async run(client, o) {
    const reason = stringOption(o, 'reason');
    await confirm('engage the kill switch and stop all signing?', o.yes === true);
    const totp = await stepUpCode(o);
    return client.call('POST', '/admin/killswitch', { confirm: ENGAGE, totp, reason });
  },
  render: (r) => [`kill switch ENGAGED: ${r.killSwitch.reason}`],
});

const off = gatewayCommand<{ released: boolean; votes: number; required: number; killSwitch: KillSwitchView }>({
  path: ['killswitch', 'off'],
  summary: 'release the kill switch (owners; TOTP step-up; the signer needs a release signature)',
  details: [
    "The signer's latch is lifted only with --signer-release: an owners' release key's signature over the latch id",
    '(clawd402-signer latch sign-release --latch ID; the id is in killswitch status). With two owners required,',
    'the first call records a vote (released: false).',
  ].join('\n'),
  options: {
    'signer-release': { type: 'string', value: 'BASE64URL', description: "the signer's release authorisation" },
    ...TOTP_OPTION,
    ...YES_OPTION,
  },
  async run(client: GatewayClient, o, out) {
    const current = await client.call<Status>('GET', '/admin/killswitch');
    for (const line of describeStatus(current)) out.info(line);
    await confirm('release the kill switch and resume signing?', o.yes === true);
    const totp = await stepUpCode(o);
    return client.call('POST', '/admin/killswitch/release', {
      confirm: RELEASE,
      totp,
      ...(typeof o['signer-release'] === 'string' ? { signerRelease: o['signer-release'] } : {}),
    });
  },
  render: (r) => [r.released ? 'kill switch released' : `release vote recorded (${r.votes}/${r.required})`],
});

const SCOPES = {
  agent: { path: 'agents', arg: 'AGENT_ID' },
  key: { path: 'keys', arg: 'KEY_ID' },
  chain: { path: 'chains', arg: 'CHAIN_ID' },
} as const;

/** `pause agent|key|chain ID --reason` and `resume agent|key|chain ID`. */
const pauses = (Object.keys(SCOPES) as (keyof typeof SCOPES)[]).flatMap((scope) => {
  const { path, arg } = SCOPES[scope];
  return [
    gatewayCommand<unknown>({
      path: ['pause', scope],
      summary: `stop new intents of one ${scope} (operators)`,
      args: [{ name: arg, description: `the ${scope}` }],
      options: REASON_OPTION,
      run: (client, o) =>
        client.call('POST', `/admin/${path}/${seg(o[arg])}/pause`, { reason: stringOption(o, 'reason') }),
      render: () => [`${scope} paused`],
    }),
    gatewayCommand<unknown>({
      path: ['resume', scope],
      summary: `lift the pause of one ${scope}`,
      args: [{ name: arg, description: `the ${scope}` }],
      run: (client, o) => client.call('POST', `/admin/${path}/${seg(o[arg])}/resume`),
      render: () => [`${scope} resumed`],
    }),
  ];
});

export const killSwitchCommands: Command[] = [status, on, off, ...pauses] as Command[];
