"""H.264 Annex B helpers: find the NAL unit types of an access unit, and make sure a key
frame carries its SPS and PPS (a WebRTC receiver joining mid-stream needs them in-band,
while many cameras send them only once, in the RTSP SDP)."""

START = b"\x00\x00\x00\x01"
SPS, PPS, IDR = 7, 8, 5


def nal_types(data: bytes) -> list:
    """The NAL unit types in an Annex B access unit."""
    types = []
    i, n = 0, len(data)
    while i + 3 < n:
        if data[i] == 0 and data[i + 1] == 0 and data[i + 2] == 1:
            if i + 3 < n:
                types.append(data[i + 3] & 0x1F)
            i += 3
        else:
            i += 1
    return types


def extradata_annexb(extradata: bytes) -> bytes:
    """The SPS/PPS of a stream's extradata as Annex B (it may be Annex B already, or avcC)."""
    if not extradata:
        return b""
    if extradata[:3] == b"\x00\x00\x01" or extradata[:4] == START:
        return extradata
    if extradata[0] != 1 or len(extradata) < 7:
        return b""
    out = b""
    pos = 5
    try:
        for count_mask in (0x1F, 0xFF):  # SPS count (5 bits), then PPS count (8 bits)
            count = extradata[pos] & count_mask
            pos += 1
            for _ in range(count):
                size = int.from_bytes(extradata[pos:pos + 2], "big")
                pos += 2
                out += START + extradata[pos:pos + size]
                pos += size
    except IndexError:
        return out
    return out


def with_parameter_sets(data: bytes, parameter_sets: bytes) -> bytes:
    """A key frame with SPS/PPS in front when it has none."""
    if parameter_sets and SPS not in nal_types(data):
        return parameter_sets + data
    return data
