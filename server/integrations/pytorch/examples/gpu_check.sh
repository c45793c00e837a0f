#!/usr/bin/env bash
# Issue 4's GPU check, in one device call: the bundled agent (live nvidia-smi + --torch-log + --torch-trace-dir)
# beside a real PyTorch inference run that uses the hook; a socket client records what the agent showed;
# compare_moments.py puts it next to torch.cuda.memory_stats() and nvidia-smi at four moments.
# Needs (carried, git-ignored): .carry/node.xz, .carry/hr/headroom.js (the agent bundle), .carry/capture.mjs.
set -u
OUT=${OUT:-/tmp/hr-out}
W=/tmp/hr
EX=server/integrations/pytorch/examples
mkdir -p "$W/traces" "$OUT"
xz -dc .carry/node.xz > /tmp/node && chmod +x /tmp/node
{
  nvidia-smi --query-gpu=name,memory.total,memory.reserved,driver_version --format=csv
  python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
  /tmp/node --version
} > "$OUT/env.txt" 2>&1
/tmp/node .carry/hr/headroom.js --source live --port 8077 --torch-log "$W/torch.jsonl" --torch-trace-dir "$W/traces" > "$W/agent.log" 2>&1 &
AGENT=$!
for _ in $(seq 1 50); do curl -sf http://127.0.0.1:8077/api/health > /dev/null 2>&1 && break; sleep 0.2; done
/tmp/node .carry/capture.mjs http://127.0.0.1:8077 "$W/frames.jsonl" 2> "$W/capture.log" &
CAP=$!
sleep 1
PYTHONUNBUFFERED=1 timeout 420 python3 "$EX/llama_inference.py" "$W" --trace-dir "$W/traces" --hold 3 > "$W/script.log" 2>&1
echo "inference exit code $?" >> "$W/script.log"
sleep 3
curl -s http://127.0.0.1:8077/api/health >> "$W/script.log"
kill "$CAP" "$AGENT"; wait
python3 "$EX/compare_moments.py" "$W/moments.jsonl" "$W/frames.jsonl" > "$OUT/compare.md" 2>&1
cat "$W/capture.log" >> "$W/agent.log"
gzip -c "$W/frames.jsonl" > "$OUT/frames.jsonl.gz"
gzip -c "$W/torch.jsonl" > "$OUT/torch.jsonl.gz"
cp "$W/moments.jsonl" "$W/agent.log" "$W/script.log" "$OUT/"
ls -la "$W" "$W/traces" >> "$OUT/env.txt"
cat "$OUT/compare.md"; tail -5 "$W/script.log"
