import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Document,
  type Node as YamlNode,
  type YAMLError,
} from 'yaml';

/** One problem found while loading a policy set. `path` is like `policies[2].conditions.max_value`; `''` is the document. */
export interface PolicyIssue {
  readonly path: string;
  readonly message: string;
}

/** The text formats a policy set may be written in. JSON is parsed strictly (JSON.parse) and then like YAML. */
export type PolicyFormat = 'yaml' | 'json';

/** Largest policy text accepted, in UTF-16 code units (about 4 MiB of ASCII). */
export const MAX_POLICY_TEXT_LENGTH = 4 * 1024 * 1024;
/** Alias (`*name`) expansions allowed in one YAML document; bounds "billion laughs" blow-ups. */
export const MAX_ALIAS_EXPANSIONS = 100;
/** Deepest nesting of mappings and lists accepted. */
export const MAX_DEPTH = 32;

const PLAIN_DECIMAL = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Append a key or index to a path: `policies` + 2 → `policies[2]`, + `name` → `policies[2].name`. */
export function joinPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  if (!IDENTIFIER.test(key)) return `${base}[${JSON.stringify(key)}]`;
  return base === '' ? key : `${base}.${key}`;
}

export type ParseResult = { ok: true; value: unknown } | { ok: false; issues: PolicyIssue[] };

interface WalkContext {
  doc: Document.Parsed;
  issues: PolicyIssue[];
  aliases: number;
}

/**
 * Parse policy text into plain data (objects, arrays, strings, numbers, booleans, null) without running any
 * YAML feature that could construct objects or blow up: the core schema only, no custom or explicit tags, no merge
 * keys, duplicate keys are errors, warnings are errors, one document, a bounded number of alias expansions and a
 * bounded depth. Keys must be strings and become own properties (a `__proto__` key cannot reach a prototype).
 * A number is kept only if it was written as a plain decimal that a double holds exactly (`1`, `0.5`); anything else
 * (`1e21`, `0x10`, `.inf`, 2^53 + 1) is an issue asking for a quoted decimal string, so no amount is ever rounded.
 */
export function parsePolicyDocument(text: string, format: PolicyFormat): ParseResult {
  if (text.length > MAX_POLICY_TEXT_LENGTH) {
    return {
      ok: false,
      issues: [{ path: '', message: `the policy text is longer than ${MAX_POLICY_TEXT_LENGTH} characters` }],
    };
  }
  if (format === 'json') {
    try {
      JSON.parse(text);
    } catch (error) {
      return { ok: false, issues: [{ path: '', message: `not valid JSON: ${(error as Error).message}` }] };
    }
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    version: '1.2',
    schema: format === 'json' ? 'json' : 'core',
    customTags: [],
    merge: false,
    uniqueKeys: true,
    strict: true,
    prettyErrors: false,
    lineCounter,
  });
  const problems: YAMLError[] = [...doc.errors, ...doc.warnings];
  if (problems.length > 0) {
    return {
      ok: false,
      issues: problems.map((problem) => {
        const offset = problem.pos[0];
        const { line, col } = lineCounter.linePos(offset);
        return {
          path: pathAtOffset(doc.contents, offset, ''),
          message: `${problem.message.split('\n')[0]} (line ${line}, column ${col})`,
        };
      }),
    };
  }
  const context: WalkContext = { doc, issues: [], aliases: 0 };
  const value = toPlain(doc.contents, '', 0, context);
  return context.issues.length > 0 ? { ok: false, issues: context.issues } : { ok: true, value };
}

function toPlain(node: unknown, path: string, depth: number, context: WalkContext): unknown {
  if (node === null || node === undefined) return null;
  if (depth > MAX_DEPTH) {
    context.issues.push({ path, message: `nests deeper than ${MAX_DEPTH} levels` });
    return null;
  }
  if (isAlias(node)) {
    context.aliases += 1;
    if (context.aliases > MAX_ALIAS_EXPANSIONS) {
      if (context.aliases === MAX_ALIAS_EXPANSIONS + 1) {
        context.issues.push({ path, message: `more than ${MAX_ALIAS_EXPANSIONS} YAML alias expansions` });
      }
      return null;
    }
    const target = node.resolve(context.doc);
    if (target === undefined) {
      context.issues.push({ path, message: `YAML alias *${node.source} names no anchor` });
      return null;
    }
    return toPlain(target, path, depth + 1, context);
  }
  if ((node as YamlNode).tag !== undefined) {
    context.issues.push({ path, message: 'explicit YAML tags are not allowed' });
    return null;
  }
  if (isScalar(node)) {
    const value = node.value;
    if (typeof value === 'number') {
      const source = node.source ?? String(value);
      if (!isExactPlainDecimal(source, value)) {
        context.issues.push({
          path,
          message: `the number ${source} is not a plain decimal that can be held exactly; write it as a quoted decimal string`,
        });
        return null;
      }
      return value;
    }
    if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
    context.issues.push({ path, message: 'is a YAML value of an unsupported type' });
    return null;
  }
  if (isMap(node)) {
    const out: Record<string, unknown> = {};
    for (const pair of node.items) {
      const key = pair.key;
      if (!isScalar(key) || key.tag !== undefined || typeof key.value !== 'string') {
        context.issues.push({ path, message: 'has a key that is not a plain string' });
        continue;
      }
      const childPath = joinPath(path, key.value);
      // defineProperty, not assignment: a "__proto__" key stays an ordinary own property.
      Object.defineProperty(out, key.value, {
        value: toPlain(pair.value, childPath, depth + 1, context),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  if (isSeq(node)) {
    return node.items.map((item, index) => toPlain(item, joinPath(path, index), depth + 1, context));
  }
  context.issues.push({ path, message: 'is a YAML node of an unsupported kind' });
  return null;
}

/** `1`, `0.5`, `1.50` → true; `1e21`, `0x10`, `+1`, `.5`, `9007199254740993` (rounds) → false. */
function isExactPlainDecimal(source: string, value: number): boolean {
  if (!PLAIN_DECIMAL.test(source) || !Number.isFinite(value)) return false;
  const trimmed = source.includes('.') ? source.replace(/0+$/, '').replace(/\.$/, '') : source;
  return String(value) === trimmed;
}

/**
 * The path of the deepest node that holds `offset`, for locating parser errors. A node's range starts after its tag
 * or anchor, so an offset between a key and the end of its value (or between two list items) counts as the value's.
 */
function pathAtOffset(node: unknown, offset: number, path: string): string {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = pair.key as YamlNode | null;
      const value = pair.value as YamlNode | null;
      if (!key?.range) continue;
      const name = isScalar(key) ? String(key.value) : undefined;
      const childPath = name === undefined ? path : joinPath(path, name);
      if (offset >= key.range[0] && offset < key.range[2]) return childPath;
      const end = value?.range?.[2] ?? key.range[2];
      if (offset >= key.range[2] && offset < end) return pathAtOffset(value, offset, childPath);
    }
  } else if (isSeq(node) && node.range) {
    let start = node.range[0];
    for (const [index, item] of node.items.entries()) {
      const end = (item as YamlNode | null)?.range?.[2];
      if (end === undefined) continue;
      if (offset >= start && offset < end) return pathAtOffset(item, offset, joinPath(path, index));
      start = end;
    }
  }
  return path;
}
