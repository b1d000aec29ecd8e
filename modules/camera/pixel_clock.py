"""The pixel clock: a capture time written into the picture as black and white blocks.

A strip across the top of the frame is cut into CELLS equal cells: white, black (the
reader's reference levels), then 32 bits of the capture time (wall-clock milliseconds
modulo 2**32, most significant bit first), then an 8-bit check (the sum of the four
bytes of the time, modulo 256, XOR 0xA5). A white cell is a 1. The reader (the web
screen's page, `pixel_clock.js`) samples the middle of each cell, so the strip survives
H.264 and JPEG compression and any scaling that keeps the aspect ratio. Receiver and
camera must share a clock (the same machine, or NTP) for the latency to mean anything.
"""

CELLS = 42
TIME_BITS = 32
CHECK_XOR = 0xA5


def strip_height(frame_height: int) -> int:
    """The strip's height in pixels for a frame height: 1/24 of it, at least 8."""
    return max(8, frame_height // 24)


def check_byte(ms32: int) -> int:
    """The 8-bit check of a 32-bit time."""
    total = sum((ms32 >> shift) & 0xFF for shift in (24, 16, 8, 0))
    return (total % 256) ^ CHECK_XOR


def cells(ms: int) -> list:
    """The cells (True for white) that encode wall-clock milliseconds `ms`."""
    ms32 = ms % (1 << TIME_BITS)
    bits = [True, False]
    bits += [bool((ms32 >> (TIME_BITS - 1 - i)) & 1) for i in range(TIME_BITS)]
    check = check_byte(ms32)
    bits += [bool((check >> (7 - i)) & 1) for i in range(8)]
    return bits


def decode(levels: list) -> int:
    """The 32-bit time from CELLS brightness levels (0-255); -1 when unreadable.

    The same rule as the page's reader; the tests use it to check what a frame carries.
    """
    if len(levels) != CELLS:
        return -1
    white, black = levels[0], levels[1]
    if white - black < 60:
        return -1
    mid = (white + black) / 2
    bits = [level > mid for level in levels[2:]]
    ms32 = 0
    for bit in bits[:TIME_BITS]:
        ms32 = (ms32 << 1) | int(bit)
    check = 0
    for bit in bits[TIME_BITS:]:
        check = (check << 1) | int(bit)
    return ms32 if check == check_byte(ms32) else -1
