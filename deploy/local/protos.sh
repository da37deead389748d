#!/usr/bin/env bash
# Regenerates Sources/MaestroProtos from protos/ (make protos).
#
# protoc comes from Debian's protobuf-compiler (installed if missing); the two plugins are built
# from the pinned swift-protobuf and grpc-swift-protobuf packages in a separate scratch path, so
# the generated code always matches the runtime it is compiled against. Output is deterministic:
# running this twice gives identical files.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v protoc >/dev/null 2>&1; then
  echo "protos: installing protobuf-compiler" >&2
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq protobuf-compiler >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq protobuf-compiler >/dev/null; fi
fi

scratch=.build-protoc-plugins
swift build -c release --scratch-path "$scratch" --product protoc-gen-swift >&2
swift build -c release --scratch-path "$scratch" --product protoc-gen-grpc-swift-2 >&2
bin=$(swift build -c release --scratch-path "$scratch" --show-bin-path)

out=Sources/MaestroProtos
find "$out" -name '*.pb.swift' -delete
find "$out" -name '*.grpc.swift' -delete

mapfile -t files < <(cd protos && find . -name '*.proto' | sed 's|^\./||' | LC_ALL=C sort)
protoc -I protos \
  --plugin=protoc-gen-swift="$bin/protoc-gen-swift" \
  --swift_out="$out" \
  --swift_opt=Visibility=Public,FileNaming=PathToUnderscores \
  --plugin=protoc-gen-grpc-swift-2="$bin/protoc-gen-grpc-swift-2" \
  --grpc-swift-2_out="$out" \
  --grpc-swift-2_opt=Visibility=Public,FileNaming=PathToUnderscores,Server=true,Client=true \
  "${files[@]}"
echo "protos: generated $(find "$out" -name '*.swift' | wc -l) files in $out from ${#files[@]} protos" >&2
