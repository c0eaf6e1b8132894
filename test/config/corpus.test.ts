import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import { validateConfig } from '../../src/config/validate.js';
import { formatIssue } from '../../src/config/issue.js';

// Every file in corpus/ is a broken configuration whose header says, one line per issue,
// which code it must produce, at which line and field path ("path -" for none):
//   # expect: MG_ERR_CONFIG_SUBSET_MISSING line 12 path spec.http[0].route[1].destination.subset

const corpus = fileURLToPath(new URL('./corpus/', import.meta.url));
const files = readdirSync(corpus).filter((name) => name.endsWith('.yaml')).sort();
const expectLine = /^# expect: (MG_ERR_[A-Z_]+) line (\d+) path (\S+)$/;

test('the corpus holds at least 30 broken configurations', (t) => {
  t.true(files.length >= 30, `only ${files.length} files`);
});

for (const name of files) {
  test(`corpus ${name}`, async (t) => {
    const file = join(corpus, name);
    const expected = readFileSync(file, 'utf8')
      .split('\n')
      .map((line) => expectLine.exec(line))
      .filter((match) => match !== null)
      .map((match) => `${match[1]} line ${match[2]} path ${match[3] === '-' ? '' : match[3]}`)
      .sort();
    t.true(expected.length > 0, 'the file states no expectations');
    const loaded = await loadConfig([file], { defaultNamespace: 'default' });
    const validated = validateConfig(loaded.documents);
    const issues = [...loaded.issues, ...validated.issues];
    const actual = issues.map((issue) => `${issue.code} line ${issue.line} path ${issue.path}`).sort();
    t.deepEqual(actual, expected, issues.map(formatIssue).join('\n'));
    for (const issue of issues) t.true(issue.message.length > 0 && issue.column > 0);
  });
}

test('the corpus produces every code load and validate own', async (t) => {
  const codes = new Set<string>();
  for (const name of files) {
    const loaded = await loadConfig([join(corpus, name)], { defaultNamespace: 'default' });
    for (const issue of [...loaded.issues, ...validateConfig(loaded.documents).issues]) codes.add(issue.code);
  }
  const owned = [
    'MG_ERR_CONFIG_YAML', 'MG_ERR_CONFIG_DOCUMENT', 'MG_ERR_CONFIG_KIND_SKIPPED', 'MG_ERR_CONFIG_API_VERSION',
    'MG_ERR_CONFIG_DUPLICATE_RESOURCE', 'MG_ERR_CONFIG_FIELD_UNKNOWN', 'MG_ERR_CONFIG_FIELD_TYPE', 'MG_ERR_CONFIG_FIELD_REQUIRED',
    'MG_ERR_CONFIG_FIELD_ENUM', 'MG_ERR_CONFIG_FIELD_VALUE', 'MG_ERR_CONFIG_ONEOF', 'MG_ERR_CONFIG_DURATION', 'MG_ERR_CONFIG_REGEX',
    'MG_ERR_CONFIG_HOST', 'MG_ERR_CONFIG_GATEWAY_MISSING', 'MG_ERR_CONFIG_SUBSET_MISSING', 'MG_ERR_CONFIG_SERVER_DUPLICATE',
    'MG_ERR_CONFIG_PORT_PROTOCOL', 'MG_ERR_CONFIG_WEIGHTS', 'MG_ERR_CONFIG_UNSUPPORTED', 'MG_ERR_RATELIMIT_TARGET', 'MG_ERR_RATELIMIT_BACKEND',
  ];
  t.deepEqual(owned.filter((code) => !codes.has(code)), []);
});
