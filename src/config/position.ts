import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { FieldPath } from './issue.js';

// Field paths from validation are mapped back to the YAML source. The deepest node that exists
// on the path wins, so a missing required field points at its parent and an unknown or wrongly
// typed field at its own key.

export interface SourcePosition {
  readonly line: number;
  readonly column: number;
}

/**
 * Line and column (1-based) of `path` below `root` in a parsed document. A map entry is located
 * at its key, a sequence item at the item.
 */
export function locateNode(document: Document, lineCounter: LineCounter, root: unknown, path: FieldPath): SourcePosition {
  let node = resolve(document, root);
  let offset = startOf(node) ?? 0;
  for (const segment of path) {
    let next: unknown;
    let nextOffset: number | undefined;
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && keyText(document, item.key) === String(segment));
      if (pair === undefined) break;
      next = pair.value;
      nextOffset = startOf(resolve(document, pair.key)) ?? startOf(resolve(document, pair.value));
    } else if (isSeq(node) && typeof segment === 'number') {
      next = node.items[segment];
      nextOffset = startOf(resolve(document, next));
      if (next === undefined) break;
    } else {
      break;
    }
    node = resolve(document, next);
    if (nextOffset !== undefined) offset = nextOffset;
  }
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}

function resolve(document: Document, node: unknown): unknown {
  return isAlias(node) ? node.resolve(document) : node;
}

function startOf(node: unknown): number | undefined {
  return (node as Node | null | undefined)?.range?.[0];
}

function keyText(document: Document, key: unknown): string | undefined {
  const resolved = resolve(document, key);
  return isScalar(resolved) ? String(resolved.value) : undefined;
}
