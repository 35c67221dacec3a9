import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkLabelLimits, DEFAULT_LABEL_LIMITS, labelLimitsSchema } from '../../../../core/contract/label-limits.js';

const L = DEFAULT_LABEL_LIMITS;

describe('checkLabelLimits', () => {
  it('defaults: 256 labels, 256 KiB; maxLabelSetBytes at most 3 MiB', () => {
    expect(L).toEqual({ maxLabels: 256, maxLabelSetBytes: 262144 });
    expect(labelLimitsSchema.safeParse({ maxLabelSetBytes: 4 * 1024 * 1024 }).success).toBe(false);
  });

  it("containerd's per-label bound: key + value over 4096 bytes names the key, truncated", () => {
    expect(() => checkLabelLimits({ k: 'v'.repeat(4095) }, L, 'snapshot "s"')).not.toThrow();
    expect(() => checkLabelLimits({ k: 'v'.repeat(4096) }, L, 'snapshot "s"')).toThrow('label "k": key and value are 4097 bytes, more than the maximum of 4096');
    expect(() => checkLabelLimits({ [`${'K'.repeat(500)}`]: 'é'.repeat(2000) }, L, 'snapshot "s"')).toThrow(/^label "K{64}"…\(500 bytes\): key and value are 4500 bytes/);
  });

  it('per-snapshot bounds name the snapshot, the size and the option', () => {
    const many = Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`l${i}`, 'x']));
    expect(() => checkLabelLimits(many, L, 'snapshot "s"')).toThrow('snapshot "s" would have 257 labels, more than the maximum of 256 (maxLabels)');
    const big = Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`b${i}`, 'x'.repeat(4000)]));
    expect(() => checkLabelLimits(big, L, 'snapshot "s"')).toThrow(/^snapshot "s" would have \d+ bytes of labels, more than the maximum of 262144 \(maxLabelSetBytes\)$/);
    expect(() => checkLabelLimits(big, { ...L, maxLabelSetBytes: 1 << 20 }, 'snapshot "s"')).not.toThrow();
  });

  it('accepts exactly the sets within every bound (property)', () => {
    const limits = { maxLabels: 8, maxLabelSetBytes: 2000 };
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 20 }), fc.string({ maxLength: 600 }), { maxKeys: 12 }), (labels) => {
        const entries = Object.entries(labels);
        const total = entries.reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
        const ok = entries.length <= limits.maxLabels && total <= limits.maxLabelSetBytes;
        if (ok) expect(() => checkLabelLimits(labels, limits, 's')).not.toThrow();
        else expect(() => checkLabelLimits(labels, limits, 's')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
      }),
    );
  });
});
