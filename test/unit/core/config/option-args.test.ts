import { describe, expect, it } from 'vitest';
import { OptionArgError, parseOptionArgs, parseOptionValue } from '../../../../core/config/option-args.js';

describe('parseOptionValue', () => {
  it.each([
    ['true', true],
    ['false', false],
    ['42', 42],
    ['-1.5e3', -1500],
    ['2g', '2g'],
    ['007', '007'],
    ['{"a":[1,2]}', { a: [1, 2] }],
    ['[1,"x"]', [1, 'x']],
    ['"1024"', '1024'],
    ['{not json', '{not json'],
    ['', ''],
    ['a=b', 'a=b'],
  ])('%j -> %j', (text, value) => {
    expect(parseOptionValue(text)).toEqual(value);
  });
});

describe('parseOptionArgs', () => {
  it('nests dotted keys and keeps everything after the first =', () => {
    expect(parseOptionArgs(['size=1g', 'cache.dir=/x', 'cache.max=3', 'label=a=b'])).toEqual({ size: '1g', cache: { dir: '/x', max: 3 }, label: 'a=b' });
  });

  it.each([
    [['noequals'], /expected key=value/],
    [['=v'], /expected key=value/],
    [['a..b=1'], /invalid key/],
    [['__proto__.x=1'], /invalid key/],
    [['a=1', 'a=2'], /given more than once/],
    [['a=1', 'a.b=2'], /a is already set to a value/],
  ])('refuses %j', (args, message) => {
    expect(() => parseOptionArgs(args)).toThrow(OptionArgError);
    expect(() => parseOptionArgs(args)).toThrow(message);
  });
});
