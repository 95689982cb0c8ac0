// Loaded after tsx by the "tap" config in package.json (--import).
//
// tsx compiles TypeScript with inline source maps whose sourcesContent is
// [null] (it only embeds the sources when NODE_V8_COVERAGE or --inspect is
// set, and tap collects coverage through an inspector session instead).
// c8/v8-to-istanbul takes that one null entry as the original source and
// reports every tsx-loaded file as fully covered, so tap's 100% gate checked
// nothing. This hook runs after tsx's load hook and puts the file's text
// into sourcesContent so coverage is mapped onto the real lines.
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
const MARK = '//# sourceMappingURL=data:application/json;base64,';
export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  if (!url.startsWith('file:') || !/\\.[cm]?tsx?$/.test(new URL(url).pathname)) return result;
  const text = typeof result.source === 'string' ? result.source : result.source ? Buffer.from(result.source).toString('utf8') : '';
  const at = text.lastIndexOf(MARK);
  if (at < 0) return result;
  const map = JSON.parse(Buffer.from(text.slice(at + MARK.length).trim(), 'base64').toString('utf8'));
  if (!Array.isArray(map.sources) || map.sources.length !== 1 || (map.sourcesContent && map.sourcesContent[0] != null)) return result;
  map.sourcesContent = [await readFile(fileURLToPath(url), 'utf8')];
  const source = text.slice(0, at) + MARK + Buffer.from(JSON.stringify(map)).toString('base64') + '\\n';
  return { ...result, source };
}
`),
);
