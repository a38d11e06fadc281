/**
 * The shape of an OpenSSH public key line (`ssh-keygen -y`, `ssh-keyscan`): its own module so that `ops`
 * can check one without loading zod. The shape only; sshPublicKey.ts reads the key as ssh-keygen does.
 */
export const sshPublicKeyLine =
  /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\n]*)?$/;
