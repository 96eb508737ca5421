// A real OpenID Provider for the tests that sign in with OpenID Connect: panva's
// certified `oidc-provider`, on plain HTTP on loopback, with login and consent pages
// simple enough for a cookie-jar HTTP client to fill in. The Rust tests spawn it with
// `node e2e/oidc-provider.mjs` and drive it through files in a folder they own.
//
// Protocol with the driver:
// - Environment: PORT (0 picks a free one), STATE_DIR (the folder below).
// - When listening, prints exactly one line `READY http://127.0.0.1:<port>` on stdout
//   (the issuer; discovery at `<issuer>/.well-known/openid-configuration`); everything
//   else goes to stderr. Runs until killed or until its stdin ends, so spawn it with a
//   piped stdin and keep the pipe open (a null stdin ends at once: it would exit).
// - STATE_DIR/clients.json, read once at start: an array of oidc-provider client
//   metadata. One client serves both the web server (its own callback) and the
//   desktop app (RFC 8252 loopback redirect on any port, code redeemed by the server
//   with the same id and secret). oidc-provider ignores the port of a loopback
//   redirect URI only for `application_type: "native"` clients, and a native client
//   may register http URIs only on loopback hosts, which both are:
//     [{ "client_id": "imagevault", "client_secret": "imagevault-test-secret",
//        "application_type": "native",
//        "redirect_uris": ["http://127.0.0.1:<serverport>/auth/oidc/callback",
//                          "http://127.0.0.1/callback"],
//        "token_endpoint_auth_method": "client_secret_basic",
//        "grant_types": ["authorization_code"], "response_types": ["code"] }]
//   Scheme, host (127.0.0.1 is not localhost) and path must match exactly, the port
//   may be any (for both URIs); anything else is a 400 page, no redirect. Native
//   clients get the consent page on every authorization, even one already granted.
//   The token endpoint takes the secret either way, client_secret_basic or
//   client_secret_post, whichever of the two is registered; with basic, id and secret
//   are form-urlencoded before base64 (RFC 6749 2.3.1): keep them to [A-Za-z0-9-._~].
//   PKCE with S256 is required (else `error=invalid_request` on the redirect). The
//   token request's redirect_uri must equal the authorization request's, port
//   included. Codes work once (a second use: invalid_grant).
// - STATE_DIR/accounts.json, read again on every use (edit it while running):
//     { "<account id>": { "password": "...", "claims": { "email": "...",
//       "email_verified": true, "name": "..." }, "amr": ["pwd", "otp"] } }
//   `sub` is the account id; `amr` is optional: without it the ID token has no amr.
//   Scopes openid, email (email, email_verified), profile (name); the ID token itself
//   carries the granted scopes' claims, and amr, nonce, at_hash (auth_time only when
//   max_age or prompt=login was asked). RS256, a fresh key (with a kid) every start.
// - STATE_DIR/tamper, optional: one word; the next token response with an id_token
//   gets a bad one instead, then the file is deleted: `bad_signature` (email changed
//   to mallory@example.com, signature kept), or re-signed validly with the provider's
//   key: `wrong_audience`, `expired` (iat two hours, exp one hour ago),
//   `wrong_nonce`, `wrong_issuer`, `email_unverified` (email_verified false).
//   An unknown word makes that token response a 500 server_error.
//
// Pages (plain HTML forms, no JavaScript; bodies application/x-www-form-urlencoded):
// - The authorization endpoint `<issuer>/auth` redirects (303) to
//   `/interaction/<uid>`, setting the cookies `op_interaction` (Path
//   /interaction/<uid>) and `op_interaction_resume` (Path /auth/<uid>), each with a
//   `.sig` twin, all HttpOnly, SameSite=Lax, not Secure; send them back. GET shows the
//   login or the consent page, whichever the interaction needs. The consent step
//   after a login is a new interaction with a new <uid>.
// - Login: POST `/interaction/<uid>/login` with `login` (the account id) and
//   `password`; button "Sign in". Right: 303 to `<issuer>/auth/<uid>`, which sets the
//   session cookie `op_session` (Path /) and redirects (303) to the consent page.
//   Wrong: 401, the form again with "Wrong login or password.".
// - Consent: POST `/interaction/<uid>/consent` with `decision=continue` (button
//   "Continue": grants what was asked) or `decision=deny` (button "Deny": the client
//   gets `error=access_denied`). Either: 303 to `<issuer>/auth/<uid>`, then 303 to the
//   redirect_uri with `code` (or `error` and `error_description`), `state` and `iss`.
// - A POST to the wrong step, another <uid> or without the cookies: 400 page.
// A second authorization with the same cookies skips the login (prompt=login or
// max_age=0 force it) and carries the amr of the earlier login.

import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { CompactSign, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

// oidc-provider prints notices with console.info: keep stdout for the READY line.
console.log = console.info = (...args) => console.error(...args);

const port = Number(process.env.PORT || 0);
const stateDir = process.env.STATE_DIR;
if (!stateDir) {
  console.error('STATE_DIR is required');
  process.exit(2);
}

const readJson = (name) => JSON.parse(readFileSync(join(stateDir, name), 'utf8'));
const accounts = () => readJson('accounts.json');

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>${escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>${escape(title)}</h1>
${body}
</main></body>
</html>
`;
}

function loginPage(uid, login, error) {
  // "Sign in" only on the button, so that a test clicking `text=Sign in` finds it.
  return page('Test OpenID Provider', `${error ? `<p role="alert">${escape(error)}</p>\n` : ''}\
<form method="post" action="/interaction/${escape(uid)}/login">
<p><label for="login">Login</label> <input id="login" name="login" autocomplete="username" value="${escape(login)}" required></p>
<p><label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><button type="submit">Sign in</button></p>
</form>`);
}

function consentPage(uid, details) {
  const scopes = details.params.scope?.split(' ') ?? [];
  return page('Allow access?', `<p>The application <strong>${escape(details.params.client_id)}</strong> \
asks for: ${scopes.map(escape).join(', ')}.</p>
<form method="post" action="/interaction/${escape(uid)}/consent">
<p><button type="submit" name="decision" value="continue">Continue</button>
<button type="submit" name="decision" value="deny">Deny</button></p>
</form>`);
}

async function formBody(req) {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > 65536) throw new Error('form too large');
  }
  return new URLSearchParams(text);
}

/** Serves /interaction/<uid>[/login|/consent]; everything else goes on to the provider. */
function interactions(provider) {
  return async (ctx, next) => {
    const m = /^\/interaction\/([^/]+)(?:\/(login|consent))?$/.exec(ctx.path);
    if (!m) return next();
    const [, uid, action] = m;
    ctx.set('Cache-Control', 'no-store');
    try {
      const details = await provider.interactionDetails(ctx.req, ctx.res);
      if (details.uid !== uid) throw new Error('this interaction is not the one of the cookie');
      const prompt = details.prompt.name;
      if (ctx.method === 'GET' && !action) {
        ctx.type = 'html';
        ctx.body = prompt === 'login' ? loginPage(uid, details.params.login_hint ?? '') : consentPage(uid, details);
        return;
      }
      if (ctx.method !== 'POST' || action !== (prompt === 'login' ? 'login' : 'consent')) {
        throw new Error(`this interaction wants ${prompt}`);
      }
      const form = await formBody(ctx.req);
      let result;
      let merge = true;
      if (action === 'login') {
        const login = form.get('login') ?? '';
        const all = accounts();
        const account = Object.hasOwn(all, login) ? all[login] : undefined;
        if (!account || account.password !== form.get('password')) {
          console.error(`oidc-provider: wrong login or password for ${JSON.stringify(login)}`);
          ctx.status = 401;
          ctx.type = 'html';
          ctx.body = loginPage(uid, login, 'Wrong login or password.');
          return;
        }
        result = { login: { accountId: login, ...(account.amr ? { amr: account.amr } : {}) } };
      } else if (form.get('decision') === 'continue') {
        const { grantId, params, session } = details;
        const missing = details.prompt.details;
        const grant = grantId
          ? await provider.Grant.find(grantId)
          : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
        if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
        if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
        for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
          grant.addResourceScope(indicator, scopes.join(' '));
        }
        const saved = await grant.save();
        result = { consent: grantId ? {} : { grantId: saved } };
      } else if (form.get('decision') === 'deny') {
        result = { error: 'access_denied', error_description: 'the End-User denied the request' };
        merge = false;
      } else {
        throw new Error('decision must be continue or deny');
      }
      const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge });
      ctx.redirect(returnTo);
      ctx.status = 303;
    } catch (err) {
      const reason = err.error_description ? `${err.message}: ${err.error_description}` : err.message;
      console.error(`oidc-provider: ${ctx.method} ${ctx.path}: ${reason}`);
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = page('Interaction failed', `<p>${escape(reason)}</p>`);
    }
  };
}

const b64u = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** The ID token a tamper word makes of a good one. */
async function tampered(word, jwt, key, issuer) {
  const header = decodeProtectedHeader(jwt);
  const claims = decodeJwt(jwt);
  const now = Math.floor(Date.now() / 1000);
  const changes = {
    bad_signature: { email: 'mallory@example.com' },
    wrong_audience: { aud: 'someone-else' },
    expired: { iat: now - 7200, exp: now - 3600 },
    wrong_nonce: { nonce: randomBytes(16).toString('base64url') },
    wrong_issuer: { iss: `${issuer}/other` },
    email_unverified: { email_verified: false },
  }[word];
  if (!changes) throw new Error(`unknown tamper word ${JSON.stringify(word)}`);
  const payload = { ...claims, ...changes };
  if (word === 'bad_signature') {
    const [head, , signature] = jwt.split('.');
    return `${head}.${b64u(payload)}.${signature}`;
  }
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader(header).sign(key);
}

/** Applies STATE_DIR/tamper to the next token response that carries an id_token. */
function tamper(key, issuer) {
  const file = join(stateDir, 'tamper');
  return async (ctx, next) => {
    await next();
    if (ctx.path !== '/token' || ctx.method !== 'POST' || !ctx.body?.id_token) return;
    let word;
    try {
      word = readFileSync(file, 'utf8').trim();
    } catch {
      return;
    }
    rmSync(file, { force: true });
    try {
      ctx.body = { ...ctx.body, id_token: await tampered(word, ctx.body.id_token, key, issuer) };
      console.error(`oidc-provider: tampered ID token: ${word}`);
    } catch (err) {
      console.error(`oidc-provider: ${err.message}`);
      ctx.status = 500;
      ctx.body = { error: 'server_error', error_description: err.message };
    }
  };
}

async function main() {
  const clients = readJson('clients.json');
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: 'RS256', use: 'sig' };

  // The issuer names the port, so listen first and hand requests over once it exists.
  let handler = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = createServer((req, res) => handler(req, res));
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const issuer = `http://127.0.0.1:${server.address().port}`;

  const provider = new Provider(issuer, {
    clients,
    jwks: { keys: [jwk] },
    findAccount(_ctx, sub) {
      const all = accounts();
      if (!Object.hasOwn(all, sub)) return undefined;
      return { accountId: sub, claims: () => ({ ...all[sub].claims, sub }) };
    },
    scopes: ['openid', 'email', 'profile'],
    // The scopes' claims reach the ID token (conformIdTokenClaims: false); amr rides
    // with openid, or it would appear only when asked for with the claims parameter.
    claims: {
      acr: null, auth_time: null, iss: null, sid: null,
      openid: ['sub', 'amr'], email: ['email', 'email_verified'], profile: ['name'],
    },
    conformIdTokenClaims: false,
    pkce: { methods: ['S256'], required: () => true },
    features: { devInteractions: { enabled: false } },
    cookies: {
      names: { session: 'op_session', interaction: 'op_interaction', resume: 'op_interaction_resume' },
      // The session cookie defaults to SameSite=None, which Chromium drops unless Secure
      // (HTTPS only): the login would loop. Lax still rides top-level redirects.
      long: { httpOnly: true, sameSite: 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
      keys: [randomBytes(32).toString('base64url')],
    },
    renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('Provider error', Object.entries(out)
        .map(([k, v]) => `<p><code>${escape(k)}</code>: ${escape(v)}</p>`).join('\n'));
    },
  });
  provider.use(tamper(privateKey, issuer));
  provider.use(interactions(provider));
  provider.on('server_error', (_ctx, err) => console.error(`oidc-provider: ${err.stack}`));
  // Fail now, not on the first request, if clients.json is wrong.
  for (const { client_id: id } of clients) {
    if (!(await provider.Client.find(id))) throw new Error(`client ${id} not loaded`);
  }
  handler = provider.callback();

  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
  process.on('SIGTERM', () => process.exit(0));
  process.stdout.write(`READY ${issuer}\n`);
}

main().catch((err) => {
  console.error(err.error_description ? `${err.message}: ${err.error_description}` : err.stack || String(err));
  process.exit(1);
});
