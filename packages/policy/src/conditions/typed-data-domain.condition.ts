import Type from 'typebox';
import { ConditionValueError, defineCondition, type ConditionValueIssue } from '../condition.ts';
import { parsePolicyAddress } from './address-list.ts';

/**
 * `typed_data_domain`: every field given matches the EIP-712 domain exactly (`verifyingContract` ignoring case).
 * A field the policy names but the domain lacks does not match. Unknown when there is no typed data.
 */
export const typedDataDomainCondition = defineCondition({
  key: 'typed_data_domain',
  description:
    "Holds when each given field (name, version, chainId, verifyingContract) equals the typed data's EIP-712 domain field.",
  expects: 'a mapping with at least one of name, version, chainId, verifyingContract',
  facts: ['typedData'],
  schema: Type.Object(
    {
      name: Type.Optional(Type.String({ maxLength: 200 })),
      version: Type.Optional(Type.String({ maxLength: 200 })),
      chainId: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })),
      verifyingContract: Type.Optional(Type.String()),
    },
    { additionalProperties: false, minProperties: 1 },
  ),
  compile(value) {
    const issues: ConditionValueIssue[] = [];
    let contract: string | undefined;
    if (value.verifyingContract !== undefined) {
      contract = parsePolicyAddress(value.verifyingContract, '.verifyingContract', issues)?.toLowerCase();
    }
    if (issues.length > 0) throw new ConditionValueError(issues);
    const { name, version, chainId } = value;
    return (facts) => {
      const domain = facts.typedData?.domain;
      if (typeof domain !== 'object' || domain === null) return 'unknown';
      if (name !== undefined && domain.name !== name) return false;
      if (version !== undefined && domain.version !== version) return false;
      if (chainId !== undefined && domain.chainId !== chainId) return false;
      if (contract !== undefined) {
        const actual = domain.verifyingContract;
        if (typeof actual !== 'string' || actual.toLowerCase() !== contract) return false;
      }
      return true;
    };
  },
});
