import { describe, expect, it } from 'vitest';
import { SaferollError, isSaferollError } from '../../shared/errors.js';

describe('SaferollError', () => {
  it('carries a stable code and the field it is about', () => {
    const err = new SaferollError('SAFEROLL_E_VALIDATION', 'traffic.blue: must be an integer', { field: 'traffic.blue' });
    expect(isSaferollError(err)).toBe(true);
    expect(err.code).toBe('SAFEROLL_E_VALIDATION');
    expect(err.field).toBe('traffic.blue');
    expect(isSaferollError(new Error('x'))).toBe(false);
  });
});
