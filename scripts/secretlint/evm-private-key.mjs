// A secretlint rule for what matters most in this repository and what the recommended preset does not look for: a
// raw EVM private key, 32 bytes of hex (with or without 0x) on a line that names it as a key or secret. Transaction
// hashes, digests and topics are 32 bytes of hex too; they are not reported unless labelled as a key. Allowed values
// (anvil's public, well-known development keys) come from the rule's `allows` option.
const messages = {
  EVMPrivateKey: { en: (props) => `found an EVM private key: ${props.KEY}` },
};

const LABEL = /(private[_ -]?key|priv[_-]?key|secret[_-]?key|signing[_-]?key|PRIVATE_KEY|\bpk\b|mnemonic|seed)/i;
const HEX_KEY = /(?<![0-9a-zA-Z])(?:0x)?[0-9a-fA-F]{64}(?![0-9a-zA-Z])/g;

function allowed(value, allows) {
  const bare = value.toLowerCase().replace(/^0x/, '');
  return (allows ?? []).some((a) => a.toLowerCase().replace(/^0x/, '') === bare);
}

export const creator = {
  messages,
  meta: {
    id: 'clawd402/evm-private-key',
    recommended: true,
    type: 'scanner',
    supportedContentTypes: ['text'],
    docs: { url: 'docs/supply-chain.md' },
  },
  create(context, options = {}) {
    const t = context.createTranslator(messages);
    return {
      file(source) {
        const text = source.content;
        let lineStart = 0;
        for (const line of text.split('\n')) {
          if (LABEL.test(line)) {
            for (const match of line.matchAll(HEX_KEY)) {
              if (allowed(match[0], options.allows)) continue;
              const start = lineStart + (match.index ?? 0);
              context.report({
                message: t('EVMPrivateKey', { KEY: match[0] }),
                range: [start, start + match[0].length],
              });
            }
          }
          lineStart += line.length + 1;
        }
      },
    };
  },
};
