"""Unit tests of the bridge's pure parts: reading offers, candidates, H.264 bitstreams.
Run: cd modules/webrtc-bridge && python3 -m unittest bridge_units_test"""
import unittest

import h264_bitstream
import sdp_offer

OFFER = "\r\n".join([
    "v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=rtpmap:111 opus/48000/2",
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102", "a=rtpmap:96 VP8/90000", "a=rtpmap:97 rtx/90000",
    "a=rtpmap:102 H264/90000",
    "a=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host",
    "a=candidate:2 1 udp 2122260223 10.0.0.5 50001 typ host",
    "a=candidate:3 1 udp 2122260223 abcd.local 50002 typ host", "",
])


class OfferTest(unittest.TestCase):
    def test_codecs_and_refusals(self):
        self.assertEqual(sdp_offer.check_offer(OFFER),
                         {"audio": ["opus"], "video": ["VP8", "rtx", "H264"]})
        with self.assertRaises(sdp_offer.OfferError) as err:
            sdp_offer.check_offer(OFFER.replace("a=rtpmap:102 H264/90000\r\n", ""))
        self.assertEqual(err.exception.status, 422)
        self.assertIn("it offers: VP8", str(err.exception))
        with self.assertRaises(sdp_offer.OfferError) as err:
            sdp_offer.check_offer("hello")
        self.assertEqual(err.exception.status, 400)
        with self.assertRaises(sdp_offer.OfferError):
            sdp_offer.check_offer("v=0\r\nm=audio 9 RTP 0\r\n")

    def test_only_allowed_candidates_stay(self):
        kept = sdp_offer.keep_candidates(OFFER, {"127.0.0.1"})
        self.assertIn("127.0.0.1 50000", kept)
        self.assertNotIn("10.0.0.5", kept)
        self.assertNotIn(".local", kept, "no mDNS name: resolving it would multicast")
        self.assertEqual(sdp_offer.keep_candidates(OFFER, set()), OFFER)


class BitstreamTest(unittest.TestCase):
    def test_parameter_sets(self):
        sps, pps, idr = b"\x00\x00\x00\x01\x67\x42", b"\x00\x00\x00\x01\x68\xce", b"\x00\x00\x01\x65\x88"
        self.assertEqual(h264_bitstream.nal_types(sps + pps + idr), [7, 8, 5])
        self.assertEqual(h264_bitstream.with_parameter_sets(idr, sps + pps), sps + pps + idr)
        self.assertEqual(h264_bitstream.with_parameter_sets(sps + idr, sps + pps), sps + idr)
        avcc = bytes([1, 0x42, 0, 0x1f, 0xff, 0xe1, 0, 2, 0x67, 0x42, 1, 0, 2, 0x68, 0xce])
        self.assertEqual(h264_bitstream.extradata_annexb(avcc), sps + pps)
        self.assertEqual(h264_bitstream.extradata_annexb(sps + pps), sps + pps)
        self.assertEqual(h264_bitstream.extradata_annexb(b""), b"")


if __name__ == "__main__":
    unittest.main()
