#!/usr/bin/env bash
# Provision the emulated aarch64 target used by pipeline/targets/qemu_user.py.
#
#   1. Debian's qemu-user (dynamically linked: it loads TCG plugins)
#   2. .cache/arm/sysroot        aarch64 Python 3.11 from Debian arm64 packages,
#                                fake ARM /proc/cpuinfo, stdlib .pyc precompiled
#   3. .cache/arm/site-packages  aarch64 wheels of numpy, onnxruntime,
#                                ai-edge-litert (+ deps) at the host's versions
#   4. .cache/arm/insn_count.so  the instruction-counting plugin (native/)
#   5. sysroot/usr/lib/pipeline/guest_shim.so   frozen wall clock, fixed getcpu (native/)
#
# Idempotent: each step has a stamp; a run with everything present does nothing.
# Versions come from requirements.lock (pip freeze style) if it exists, else
# from requirements.in; a version change re-installs the wheels.
# Environment: PIPELINE_ARM_CACHE (default <root>/.cache/arm),
#              HOST_PYTHON (default <root>/.venv/bin/python, else python3),
#              FORCE=1 rebuilds everything.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ARM=${PIPELINE_ARM_CACHE:-$ROOT/.cache/arm}
SYSROOT=$ARM/sysroot
SITE=$ARM/site-packages
PLUGIN=$ARM/insn_count.so
PLUGIN_SRC=$ROOT/native/insn_count.c
SYSROOT_STAMP=$ARM/sysroot.stamp
SITE_STAMP=$ARM/site-packages.stamp
GUEST_PKGS=(numpy onnxruntime ai-edge-litert)
SYSROOT_FORMAT=3   # bump when the sysroot recipe changes (3: the stdlib compiled with its guest path)
SITE_FORMAT=2      # bump when the wheel recipe changes  (2: no host-compiled bytecode)

log() { printf '[provision_arm] %s\n' "$*"; }
die() { printf '[provision_arm] ERROR: %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" -eq 0 ]; }
SECONDS=0

mkdir -p "$ARM"
exec 9>"$ARM/.lock"
flock 9   # serialise concurrent runs

if [ "${FORCE:-0}" = 1 ]; then
    rm -f "$SYSROOT_STAMP" "$SITE_STAMP" "$PLUGIN"
fi

# --------------------------------------------------------------- versions
norm() { tr 'A-Z' 'a-z' | sed -E 's/[-_.]+/-/g'; }

# pinned_version NAME -> prints the version pinned in the lock (or .in) file
pinned_version() {
    local want file v
    want=$(printf '%s' "$1" | norm)
    for file in "$ROOT/requirements.lock" "$ROOT/requirements.in"; do
        [ -f "$file" ] || continue
        v=$(awk -v want="$want" '
            { sub(/[ \t]*[#;].*/, "") }
            /==/ {
                split($0, kv, "==")
                n = tolower(kv[1]); gsub(/[ \t]/, "", n); gsub(/[-_.]+/, "-", n)
                sub(/\[.*\]/, "", n)
                v = kv[2]; gsub(/[ \t]/, "", v)
                if (n == want) { print v; exit }
            }' "$file")
        if [ -n "$v" ]; then printf '%s' "$v"; return 0; fi
        # a lock file is authoritative: do not fall back for packages it lacks
        # (they are resolved by pip), except for the top-level ones
        [ "$(basename "$file")" = requirements.lock ] && [ "${2:-}" != top ] && return 0
    done
    return 0
}

# the stamp for the wheel set: top-level pins + lock pins of every dependency
# that was installed last time (names recorded in the previous stamp)
site_stamp() {
    local p v dep
    echo "site-format=$SITE_FORMAT"
    for p in "${GUEST_PKGS[@]}"; do
        v=$(pinned_version "$p" top)
        [ -n "$v" ] || die "no pinned version for $p in requirements.lock or requirements.in"
        echo "pin $p==$v"
    done
    for dep in "$@"; do
        echo "dep $dep==$(pinned_version "$dep")"
    done
}

# --------------------------------------------------------------- 1. qemu
QEMU=$(command -v qemu-aarch64 || true)
if [ -z "$QEMU" ] || ! ldd "$QEMU" >/dev/null 2>&1; then
    # missing, or the static build (cannot load plugins)
    CMD="apt-get install -y --no-install-recommends qemu-user"
    if ! is_root; then
        die "qemu-aarch64 (Debian package qemu-user, the dynamically linked build) is missing; run: sudo apt-get update && sudo $CMD"
    fi
    log "installing qemu-user"
    export DEBIAN_FRONTEND=noninteractive
    if ! $CMD >/dev/null 2>&1; then
        apt-get update -q >/dev/null
        $CMD >/dev/null
    fi
    QEMU=$(command -v qemu-aarch64) || die "qemu-aarch64 still missing after installing qemu-user"
    ldd "$QEMU" >/dev/null 2>&1 || die "$QEMU is statically linked (qemu-user-static?); it cannot load TCG plugins"
fi

qemu_guest() {  # run the guest python (no plugin); cpu 'max' is fine for setup work
    env -i LANG=C.UTF-8 PYTHONHASHSEED=0 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
        ORT_DISABLE_TELEMETRY=1 "$QEMU" -L "$SYSROOT" "$SYSROOT/usr/bin/python3.11" "$@"
}

changed=0

# The boards' CPU facts live in pipeline/targets/boards.py (one table; stdlib only, so the system
# python3 can read it before the venv exists).
BOARDS_PY=$( [ -x "$ROOT/.venv/bin/python" ] && echo "$ROOT/.venv/bin/python" || command -v python3.11 || command -v python3 ) \
    || die "no Python 3 to read pipeline/targets/boards.py"
boards() { PYTHONPATH="$ROOT" "$BOARDS_PY" -m pipeline.targets.boards "$@"; }
read -r -a CPUS < <(boards cpus) || die "cannot read the board table (pipeline/targets/boards.py)"
fake_cpuinfo() { boards cpuinfo "$1" "${2:-1}"; }   # /proc/cpuinfo of a board of N cores of this type

# --------------------------------------------------------------- 2. sysroot
if [ "$(cat "$SYSROOT_STAMP" 2>/dev/null | head -n1)" != "sysroot-format=$SYSROOT_FORMAT" ] \
   || [ ! -x "$SYSROOT/usr/bin/python3.11" ]; then
    changed=1
    log "building aarch64 Python 3.11 sysroot in $SYSROOT"
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        is_root || die "the arm64 architecture is not enabled; run: sudo dpkg --add-architecture arm64 && sudo apt-get update"
        dpkg --add-architecture arm64
        apt-get update -q >/dev/null
    fi
    if ! apt-cache show python3.11:arm64 >/dev/null 2>&1; then
        is_root || die "no arm64 package lists; run: sudo apt-get update"
        apt-get update -q >/dev/null
    fi
    # python3.11:arm64 and its recursive Depends; drop the packaging tools that
    # some dependencies pull in (not needed to run python)
    mapfile -t pkgs < <(apt-cache depends --recurse --no-recommends --no-suggests \
            --no-conflicts --no-breaks --no-replaces --no-enhances \
            python3.11:arm64 libstdc++6:arm64 libgcc-s1:arm64 2>/dev/null \
        | grep -E '^[a-z0-9][a-z0-9.+-]*:arm64$' \
        | grep -vE '^(dpkg|tar|install-info|debconf|perl|perl-base|perl-modules-[0-9.]+|libperl[0-9.]+|debianutils|base-files|coreutils|dash|bash|sensible-utils):arm64$' \
        | sort -u)
    [ "${#pkgs[@]}" -gt 5 ] || die "could not resolve python3.11:arm64 dependencies"
    rm -rf "$ARM/debs" "$SYSROOT.tmp"
    mkdir -p "$ARM/debs" "$SYSROOT.tmp"
    log "downloading ${#pkgs[@]} arm64 packages"
    (cd "$ARM/debs" && apt-get download -q -o APT::Sandbox::User="$(id -un)" "${pkgs[@]}" >/dev/null)
    debs=()
    for deb in "$ARM"/debs/*.deb; do
        dpkg -x "$deb" "$SYSROOT.tmp"
        debs+=("$(dpkg-deb -f "$deb" Package Version | paste -sd' ')")
    done
    # onnxruntime reads /proc/cpuinfo at import and crashes on the host's x86
    # one; qemu -L redirects the open to SYSROOT/proc/cpuinfo (see views below)
    mkdir -p "$SYSROOT.tmp/proc"
    fake_cpuinfo cortex-a72 > "$SYSROOT.tmp/proc/cpuinfo"
    # a loader cache of its own, so the guest never reads the host's (the host
    # ldconfig indexes no aarch64 libraries: it is empty and ld.so falls back
    # to its built-in multiarch directories)
    mkdir -p "$SYSROOT.tmp/etc"
    echo 'include /etc/ld.so.conf.d/*.conf' > "$SYSROOT.tmp/etc/ld.so.conf"
    ldconfig -r "$SYSROOT.tmp" 2>/dev/null || rm -f "$SYSROOT.tmp/etc/ld.so.cache"
    rm -rf "$SYSROOT" "$ARM/debs"
    mv "$SYSROOT.tmp" "$SYSROOT"
    log "precompiling the guest stdlib under emulation"
    # -d: each .pyc names its source by the guest path, not this cache (-f: the modules compileall itself
    # imported first too): a host path in the bytecode made
    # the counts depend on where the checkout lives (its length moves allocations before the counted region)
    qemu_guest -m compileall -q -f -d /usr/lib/python3.11 -x '/(test|tests|idlelib|lib2to3|tkinter|turtledemo|ensurepip)/' \
        "$SYSROOT/usr/lib/python3.11" >/dev/null \
        || die "compileall failed under emulation"
    { echo "sysroot-format=$SYSROOT_FORMAT"; printf '%s\n' "${debs[@]}"; } > "$SYSROOT_STAMP"
fi

# --------------------------------------------------------------- 2b. boards
# One view per modelled core: symlinks to the sysroot plus a complete, fixed description of a
# 4-core board of that core (/proc/cpuinfo, /sys CPU topology, caches, clocks, no PCI devices)
# and fixed /etc files. qemu -L falls back to the HOST's file for any path the view lacks, and
# the runtimes read these at start-up (onnxruntime reads the L2 size and the PCI bus; MLAS picks
# its int8 kernels by the MIDR of the core getcpu() reports): without them the counts depend on
# the machine, and on which host core the process happened to run (0 or 1 here: 25 instructions
# per call). pipeline/targets/qemu_user.py keeps the emulator on host CPUs 0-3, the board's cores.
BOARD_CORES=$(boards cores)

board_facts() { boards facts "$1"; }   # cpu -> "l1d l1i l2 l3 max_khz min_khz"

write_cache() {  # dir level type size shared
    mkdir -p "$1"
    echo "$2" > "$1/level"; echo "$3" > "$1/type"; echo "$4" > "$1/size"; echo "$5" > "$1/shared_cpu_list"
    echo 64 > "$1/coherency_line_size"
}

make_view() {  # cpu view
    local cpu=$1 view=$2 last=$((BOARD_CORES - 1)) i c l1d l1i l2 l3 maxf minf
    read -r l1d l1i l2 l3 maxf minf < <(board_facts "$cpu")
    mkdir -p "$view/proc" "$view/sys/devices/system/cpu" "$view/sys/bus/pci/devices" \
             "$view/sys/class/drm" "$view/sys/class/accel"
    for entry in "$SYSROOT"/*; do
        case "$(basename "$entry")" in proc|sys) ;; *) ln -s "../../sysroot/$(basename "$entry")" "$view/" ;; esac
    done
    fake_cpuinfo "$cpu" "$BOARD_CORES" > "$view/proc/cpuinfo"
    for f in possible present online; do echo "0-$last" > "$view/sys/devices/system/cpu/$f"; done
    echo "$last" > "$view/sys/devices/system/cpu/kernel_max"
    echo "" > "$view/sys/devices/system/cpu/offline"
    for i in $(seq 0 "$last"); do
        c=$view/sys/devices/system/cpu/cpu$i
        mkdir -p "$c/topology" "$c/cpufreq"
        echo 1 > "$c/online"
        echo 0 > "$c/topology/physical_package_id"; echo 0 > "$c/topology/cluster_id"
        echo "$i" > "$c/topology/core_id"
        for f in cluster_cpus_list core_siblings_list package_cpus_list die_cpus_list; do
            echo "0-$last" > "$c/topology/$f"
        done
        for f in thread_siblings_list core_cpus_list; do echo "$i" > "$c/topology/$f"; done
        echo "$maxf" > "$c/cpufreq/cpuinfo_max_freq"; echo "$minf" > "$c/cpufreq/cpuinfo_min_freq"
        write_cache "$c/cache/index0" 1 Data "$l1d" "$i"
        write_cache "$c/cache/index1" 1 Instruction "$l1i" "$i"
        write_cache "$c/cache/index2" 2 Unified "$l2" "$([ "$l3" = - ] && echo "0-$last" || echo "$i")"
        if [ "$l3" != - ]; then write_cache "$c/cache/index3" 3 Unified "$l3" "0-$last"; fi
    done
}

write_guest_etc() {  # fixed identity files: the host's would otherwise be read
    local etc=$SYSROOT/etc
    mkdir -p "$etc"
    printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n' > "$etc/os-release"
    printf 'passwd: files\ngroup: files\nhosts: files\n' > "$etc/nsswitch.conf"
    printf 'root:x:0:0:root:/nonexistent:/bin/sh\n' > "$etc/passwd"
    printf 'root:x:0:\n' > "$etc/group"
    printf '127.0.0.1 localhost\n' > "$etc/hosts"
    # UTC as a TZif v1 file (no transitions, one type: offset 0, "UTC"), so that no tzdata is needed
    { printf 'TZif'; printf '\0%.0s' $(seq 32); printf '\0\0\0\1\0\0\0\4'; printf '\0%.0s' $(seq 6)
      printf 'UTC\0'; } > "$etc/localtime"
}

BOARD_STAMP=$ARM/boards.stamp
BOARD_FORMAT=1   # bump when the board description changes
if [ "$(cat "$BOARD_STAMP" 2>/dev/null)" != "board-format=$BOARD_FORMAT cores=$BOARD_CORES $(cat "$SYSROOT_STAMP")" ] \
   || [ ! -f "$ARM/cpu/${CPUS[-1]}/proc/cpuinfo" ]; then
    changed=1
    log "describing ${BOARD_CORES}-core boards of ${CPUS[*]}"
    write_guest_etc
    rm -rf "$ARM/cpu.tmp"
    for cpu in "${CPUS[@]}"; do make_view "$cpu" "$ARM/cpu.tmp/$cpu"; done
    rm -rf "$ARM/cpu"
    mv "$ARM/cpu.tmp" "$ARM/cpu"
    echo "board-format=$BOARD_FORMAT cores=$BOARD_CORES $(cat "$SYSROOT_STAMP")" > "$BOARD_STAMP"
fi

# --------------------------------------------------------------- 3. wheels
prev_deps=()
if [ -f "$SITE_STAMP" ]; then
    mapfile -t prev_deps < <(sed -n 's/^dep \([^=]*\)==.*/\1/p' "$SITE_STAMP")
fi
if [ ! -d "$SITE" ] || [ ! -f "$SITE_STAMP" ] \
   || [ "$(site_stamp "${prev_deps[@]}")" != "$(cat "$SITE_STAMP")" ]; then
    changed=1
    HOST_PY=${HOST_PYTHON:-}
    if [ -z "$HOST_PY" ]; then
        if [ -x "$ROOT/.venv/bin/python" ]; then HOST_PY=$ROOT/.venv/bin/python
        else HOST_PY=$(command -v python3) || die "no host python3 for pip"; fi
    fi
    reqs=()
    for p in "${GUEST_PKGS[@]}"; do reqs+=("$p==$(pinned_version "$p" top)"); done
    log "installing aarch64 wheels: ${reqs[*]}"
    plat=(--platform manylinux2014_aarch64)
    for minor in $(seq 17 36); do plat+=(--platform "manylinux_2_${minor}_aarch64"); done
    cons=$ARM/constraints.txt
    # only plain name==version lines of the lock constrain the dependencies
    if [ -f "$ROOT/requirements.lock" ]; then
        grep -E '^[A-Za-z0-9][A-Za-z0-9._-]*==[^ ;#]+' "$ROOT/requirements.lock" \
            | sed -E 's/[ \t]*[;#].*//' > "$cons"
    else
        : > "$cons"
    fi
    rm -rf "$SITE.tmp"
    # --no-compile: bytecode compiled here would name its sources by this cache's path, and the counts would
    # depend on where the checkout lives; the guest compiles them in memory from its own workspace path
    "$HOST_PY" -m pip install -q --disable-pip-version-check --no-input --no-compile \
        --target "$SITE.tmp" --only-binary=:all: \
        --python-version 3.11 --implementation cp --abi cp311 "${plat[@]}" \
        -c "$cons" "${reqs[@]}" > "$ARM/pip.log" 2>&1 \
        || { tail -n 20 "$ARM/pip.log" >&2; die "pip could not install the aarch64 wheels (log: $ARM/pip.log)"; }
    rm -rf "$SITE.tmp/bin" "$cons"
    mapfile -t deps < <(for d in "$SITE.tmp"/*.dist-info; do
            sed -n 's/^Name: *//p' "$d/METADATA" | head -n1
        done | norm | sort -u | grep -vxE "$(IFS='|'; echo "${GUEST_PKGS[*]}")")
    rm -rf "$SITE"
    mv "$SITE.tmp" "$SITE"
    site_stamp "${deps[@]}" > "$SITE_STAMP.new"
fi

# --------------------------------------------------------------- 4. plugin
if [ ! -f "$PLUGIN" ] || [ "$PLUGIN_SRC" -nt "$PLUGIN" ]; then
    changed=1
    command -v gcc >/dev/null || die "gcc is missing; run: apt-get install -y gcc"
    log "building $PLUGIN"
    gcc -O2 -Wall -Wextra -shared -fPIC -fvisibility=hidden \
        -o "$PLUGIN.tmp" "$PLUGIN_SRC"
    mv "$PLUGIN.tmp" "$PLUGIN"
fi

# --------------------------------------------------------------- 5. guest shim
# native/guest_shim.S (frozen wall clock, getcpu = core 0), preloaded into every guest (see pipeline/targets/qemu_user.py)
SHIM=$SYSROOT/usr/lib/pipeline/guest_shim.so
SHIM_SRC=$ROOT/native/guest_shim.S
if [ ! -f "$SHIM" ] || [ "$SHIM_SRC" -nt "$SHIM" ]; then
    changed=1
    if ! command -v aarch64-linux-gnu-as >/dev/null || ! command -v aarch64-linux-gnu-ld >/dev/null; then
        CMD="apt-get install -y --no-install-recommends binutils-aarch64-linux-gnu"
        is_root || die "the aarch64 assembler is missing; run: sudo apt-get update && sudo $CMD"
        log "installing binutils-aarch64-linux-gnu"
        export DEBIAN_FRONTEND=noninteractive
        $CMD >/dev/null 2>&1 || { apt-get update -q >/dev/null; $CMD >/dev/null; }
    fi
    log "assembling $SHIM"
    mkdir -p "$(dirname "$SHIM")"
    aarch64-linux-gnu-as -o "$SHIM.o" "$SHIM_SRC"
    aarch64-linux-gnu-ld -shared -o "$SHIM.tmp" "$SHIM.o"
    rm -f "$SHIM.o"
    mv "$SHIM.tmp" "$SHIM"
fi

# --------------------------------------------------------------- smoke test
if [ "$changed" = 1 ]; then
    log "smoke test: import numpy, onnxruntime, ai_edge_litert on cortex-a53"
    out=$(mktemp)
    if ! env -i LANG=C.UTF-8 PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1 \
            OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 ORT_DISABLE_TELEMETRY=1 PYTHONPATH="$SITE" \
            "$QEMU" -cpu cortex-a53 -L "$ARM/cpu/cortex-a53" -plugin "$PLUGIN,out=$out" \
            "$SYSROOT/usr/bin/python3.11" -c '
import platform, numpy, onnxruntime, ai_edge_litert.interpreter
print(platform.machine(), "numpy", numpy.__version__, "onnxruntime", onnxruntime.__version__)'; then
        rm -f "$out" "$SITE_STAMP.new"
        die "smoke test failed"
    fi
    grep -q '"regions": 0' "$out" || { rm -f "$out"; die "plugin output unexpected"; }
    rm -f "$out"
    # the wheel stamp is written only once the guest imports work
    if [ -f "$SITE_STAMP.new" ]; then mv "$SITE_STAMP.new" "$SITE_STAMP"; fi
    log "done in ${SECONDS}s ($(du -sh "$ARM" | cut -f1) in $ARM)"
else
    log "up to date ($ARM)"
fi
