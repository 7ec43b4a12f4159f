#!/usr/bin/env bash
# Builds the Mail parser with libFuzzer + AddressSanitizer and fuzzes MailMessage.parse.
#
#   Tools/fuzz/run-mail-fuzz.sh                 # 60 s
#   MAIL_FUZZ_SECONDS=600 Tools/fuzz/run-mail-fuzz.sh
#   Tools/fuzz/run-mail-fuzz.sh -jobs=2 -workers=2   # extra arguments go to libFuzzer
#   Tools/fuzz/run-mail-fuzz.sh -len_control=0 -timeout=5   # long inputs at once: finds slow paths
#   Tools/fuzz/run-mail-fuzz.sh crash-<sha1>    # a file argument just re-runs that input
#
# Dictionary: Tools/fuzz/mail.dict (MIME tokens).
# Output: binary .build-fuzz/mail-fuzz, working corpus .build-fuzz/mail-corpus (seeded from
# Tests/MailTests/Fixtures/*.eml), crash/timeout/oom inputs in .build-fuzz/mail-artifacts/.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="$root/.build-fuzz"
bin="$out/mail-fuzz"
corpus="$out/mail-corpus"
artifacts="$out/mail-artifacts"
seconds="${MAIL_FUZZ_SECONDS:-60}"
mkdir -p "$out" "$corpus" "$artifacts"

sources=("$root"/Sources/Mail/*.swift "$root/Tools/fuzz/MailFuzz.swift")
needs_build=0
[[ -x "$bin" ]] || needs_build=1
for f in "${sources[@]}"; do [[ "$f" -nt "$bin" ]] && needs_build=1; done
if (( needs_build )); then
    echo "building $bin" >&2
    swiftc -sanitize=fuzzer,address -parse-as-library -O -g \
        -module-name Mail -module-cache-path "$out/module-cache" \
        "${sources[@]}" -o "$bin"
fi

for f in "$root"/Tests/MailTests/Fixtures/*.eml; do
    [[ -e "$f" ]] && cp -n "$f" "$corpus/" 2>/dev/null || true
done

# Short allocation stacks: recording them dominates the run time (Swift allocates a lot).
export ASAN_OPTIONS="${ASAN_OPTIONS:-malloc_context_size=5}"

# A file argument: reproduce it (libFuzzer runs the given inputs once and exits).
if (( $# > 0 )) && [[ -f "$1" ]]; then exec "$bin" "$@"; fi

exec "$bin" "$corpus" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -dict="$root/Tools/fuzz/mail.dict" -artifact_prefix="$artifacts/" -print_final_stats=1 "$@"
