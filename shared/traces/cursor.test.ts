import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HttpProblem } from '../http/problem.js';
import { CursorError, cursorKey, decodeCursor, encodeCursor, queryHash, type TraceCursor } from './cursor.js';

const SECRET = 'test-secret';
const CURSOR: TraceCursor = {
  pk: 'EV#2026-01-01T10',
  sk: '1767262200000#ev-1',
  q: queryHash([1, 2, ['chat']]),
  from: 1767258000000,
  to: 1767265200000,
};

describe('trace cursors', () => {
  it('round-trips and is URL-safe', () => {
    const text = encodeCursor(CURSOR, SECRET);
    expect(text).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{24}$/);
    expect(decodeCursor(text, SECRET)).toEqual(CURSOR);
    const top = { ...CURSOR, sk: null };
    expect(decodeCursor(encodeCursor(top, SECRET), SECRET)).toEqual(top);
  });

  it('refuses every single-character change, and every truncation', () => {
    const text = encodeCursor(CURSOR, SECRET);
    for (let i = 0; i < text.length; i++) {
      const c = text[i] === 'A' ? 'B' : 'A';
      const flipped = `${text.slice(0, i)}${c}${text.slice(i + 1)}`;
      expect(() => decodeCursor(flipped, SECRET), `flip at ${i}`).toThrow(CursorError);
    }
    for (let n = 0; n < text.length; n++) {
      expect(() => decodeCursor(text.slice(0, n), SECRET), `truncated to ${n}`).toThrow(CursorError);
    }
  });

  it('refuses a cursor signed with another key, and junk', () => {
    const text = encodeCursor(CURSOR, SECRET);
    expect(() => decodeCursor(text, 'other')).toThrow(CursorError);
    for (const junk of ['', '.', 'abc', 'a.b.c', `${text}x`, 'x'.repeat(2000), '{"v":1}']) {
      expect(() => decodeCursor(junk, SECRET)).toThrow(CursorError);
    }
  });

  it('refuses a correctly signed payload of the wrong shape or version', () => {
    // Signed the way the encoder signs, with the known key, to reach the checks behind the signature.
    const signed = (data: unknown) => {
      const payload = Buffer.from(JSON.stringify(data)).toString('base64url');
      const mac = createHmac('sha256', SECRET).update(payload).digest().subarray(0, 18).toString('base64url');
      return `${payload}.${mac}`;
    };
    const good = { v: 1, pk: CURSOR.pk, sk: CURSOR.sk, q: CURSOR.q, r: [CURSOR.from, CURSOR.to] };
    expect(decodeCursor(signed(good), SECRET)).toEqual(CURSOR);
    for (const bad of [
      { ...good, v: 2 },
      { ...good, pk: 5 },
      { ...good, sk: 5 },
      { ...good, q: null },
      { ...good, r: [1] },
      { ...good, r: [-1, 2] },
      { ...good, r: ['1', 2] },
      [1, 2],
      null,
    ]) {
      expect(() => decodeCursor(signed(bad), SECRET), JSON.stringify(bad)).toThrow(CursorError);
    }
    const notJson = Buffer.from('{nope').toString('base64url');
    const mac = createHmac('sha256', SECRET).update(notJson).digest().subarray(0, 18).toString('base64url');
    expect(() => decodeCursor(`${notJson}.${mac}`, SECRET)).toThrow(CursorError);
  });

  it('signs with CURSOR_SECRET only: without it, a 500 naming the variable, never a derived key', () => {
    expect(cursorKey({ cursorSecret: 'a-real-secret-of-32-characters!!' })).toBe(
      'a-real-secret-of-32-characters!!',
    );
    const error = (() => {
      try {
        cursorKey({ cursorSecret: undefined });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(HttpProblem);
    expect(error).toMatchObject({
      status: 500,
      message: expect.stringContaining('CURSOR_SECRET is not set'),
    });
  });

  it('hashes queries stably', () => {
    expect(queryHash([1, 2, ['a', 'b']])).toBe(queryHash([1, 2, ['a', 'b']]));
    expect(queryHash([1, 2, ['a', 'b']])).not.toBe(queryHash([1, 2, ['a']]));
  });
});
