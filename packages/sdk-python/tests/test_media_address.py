"""The media address settings the media modules share (callassistant.media_address)."""

import unittest

from callassistant.media_address import read_media_address


class ReadMediaAddressTest(unittest.TestCase):
    def test_defaults_stay_on_loopback(self):
        a = read_media_address("CA_X_PORT", 8554, {})
        self.assertEqual((a.host, a.bind, a.port, a.fallback), ("127.0.0.1", "127.0.0.1", 8554, True))

    def test_a_lan_host_binds_every_interface(self):
        a = read_media_address("CA_X_PORT", 0, {"CA_MEDIA_HOST": "192.168.1.10", "CA_X_PORT": "9000"})
        self.assertEqual((a.host, a.bind, a.port, a.fallback), ("192.168.1.10", "0.0.0.0", 9000, False))

    def test_ipv6_host_in_brackets(self):
        a = read_media_address("CA_X_PORT", 0, {"CA_MEDIA_HOST": "::1"})
        self.assertEqual((a.url_host(), a.bind), ("[::1]", "127.0.0.1"))

    def test_bad_values_name_the_variable(self):
        with self.assertRaisesRegex(ValueError, "CA_X_PORT: expected a port number"):
            read_media_address("CA_X_PORT", 0, {"CA_X_PORT": "70000"})
        with self.assertRaisesRegex(ValueError, "CA_X_PORT"):
            read_media_address("CA_X_PORT", 0, {"CA_X_PORT": "http"})
        with self.assertRaisesRegex(ValueError, "CA_MEDIA_HOST: expected"):
            read_media_address("CA_X_PORT", 0, {"CA_MEDIA_HOST": "a b/c"})


if __name__ == "__main__":
    unittest.main()
