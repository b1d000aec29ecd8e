/** Test certificates made with openssl: a CA, a server certificate and a client one. */

/** PEM file paths of a fresh test PKI. */
export interface TestPki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A second CA, which signed nothing above. */
  otherCa: string;
}

async function openssl(dir: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/**
 * Makes a CA, a server certificate for `localhost` and 127.0.0.1 and a client certificate
 * (both signed by the CA, valid for a day), and an unrelated CA, in a new temporary
 * directory (the caller removes `dir`).
 */
export async function makeTestPki(): Promise<TestPki> {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-tls-" });
  const ca = (name: string) =>
    openssl(
      dir,
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      `/CN=${name}`,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.crt`,
    );
  await ca("test-ca");
  await ca("other-ca");
  await Deno.writeTextFile(`${dir}/san.cnf`, "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  for (const [name, cn, ext] of [["server", "localhost", true], ["client", "client", false]]) {
    await openssl(
      dir,
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      `/CN=${cn}`,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
    );
    await openssl(
      dir,
      "x509",
      "-req",
      "-days",
      "1",
      "-in",
      `${name}.csr`,
      "-CA",
      "test-ca.crt",
      "-CAkey",
      "test-ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.crt`,
      ...(ext ? ["-extfile", "san.cnf"] : []),
    );
  }
  return {
    dir,
    ca: `${dir}/test-ca.crt`,
    serverCert: `${dir}/server.crt`,
    serverKey: `${dir}/server.key`,
    clientCert: `${dir}/client.crt`,
    clientKey: `${dir}/client.key`,
    otherCa: `${dir}/other-ca.crt`,
  };
}
