/*
 * guest_shim.S - an aarch64 shared object preloaded into every emulated guest
 * (qemu-aarch64 -E LD_PRELOAD=/usr/lib/pipeline/guest_shim.so). It takes away the
 * two things of the host that QEMU user mode passes through and that changed the
 * instruction counts of the same file: the wall clock and the host core number.
 *
 * 1. clock_gettime answers CLOCK_REALTIME and CLOCK_REALTIME_COARSE with a fixed
 *    instant (1700000000 s) and passes every other clock to the kernel.
 *    onnxruntime's InferenceSession::Run keeps time-based telemetry on the wall
 *    clock (std::chrono::system_clock): an event when 50 ms have passed since the
 *    last one, a runtime-performance report every few seconds. Under emulation a
 *    call takes 5-300 ms, so whether a counted call paid for those events (a few
 *    hundred instructions and an allocation) depended on wall time, and the count
 *    of the same file moved by up to 600 instructions between runs. With the wall
 *    clock frozen they fire at most once, in the first call, never in a counted one.
 *    The harness times with CLOCK_MONOTONIC (time.perf_counter), which runs.
 *
 * 2. getcpu reports core 0, node 0: through syscall(__NR_getcpu) (how cpuinfo, and
 *    so MLAS, asks before every GEMM which core's kernels to use), sched_getcpu()
 *    and getcpu(). QEMU answers getcpu with the HOST core, and the count moved by 25
 *    instructions per call with the host core the emulator ran on; with this, two
 *    guests can run side by side on different host cores and count the same.
 *    syscall() passes every other number to the kernel with glibc's conventions
 *    (-1 and errno on failure).
 *
 * Assembled at set-up by scripts/provision_arm.sh (binutils-aarch64-linux-gnu):
 *   aarch64-linux-gnu-as -o s.o guest_shim.S && aarch64-linux-gnu-ld -shared -o s.so s.o
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

    // int getcpu(unsigned *cpu, unsigned *node): both 0
    .global getcpu
    .type   getcpu, %function
getcpu:
.Lgetcpu:
    cbz     x0, 1f
    str     wzr, [x0]
1:  cbz     x1, 2f
    str     wzr, [x1]
2:  mov     x0, #0
    ret
    .size   getcpu, .-getcpu

    // int sched_getcpu(void): 0
    .global sched_getcpu
    .type   sched_getcpu, %function
sched_getcpu:
    mov     x0, #0
    ret
    .size   sched_getcpu, .-sched_getcpu

    // long syscall(long number, ...): getcpu answered here, everything else to the kernel
    .global syscall
    .type   syscall, %function
syscall:
    cmp     x0, #168                // __NR_getcpu
    b.ne    1f
    mov     x0, x1
    mov     x1, x2
    b       .Lgetcpu
1:  mov     x8, x0
    mov     x0, x1
    mov     x1, x2
    mov     x2, x3
    mov     x3, x4
    mov     x4, x5
    mov     x5, x6
    svc     #0
    cmn     x0, #4095               // -4095..-1 is -errno
    b.cs    2f
    ret
2:  stp     x29, x30, [sp, #-32]!
    mov     x29, sp
    neg     x0, x0
    str     x0, [sp, #16]
    bl      __errno_location
    ldr     x1, [sp, #16]
    str     w1, [x0]
    mov     x0, #-1
    ldp     x29, x30, [sp], #32
    ret
    .size   syscall, .-syscall
    .section .note.GNU-stack, "", %progbits
