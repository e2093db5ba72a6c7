#!/usr/bin/env python3
"""Writes realistic log text with about one line in 1,000 holding a fake
credential. Usage: `gen-scan-log.py SIZE_MB OUT [SEED]`. The line shapes match
benches/scan.rs (application, JSON and access-log lines with many rule
keywords such as token, session, auth, task-, sk)."""
import random
import sys

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
HEX = "0123456789abcdef"
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def main():
    size = int(float(sys.argv[1]) * 1024 * 1024)
    out_path = sys.argv[2]
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    ch = rng.choice

    def pick(alphabet, n):
        return "".join(ch(alphabet) for _ in range(n))

    def uuid():
        return f"{pick(HEX, 8)}-{pick(HEX, 4)}-{pick(HEX, 4)}-{pick(HEX, 4)}-{pick(HEX, 12)}"

    # Pools of random fields, so that generating 1 GB stays fast.
    uuids = [uuid() for _ in range(4096)]
    hex32 = [pick(HEX, 32) for _ in range(4096)]
    hex64 = [pick(HEX, 64) for _ in range(4096)]
    hex40 = [pick(HEX, 40) for _ in range(4096)]
    hex8 = [pick(HEX, 8) for _ in range(512)]
    al24 = [pick(ALNUM, 24) for _ in range(4096)]
    ri = rng.randrange

    def secret(ts):
        k = ri(6)
        if k == 0:
            return f"{ts} ERROR stripe: auth failed api_key=sk_live_{pick(ALNUM, 24)} retry=1\n" # secret-chain:allow
        if k == 1:
            return f"{ts} INFO  git: clone with token ghp_{pick(ALNUM, 36)} done\n"
        if k == 2:
            return f"{ts} DEBUG aws: creds AWS_ACCESS_KEY_ID=AKIA{pick(B32, 16)}\n"
        if k == 3:
            return f"{ts} DEBUG > Authorization: Bearer {pick(ALNUM, 40)}\n" # secret-chain:allow
        if k == 4:
            return f"{ts} INFO  db: connecting to postgres://app:{pick(ALNUM, 18)}@db1:5432/orders\n"
        return f'{{"ts":"{ts}","level":"debug","msg":"env","OPENAI_API_KEY":"sk-proj-{pick(ALNUM, 64)}"}}\n' # secret-chain:allow

    def plain(ts):
        k = ri(10)
        if k == 0:
            return f"{ts} INFO  http.server: GET /api/v1/orders/{ri(1, 99999)} 200 {ri(1, 900)}ms request_id={ch(uuids)} user_id={ri(1, 99999)}\n"
        if k == 1:
            return f"{ts} DEBUG db.pool: acquired connection conn_id={ri(1, 500)} wait={ri(50)}ms pool=orders-primary\n"
        if k == 2:
            return f'{{"ts":"{ts}","level":"info","msg":"job finished","job":"invoice-{ri(1, 99999)}","duration_ms":{ri(1, 5000)},"trace_id":"{ch(hex32)}"}}\n'
        if k == 3:
            return f'10.{ri(255)}.{ri(255)}.{ri(255)} - - [12/Mar/2025:10:15:32 +0000] "GET /static/app.{ch(hex8)}.js HTTP/1.1" 200 {ri(100, 90000)} "-" "Mozilla/5.0 (X11; Linux x86_64)"\n'
        if k == 4:
            return f"{ts} WARN  auth.session: session refreshed session_id={ch(uuids)} expires_in=3600s\n"
        if k == 5:
            return f"{ts} INFO  worker: task-runner-{ch(hex8)[:6]} processed {ri(1, 1000)} messages from disk queue orders.created\n"
        if k == 6:
            return f"{ts} DEBUG cache: hit key=sha256:{ch(hex64)} size={ri(1, 99999)}\n"
        if k == 7:
            return f"{ts} INFO  llm.client: usage prompt_tokens={ri(1, 4000)} completion_tokens={ri(1, 4000)} model=gpt-4o token_budget=ok\n"
        if k == 8:
            return f"{ts} ERROR payments: charge failed code=card_declined charge_id=ch_{ch(al24)} amount={ri(100, 99999)}\n"
        return f"{ts} INFO  deploy: commit={ch(hex40)} branch=main author=dev{ri(1, 99)}@example.org password_reset=false\n"

    written = 0
    n = 0
    with open(out_path, "w") as out:
        buf = []
        while written < size:
            n += 1
            ts = f"2025-03-{1 + n % 28:02d}T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}.{n % 1000:03d}Z"
            line = secret(ts) if n % 1000 == 500 else plain(ts)
            buf.append(line)
            written += len(line)
            if len(buf) >= 10000:
                out.write("".join(buf))
                buf = []
        out.write("".join(buf))
    print(f"{out_path}: {written} bytes, {n} lines, {n // 1000} with a credential", file=sys.stderr)


if __name__ == "__main__":
    main()
