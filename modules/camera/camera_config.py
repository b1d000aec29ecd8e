"""The camera module's entity types: their configuration schemas and the checks that turn
a configuration into settings, with an INVALID_ARGUMENT naming the bad field."""
import urllib.parse

import callassistant as ca

RESOLUTIONS = {"640x360": (640, 360), "1280x720": (1280, 720), "1920x1080": (1920, 1080)}

TEST_PATTERN_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "resolution": {"type": "string", "enum": list(RESOLUTIONS), "default": "1280x720"},
        "fps": {"type": "integer", "minimum": 1, "maximum": 60, "default": 25},
        "bitrate_kbps": {"type": "integer", "minimum": 100, "maximum": 20000, "default": 2000},
        "audio": {"type": "boolean", "default": True, "description": "A 440 Hz tone in AAC"},
        "keyframe_interval_s": {"type": "number", "minimum": 0.1, "maximum": 10, "default": 0.5,
                                "description": "Seconds between key frames (HLS segment length)"},
        "video_codec": {"type": "string", "enum": ["h264", "mjpeg"], "default": "h264",
                        "description": "mjpeg stands in for an old camera no converter takes"},
        "user": {"type": "string", "description": "Ask RTSP clients for this user (and the "
                 "password): the pattern then stands in for a protected camera"},
        "password": {"type": "string", "format": "password", "writeOnly": True},
    },
}

RTSP_CAMERA_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["url"],
    "properties": {
        "url": {"type": "string", "description": "rtsp://host[:port]/path of the camera's stream"},
        "user": {"type": "string"},
        "password": {"type": "string", "format": "password", "writeOnly": True},
        "timeout_s": {"type": "number", "minimum": 1, "maximum": 30, "default": 5,
                      "description": "How long a probe waits for the camera"},
    },
}


def invalid(message: str):
    """An INVALID_ARGUMENT error."""
    return ca.RpcError(ca.Code.INVALID_ARGUMENT, message)


def _check_fields(raw: dict, schema: dict) -> None:
    allowed = list(schema["properties"])
    for key in raw:
        if key not in allowed:
            raise invalid(f'configuration: unknown field "{key}" (allowed: {", ".join(allowed)})')


def _integer(raw: dict, key: str, schema: dict) -> int:
    spec = schema["properties"][key]
    value = raw.get(key, spec["default"])
    if isinstance(value, bool) or not isinstance(value, int) or not (
            spec["minimum"] <= value <= spec["maximum"]):
        raise invalid(f"configuration.{key}: expected an integer from {spec['minimum']} to "
                      f"{spec['maximum']}, got {value!r}")
    return value


def _string(raw: dict, key: str) -> str:
    value = raw.get(key, "")
    if not isinstance(value, str):
        raise invalid(f"configuration.{key}: expected a string, got {value!r}")
    return value


def parse_test_pattern(raw: dict) -> dict:
    """A test pattern's settings (defaults filled in)."""
    _check_fields(raw, TEST_PATTERN_SCHEMA)
    resolution = raw.get("resolution", "1280x720")
    if resolution not in RESOLUTIONS:
        raise invalid(f"configuration.resolution: expected one of {', '.join(RESOLUTIONS)}, "
                      f"got {resolution!r}")
    audio = raw.get("audio", True)
    if not isinstance(audio, bool):
        raise invalid(f"configuration.audio: expected true or false, got {audio!r}")
    keyframes = raw.get("keyframe_interval_s", 0.5)
    if isinstance(keyframes, bool) or not isinstance(keyframes, (int, float)) or not (
            0.1 <= keyframes <= 10):
        raise invalid("configuration.keyframe_interval_s: expected a number from 0.1 to 10, got "
                      f"{keyframes!r}")
    codec = raw.get("video_codec", "h264")
    if codec not in ("h264", "mjpeg"):
        raise invalid(f"configuration.video_codec: expected h264 or mjpeg, got {codec!r}")
    user, password = _string(raw, "user"), _string(raw, "password")
    if password and not user:
        raise invalid("configuration.user: a password needs a user")
    return {
        "resolution": resolution,
        "fps": _integer(raw, "fps", TEST_PATTERN_SCHEMA),
        "bitrate_kbps": _integer(raw, "bitrate_kbps", TEST_PATTERN_SCHEMA),
        "audio": audio,
        "video_codec": codec,
        "keyframe_interval_s": keyframes,
        "user": user,
        "password": password,
    }


def parse_rtsp_camera(raw: dict) -> dict:
    """An RTSP camera's settings; the URL must be rtsp://host[:port]/path."""
    _check_fields(raw, RTSP_CAMERA_SCHEMA)
    url = raw.get("url")
    if not isinstance(url, str) or not url.strip():
        raise invalid("configuration.url: required, an rtsp://host[:port]/path URL")
    url = url.strip()
    try:
        parts = urllib.parse.urlsplit(url)
        _port = parts.port
    except ValueError as err:
        raise invalid(f"configuration.url: not a valid URL ({err})") from err
    if parts.scheme != "rtsp" or not parts.hostname:
        shown = urllib.parse.urlunsplit(parts._replace(netloc=parts.hostname or "")) \
            if parts.scheme else url.split("@")[-1]
        raise invalid(f"configuration.url: expected rtsp://host[:port]/path, got {shown!r}")
    timeout = raw.get("timeout_s", 5)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not (
            1 <= timeout <= 30):
        raise invalid(f"configuration.timeout_s: expected a number from 1 to 30, got {timeout!r}")
    return {
        "url": url,
        "user": _string(raw, "user"),
        "password": _string(raw, "password"),
        "timeout_s": timeout,
    }
