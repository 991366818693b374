// Who is shopping. Locally: the dev tokens scripts/dev.sh writes into /config.js (alice, bob,
// carol, admin), switchable at any time. In AWS: Cognito's Hosted UI, authorization code + PKCE
// (RFC 7636, S256); tokens live in sessionStorage only and are refreshed with the refresh token.
import { config } from "./config";
import { createStore } from "./store";

export interface Identity {
  /** A display name: the dev identity's key, or the token's email / username. */
  name: string;
  sub: string;
  groups: string[];
  admin: boolean;
  token: string;
  /** Seconds since the epoch. */
  expiresAt: number;
  kind: "dev" | "cognito";
}

interface Claims {
  sub?: string;
  email?: string;
  "cognito:username"?: string;
  username?: string;
  "cognito:groups"?: string[];
  exp?: number;
}

export function decodeJwt(token: string): Claims {
  try {
    const part = token.split(".")[1] ?? "";
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0)))) as Claims;
  } catch {
    return {};
  }
}

function identityFrom(name: string, token: string, kind: Identity["kind"]): Identity {
  const claims = decodeJwt(token);
  const groups = claims["cognito:groups"] ?? [];
  return {
    name,
    sub: claims.sub ?? name,
    groups,
    admin: groups.includes("admin"),
    token,
    expiresAt: claims.exp ?? 0,
    kind,
  };
}

const devTokens = config.devTokens ?? {};
export const devNames = Object.keys(devTokens);
const WHO_KEY = "burst.who";

function initialDev(): Identity | null {
  if (!devNames.length) return null;
  const saved = localStorage.getItem(WHO_KEY);
  const name = saved && devTokens[saved] ? saved : devNames.includes("alice") ? "alice" : devNames[0];
  return identityFrom(name, devTokens[name], "dev");
}

// ---- Cognito Hosted UI (authorization code + PKCE) ----
const COGNITO_KEY = "burst.cognito";
const PKCE_KEY = "burst.pkce";

interface CognitoTokens {
  id_token: string;
  access_token: string;
  refresh_token?: string;
  expires_at: number;
}

function cognitoBase(): string {
  const domain = config.cognito?.domain ?? "";
  return (domain.startsWith("http") ? domain : `https://${domain}`).replace(/\/$/, "");
}

function redirectUri(): string {
  return config.cognito?.redirectUri ?? `${location.origin}${location.pathname}`;
}

function scopes(): string {
  const s = config.cognito?.scopes ?? ["openid", "email", "profile"];
  return Array.isArray(s) ? s.join(" ") : s;
}

const b64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

function randomString(bytes = 32): string {
  return b64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

export async function cognitoSignIn(): Promise<void> {
  const verifier = randomString(48);
  const state = randomString(16);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state, back: location.hash }));
  const params = new URLSearchParams({
    response_type: "code",
    client_id: config.cognito!.clientId,
    redirect_uri: redirectUri(),
    scope: scopes(),
    state,
    code_challenge: b64url(digest),
    code_challenge_method: "S256",
  });
  location.assign(`${cognitoBase()}/oauth2/authorize?${params}`);
}

async function tokenRequest(body: Record<string, string>): Promise<CognitoTokens> {
  const response = await fetch(`${cognitoBase()}/oauth2/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: config.cognito!.clientId, ...body }),
  });
  if (!response.ok) throw new Error(`sign-in failed (${response.status})`);
  const data = (await response.json()) as { id_token: string; access_token: string; refresh_token?: string; expires_in: number };
  return {
    id_token: data.id_token,
    access_token: data.access_token,
    refresh_token: data.refresh_token ?? body.refresh_token,
    expires_at: Math.floor(Date.now() / 1000) + data.expires_in,
  };
}

function cognitoIdentity(tokens: CognitoTokens): Identity {
  // The id token: its `aud` is the app client (the HTTP API's JWT authorizer audience) and it
  // carries `cognito:groups`.
  const claims = decodeJwt(tokens.id_token);
  const name = claims.email ?? claims["cognito:username"] ?? claims.username ?? "you";
  return identityFrom(name, tokens.id_token, "cognito");
}

function savedCognito(): CognitoTokens | null {
  try {
    return JSON.parse(sessionStorage.getItem(COGNITO_KEY) ?? "null") as CognitoTokens | null;
  } catch {
    return null;
  }
}

/** Finishes a Hosted UI redirect (`?code=&state=`); returns the hash to go back to. */
async function completeCognito(): Promise<string | null> {
  const query = new URLSearchParams(location.search);
  const code = query.get("code");
  if (!code) return null;
  const pending = JSON.parse(sessionStorage.getItem(PKCE_KEY) ?? "null") as { verifier: string; state: string; back: string } | null;
  sessionStorage.removeItem(PKCE_KEY);
  history.replaceState(null, "", `${location.pathname}${pending?.back ?? ""}`);
  if (!pending || pending.state !== query.get("state")) throw new Error("the sign-in answer did not match this browser's request");
  const tokens = await tokenRequest({ grant_type: "authorization_code", code, redirect_uri: redirectUri(), code_verifier: pending.verifier });
  sessionStorage.setItem(COGNITO_KEY, JSON.stringify(tokens));
  return pending.back;
}

export const auth = createStore<{ identity: Identity | null; error?: string }>({ identity: initialDev() });

export const usesCognito = !devNames.length && Boolean(config.cognito?.domain && config.cognito?.clientId);

export async function initAuth(): Promise<void> {
  if (!usesCognito) return;
  try {
    await completeCognito();
    const tokens = savedCognito();
    if (tokens) auth.set({ identity: cognitoIdentity(tokens) });
  } catch (error) {
    auth.set({ identity: null, error: (error as Error).message });
  }
}

/** A token good for the next minute (refreshing a Cognito session when needed). */
export async function bearer(): Promise<string | null> {
  const identity = auth.get().identity;
  if (!identity) return null;
  if (identity.kind === "cognito" && identity.expiresAt - 60 < Date.now() / 1000) {
    const tokens = savedCognito();
    if (!tokens?.refresh_token) {
      signOut();
      return null;
    }
    try {
      const fresh = await tokenRequest({ grant_type: "refresh_token", refresh_token: tokens.refresh_token });
      sessionStorage.setItem(COGNITO_KEY, JSON.stringify(fresh));
      auth.set({ identity: cognitoIdentity(fresh) });
      return fresh.id_token;
    } catch {
      signOut();
      return null;
    }
  }
  return identity.token;
}

export function switchDev(name: string): void {
  if (!devTokens[name]) return;
  localStorage.setItem(WHO_KEY, name);
  auth.set({ identity: identityFrom(name, devTokens[name], "dev") });
}

export function signOut(): void {
  sessionStorage.removeItem(COGNITO_KEY);
  auth.set({ identity: null });
  if (usesCognito && config.cognito) {
    const params = new URLSearchParams({ client_id: config.cognito.clientId, logout_uri: config.cognito.logoutUri ?? redirectUri() });
    location.assign(`${cognitoBase()}/logout?${params}`);
  }
}
