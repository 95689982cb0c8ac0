import t from 'tap';
import { scanScript } from '../../src/policy/script-scan.js';

const cases: [source: string, commands: string[][], why: string][] = [
  ['/user add name=x group=full', [['user', 'add']], 'arguments end the path'],
  [
    '/ip hotspot user remove [find name="v1"]',
    [
      ['ip', 'hotspot', 'user', 'remove'],
      ['ip', 'hotspot', 'user', 'remove', 'find'],
    ],
    'brackets hold a relative command',
  ],
  ['/ip/hotspot/user/add name=x', [['ip', 'hotspot', 'user', 'add']], 'slashes separate words too'],
  [
    '/ip hotspot user\nadd name=x',
    [
      ['ip', 'hotspot', 'user'],
      ['ip', 'hotspot', 'user', 'add'],
    ],
    'a menu line sets the context',
  ],
  [
    '/ip hotspot\n.. .. user add',
    [
      ['ip', 'hotspot'],
      ['user', 'add'],
    ],
    '.. climbs out of the context',
  ],
  [':execute "/user add"', [['execute'], ['user', 'add']], ':execute and the script it runs'],
  [':local x 1; :global y; :put $x; :log info "ok"', [], 'built-ins that run nothing'],
  [':pic $x 0 2', [['pic']], 'an abbreviated built-in is a command of its own'],
  [':', [], 'a lone colon'],
  [':log info "export done"', [], 'words in an ordinary string are data'],
  [':log info "/user add"', [['user', 'add']], 'a path in a string is read anyway'],
  [
    '/system scheduler add on-event="export"',
    [
      ['system', 'scheduler', 'add'],
      ['system', 'script', 'run'],
      ['system', 'scheduler', 'add', 'export'],
    ],
    'a nested on-event is a script',
  ],
  [
    '/system scheduler add on-event=cleanup',
    [
      ['system', 'scheduler', 'add'],
      ['system', 'script', 'run'],
      ['system', 'scheduler', 'add', 'cleanup'],
    ],
    'unquoted nested on-event naming a script',
  ],
  ['\\2Fuser add', [['user', 'add']], 'hex escapes are decoded'],
  ['\\\\2Fuser add', [['user', 'add']], 'escapes are decoded until nothing changes'],
  ['/user \\\nadd', [['user', 'add']], 'line continuation'],
  ['/user\\nadd', [['user'], ['user', 'add']], 'an escaped newline'],
  ['/user\\tadd\\_x', [['user', 'add', 'x']], 'escaped tab and space'],
  ['/USER ADD', [['user', 'add']], 'case does not matter'],
  ['/ = 1', [], 'nothing readable after the slash'],
  ['', [], 'empty'],
];

for (const [source, commands, why] of cases) {
  t.test(`scan: ${why}`, async (t) => {
    t.same(scanScript(source), commands, JSON.stringify(source));
  });
}

t.test('a bare name in on-event runs the script of that name', async (t) => {
  t.same(scanScript('cleanup', 'on-event'), [['system', 'script', 'run'], ['cleanup']]);
  t.same(scanScript('cleanup', 'on-login'), [['cleanup']]);
  t.same(scanScript('/ip hotspot user remove x', 'on-event'), [
    ['ip', 'hotspot', 'user', 'remove', 'x'],
  ]);
});
