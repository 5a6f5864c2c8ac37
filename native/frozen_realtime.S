/*
 * frozen_realtime.S - an aarch64 shared object, preloaded into the emulated guest
 * (qemu-aarch64 -E LD_PRELOAD=/usr/lib/pipeline/frozen_realtime.so), whose clock_gettime
 * answers CLOCK_REALTIME and CLOCK_REALTIME_COARSE with a fixed instant
 * (1700000000 s) and passes every other clock to the kernel.
 *
 * Why: onnxruntime's InferenceSession::Run keeps time-based telemetry on the
 * wall clock (std::chrono::system_clock): an event when 50 ms have passed since
 * the last one, a runtime-performance report every few seconds. Under emulation a
 * call takes 5-300 ms, so whether a counted call paid for those events (a few
 * hundred instructions and an allocation) depended on wall time, and the count of
 * the same file moved by up to 600 instructions between runs. With the wall clock
 * frozen they fire at most once, in the first call, never in a counted one.
 * The harness times with CLOCK_MONOTONIC (time.perf_counter), which is not touched.
 *
 * Assembled at set-up by scripts/provision_arm.sh (binutils-aarch64-linux-gnu):
 *   aarch64-linux-gnu-as -o f.o frozen_realtime.S && aarch64-linux-gnu-ld -shared -o f.so f.o
 */
    .text
    .global clock_gettime
    .type   clock_gettime, %function
clock_gettime:
    cmp     w0, #0                  // CLOCK_REALTIME
    b.eq    1f
    cmp     w0, #5                  // CLOCK_REALTIME_COARSE
    b.eq    1f
    mov     x8, #113                // __NR_clock_gettime
    svc     #0
    ret
1:  movz    x2, #0x6553, lsl #16    // 1700000000 = 0x6553f100 seconds
    movk    x2, #0xf100
    str     x2, [x1]                // tv_sec
    str     xzr, [x1, #8]           // tv_nsec
    mov     x0, #0
    ret
    .size   clock_gettime, .-clock_gettime
    .section .note.GNU-stack, "", %progbits
