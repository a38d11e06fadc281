/** The one part of ssh2 (node-ssh's SSH library) ops calls itself: utils.generateKeyPairSync (ssh2 >= 1.4, lib/keygen.js), keys in OpenSSH format. */
declare module "ssh2" {
  const ssh2: {
    utils: { generateKeyPairSync(type: "ed25519", options?: { comment?: string }): { private: string; public: string } };
  };
  export default ssh2;
}
