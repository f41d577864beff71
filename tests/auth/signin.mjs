// Sign-in: identity-provider JWTs (HS256 secret; RS256 and EdDSA keys from a
// JWKS file, made here with node:crypto) and built-in passwords. Every bad
// token gets its own code and stores nothing; failed passwords are throttled.
import { generateKeyPairSync, createHmac, sign } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  startAuthServer, stopServer, removeDir, tempDir, mintToken, api, wsOpen, b64url, run, assert
} from './lib.mjs'

const SECRET = 'hs256-test-secret-0123456789abcdef'
const ISS = 'https://idp.example'
const AUD = 'corates-test'
const dir = tempDir()
const ed = generateKeyPairSync('ed25519')
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
const jwks = {
  keys: [
    { ...ed.publicKey.export({ format: 'jwk' }), kid: 'ed-1', use: 'sig' },
    { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'rsa-1', alg: 'RS256', use: 'sig' }
  ]
}
writeFileSync(join(dir, 'jwks.json'), JSON.stringify(jwks))

const server = await startAuthServer({
  dataDir: dir,
  env: {
    CORATES_JWT_HS256_SECRET: SECRET,
    CORATES_JWT_JWKS_FILE: join(dir, 'jwks.json'),
    CORATES_JWT_ISSUER: ISS,
    CORATES_JWT_AUDIENCE: AUD,
    CORATES_SIGNIN_FAILURES_PER_ACCOUNT: '3',
    CORATES_SIGNIN_FAILURES_PER_IP: '1000'
  }
})

const now = () => Math.floor(Date.now() / 1000)
function jwt (header, claims, key) {
  const input = b64url(JSON.stringify(header)) + '.' + b64url(JSON.stringify(claims))
  let sig = Buffer.alloc(0)
  if (header.alg === 'HS256') sig = createHmac('sha256', key ?? SECRET).update(input).digest()
  if (header.alg === 'EdDSA') sig = sign(null, Buffer.from(input), key ?? ed.privateKey)
  if (header.alg === 'RS256') sig = sign('sha256', Buffer.from(input), key ?? rsa.privateKey)
  return input + '.' + b64url(sig)
}
const claims = (extra = {}) => ({ iss: ISS, aud: AUD, sub: 'idp-user-1', preferred_username: 'carol', exp: now() + 600, ...extra })
const exchange = t => api(server, 'POST', '/api/auth/session', { json: { jwt: t } })

const failed = await run({
  async 'bad identity tokens get their own code and change nothing' () {
    const cases = [
      ['expired', jwt({ alg: 'HS256' }, claims({ exp: now() - 3600 })), 'TOKEN_EXPIRED'],
      ['not yet valid', jwt({ alg: 'HS256' }, claims({ nbf: now() + 3600 })), 'TOKEN_NOT_YET_VALID'],
      ['wrong audience', jwt({ alg: 'HS256' }, claims({ aud: 'someone-else' })), 'TOKEN_INVALID_AUDIENCE'],
      ['wrong issuer', jwt({ alg: 'HS256' }, claims({ iss: 'https://evil.example' })), 'TOKEN_INVALID_ISSUER'],
      ['bad signature', jwt({ alg: 'HS256' }, claims(), 'not-the-secret'), 'TOKEN_BAD_SIGNATURE'],
      ['bad EdDSA signature', jwt({ alg: 'EdDSA', kid: 'ed-1' }, claims(), generateKeyPairSync('ed25519').privateKey), 'TOKEN_BAD_SIGNATURE'],
      ['alg none', jwt({ alg: 'none' }, claims()), 'TOKEN_ALG_NOT_ALLOWED'],
      ['unknown kid', jwt({ alg: 'RS256', kid: 'nope' }, claims()), 'TOKEN_UNKNOWN_KEY'],
      ['ES256 without such a key', jwt({ alg: 'ES256' }, claims()), 'TOKEN_ALG_NOT_ALLOWED'],
      ['HS256 signed with the public key', jwt({ alg: 'HS256' }, claims(), rsa.publicKey.export({ type: 'spki', format: 'pem' })), 'TOKEN_BAD_SIGNATURE'],
      ['no sub', jwt({ alg: 'HS256' }, claims({ sub: undefined })), 'TOKEN_MISSING_CLAIM'],
      ['malformed', 'not.a-jwt', 'TOKEN_MALFORMED']
    ]
    for (const [what, t, code] of cases) {
      const r = await exchange(t)
      assert(r.status === 401 && r.json?.error?.code === code, `${what}: ${r.status} ${r.text}`)
    }
    // Nothing was stored: the first good token creates the account under its
    // preferred name, unsuffixed, as the first of its kind.
    const ok = await exchange(jwt({ alg: 'HS256' }, claims()))
    assert(ok.status === 201 && ok.json.user.name === 'carol' && ok.json.user.origin === 'jwt', 'good HS256: ' + ok.text)
    const list = await api(server, 'GET', '/api/sessions', { token: ok.json.token })
    assert(list.status === 200 && list.json.sessions.length === 1, 'exactly one session: ' + list.text)
  },

  async 'EdDSA and RS256 tokens from the JWKS map to one account per subject' () {
    const a = await exchange(jwt({ alg: 'EdDSA', kid: 'ed-1' }, claims()))
    assert(a.status === 201, 'EdDSA: ' + a.text)
    const b = await exchange(jwt({ alg: 'RS256', kid: 'rsa-1' }, claims()))
    assert(b.status === 201, 'RS256: ' + b.text)
    assert(a.json.user.id === b.json.user.id, 'same subject, same account')
    const other = await exchange(jwt({ alg: 'EdDSA' }, claims({ sub: 'idp-user-2', preferred_username: 'carol' })))
    assert(other.status === 201 && other.json.user.name !== 'carol' && other.json.user.name.startsWith('carol-'),
      'a second carol gets a suffixed name: ' + other.text)
    // The session never outlives the identity token.
    const short = await exchange(jwt({ alg: 'HS256' }, claims({ exp: now() + 60 })))
    assert(short.status === 201 && Date.parse(short.json.session.expiresAt) <= (now() + 61) * 1000, 'capped expiry: ' + short.text)
    const ws = await wsOpen(server, 'jwt-doc', a.json.token)
    assert(ws.status === 101, 'JWT session opens a document')
    ws.ws.close()
  },

  async 'password sign-in, and failed attempts are throttled' () {
    mintToken(dir, 'dave', { password: 'dave-secret-pw' })
    const good = await api(server, 'POST', '/api/auth/session', { json: { user: 'dave', password: 'dave-secret-pw' } })
    assert(good.status === 201 && good.json.session.method === 'password', 'good password: ' + good.text)
    const me = await api(server, 'GET', '/api/session', { token: good.json.token })
    assert(me.status === 200 && me.json.user.name === 'dave', 'profile: ' + me.text)
    const unknown = await api(server, 'POST', '/api/auth/session', { json: { user: 'nobody', password: 'x' } })
    assert(unknown.status === 401 && unknown.json.error.code === 'INVALID_CREDENTIALS', 'unknown user: ' + unknown.text)
    // A dev account without a password cannot sign in with one.
    mintToken(dir, 'nopw')
    const nopw = await api(server, 'POST', '/api/auth/session', { json: { user: 'nopw', password: '' } })
    assert(nopw.status === 400, 'empty password fails validation: ' + nopw.status)
    const codes = []
    for (let i = 0; i < 5; i++) {
      const r = await api(server, 'POST', '/api/auth/session', { json: { user: 'dave', password: 'wrong-' + i } })
      codes.push(`${r.status} ${r.json?.error?.code}`)
    }
    assert(codes.slice(0, 3).every(c => c === '401 INVALID_CREDENTIALS'), 'first failures: ' + codes)
    assert(codes.slice(3).every(c => c === '429 SIGNIN_THROTTLED'), 'then throttled: ' + codes)
    const blocked = await api(server, 'POST', '/api/auth/session', { json: { user: 'dave', password: 'dave-secret-pw' } })
    assert(blocked.status === 429 && Number(blocked.headers.get('retry-after')) >= 1, 'even the right password waits: ' + blocked.status)
    const extra = await api(server, 'POST', '/api/auth/session', { json: { user: 'dave', password: 'x', extra: 1 } })
    assert(extra.status === 400 && extra.json.error.code === 'VALIDATION_FAILED', 'extra field: ' + extra.text)
  }
})

await stopServer(server)
if (!failed) removeDir(dir)
process.exit(failed ? 1 : 0)
