"""The module environment and the token line on standard input."""

import os
import unittest

import callassistant as ca


class ReadEnvTest(unittest.TestCase):
    def test_fields(self):
        env = ca.read_env({
            "GRPC_PORT": " 5000 ", "MODULE_NAME": "cam", "MODULE_ID": "cam", "ORCHESTRATOR_ADDRESS": "127.0.0.1:1",
            "MODULE_TOKEN": "t", "MODULE_DATA_DIR": "/d", "CALL_ASSISTANT_DEV": "1", "MODULE_REPLICA": "2",
            "MODULE_REPLICAS": "3",
        })
        self.assertEqual((env.grpc_port, env.grpc_host, env.module_name, env.token, env.dev), (5000, "127.0.0.1", "cam", "t", True))
        self.assertEqual((env.replica, env.replicas, env.token_from_stdin), (2, 3, False))

    def test_token_on_stdin_ignores_the_environment(self):
        env = ca.read_env({"GRPC_PORT": "5000", "MODULE_TOKEN": "visible-in-proc", "MODULE_TOKEN_STDIN": "1"})
        self.assertEqual((env.token, env.token_from_stdin), ("", True))

    def test_errors_name_the_variable(self):
        for env, message in [
            ({}, "GRPC_PORT is not set"),
            ({"GRPC_PORT": "0"}, 'GRPC_PORT="0" is not a port number'),
            ({"GRPC_PORT": "80a"}, 'GRPC_PORT="80a" is not a port number'),
            ({"GRPC_PORT": "1", "GRPC_TLS_CLIENT_CA": "/ca.pem"}, "GRPC_TLS_CLIENT_CA needs GRPC_TLS_CERT"),
        ]:
            with self.subTest(env=env), self.assertRaisesRegex(ca.ModuleEnvError, message):
                ca.read_env(env)


class ReadTokenTest(unittest.TestCase):
    def pipe(self, data: bytes, close: bool = True) -> int:
        r, w = os.pipe()
        os.write(w, data)
        if close:
            os.close(w)
        else:
            self.addCleanup(os.close, w)
        self.addCleanup(os.close, r)
        return r

    def test_reads_the_line_and_nothing_after_it(self):
        fd = self.pipe(b"MODULE_TOKEN=abc123\r\nmore")
        self.assertEqual(ca.read_token(fd, timeout=2), "abc123")
        self.assertEqual(os.read(fd, 100), b"more", "what follows stays for the end-of-file watcher")

    def test_timeout_and_end_of_file(self):
        with self.assertRaisesRegex(ca.ModuleEnvError, "no MODULE_TOKEN=<token> line came on standard input within 0.2 s"):
            ca.read_token(self.pipe(b"MODULE_TOK", close=False), timeout=0.2)
        with self.assertRaisesRegex(ca.ModuleEnvError, "ended before"):
            ca.read_token(self.pipe(b"MODULE_TOKEN=abc"), timeout=2)


if __name__ == "__main__":
    unittest.main()
