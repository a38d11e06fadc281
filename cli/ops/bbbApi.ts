import { createHash } from "node:crypto";

/**
 * The BigBlueButton API security model (BBB API docs, "API Security Model"):
 * checksum = hex(SHA(callName + queryStringWithoutChecksum + sharedSecret)).
 * BBB >= 2.5 accepts sha1, sha256, sha384 and sha512; Scalelite infers the algorithm from the
 * length of the checksum (40/64/128 hex digits) and so rejects sha384.
 */
export const CHECKSUM_ALGORITHMS = ["sha1", "sha256", "sha384", "sha512"] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];
export const DEFAULT_ALGORITHM: ChecksumAlgorithm = "sha256";

export function checksum(callName: string, query: string, secret: string, algorithm: ChecksumAlgorithm = DEFAULT_ALGORITHM): string {
  return createHash(algorithm)
    .update(callName + query + secret)
    .digest("hex");
}

/** The algorithm a checksum of this length was made with, as BBB and Scalelite infer it. */
export function algorithmOfChecksum(value: string): ChecksumAlgorithm | undefined {
  return ({ 40: "sha1", 64: "sha256", 96: "sha384", 128: "sha512" } as const)[value.length as 40 | 64 | 96 | 128];
}

/** Form-encodes parameters in the given order (spaces as '+', as in the docs' example). */
export function encodeQuery(params: Readonly<Record<string, string>>): string {
  return new URLSearchParams(Object.entries(params)).toString();
}

/** `https://host/bigbluebutton/api` (with or without a trailing slash) + call -> signed URL. */
export function signedUrl(
  apiUrl: string,
  callName: string,
  params: Readonly<Record<string, string>>,
  secret: string,
  algorithm: ChecksumAlgorithm = DEFAULT_ALGORITHM,
): string {
  const query = encodeQuery(params);
  const sum = checksum(callName, query, secret, algorithm);
  return `${apiUrl.replace(/\/+$/, "")}/${callName}?${query ? `${query}&` : ""}checksum=${sum}`;
}

/**
 * Normalises what an operator types as the API endpoint: `https://host`, `https://host/bigbluebutton/`
 * and `https://host/bigbluebutton/api/` all mean `https://host/bigbluebutton/api`.
 */
export function apiBaseUrl(url: string): string {
  const u = new URL(url);
  let path = u.pathname.replace(/\/+$/, "");
  if (path === "") path = "/bigbluebutton/api";
  else if (path.endsWith("/bigbluebutton")) path += "/api";
  return `${u.origin}${path}`;
}
