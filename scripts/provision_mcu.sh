#!/usr/bin/env bash
# Provision the Cortex-M targets (pipeline/targets/mcu.py) from Debian packages only:
#   qemu-system-arm (the mps2/mps3 boards), gcc-arm-none-eabi and picolibc-arm-none-eabi (the firmware).
# The instruction-counting plugin is the A-class one (scripts/provision_arm.sh builds it).
# Idempotent: with everything present it only checks; a smoke test builds and runs a tiny firmware once.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ARM=${PIPELINE_ARM_CACHE:-$ROOT/.cache/arm}
STAMP=$ARM/mcu.stamp
PKGS=(qemu-system-arm gcc-arm-none-eabi picolibc-arm-none-eabi)
log() { printf '[provision_mcu] %s\n' "$*"; }
die() { printf '[provision_mcu] ERROR: %s\n' "$*" >&2; exit 1; }
SECONDS=0

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    CMD="apt-get install -y --no-install-recommends ${missing[*]}"
    [ "$(id -u)" -eq 0 ] || die "missing Debian packages ${missing[*]}; run: sudo apt-get update && sudo $CMD"
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $CMD >/dev/null 2>&1 || { apt-get update -q >/dev/null; $CMD >/dev/null; }
fi

versions="$(dpkg-query -W -f='${Package} ${Version}\n' "${PKGS[@]}")"
if [ "$(cat "$STAMP" 2>/dev/null)" = "$versions" ]; then
    log "up to date"
    exit 0
fi
log "smoke test: a bare-metal hello on mps2-an386 (Cortex-M4)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/hello.c" <<'C'
#include <stdio.h>
int main(void) {
    printf("hello from the Cortex-M4\n");
    register int r0 __asm("r0") = 0x18; register int r1 __asm("r1") = 0x20026;  /* SYS_EXIT, success */
    __asm volatile("bkpt 0xab" :: "r"(r0), "r"(r1));
    return 0;
}
C
arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -O2 --specs=picolibc.specs \
    --oslib=semihost -Wl,--defsym=__flash=0x0 -Wl,--defsym=__flash_size=0x400000 \
    -Wl,--defsym=__ram=0x20000000 -Wl,--defsym=__ram_size=0x400000 -o "$tmp/hello.elf" "$tmp/hello.c" \
    || die "arm-none-eabi-gcc with picolibc could not build a firmware"
out=$(timeout 60 qemu-system-arm -M mps2-an386 -nographic -monitor none -semihosting-config enable=on,target=native \
    -kernel "$tmp/hello.elf" 2>&1) || die "qemu-system-arm did not run the firmware: $out"
grep -q "hello from the Cortex-M4" <<<"$out" || die "unexpected firmware output: $out"
mkdir -p "$ARM"
echo "$versions" > "$STAMP"
log "done in ${SECONDS}s"
