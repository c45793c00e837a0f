#!/usr/bin/env bash
# The live GPU check (issue 3), run on the device from the repository root with .carry/node.xz,
# .carry/live-cost.js (test/bench/live-cost.ts bundled) and dist/ carried. Files land in $OUT.
set -u
mkdir -p /tmp/nb && xz -dc .carry/node.xz > /tmp/nb/node && chmod +x /tmp/nb/node
export PATH=/tmp/nb:$PATH PYTHONUNBUFFERED=1
B=test/bench/live-gpu
node --version; nvidia-smi -L
nvidia-smi --query-gpu=name,driver_version,persistence_mode,memory.total,memory.reserved,memory.used --format=csv
echo "== pipe probe"
timeout 3 nvidia-smi --query-gpu=timestamp,index,memory.used --format=csv,noheader,nounits -lms 100 | node $B/arrivals.mjs "plain pipe:"
timeout 3 stdbuf -oL nvidia-smi --query-gpu=timestamp,index,memory.used --format=csv,noheader,nounits -lms 100 | node $B/arrivals.mjs "stdbuf -oL:"
echo "== bench"
node .carry/live-cost.js --seconds ${BENCH_SECONDS:-20} --calls ${BENCH_CALLS:-20} > $OUT/bench.txt 2>&1; cat $OUT/bench.txt
echo "== agent + torch"
HEADROOM_DEBUG=live node dist/headroom.js --interval-ms 100 --port 8077 --record $OUT/h200-live.jsonl > $OUT/agent.log 2>&1 &
AGENT=$!
sleep 3
python3 $B/torch_workload.py $OUT/torch-checks.jsonl 2>&1 | tail -5 || echo "torch workload failed"
sleep 3
echo "== health"
node -e 'fetch("http://127.0.0.1:8077/api/health").then(r=>r.text()).then(t=>console.log(t))'
kill -TERM $AGENT; wait $AGENT
tail -20 $OUT/agent.log
echo "== compare"
node $B/compare.mjs $OUT/h200-live.jsonl $OUT/torch-checks.jsonl > $OUT/compare.txt 2>&1; cat $OUT/compare.txt
ls -la $OUT
