/*
 * insn_count.c - QEMU TCG plugin (plugin API version 1, QEMU 7.2) that counts
 * executed guest instructions inside regions the guest marks with magic
 * syscalls:
 *
 *   syscall(0x4D0)  begin a region      syscall(0x4D1)  end a region
 *
 * QEMU answers both with -ENOSYS, which the guest ignores.  A bare-metal guest
 * (qemu-system-arm, no syscalls) marks them by calling two empty functions
 * instead, whose addresses are given as begin=ADDR,end=ADDR (hex, from the ELF):
 * a region begins when the block at ADDR starts executing.
 *
 * Every translation block gets an unconditional inline "add n_insns" to a
 * running counter (cheap: no helper call); the syscall callback snapshots the
 * counter at begin and adds the difference at end.  Counting is per executed
 * translation block, so the figure is deterministic for a deterministic,
 * single-threaded guest.
 *
 * Arguments:  -plugin insn_count.so,out=PATH[,begin=ADDR,end=ADDR]
 *             (old style "arg=out=PATH" too)
 * Output (written at exit, to PATH or to stderr if no out= was given):
 *   {"regions": N, "instructions": TOTAL, "per_region": [...],
 *    "unbalanced": U, "process_instructions": ALL}
 *
 * The few API declarations below are copied by hand from QEMU 7.2's
 * include/qemu/qemu-plugin.h so that no qemu headers are needed.
 * Build: gcc -O2 -shared -fPIC -fvisibility=hidden -o insn_count.so insn_count.c
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QEMU_PLUGIN_EXPORT __attribute__((visibility("default")))

typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t;   /* only passed through */
struct qemu_plugin_tb;

enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };

enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS };

typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index,
                                            void *userdata);
typedef void (*qemu_plugin_vcpu_simple_cb_t)(qemu_plugin_id_t id,
                                             unsigned int vcpu_index);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id,
                                               struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_syscall_cb_t)(qemu_plugin_id_t id,
                                              unsigned int vcpu_index,
                                              int64_t num, uint64_t a1,
                                              uint64_t a2, uint64_t a3,
                                              uint64_t a4, uint64_t a5,
                                              uint64_t a6, uint64_t a7,
                                              uint64_t a8);

extern void qemu_plugin_register_vcpu_tb_trans_cb(
    qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
extern void qemu_plugin_register_vcpu_tb_exec_inline(
    struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr, uint64_t imm);
extern size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
extern uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
extern void qemu_plugin_register_vcpu_tb_exec_cb(
    struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb,
    enum qemu_plugin_cb_flags flags, void *userdata);
extern void qemu_plugin_register_vcpu_syscall_cb(
    qemu_plugin_id_t id, qemu_plugin_vcpu_syscall_cb_t cb);
extern void qemu_plugin_register_vcpu_init_cb(
    qemu_plugin_id_t id, qemu_plugin_vcpu_simple_cb_t cb);
extern void qemu_plugin_register_atexit_cb(
    qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);

QEMU_PLUGIN_EXPORT int qemu_plugin_version = 1;

#define SYS_REGION_BEGIN 0x4D0
#define SYS_REGION_END   0x4D1

static uint64_t executed;        /* all guest instructions so far */
static uint64_t region_start;    /* value of `executed` at begin */
static bool active;
static uint64_t regions, total, unbalanced;
static uint64_t *per_region;
static size_t per_region_cap;
static char *out_path;
static uint64_t threads;         /* guest threads seen (vCPUs in user mode) */
static uint64_t region_syscalls, syscalls_in_regions;
static uint64_t begin_addr, end_addr;   /* bare-metal markers; 0: none */
static bool addr_markers;

static void vcpu_init(qemu_plugin_id_t id, unsigned int vcpu)
{
    (void)id; (void)vcpu;
    threads++;
}

static void region_begin(void)
{
    if (active) {
        unbalanced++;              /* nested begin: restart the region */
    }
    active = true;
    region_syscalls = 0;
    region_start = executed;
}

static void region_end(void)
{
    if (!active) {
        unbalanced++;
        return;
    }
    uint64_t n = executed - region_start;
    active = false;
    if ((size_t)regions == per_region_cap) {
        size_t cap = per_region_cap ? per_region_cap * 2 : 64;
        uint64_t *p = realloc(per_region, cap * sizeof(*p));
        if (p) {
            per_region = p;
            per_region_cap = cap;
        }
    }
    if ((size_t)regions < per_region_cap) {
        per_region[regions] = n;
    }
    regions++;
    total += n;
    syscalls_in_regions += region_syscalls;
    region_syscalls = 0;
}

static void on_marker(unsigned int vcpu, void *userdata)
{
    (void)vcpu;
    if (userdata == &begin_addr) {
        region_begin();
    } else {
        region_end();
    }
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64,
                                             &executed,
                                             qemu_plugin_tb_n_insns(tb));
    if (addr_markers) {
        uint64_t pc = qemu_plugin_tb_vaddr(tb);
        if (pc == begin_addr || pc == end_addr) {
            qemu_plugin_register_vcpu_tb_exec_cb(
                tb, on_marker, QEMU_PLUGIN_CB_NO_REGS,
                pc == begin_addr ? &begin_addr : &end_addr);
        }
    }
}

static void on_syscall(qemu_plugin_id_t id, unsigned int vcpu, int64_t num,
                       uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                       uint64_t a5, uint64_t a6, uint64_t a7, uint64_t a8)
{
    (void)id; (void)vcpu; (void)a1; (void)a2; (void)a3; (void)a4;
    (void)a5; (void)a6; (void)a7; (void)a8;
    if (active && num != SYS_REGION_END) {
        region_syscalls++;
    }
    if (num == SYS_REGION_BEGIN) {
        region_begin();
    } else if (num == SYS_REGION_END) {
        region_end();
    }
}

static void write_results(qemu_plugin_id_t id, void *userdata)
{
    (void)id; (void)userdata;
    FILE *f = stderr;
    char *tmp = NULL;
    if (out_path) {
        size_t len = strlen(out_path) + 8;
        tmp = malloc(len);
        if (tmp) {
            snprintf(tmp, len, "%s.part", out_path);
            f = fopen(tmp, "w");
        }
        if (!f) {
            fprintf(stderr, "insn_count: cannot write %s\n", out_path);
            f = stderr;
        }
    }
    if (active) {
        unbalanced++;              /* region still open at exit: not counted */
    }
    fprintf(f, "{\"regions\": %" PRIu64 ", \"instructions\": %" PRIu64
               ", \"unbalanced\": %" PRIu64 ", \"threads\": %" PRIu64
               ", \"syscalls_in_regions\": %" PRIu64
               ", \"process_instructions\": %" PRIu64 ", \"per_region\": [",
            regions, total, unbalanced, threads, syscalls_in_regions, executed);
    for (uint64_t i = 0; i < regions && i < per_region_cap; i++) {
        fprintf(f, "%s%" PRIu64, i ? ", " : "", per_region[i]);
    }
    fprintf(f, "]}\n");
    if (f != stderr) {
        fclose(f);
        rename(tmp, out_path);     /* readers never see a half-written file */
    }
    free(tmp);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
                                           const qemu_info_t *info,
                                           int argc, char **argv)
{
    (void)info;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "arg=", 4) == 0) {
            a += 4;
        }
        if (strncmp(a, "out=", 4) == 0) {
            out_path = strdup(a + 4);
        } else if (strncmp(a, "begin=", 6) == 0) {
            begin_addr = strtoull(a + 6, NULL, 16) & ~1ULL;  /* Thumb bit */
        } else if (strncmp(a, "end=", 4) == 0) {
            end_addr = strtoull(a + 4, NULL, 16) & ~1ULL;
        } else {
            fprintf(stderr, "insn_count: unknown argument '%s'\n", argv[i]);
            return -1;
        }
    }
    addr_markers = begin_addr && end_addr;
    if ((begin_addr || end_addr) && !addr_markers) {
        fprintf(stderr, "insn_count: begin= and end= go together\n");
        return -1;
    }
    qemu_plugin_register_vcpu_init_cb(id, vcpu_init);
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_vcpu_syscall_cb(id, on_syscall);
    qemu_plugin_register_atexit_cb(id, write_results, NULL);
    return 0;
}
