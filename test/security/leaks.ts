/**
 * Finding a secret value in text, also when it is encoded: base64, base64url, URL-encoding, and
 * inside base64 blobs (a secret in a file that travels as FILE_B64 shows only once decoded).
 */

/** The forms a value can take in plain text. */
export function encodedForms(secret: string): string[] {
  const b64 = Buffer.from(secret).toString("base64");
  const forms = [secret, b64, b64.replace(/=+$/, ""), Buffer.from(secret).toString("base64url"), encodeURIComponent(secret), escape(secret)];
  // A multi-line secret (a private key) leaks as soon as one of its key lines does.
  for (const line of secret.split("\n")) if (line.length >= 20 && !/^-----/.test(line)) forms.push(line);
  return [...new Set(forms.filter((f) => f.length >= 8))];
}

const BASE64_TOKEN = /[A-Za-z0-9+/_-]{16,}={0,2}/g;

/** The text plus what its base64 tokens and URL-encoded parts decode to, recursively (bounded). */
export function readings(text: string, depth = 2): string[] {
  const out = [text];
  try {
    const decoded = decodeURIComponent(text);
    if (decoded !== text) out.push(decoded);
  } catch {
    // not URL-encoded
  }
  if (depth > 0) {
    for (const token of text.match(BASE64_TOKEN) ?? []) {
      const decoded = Buffer.from(token.replace(/-/g, "+").replace(/_/g, "/"), "base64").toString("utf8");
      // Keep only decodings that look like text: random binary cannot hide a readable secret.
      if (decoded.length > 0 && !/[\x00-\x08\x0e-\x1f\ufffd]/.test(decoded)) out.push(...readings(decoded, depth - 1));
    }
  }
  return out;
}

/** Where (which of `texts`, by label) a secret appears in any form; empty when nowhere. */
export function findLeaks(texts: Array<{ where: string; text: string }>, secrets: Array<{ name: string; value: string }>): string[] {
  const found: string[] = [];
  for (const { where, text } of texts) {
    const views = readings(text);
    for (const { name, value } of secrets) {
      const form = encodedForms(value).find((f) => views.some((v) => v.includes(f)));
      if (form !== undefined) found.push(`${name} in ${where}${form === value ? "" : " (encoded)"}`);
    }
  }
  return found;
}
