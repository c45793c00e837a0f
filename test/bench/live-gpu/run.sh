#!/usr/bin/env bash
# The live GPU check (issue 3), run on the device from the repository root with .carry/node.xz and dist/ carried.
set -u
mkdir -p /tmp/nb && xz -dc .carry/node.xz > /tmp/nb/node && chmod +x /tmp/nb/node
export PATH=/tmp/nb:$PATH PYTHONUNBUFFERED=1
B=test/bench/live-gpu
node --version; nvidia-smi -L
nvidia-smi --query-gpu=name,driver_version,persistence_mode,memory.total,memory.reserved,memory.used --format=csv
{
  timeout 3 nvidia-smi --query-gpu=timestamp,index,memory.used --format=csv,noheader,nounits -lms 100 | node $B/arrivals.mjs "plain pipe:"
  timeout 3 stdbuf -oL nvidia-smi --query-gpu=timestamp,index,memory.used --format=csv,noheader,nounits -lms 100 | node $B/arrivals.mjs "stdbuf -oL:"
} > $OUT/pipe-probe.txt 2>&1
cat $OUT/pipe-probe.txt
node .carry/live-cost.js --seconds 20 --calls 20 > $OUT/bench.txt 2>&1; cat $OUT/bench.txt
HEADROOM_DEBUG=live node dist/headroom.js --interval-ms 100 --port 8077 --record $OUT/h200-live.jsonl > $OUT/agent.log 2>&1 &
AGENT=$!
sleep 3
python3 $B/torch_workload.py $OUT/torch-checks.jsonl > $OUT/torch.log 2>&1 || { echo "torch workload failed"; cat $OUT/torch.log; }
sleep 3
node -e 'fetch("http://127.0.0.1:8077/api/health").then(r=>r.text()).then(t=>console.log(t))' > $OUT/health.json
cat $OUT/health.json
kill -TERM $AGENT; wait $AGENT
tail -20 $OUT/agent.log
node $B/compare.mjs $OUT/h200-live.jsonl $OUT/torch-checks.jsonl | tee $OUT/compare.txt
ls -la $OUT
