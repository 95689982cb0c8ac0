import t from 'tap';
import { CommandGlob } from '../../src/policy/command-glob.js';

const words = (command: string): string[] => command.slice(1).split('/');

t.test('a literal glob matches exactly that command', async (t) => {
  const glob = new CommandGlob('/system/reboot');
  t.ok(glob.matches(words('/system/reboot')));
  t.notOk(glob.matches(words('/system/reboot/now')));
  t.notOk(glob.matches(words('/system')));
  t.notOk(glob.matches(words('/system/reb')));
});

t.test('* matches one segment', async (t) => {
  const glob = new CommandGlob('/user/*');
  t.ok(glob.matches(words('/user/add')));
  t.notOk(glob.matches(words('/user')));
  t.notOk(glob.matches(words('/user/group/add')));
});

t.test('** matches any depth, none included, anywhere in the glob', async (t) => {
  const tail = new CommandGlob('/user/**');
  t.ok(tail.matches(words('/user')));
  t.ok(tail.matches(words('/user/group/add')));
  t.notOk(tail.matches(words('/user-manager/user/add')));
  const middle = new CommandGlob('/ip/**/print');
  t.ok(middle.matches(words('/ip/print')));
  t.ok(middle.matches(words('/ip/hotspot/user/print')));
  t.notOk(middle.matches(words('/ip/hotspot/user/add')));
  t.ok(new CommandGlob('/**').matches(words('/export')));
});

t.test('script words may abbreviate segments', async (t) => {
  const glob = new CommandGlob('/system/reset-configuration');
  t.ok(glob.mayMatch(['sys', 'reset-c']));
  t.ok(glob.mayMatch(['system', 'reset-configuration']));
  t.notOk(glob.mayMatch(['sys', 'reboot']));
  t.notOk(glob.mayMatch(['systems', 'reset']));
  t.notOk(glob.matches(['sys', 'reset-c']), 'plain commands are never abbreviated');
});
