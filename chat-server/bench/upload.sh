#!/usr/bin/env bash
# Upload throughput and image processing time through a release chat-server on loopback
# (BENCHMARKS.md, "Attachments"). Needs curl and python3 with Pillow (`pip install pillow`).
#   cargo build --release -p chat-server && chat-server/bench/upload.sh target/release/chat-server
set -euo pipefail
BIN=$1; PORT=${PORT:-7931}; D=$(mktemp -d)
python3 - "$D" <<'PY'
import os, sys
from PIL import Image
d = sys.argv[1]
w, h = 4000, 3000
grad = Image.linear_gradient('L').resize((w, h)).convert('RGB')
for i in range(3):  # three different 4,000 x 3,000 "photos" (noise over a gradient), quality 90
    Image.blend(Image.effect_noise((w, h), 60 + i).convert('RGB'), grad, 0.5).save(f'{d}/photo{i}.jpg', quality=90)
    open(f'{d}/same{i}.bin', 'wb').write(os.urandom(os.path.getsize(f'{d}/photo{i}.jpg')))
for i in range(10):
    open(f'{d}/blob{i}.bin', 'wb').write(os.urandom(8 * 1024 * 1024))
PY
"$BIN" --bind 127.0.0.1 --port "$PORT" --db "$D/chat.redb" --log warn --uploads-per-minute 1000 --no-search > "$D/log" 2>&1 &
PID=$!; trap 'kill $PID; rm -rf "$D"' EXIT
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
TOKEN=$(curl -s -H 'Content-Type: application/json' -d '{"username":"bench","password":"bench-password-1"}' \
  "http://127.0.0.1:$PORT/api/register" | python3 -c 'import sys, json; print(json.load(sys.stdin)["token"])')
up() { curl -s -o /dev/null -w '%{http_code} %{time_total} s\n' -H "Authorization: Bearer $TOKEN" \
  --data-binary "@$1" "http://127.0.0.1:$PORT/api/attachments?name=$(basename "$1")"; }
echo "== 10 distinct 8 MiB random files (raw body: stream, hash, fsync, rename, record)"
start=$(date +%s.%N); for i in $(seq 0 9); do up "$D/blob$i.bin"; done; end=$(date +%s.%N)
python3 -c "print('sequential throughput, MiB/s:', round(80 / ($end - $start), 1))"
echo "== 4000x3000 JPEG photos (also: header check, decode, thumbnail, metadata strip)"
for i in 0 1 2; do up "$D/photo$i.jpg"; done
echo "== non-image files of the same sizes"
for i in 0 1 2; do up "$D/same$i.bin"; done
