import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { isMap, isSeq, LineCounter, parseAllDocuments } from 'yaml';
import type { ConfigErrorCode } from '../errors.js';
import { formatPath, type ConfigIssue, type FieldPath } from './issue.js';
import { locateNode, type SourcePosition } from './position.js';

// Load reads files and folders into Kubernetes-shaped resources of the kinds meshgate knows,
// keeping where every field came from. It attaches no meaning (validate does) and never throws
// for bad input: every problem becomes an issue.

export interface ResourceMetadata {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly creationTimestamp?: string;
}

export interface LoadedResource {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: ResourceMetadata;
  /** The raw spec as parsed; undefined when the document has none. */
  readonly spec: unknown;
  readonly file: string;
  /** Line of the resource's first field. */
  readonly line: number;
  /** Position of a field, path relative to the resource: ['spec', 'http', 1]. */
  locate(path: FieldPath): SourcePosition;
}

export interface LoadOptions {
  readonly defaultNamespace: string;
}

export interface LoadResult {
  readonly documents: LoadedResource[];
  readonly issues: ConfigIssue[];
}

const istioNetworkingVersions = ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'];

/** The kinds meshgate reads and the apiVersions Istio serves them under. */
const supportedKinds: Readonly<Record<string, readonly string[]>> = {
  Gateway: istioNetworkingVersions,
  VirtualService: istioNetworkingVersions,
  DestinationRule: istioNetworkingVersions,
  ServiceEntry: istioNetworkingVersions,
  WorkloadEntry: istioNetworkingVersions,
  // meshgate's own kinds.
  HealthCheckPolicy: ['meshgate.dev/v1alpha1'],
  MeshConfig: ['meshgate.dev/v1alpha1'],
  RateLimitPolicy: ['meshgate.dev/v1alpha1'],
};

const configExtensions = new Set(['.yaml', '.yml', '.json']);

export async function loadConfig(paths: string[], options: LoadOptions): Promise<LoadResult> {
  const result: LoadResult = { documents: [], issues: [] };
  for (const path of paths) {
    for (const file of await listFiles(path, true, result.issues)) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        result.issues.push(fileIssue('MG_ERR_CONFIG_READ', file, `cannot read file: ${errorMessage(err)}`));
        continue;
      }
      loadText(text, file, options, result);
    }
  }
  return result;
}

// Folders are read recursively in name order. Names starting with '.' are skipped: besides
// hidden files, that skips the `..data` and `..2024_...` links of a Kubernetes ConfigMap volume,
// which would otherwise load every file twice.
async function listFiles(path: string, explicit: boolean, issues: ConfigIssue[]): Promise<string[]> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    issues.push(fileIssue('MG_ERR_CONFIG_READ', path, `cannot read path: ${errorMessage(err)}`));
    return [];
  }
  if (info.isFile()) return explicit || configExtensions.has(extname(path).toLowerCase()) ? [path] : [];
  if (!info.isDirectory()) return [];
  let names: string[];
  try {
    names = await readdir(path);
  } catch (err) {
    issues.push(fileIssue('MG_ERR_CONFIG_READ', path, `cannot read folder: ${errorMessage(err)}`));
    return [];
  }
  const files: string[] = [];
  for (const name of names.filter((entry) => !entry.startsWith('.')).sort()) {
    files.push(...(await listFiles(join(path, name), false, issues)));
  }
  return files;
}

function loadText(text: string, file: string, options: LoadOptions, result: LoadResult): void {
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const documents = Array.isArray(parsed) ? parsed : [];
  for (const document of documents) {
    if (document.errors.length > 0) {
      for (const error of document.errors) {
        const { line, col } = lineCounter.linePos(error.pos[0]);
        result.issues.push({ code: 'MG_ERR_CONFIG_YAML', severity: 'error', file, line, column: col, path: '', message: firstLine(error.message) });
      }
      continue;
    }
    const contents = document.contents;
    if (contents === null) continue;
    const value: unknown = document.toJS({ maxAliasCount: 1000 });
    if (value === null || value === undefined) continue;
    const at = (node: unknown) => (path: FieldPath) => locateNode(document, lineCounter, node, path);
    if (isRecord(value) && value.kind === 'List' && Array.isArray(value.items) && isMap(contents)) {
      const itemsNode = contents.get('items', true);
      value.items.forEach((item: unknown, index) => {
        const itemNode = isSeq(itemsNode) ? itemsNode.items[index] : undefined;
        addResource(item, file, at(itemNode ?? contents), options, result);
      });
      continue;
    }
    addResource(value, file, at(contents), options, result);
  }
}

function addResource(value: unknown, file: string, locate: (path: FieldPath) => SourcePosition, options: LoadOptions, result: LoadResult): void {
  if (!isRecord(value)) {
    const { line, column } = locate([]);
    result.issues.push({ code: 'MG_ERR_CONFIG_DOCUMENT', severity: 'error', file, line, column, path: '', message: 'expected a Kubernetes resource (a map with apiVersion, kind and metadata)' });
    return;
  }
  const { apiVersion, kind, metadata } = value;
  const name = isRecord(metadata) && typeof metadata.name === 'string' ? metadata.name : undefined;
  const namespace = isRecord(metadata) && typeof metadata.namespace === 'string' && metadata.namespace !== '' ? metadata.namespace : options.defaultNamespace;
  const problem = (code: ConfigErrorCode, path: FieldPath, message: string, severity: ConfigIssue['severity'] = 'error') => {
    const { line, column } = locate(path);
    result.issues.push({
      code,
      severity,
      file,
      line,
      column,
      ...(typeof kind === 'string' ? { kind } : {}),
      ...(name === undefined ? {} : { resource: `${namespace}/${name}` }),
      path: formatPath(path),
      message,
    });
  };
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') {
    problem('MG_ERR_CONFIG_DOCUMENT', typeof kind === 'string' ? ['apiVersion'] : ['kind'], 'expected a Kubernetes resource: apiVersion and kind must be strings');
    return;
  }
  const versions = supportedKinds[kind];
  if (versions === undefined) {
    problem('MG_ERR_CONFIG_KIND_SKIPPED', ['kind'], `skipped ${apiVersion}/${kind}${name === undefined ? '' : ` ${name}`}: meshgate reads ${Object.keys(supportedKinds).join(', ')}`, 'warning');
    return;
  }
  if (!versions.includes(apiVersion)) {
    problem('MG_ERR_CONFIG_API_VERSION', ['apiVersion'], `${JSON.stringify(apiVersion)} is not an apiVersion of ${kind}; expected one of ${versions.join(', ')}`);
    return;
  }
  const parsedMetadata = readMetadata(metadata, namespace);
  if (typeof parsedMetadata === 'string') {
    problem('MG_ERR_CONFIG_DOCUMENT', ['metadata'], parsedMetadata);
    return;
  }
  result.documents.push({ apiVersion, kind, metadata: parsedMetadata, spec: value.spec, file, line: locate([]).line, locate });
}

/** The metadata meshgate keeps, or a message saying what is wrong with it. */
function readMetadata(metadata: unknown, namespace: string): ResourceMetadata | string {
  if (!isRecord(metadata)) return 'expected metadata with a name';
  const { name, labels, annotations, creationTimestamp } = metadata;
  if (typeof name !== 'string' || name === '') return 'expected metadata.name, a non-empty string';
  if (metadata.namespace !== undefined && metadata.namespace !== null && typeof metadata.namespace !== 'string') return 'expected metadata.namespace to be a string';
  const labelMap = stringMap(labels);
  const annotationMap = stringMap(annotations);
  if (labelMap === undefined) return 'expected metadata.labels to map strings to strings';
  if (annotationMap === undefined) return 'expected metadata.annotations to map strings to strings';
  return Object.freeze({
    name,
    namespace,
    labels: labelMap,
    annotations: annotationMap,
    ...(typeof creationTimestamp === 'string' ? { creationTimestamp } : {}),
  });
}

function stringMap(value: unknown): Readonly<Record<string, string>> | undefined {
  if (value === undefined || value === null) return Object.freeze({});
  if (!isRecord(value) || !Object.values(value).every((entry) => typeof entry === 'string')) return undefined;
  return Object.freeze({ ...(value as Record<string, string>) });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fileIssue(code: ConfigErrorCode, file: string, message: string): ConfigIssue {
  return { code, severity: 'error', file, line: 0, column: 0, path: '', message };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? text;
}

