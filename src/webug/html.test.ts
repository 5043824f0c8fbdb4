import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeHtml, href, html, scriptJson, unsafeRaw } from './html.ts';

describe('html tagged template', () => {
  it('escapes every interpolated string, including quotes for attributes', () => {
    const evil = `<script>alert("x")</script>' onmouseover='y`;
    const out = html`<a title="${evil}">${evil}</a>`.value;
    assert.equal(out, `<a title="${escapeHtml(evil)}">${escapeHtml(evil)}</a>`);
    assert.ok(!out.includes('<script>'));
    assert.ok(!/title="[^"]*"[^>]*onmouseover/.test(out.replace(/&#39;/g, '')));
  });
  it('passes SafeHtml through and escapes each array element', () => {
    const inner = html`<b>${'<i>'}</b>`;
    assert.equal(html`<p>${inner}${['<x>', inner]}</p>`.value, '<p><b>&lt;i&gt;</b>&lt;x&gt;<b>&lt;i&gt;</b></p>');
  });
  it('renders null, undefined and booleans as nothing and numbers as text', () => {
    assert.equal(html`${null}${undefined}${false}${true}${42}${10n}`.value, '4210');
  });
  it('unsafeRaw is the only way to inject markup', () => {
    assert.equal(html`${unsafeRaw('<hr>')}`.value, '<hr>');
  });
  it('scriptJson cannot close the script element', () => {
    const out = scriptJson({ s: '</script><script>alert(1)</script>', amp: '&', ls: '\u2028' }).value;
    assert.ok(!out.includes('<') && !out.includes('>') && !out.includes('&'));
    assert.deepEqual(JSON.parse(out), { s: '</script><script>alert(1)</script>', amp: '&', ls: '\u2028' });
  });
  it('href builds same-origin links and refuses anything else', () => {
    assert.equal(href('/', { q: 'a b&c', has: ['x', 'y'], empty: '', none: undefined }), '/?q=a+b%26c&has=x&has=y');
    assert.throws(() => href('javascript:alert(1)'));
    assert.throws(() => href('//evil.example/'));
  });
});
