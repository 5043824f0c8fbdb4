// The login page of `--allow-actions`: post a token of the tokens file, get a
// session cookie. The token field is a password field, never echoed back.
import { html, type SafeHtml } from '../html.ts';

export function loginPage(next: string, error?: string): SafeHtml {
  return html`<h1>Log in to act</h1>
  ${error ? html`<p class="error" id="login-error">${error}</p>` : ''}
  <form class="filters login" method="post" action="/login">
    <input type="hidden" name="next" value="${next}">
    <label>token<input type="password" name="token" autocomplete="current-password" size="40" required autofocus></label>
    <button type="submit">Log in</button>
  </form>
  <p class="meta">A token of webug's tokens file (<span class="mono">--tokens-file</span>). Operator tokens may act, viewer tokens only look.</p>`;
}
