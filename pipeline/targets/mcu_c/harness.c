/* The bare-metal measuring loop (the Cortex-M twin of pipeline/bench/harness.py).
 *
 * Reads MFCC matrices (N_VALUES float32 each) from inputs.bin through semihosting, calls
 * model_predict() on each between region_begin() and region_end() (the instruction-counting plugin
 * is given their addresses: native/insn_count.c), writes the top-1 classes to predictions.bin and
 * prints the stack's high-water mark and the heap in use (picolibc's stdio buffers). Built with
 * -DN_VALUES=... -DSTACK_PAINT=... and the generated model.c.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

int model_predict(const float *mfcc);

extern char __stack[];      /* picolibc.ld: the top of RAM; the stack grows down from it */
extern char __heap_start[]; /* picolibc.ld: the end of bss, where the heap grows up from */
#define HEAP_ROOM 16384     /* left unpainted above the heap's start, for stdio's buffers */

#define PAINT 0xA5A5A5A5u

__attribute__((noinline)) void region_begin(void) { __asm volatile("" ::: "memory"); }
__attribute__((noinline)) void region_end(void) { __asm volatile("" ::: "memory"); }

static float input[N_VALUES];

__attribute__((noreturn)) static void semihost_exit(int code)
{
    /* SYS_EXIT with ADP_Stopped_ApplicationExit: QEMU exits with the status */
    register int r0 __asm("r0") = 0x18;
    register int r1 __asm("r1") = code == 0 ? 0x20026 : 0x20024;
    __asm volatile("bkpt 0xab" :: "r"(r0), "r"(r1) : "memory");
    for (;;) {
    }
}

/* The lowest painted word: STACK_PAINT bytes below the top of RAM, never into bss or the heap's room. */
static uint32_t *stack_bottom(void)
{
    uintptr_t bottom = (uintptr_t)(__stack - STACK_PAINT);
    uintptr_t floor = ((uintptr_t)__heap_start + HEAP_ROOM + 3) & ~(uintptr_t)3;
    return (uint32_t *)(bottom > floor ? bottom : floor);
}

/* Fill the unused stack below this frame with a pattern; the deepest word changed is the mark. */
__attribute__((noinline)) static void paint_stack(void)
{
    volatile uint32_t *p = stack_bottom();
    volatile uint32_t *limit = (volatile uint32_t *)__builtin_frame_address(0) - 64;
    while (p < limit) {
        *p++ = PAINT;
    }
}

static uint32_t stack_high_water(void)
{
    const uint32_t *p = stack_bottom();
    while (p < (const uint32_t *)__stack && *p == PAINT) {
        p++;
    }
    return (uint32_t)(__stack - (const char *)p);
}

int main(void)
{
    paint_stack();
    FILE *in = fopen("inputs.bin", "rb");
    FILE *out = fopen("predictions.bin", "wb");
    if (!in || !out) {
        printf("harness: cannot open inputs.bin or predictions.bin\n");
        semihost_exit(1);
    }
    unsigned n = 0;
    while (fread(input, sizeof(float), N_VALUES, in) == N_VALUES) {
        region_begin();
        int32_t label = model_predict(input);
        region_end();
        fwrite(&label, sizeof label, 1, out);
        n++;
    }
    fclose(in);
    fclose(out);
    uint32_t stack = stack_high_water();
    if (stack >= (uint32_t)(__stack - (char *)stack_bottom())) {
        printf("harness: the stack reached the bottom of the painted area: its depth is unknown\n");
        semihost_exit(1);
    }
    printf("inferences %u\nstack_bytes %lu\nheap_bytes %lu\n", n, (unsigned long)stack,
           (unsigned long)((char *)sbrk(0) - __heap_start));
    fflush(stdout);
    semihost_exit(0);
}
