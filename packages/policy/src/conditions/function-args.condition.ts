import Type from 'typebox';
import { ConditionValueError, defineCondition, type CompileContext, type ConditionValueIssue } from '../condition.ts';
import { LIST_REFERENCE, MAX_ADDRESS_LIST_ITEMS, parsePolicyAddress } from './address-list.ts';

/** Most arguments one `function_args` may constrain. */
export const MAX_FUNCTION_ARGS = 32;

const ARG_NAME = /^([A-Za-z_$][A-Za-z0-9_$]{0,63}|0|[1-9][0-9]{0,2})$/;
const INTEGER = /^-?(0|[1-9][0-9]*)$/;
const HEX = /^0x[0-9a-fA-F]*$/;
const ADDRESS_LIKE = /^0x[0-9a-fA-F]{40}$/;

const Literal = Type.Union([Type.String({ maxLength: 200 }), Type.Number(), Type.Boolean()]);
const Bound = Type.Union([Type.String({ minLength: 1, maxLength: 100 }), Type.Number()]);
const Constraint = Type.Object(
  {
    eq: Type.Optional(Literal),
    in: Type.Optional(Type.Array(Literal, { minItems: 1, maxItems: MAX_ADDRESS_LIST_ITEMS })),
    min: Type.Optional(Bound),
    max: Type.Optional(Bound),
  },
  { additionalProperties: false, minProperties: 1 },
);

/** The values one argument may take, grouped by kind; a kind with no entry makes a fact of that kind 'unknown'. */
interface Allowed {
  ints: Set<bigint> | undefined;
  /** 0x hex strings and addresses, lowercase. */
  hex: Set<string> | undefined;
  strings: Set<string> | undefined;
  bools: Set<boolean> | undefined;
}

interface ArgRule {
  readonly name: string;
  readonly allowed: Allowed | undefined;
  readonly min: bigint | undefined;
  readonly max: bigint | undefined;
}

/**
 * `function_args`: constraints on the decoded arguments of the call, all of which must hold. Per argument (by ABI
 * name, or position "0", "1", … for unnamed ones) exactly one of `eq: value`, `in: [values]`, or `min` and/or
 * `max` (integers, inclusive). Integers are compared as bigints, addresses and hex ignoring case (an `in` list may
 * name `"@list"`s), strings and booleans exactly. An argument that is missing, or whose kind the constraint does
 * not name (a string where an integer was expected), answers unknown.
 */
export const functionArgsCondition = defineCondition({
  key: 'function_args',
  description:
    'Holds when each named argument of the decoded call satisfies its constraint: eq, in, or min/max (integers, inclusive).',
  expects: 'a mapping of argument names to { eq } , { in: [...] } or { min, max }',
  facts: ['call'],
  schema: Type.Record(Type.String(), Constraint, { minProperties: 1, maxProperties: MAX_FUNCTION_ARGS }),
  compile(value, context) {
    const issues: ConditionValueIssue[] = [];
    const rules: ArgRule[] = [];
    for (const [name, constraint] of Object.entries(value)) {
      const path = ARG_NAME.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`;
      if (!ARG_NAME.test(name)) {
        issues.push({ path, message: 'is not an argument name (an identifier, or a position such as "0")' });
        continue;
      }
      const hasEq = Object.hasOwn(constraint, 'eq');
      const hasIn = Object.hasOwn(constraint, 'in');
      const hasRange = constraint.min !== undefined || constraint.max !== undefined;
      if (Number(hasEq) + Number(hasIn) + Number(hasRange) !== 1) {
        issues.push({ path, message: 'must have exactly one of eq, in, or min/max' });
        continue;
      }
      const before = issues.length;
      const allowed = hasEq
        ? allowedOf([constraint.eq!], `${path}.eq`, issues, context, true)
        : hasIn
          ? allowedOf(constraint.in!, `${path}.in`, issues, context, false)
          : undefined;
      const min = constraint.min === undefined ? undefined : integerOf(constraint.min, `${path}.min`, issues);
      const max = constraint.max === undefined ? undefined : integerOf(constraint.max, `${path}.max`, issues);
      if (min !== undefined && max !== undefined && min > max)
        issues.push({ path: `${path}.min`, message: 'is greater than max' });
      if (issues.length === before) rules.push({ name, allowed, min, max });
    }
    if (issues.length > 0) throw new ConditionValueError(issues);
    return (facts) => {
      const args = facts.call?.args;
      if (typeof args !== 'object' || args === null) return 'unknown';
      let unknown = false;
      for (let i = 0; i < rules.length; i++) {
        const rule = rules[i]!;
        const result = Object.hasOwn(args, rule.name) ? check(rule, args[rule.name]) : 'unknown';
        if (result === false) return false;
        if (result === 'unknown') unknown = true;
      }
      return unknown ? 'unknown' : true;
    };
  },
});

function check(rule: ArgRule, fact: unknown): boolean | 'unknown' {
  const int =
    typeof fact === 'bigint' ? fact : typeof fact === 'number' && Number.isSafeInteger(fact) ? BigInt(fact) : undefined;
  if (rule.allowed === undefined) {
    if (int === undefined) return 'unknown';
    return (rule.min === undefined || int >= rule.min) && (rule.max === undefined || int <= rule.max);
  }
  const { ints, hex, strings, bools } = rule.allowed;
  if (int !== undefined) return ints === undefined ? 'unknown' : ints.has(int);
  if (typeof fact === 'boolean') return bools === undefined ? 'unknown' : bools.has(fact);
  if (typeof fact === 'string') {
    if (HEX.test(fact)) return hex === undefined ? 'unknown' : hex.has(fact.toLowerCase());
    return strings === undefined ? 'unknown' : strings.has(fact);
  }
  return 'unknown'; // arrays, tuples, missing: not comparable
}

function allowedOf(
  literals: readonly (string | number | boolean)[],
  path: string,
  issues: ConditionValueIssue[],
  context: CompileContext,
  single: boolean,
): Allowed {
  const allowed: Allowed = { ints: undefined, hex: undefined, strings: undefined, bools: undefined };
  literals.forEach((literal, index) => {
    const at = single ? path : `${path}[${index}]`;
    if (typeof literal === 'boolean') {
      (allowed.bools ??= new Set()).add(literal);
    } else if (typeof literal === 'number' || INTEGER.test(literal)) {
      const int = integerOf(literal, at, issues);
      if (int !== undefined) (allowed.ints ??= new Set()).add(int);
    } else if (LIST_REFERENCE.test(literal)) {
      const named = context.addressLists.get(LIST_REFERENCE.exec(literal)![1]!);
      if (named === undefined) issues.push({ path: at, message: `names no list under address_lists (${literal})` });
      else for (const address of named) (allowed.hex ??= new Set()).add(address);
    } else if (ADDRESS_LIKE.test(literal)) {
      const address = parsePolicyAddress(literal, at, issues);
      if (address !== undefined) (allowed.hex ??= new Set()).add(address.toLowerCase());
    } else if (HEX.test(literal)) {
      (allowed.hex ??= new Set()).add(literal.toLowerCase());
    } else {
      (allowed.strings ??= new Set()).add(literal);
    }
  });
  return allowed;
}

function integerOf(value: string | number, path: string, issues: ConditionValueIssue[]): bigint | undefined {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value)) return BigInt(value);
    issues.push({ path, message: 'must be a whole number (write large integers as a quoted decimal string)' });
    return undefined;
  }
  if (INTEGER.test(value)) return BigInt(value);
  issues.push({ path, message: 'must be an integer written in decimal, such as "1000000" or "-5"' });
  return undefined;
}
