import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../../core/contract/errors.js';
import { applyLabelUpdate } from '../../../../core/contract/update.js';

const current = { keep: '1', change: '2', drop: '3' };
const upd = (labels: Record<string, string>) => ({ name: 'snap', labels });

describe('applyLabelUpdate (containerd bolt UpdateInfo)', () => {
  it('empty mask replaces all labels', () => {
    expect(applyLabelUpdate(current, upd({ only: 'x' }), [])).toEqual({ only: 'x' });
    expect(applyLabelUpdate(current, upd({}), [])).toEqual({});
  });

  it('"labels" replaces all labels', () => {
    expect(applyLabelUpdate(current, upd({ only: 'x' }), ['labels'])).toEqual({ only: 'x' });
  });

  it('"labels.<key>" sets present keys and deletes absent or empty ones', () => {
    expect(applyLabelUpdate(current, upd({ change: 'two', added: 'new' }), ['labels.change', 'labels.added', 'labels.drop'])).toEqual({ keep: '1', change: 'two', added: 'new' });
    expect(applyLabelUpdate(current, upd({ drop: '' }), ['labels.drop'])).toEqual({ keep: '1', change: '2' });
  });

  it('ignores labels in the update that the mask does not name', () => {
    expect(applyLabelUpdate(current, upd({ keep: 'changed', other: 'x' }), ['labels.change'])).toEqual({ keep: '1', drop: '3' });
  });

  it('keeps dots in label keys', () => {
    expect(applyLabelUpdate({}, upd({ 'containerd.io/gc.root': 'x' }), ['labels.containerd.io/gc.root'])).toEqual({ 'containerd.io/gc.root': 'x' });
  });

  it('does not read inherited properties as labels', () => {
    expect(applyLabelUpdate({ toString: 'x' }, upd({}), ['labels.toString'])).toEqual({});
  });

  it('does not modify its inputs', () => {
    const cur = { ...current };
    const u = upd({ change: 'two' });
    applyLabelUpdate(cur, u, ['labels.change']);
    expect(cur).toEqual(current);
    expect(u.labels).toEqual({ change: 'two' });
  });

  it.each(['parent', 'name', 'kind', 'created_at', 'updated_at', 'labels.', 'label.x', 'Labels'])('refuses %j with InvalidArgumentError', (path) => {
    expect(() => applyLabelUpdate(current, upd({}), [path])).toThrow(InvalidArgumentError);
    expect(() => applyLabelUpdate(current, upd({}), ['labels.keep', path])).toThrow(`cannot update ${JSON.stringify(path)} field on snapshot "snap"`);
  });
});
