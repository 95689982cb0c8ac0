import t from 'tap';
import { smokeTest } from '../fixtures/bench-smoke.js';

t.setTimeout(240_000);

t.test('the admin bench scrapes the registry and reports the wired overhead of scraping', (t) =>
  smokeTest(
    t,
    'admin',
    [
      '--routers',
      '1',
      '--scrapes',
      '10',
      '--clients',
      '2',
      '--seconds',
      '0.5',
      '--rounds',
      '1',
      '--commands',
      '1000',
    ],
    [
      'overheadRatio',
      'recordNsPerCommand',
      'scrapeP99Ms',
      'scrapeP50Ms',
      'scrapeMaxMs',
      'statisticsP99Ms',
      'routers',
      'series',
      'scrapeBytes',
      'scrapes',
      'clients',
      'seconds',
      'rounds',
      'noScrapeCmdPerSec',
      'scrapeCmdPerSec',
      'wiredScrapeP99Ms',
      'wiredScrapes',
    ],
    [],
  ),
);
