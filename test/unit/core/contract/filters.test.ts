import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../../core/contract/errors.js';
import { parseFilters } from '../../../../core/contract/filters.js';
import type { Info } from '../../../../core/contract/snapshotter.js';

const snap = (name: string, kind: Info['kind'], parent = '', labels: Record<string, string> = {}): Info => ({ name, kind, parent, labels, created: 1n, updated: 1n });
const select = (corpus: Info[], filters: string[]) => {
  const f = parseFilters(filters);
  return corpus.filter((i) => f.match(i)).map((i) => i.name);
};

describe('containerd testsuite checkWalk cases', () => {
  const gc = { 'containerd.io/gc.root': 'check-walk' };
  const corpus = [
    snap('a-np', 'active', '', gc),
    snap('p', 'committed', '', gc),
    snap('a', 'active', 'p', gc),
    snap('v', 'view', 'p', gc),
    snap('p-wl', 'committed', '', { l: '1', ...gc }),
    snap('a-wl', 'active', 'p-wl', { l: '2', ...gc }),
    snap('v-wl', 'view', 'p-wl', { l: '3', ...gc }),
    snap('a-np-wl', 'active', '', { l: '2', ...gc }),
  ];
  it.each<[string[], string[]]>([
    [['labels."containerd.io/gc.root"==check-walk'], ['a-np', 'p', 'a', 'v', 'p-wl', 'a-wl', 'v-wl', 'a-np-wl']],
    [['kind==active,labels."containerd.io/gc.root"==check-walk'], ['a-np', 'a', 'a-wl', 'a-np-wl']],
    [['kind==view,labels."containerd.io/gc.root"==check-walk'], ['v', 'v-wl']],
    [['kind==committed,labels."containerd.io/gc.root"==check-walk'], ['p', 'p-wl']],
    [['name==p', 'name==a-np-wl'], ['p', 'a-np-wl']],
    [['name==a-wl,labels.l'], ['a-wl']],
    [['parent==p'], ['a', 'v']],
    [['parent!="",labels."containerd.io/gc.root"==check-walk'], ['a', 'v', 'a-wl', 'v-wl']],
    [['labels.l'], ['p-wl', 'a-wl', 'v-wl', 'a-np-wl']],
    [['labels.l==2'], ['a-wl', 'a-np-wl']],
  ])('%j', (filters, expected) => {
    expect(select(corpus, filters).sort()).toEqual([...expected].sort());
  });
});

describe('containerd filters TestFilters corpus (name / labels)', () => {
  // filters/filter_test.go, with the fields a snapshot has (no `other`).
  const corpus = [
    snap('foo', 'active', '', { foo: 'true' }),
    snap('bar', 'active'),
    snap('foo', 'active', '', { foo: 'present', 'more complex label': 'present' }),
    snap('bar', 'active', '', { bar: 'true' }),
    snap('fooer', 'active', '', { 'more complex label with \\ and "': 'present' }),
    snap('fooer', 'active', '', { 'more complex label with \\ and ".post': 'present' }),
    snap('baz', 'committed'),
    snap('bazo', 'committed'),
    snap('compound', 'active', '', { foo: 'omg_asdf.asdf-qwer' }),
  ];
  const idx = (filter: string) => {
    const f = parseFilters([filter]);
    return corpus.flatMap((i, n) => (f.match(i) ? [n] : []));
  };
  it.each<[string, string, number[]]>([
    ['Present', 'name', [0, 1, 2, 3, 4, 5, 6, 7, 8]],
    ['LabelPresent', 'labels.foo', [0, 2, 8]],
    ['NameAndLabelPresent', 'labels.foo,name', [0, 2, 8]],
    ['LabelValue', 'labels.foo==true', [0]],
    ['LabelValuePunctuated', 'labels.foo==omg_asdf.asdf-qwer', [8]],
    ['Name', 'name==bar', [1, 3]],
    ['NameNotEqual', 'name!=bar', [0, 2, 4, 5, 6, 7, 8]],
    ['NameAndLabelPresent2', 'name==bar,labels.bar', [3]],
    ['RegexpValue', 'name~=[abc]+o,name!=foo', [8]],
    ['RegexpQuotedValue', 'name~=/ba[rz]/,name!=bar', [6, 7]],
    ['RegexpPipeQuoted', 'name~=|^fo+$|', [0, 2]],
    ['RegexpQuotedValueGarbage', 'name~=/[abc]{0,1}"\\//,name!=foo', []],
    ['NameAndLabelValue', 'name==bar,labels.bar==true', [3]],
    ['NameAndLabelValueNoMatch', 'name==bar,labels.bar==wrong', []],
    ['LabelQuotedFieldPathPresent', 'name==foo,labels."more complex label"', [2]],
    ['LabelQuotedFieldPathPresentWithQuoted', 'labels."more complex label with \\\\ and \\""==present', [4]],
    ['LabelQuotedFieldPathPresentWithQuotedEmbed', 'labels."more complex label with \\\\ and \\"".post==present', [5]],
    ['QuotedValueWithComma', 'labels.foo=="omg_asdf.asdf-qwer",name', [8]],
    ['SpacesAroundOperator', 'name == bar', [1, 3]],
    ['KindField', 'kind==committed', [6, 7]],
    ['UnknownFieldAbsent', 'other', []],
    ['UnknownFieldNotEqualEmpty', 'other!=x', [0, 1, 2, 3, 4, 5, 6, 7, 8]],
  ])('%s: %s', (_name, filter, expected) => {
    expect(idx(filter)).toEqual(expected);
  });
});

describe('semantics', () => {
  const i = snap('n', 'active', '', { 'a.b': 'x', esc: 'tab\there', uni: 'é' });
  it('empty list and any empty string match everything', () => {
    expect(parseFilters([]).match(i)).toBe(true);
    expect(parseFilters(['']).match(i)).toBe(true);
    expect(parseFilters(['name==other', '']).match(i)).toBe(true);
    expect(parseFilters([]).source).toEqual([]);
  });
  it('several strings are ORed, commas are ANDed', () => {
    expect(parseFilters(['name==x', 'name==n']).match(i)).toBe(true);
    expect(parseFilters(['name==x,name==n']).match(i)).toBe(false);
    expect(parseFilters(['name==n', 'name==x']).source).toEqual(['name==n', 'name==x']);
  });
  it('label keys with dots join the rest of the path', () => {
    expect(parseFilters(['labels.a.b==x']).match(i)).toBe(true);
    expect(parseFilters(['labels."a.b"==x']).match(i)).toBe(true);
  });
  it('quoted values decode Go escapes', () => {
    expect(parseFilters(['labels.esc=="tab\\there"']).match(i)).toBe(true);
    expect(parseFilters(['labels.esc=="tab\\x09here"']).match(i)).toBe(true);
    expect(parseFilters(['labels.esc=="tab\\011here"']).match(i)).toBe(true);
    expect(parseFilters(['labels.uni=="\\u00e9"']).match(i)).toBe(true);
    expect(parseFilters(['labels.uni=="\\U000000e9"']).match(i)).toBe(true);
    expect(parseFilters(['labels.uni==é']).match(i)).toBe(true);
  });
  it('!= matches absent fields; == does not', () => {
    expect(parseFilters(['labels.none!=x']).match(i)).toBe(true);
    expect(parseFilters(['labels.none==""']).match(i)).toBe(false);
  });
  it('parent is present even when empty', () => {
    expect(parseFilters(['parent']).match(i)).toBe(true);
    expect(parseFilters(['parent==""']).match(i)).toBe(true);
  });
  it('labels are absent when a snapshot has none', () => {
    expect(parseFilters(['labels']).match(snap('x', 'view'))).toBe(false);
  });
  it('regular expressions accept Go (?i) flags', () => {
    expect(parseFilters(['name~=(?i)^N$']).match(i)).toBe(true);
    expect(parseFilters(['name~=^N$']).match(i)).toBe(false);
  });
});

describe('syntax errors: InvalidArgumentError with the position, like containerd', () => {
  it.each<[string, string]>([
    ['labels.|foo|==omg_asdf.asdf-qwer', '[labels. >|||< foo|==omg_asdf.asdf-qwer]: invalid quote encountered'],
    ['labels.?"more complex label with \\\\ and \\"".post==present', '[labels. >|?|< "more complex label with \\\\ and \\"".post==present]: expected field or quoted'],
    ['name==foo,', '[name==foo,]: expected field or quoted'],
    ['labels.', '[labels.]: expected field or quoted'],
    ['image~=,id?=?fbaq', '[image~= >|,|< id?=?fbaq]: expected value or quoted'],
    ['labels.ns/key==value', '[labels.ns >|/|< key==value]: quoted literal not terminated'],
    ['labels.key==/value', '[labels.key== >|/|< value]: quoted literal not terminated'],
    ['name===x', '[name >|=|< ==x]: unsupported operator "==="'],
    ['name==a b', '[name==a >| |< b]: unexpected input:  '],
    ['name ,kind', '[name  >|,|< kind]: expected an operator ("=="|"!="|"~=")'],
    ['labels."bad\\q"', '[labels. >|"|< bad\\q"]: illegal escape sequence'],
    ['labels.x=="\\xZZ"', '[labels.x== >|"|< \\xZZ"]: illegal numeric escape sequence'],
    ['name==/x/', '[name== >|/|< x/]: invalid quote encountered'],
    ['   ', '[   ]: expected field or quoted'],
    ['name~=(', '[name~= >|(|< ]: invalid regular expression "("'],
  ])('%s', (filter, message) => {
    let err: unknown;
    try {
      parseFilters([filter]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toContain(message);
    expect((err as Error).message).toMatch(/^invalid filter: parse error at (position \d+|end): /);
  });

  it('names which filter of several is wrong', () => {
    expect(() => parseFilters(['name==ok', 'kind=='])).toThrow('[kind==]: expected value or quoted');
  });

  it('refuses non-strings', () => {
    expect(() => parseFilters([1] as never)).toThrow(InvalidArgumentError);
  });
});
