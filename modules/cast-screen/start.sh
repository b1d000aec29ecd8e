#!/bin/sh
# Starts the cast-screen module: generates its Python gRPC stubs from the repository's
# .proto files (only when they changed), then runs it with Debian's python3, which has
# python3-grpcio and python3-protobuf. The stubs go to $MODULE_DATA_DIR/python-gen, or
# to .cache/ beside this script when the module runs alone.
#
# Needs: apt-get install -y python3-grpcio python3-protobuf protobuf-compiler \
#          protobuf-compiler-grpc
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
PROTO_DIR=${CALL_ASSISTANT_PROTO_DIR:-$HERE/../../proto}
OUT=${MODULE_DATA_DIR:-$HERE/.cache}/python-gen
PYTHON=/usr/bin/python3

missing() {
  echo "cast-screen: $1 not found; install it with: apt-get install -y $2" >&2
  exit 3
}
command -v protoc >/dev/null 2>&1 || missing protoc protobuf-compiler
PLUGIN=$(command -v grpc_python_plugin) || missing grpc_python_plugin protobuf-compiler-grpc
[ -x "$PYTHON" ] || missing "$PYTHON" python3
[ -d "$PROTO_DIR/callassistant/v1" ] || {
  echo "cast-screen: no protos in $PROTO_DIR (set CALL_ASSISTANT_PROTO_DIR)" >&2
  exit 3
}

# Regenerate when there are no stubs yet or a .proto is newer than them.
if [ ! -f "$OUT/.stamp" ] ||
  [ -n "$(find "$PROTO_DIR/callassistant/v1" -name '*.proto' -newer "$OUT/.stamp")" ]; then
  rm -rf "$OUT.tmp"
  mkdir -p "$OUT.tmp"
  protoc -I "$PROTO_DIR" \
    --python_out="$OUT.tmp" \
    --grpc_python_out="$OUT.tmp" \
    --plugin=protoc-gen-grpc_python="$PLUGIN" \
    "$PROTO_DIR"/callassistant/v1/media.proto \
    "$PROTO_DIR"/callassistant/v1/resources.proto \
    "$PROTO_DIR"/callassistant/v1/module.proto \
    "$PROTO_DIR"/callassistant/v1/entity.proto \
    "$PROTO_DIR"/callassistant/v1/pipeline.proto \
    "$PROTO_DIR"/callassistant/v1/event.proto
  touch "$OUT.tmp/.stamp"
  rm -rf "$OUT"
  mv "$OUT.tmp" "$OUT"
fi

export CAST_SCREEN_GEN_DIR="$OUT"
exec "$PYTHON" -u "$HERE/cast_screen.py"
