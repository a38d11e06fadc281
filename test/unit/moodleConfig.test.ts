import { describe, expect, it } from "vitest";
import { parseCampus, type SecretPresence } from "../../components/config/campus";
import { problemsOf as problemsWith } from "../support/configProblems";
import { readStackFile } from "../../components/config/stackFile";

const SECRETS: SecretPresence = { sshPrivateKey: false, turnSecret: false, dnsCredentials: false, moodleSshPrivateKey: true };

const problemsOf = (raw: unknown, secrets: SecretPresence = SECRETS) => problemsWith(raw, secrets);

const brest = () => structuredClone(readStackFile("brest").config["bbb-ovh:campus"].value) as Record<string, any>;

describe("campus.moodle", () => {
  it("needs bbb-ovh:moodleSshPrivateKey, the key the Moodle host already trusts, when moodle.ssh is set", () => {
    expect(problemsOf(brest(), { ...SECRETS, moodleSshPrivateKey: false })).toEqual([
      {
        path: "bbb-ovh:moodleSshPrivateKey",
        message:
          "is required when campus.moodle.ssh is set: the private key that moodle.ssh.user on the Moodle host already trusts (pulumi config set --secret moodleSshPrivateKey < key); the deploy key made during `pulumi up` is not in its authorized_keys",
      },
    ]);
    const manual = brest();
    delete manual.moodle.ssh;
    delete manual.moodle.acceptDpa;
    expect(problemsOf(manual, { ...SECRETS, moodleSshPrivateKey: false })).toEqual([]);
  });

  it("takes the Moodle host's SSH host key as an OpenSSH public key line, and a web server user", () => {
    const c = brest();
    // A real ed25519 key line (ssh-keygen, private half thrown away): the schema reads the key itself.
    c.moodle.ssh.hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINwFa7fnHN5qpbu0Ctp1dwL88SXqIMQ+TyrsmQsJvlQq moodle";
    c.moodle.phpUser = "apache";
    expect(problemsOf(c)).toEqual([]);
    expect(parseCampus(c, SECRETS).config.moodle?.ssh?.hostKey).toBe(c.moodle.ssh.hostKey);
    expect(parseCampus(brest(), SECRETS).config.moodle?.phpUser).toBe("www-data");
    c.moodle.ssh.hostKey = "moodle.isen-ouest.fr ssh-ed25519 AAAA";
    c.moodle.phpUser = "www data";
    expect(problemsOf(c).map((p) => p.path)).toEqual(["campus.moodle.ssh.hostKey", "campus.moodle.phpUser"]);
  });
});
