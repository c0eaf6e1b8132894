import type { ConfigErrorCode } from '../errors.js';

// One problem found in the configuration, located well enough that a user can fix the YAML
// from the formatted line alone (file:line:column, code, resource, field path, expectation).

export type IssueSeverity = 'error' | 'warning';

export interface ConfigIssue {
  readonly code: ConfigErrorCode;
  readonly severity: IssueSeverity;
  readonly file: string;
  /** 1-based; 0 when the problem has no position (an unreadable path). */
  readonly line: number;
  /** 1-based; 0 when the problem has no position. */
  readonly column: number;
  readonly kind?: string;
  /** "namespace/name" */
  readonly resource?: string;
  /** e.g. "spec.http[1].route[0].destination.subset"; '' for the document itself. */
  readonly path: string;
  readonly message: string;
}

export type FieldPath = readonly (string | number)[];

const plainKey = /^[A-Za-z_$][\w$-]*$/;

/** ['spec', 'http', 1, 'route'] -> "spec.http[1].route"; odd map keys are quoted: headers["x.y"]. */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (plainKey.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** gateways/x.yaml:12:7: error MG_ERR_... VirtualService default/reviews spec.http[1]...: message */
export function formatIssue(issue: ConfigIssue): string {
  const position = issue.line > 0 ? `:${issue.line}:${issue.column}` : '';
  const subject = [issue.kind, issue.resource, issue.path].filter((part) => part !== undefined && part !== '').join(' ');
  return `${issue.file}${position}: ${issue.severity} ${issue.code}${subject === '' ? '' : ` ${subject}`}: ${issue.message}`;
}

export function hasErrors(issues: readonly ConfigIssue[]): boolean {
  return issues.some((issue) => issue.severity === 'error');
}
