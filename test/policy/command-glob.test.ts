import t from 'tap';
import { CommandGlob } from '../../src/policy/command-glob.js';

t.test('a literal glob matches exactly that command', async (t) => {
  const glob = new CommandGlob('/system/reboot');
  t.ok(glob.matches('/system/reboot'));
  t.notOk(glob.matches('/system/reboot/now'));
  t.notOk(glob.matches('/system'));
  t.notOk(glob.matches('/system/reb'));
});

t.test('* matches one segment', async (t) => {
  const glob = new CommandGlob('/user/*');
  t.ok(glob.matches('/user/add'));
  t.notOk(glob.matches('/user'));
  t.notOk(glob.matches('/user/group/add'));
});

t.test('** matches any depth, none included, anywhere in the glob', async (t) => {
  const tail = new CommandGlob('/user/**');
  t.ok(tail.matches('/user'));
  t.ok(tail.matches('/user/group/add'));
  t.notOk(tail.matches('/user-manager/user/add'));
  const middle = new CommandGlob('/ip/**/print');
  t.ok(middle.matches('/ip/print'));
  t.ok(middle.matches('/ip/hotspot/user/print'));
  t.notOk(middle.matches('/ip/hotspot/user/add'));
  t.ok(new CommandGlob('/**').matches('/export'));
});

t.test('script words may abbreviate segments', async (t) => {
  const glob = new CommandGlob('/system/reset-configuration');
  t.ok(glob.mayMatch(['sys', 'reset-c']));
  t.ok(glob.mayMatch(['system', 'reset-configuration']));
  t.notOk(glob.mayMatch(['sys', 'reboot']));
  t.notOk(glob.mayMatch(['systems', 'reset']));
  t.notOk(glob.matches('/sys/reset-c'), 'plain commands are never abbreviated');
  const deep = new CommandGlob('/ip/**/print');
  t.ok(deep.mayMatch(['ip', 'hot', 'user', 'pr']));
  t.notOk(deep.mayMatch(['ip', 'hotspot', 'user', 'add']));
  t.ok(new CommandGlob('/user/*').mayMatch(['us', 'anything']));
});

t.test('dots in a glob are literal', async (t) => {
  t.ok(new CommandGlob('/a.b/*').matches('/a.b/c'));
  t.notOk(new CommandGlob('/a.b/*').matches('/axb/c'));
});

t.test('* inside a segment is any text there; script words may abbreviate its start', async (t) => {
  const glob = new CommandGlob('/ip/hot*/user/add');
  t.ok(glob.matches('/ip/hotspot/user/add'));
  t.notOk(glob.matches('/ip/hotspot/x/user/add'));
  t.ok(glob.mayMatch(['ip', 'ho', 'user', 'add']), 'an abbreviation of the text before *');
  t.ok(glob.mayMatch(['ip', 'hotspot', 'us', 'a']), 'a word that begins with it');
  t.notOk(glob.mayMatch(['ip', 'firewall', 'user', 'add']));
});
