import { Clawd402Error } from '@clawd402/protocol';
import type { PolicyIssue } from './parse-document.ts';

const SHOWN_IN_MESSAGE = 5;

/**
 * A policy set did not load. `issues` lists every problem found, each with a path such as
 * `policies[2].conditions.max_value`. It is a `Clawd402Error` with code `invalid_request` (HTTP 400) and the issues
 * in `details`, so an admin route that uploads a set can let the one error handler answer it.
 *
 * @example
 * try { loadPolicySet(text) } catch (e) { if (e instanceof PolicyLoadError) console.error(e.issues) }
 */
export class PolicyLoadError extends Clawd402Error {
  readonly issues: readonly PolicyIssue[];

  constructor(issues: readonly PolicyIssue[]) {
    const frozen = Object.freeze(issues.map((i) => Object.freeze({ path: i.path, message: i.message })));
    const listed = frozen
      .slice(0, SHOWN_IN_MESSAGE)
      .map((i) => `${i.path === '' ? '(document)' : i.path}: ${i.message}`)
      .join('; ');
    const more = frozen.length > SHOWN_IN_MESSAGE ? `; and ${frozen.length - SHOWN_IN_MESSAGE} more` : '';
    super(
      'invalid_request',
      `The policy set did not load (${frozen.length} issue${frozen.length === 1 ? '' : 's'}): ${listed}${more}.`,
      { details: { issues: frozen } },
    );
    this.name = 'PolicyLoadError';
    this.issues = frozen;
  }
}
