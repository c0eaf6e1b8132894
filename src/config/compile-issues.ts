import type { ConfigErrorCode } from '../errors.js';
import type { ConfigIssue } from './issue.js';
import { formatPath, type FieldPath } from './issue.js';
import type { Resource } from './validate.js';

// Compile finds what only a whole configuration shows (a destination port that cannot be
// known, a field not acted on yet); it reports those like validation does, at file:line:column.

export interface IssueSink {
  readonly issues: ConfigIssue[];
  error(resource: Resource<unknown>, path: FieldPath, code: ConfigErrorCode, message: string): void;
  warning(resource: Resource<unknown>, path: FieldPath, code: ConfigErrorCode, message: string): void;
  /** A valid Istio field that this build of meshgate ignores, said plainly so nobody relies on it. */
  unsupported(resource: Resource<unknown>, path: FieldPath, message: string): void;
}

export function createIssueSink(): IssueSink {
  const issues: ConfigIssue[] = [];
  const add = (severity: ConfigIssue['severity']) => (resource: Resource<unknown>, path: FieldPath, code: ConfigErrorCode, message: string) => {
    const { line, column } = resource.locate(path);
    // A VirtualService bound to several gateways is compiled once per gateway; say each finding once.
    if (issues.some((i) => i.file === resource.file && i.line === line && i.column === column && i.code === code && i.message === message)) return;
    issues.push({
      code,
      severity,
      file: resource.file,
      line,
      column,
      kind: resource.kind,
      resource: `${resource.metadata.namespace}/${resource.metadata.name}`,
      path: formatPath(path),
      message,
    });
  };
  const warning = add('warning');
  return {
    issues,
    error: add('error'),
    warning,
    unsupported: (resource, path, message) => warning(resource, path, 'MG_ERR_CONFIG_UNSUPPORTED', message),
  };
}
