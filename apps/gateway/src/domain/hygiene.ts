/** What an input-hygiene hit is: a canary token, a secret (key, mnemonic), or a prompt-injection phrase. */
export type HygieneCategory = 'canary' | 'secret' | 'injection';
