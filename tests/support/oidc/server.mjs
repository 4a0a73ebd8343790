// A real OpenID Provider for the hub's sign-in tests: panva/node-oidc-provider with its
// development login form (any login name, any password) and open dynamic client registration
// (RFC 7591), so each test hub registers its own redirect URI. Loopback only.
//
//   PORT=<port> ACCOUNTS=<path to a JSON file> node server.mjs
//
// ACCOUNTS maps a login to the claims the provider reports, e.g.
// {"alice": {"preferred_username": "Alice.Smith", "email": "alice@example.test"}}; it is read at
// every sign-in, so a test can change a user's preferred username between sign-ins. A login not
// in the file gets preferred_username = the login. `sub` is always the login.
import { readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;

function claimsFor(login) {
  let accounts = {};
  try {
    accounts = JSON.parse(readFileSync(process.env.ACCOUNTS, 'utf8'));
  } catch {
    accounts = {};
  }
  const extra = accounts[login] || {};
  return {
    sub: login,
    preferred_username: extra.preferred_username ?? login,
    name: extra.name ?? login,
    email: extra.email ?? `${login}@example.test`,
    email_verified: true,
  };
}

const provider = new Provider(issuer, {
  features: {
    devInteractions: { enabled: true },
    registration: { enabled: true },
  },
  claims: {
    openid: ['sub'],
    profile: ['preferred_username', 'name'],
    email: ['email', 'email_verified'],
  },
  // PKCE (S256) on every authorization-code request, confidential clients included.
  pkce: { required: () => true },
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => claimsFor(id),
  }),
  cookies: { keys: ['hub-test-only-cookie-key'] },
  ttl: { Session: 3600, Interaction: 600, Grant: 3600 },
});
provider.proxy = false;

provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
