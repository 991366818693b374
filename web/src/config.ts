// The runtime configuration, from /config.js (never bundled): endpoints and sign-in.
export interface CognitoConfig {
  domain: string;
  clientId: string;
  redirectUri?: string;
  scopes?: string[] | string;
  logoutUri?: string;
}

export interface BurstConfig {
  api: string;
  ws?: string;
  devTokens?: Record<string, string>;
  cognito?: CognitoConfig;
}

const raw = ((window as unknown as { BURST_CONFIG?: Partial<BurstConfig> }).BURST_CONFIG ?? {}) as Partial<BurstConfig>;

export const config: BurstConfig = {
  api: (raw.api ?? "").replace(/\/$/, ""),
  ws: raw.ws ? raw.ws.replace(/\/$/, "") : undefined,
  devTokens: raw.devTokens,
  cognito: raw.cognito,
};

export const configured = Boolean(raw.api !== undefined);
