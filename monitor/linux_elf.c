/* SPDX-License-Identifier: Apache-2.0 */
/* Linux personality: validates and stages a static ET_EXEC or static-pie ET_DYN x86-64 ELF. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "elf_note.h"
#include "linux.h"

/*
 * Every byte of the image is hostile: each header and program header is bounds-checked with
 * overflow-safe arithmetic before use. The image runs at its own addresses (ET_EXEC) or at
 * LINUX_PIE_BASE (ET_DYN, which relocates itself); nothing of it is interpreted beyond the
 * program headers: no dynamic loader (PT_INTERP is refused), and of the notes only funk's (a
 * program built with `funk-cc --linux` makes funk hypercalls, FUNK_LINUX_HC_NR; with
 * `--accel` also ACCEL ones).
 */

static int lx_err(struct funk_vm *vm, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int lx_err(struct funk_vm *vm, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(vm->err, sizeof vm->err, fmt, ap);
    va_end(ap);
    return rc;
}

#define PAGE 4096u
static uint64_t pdown(uint64_t a)
{
    return a & ~(uint64_t)(PAGE - 1);
}

/*
 * Image cache: the launcher gets a Linux guest's program and bundle as a sealed memfd
 * (launcher.c). Making one per run (a copy of the whole program into the library user's heap,
 * then into a fresh memfd) was most of a run's cost for a 2 MB busybox. A library user that runs
 * the same program with the same bundle again and again (funkd's stdio functions and their
 * secrets, funk-runtime's watchdog mode and its rootfs) now gets the memfd made for the first
 * run: the few most recently used images are kept, each found by its lengths and then compared
 * byte for byte with the caller's program and the bundle built for this run (a hash alone could
 * be made to collide by whoever writes the programs), and each VM holds its own dup of the fd,
 * so evicting an entry never pulls an image from under a guest. The memfd is sealed (no write,
 * no resize): what the guest maps is what was compared.
 */
#define IMAGE_CACHE_N 8
static struct {
    int fd;               /* -1: empty */
    size_t len, at, blen; /* the program's bytes, where the bundle starts, the bundle's bytes */
    size_t size;          /* of the memfd: at + blen, page-aligned */
    const uint8_t *map;   /* read-only shared mapping of the memfd, for the comparison */
    uint64_t used;
} image_cache[IMAGE_CACHE_N];
static uint64_t image_clock;
static pthread_mutex_t image_mu = PTHREAD_MUTEX_INITIALIZER;

static int write_at(int fd, const void *p, size_t n, size_t off)
{
    for (size_t done = 0; done < n;) {
        ssize_t w = pwrite(fd, (const uint8_t *)p + done, n - done, (off_t)(off + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -EIO;
        done += (size_t)w;
    }
    return 0;
}

static int image_make(const void *elf, size_t len, size_t at, const void *blob, size_t blen,
                      size_t size)
{
    int fd = memfd_create("funk-linux-image", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    int rc = ftruncate(fd, (off_t)size) != 0 ? -errno : 0;
    if (rc == 0)
        rc = write_at(fd, elf, len, 0);
    if (rc == 0 && blen)
        rc = write_at(fd, blob, blen, at);
    if (rc == 0 &&
        fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
        rc = -errno;
    if (rc) {
        close(fd);
        return rc;
    }
    return fd;
}

/* A dup of the sealed memfd holding elf (len bytes, zero-padded to at) then blob (blen bytes,
 * zero-padded to a page), or -errno. */
static int image_cache_get(const void *elf, size_t len, size_t at, const void *blob, size_t blen)
{
    size_t size = (at + blen + 4095) & ~(size_t)4095;
    pthread_mutex_lock(&image_mu);
    int slot = -1, victim = -1, fd = -1;
    for (int i = 0; i < IMAGE_CACHE_N && slot < 0; i++) {
        if (image_cache[i].map && image_cache[i].len == len && image_cache[i].blen == blen &&
            memcmp(image_cache[i].map, elf, len) == 0 &&
            (!blen || memcmp(image_cache[i].map + at, blob, blen) == 0))
            slot = i;
        else if (victim < 0 ||
                 (image_cache[victim].map &&
                  (!image_cache[i].map || image_cache[i].used < image_cache[victim].used)))
            victim = i; /* an empty slot, else the least recently used */
    }
    if (slot < 0) {
        int nfd = image_make(elf, len, at, blob, blen, size);
        const uint8_t *map =
            nfd >= 0 ? mmap(NULL, size, PROT_READ, MAP_SHARED, nfd, 0) : MAP_FAILED;
        if (map == MAP_FAILED) {
            if (nfd >= 0)
                close(nfd);
            pthread_mutex_unlock(&image_mu);
            return nfd >= 0 ? -ENOMEM : nfd;
        }
        if (image_cache[victim].map) {
            munmap((void *)image_cache[victim].map, image_cache[victim].size);
            close(image_cache[victim].fd);
        }
        image_cache[victim].fd = nfd;
        image_cache[victim].len = len;
        image_cache[victim].at = at;
        image_cache[victim].blen = blen;
        image_cache[victim].size = size;
        image_cache[victim].map = map;
        slot = victim;
    }
    image_cache[slot].used = ++image_clock;
    fd = fcntl(image_cache[slot].fd, F_DUPFD_CLOEXEC, 3);
    pthread_mutex_unlock(&image_mu);
    return fd < 0 ? -errno : fd;
}

int linux_vm_load(struct funk_vm *vm, const void *elf, size_t len, const struct funk_vm_boot *boot)
{
    const uint8_t *b = elf;
    if (!vm->staging) {
        /* KVM: the boot area is only the loader's (linux_kvm_x86_64.c builds the guest from it) */
        vm->staging = calloc(1, PROCESS_STAGING_END - PROCESS_MEM_BASE);
        if (!vm->staging)
            return lx_err(vm, -ENOMEM, "out of memory");
    }
    if (len < sizeof(Elf64_Ehdr))
        return lx_err(vm, -ENOEXEC, "image truncated (%zu bytes)", len);
    Elf64_Ehdr eh;
    memcpy(&eh, b, sizeof eh);
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
        return lx_err(vm, -ENOEXEC, "not an ELF file");
    if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
        eh.e_machine != EM_X86_64)
        return lx_err(vm, -ENOEXEC, "not a 64-bit little-endian x86-64 ELF");
    if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
        return lx_err(vm, -ENOEXEC, "ELF type %u is not an executable", eh.e_type);
    if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > ELF_MAX_PHDRS)
        return lx_err(vm, -ENOEXEC, "bad program header table (%u entries of %u bytes)", eh.e_phnum,
                      eh.e_phentsize);
    if (eh.e_phoff > len || (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff)
        return lx_err(vm, -ENOEXEC, "program headers past the end of the file");

    struct elf_image img;
    memset(&img, 0, sizeof img);
    uint64_t lo = UINT64_MAX, hi = 0, phdr_vaddr = 0;
    bool have_phdr = false;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, b + eh.e_phoff + (uint64_t)i * sizeof ph, sizeof ph);
        if (ph.p_type == PT_INTERP)
            return lx_err(vm, -ENOEXEC,
                          "dynamically linked (it asks for the program interpreter): only static "
                          "binaries run as Linux guests (link with -static or -static-pie)");
        if (ph.p_type == PT_PHDR) {
            phdr_vaddr = ph.p_vaddr;
            have_phdr = true;
        }
        if (ph.p_type == PT_TLS &&
            (ph.p_filesz > ph.p_memsz || ph.p_offset > len || ph.p_filesz > len - ph.p_offset))
            return lx_err(vm, -ENOEXEC, "bad PT_TLS segment");
        if (ph.p_type != PT_LOAD)
            continue;
        if (img.nseg == ELF_MAX_LOADS)
            return lx_err(vm, -ENOEXEC, "more than %u PT_LOAD segments", ELF_MAX_LOADS);
        if (ph.p_filesz > ph.p_memsz || ph.p_offset > len || ph.p_filesz > len - ph.p_offset)
            return lx_err(vm, -ENOEXEC, "segment %u: file range past the end or filesz > memsz", i);
        if (ph.p_memsz == 0)
            continue;
        if (ph.p_vaddr > UINT64_MAX - ph.p_memsz - PAGE || ph.p_vaddr + ph.p_memsz > (1ull << 47))
            return lx_err(vm, -ENOEXEC, "segment %u: address range wraps", i);
        if ((ph.p_flags & PF_W) && (ph.p_flags & PF_X))
            return lx_err(vm, -ENOEXEC, "segment %u is writable and executable", i);
        if (img.nseg && ph.p_vaddr < img.seg[img.nseg - 1].vaddr + img.seg[img.nseg - 1].memsz)
            return lx_err(vm, -ENOEXEC, "segment %u overlaps or is out of order", i);
        struct elf_segment *s = &img.seg[img.nseg++];
        s->vaddr = ph.p_vaddr;
        s->memsz = ph.p_memsz;
        s->offset = ph.p_offset;
        s->filesz = ph.p_filesz;
        s->perm = ((ph.p_flags & PF_R) ? ELF_R : 0) | ((ph.p_flags & PF_W) ? ELF_W : 0) |
                  ((ph.p_flags & PF_X) ? ELF_X : 0);
        if (ph.p_vaddr < lo)
            lo = ph.p_vaddr;
        if (ph.p_vaddr + ph.p_memsz > hi)
            hi = ph.p_vaddr + ph.p_memsz;
        if (!have_phdr && eh.e_phoff >= ph.p_offset && eh.e_phoff - ph.p_offset <= ph.p_filesz &&
            (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) <= ph.p_filesz - (eh.e_phoff - ph.p_offset))
            phdr_vaddr = ph.p_vaddr + (eh.e_phoff - ph.p_offset);
    }
    if (img.nseg == 0)
        return lx_err(vm, -ENOEXEC, "no PT_LOAD segment");
    uint64_t bias = 0;
    if (eh.e_type == ET_DYN) {
        if (pdown(lo) > LINUX_PIE_BASE)
            return lx_err(vm, -ENOEXEC, "position-independent image linked above 0x%x",
                          LINUX_PIE_BASE);
        bias = LINUX_PIE_BASE - pdown(lo);
    }
    lo += bias;
    hi += bias;
    for (unsigned i = 0; i < img.nseg; i++)
        img.seg[i].vaddr += bias;
    uint64_t end = (hi + PAGE - 1) & ~(uint64_t)(PAGE - 1);
    /* Pages shared by two segments get both permissions: never writable and executable. */
    for (unsigned i = 0; i + 1 < img.nseg; i++) {
        const struct elf_segment *s = &img.seg[i], *t = &img.seg[i + 1];
        if (pdown(s->vaddr + s->memsz - 1) == pdown(t->vaddr) &&
            (((s->perm | t->perm) & (ELF_W | ELF_X)) == (ELF_W | ELF_X)))
            return lx_err(vm, -ENOEXEC,
                          "segments %u and %u share a page that would be writable "
                          "and executable",
                          i, i + 1);
    }
    uint64_t stack = vm->mem_size / 8;
    if (stack > LINUX_STACK_MAX)
        stack = LINUX_STACK_MAX;
    if (pdown(lo) < PROCESS_MEM_BASE || end > vm->mem_size ||
        vm->mem_size - end < stack + LINUX_MIN_HEAP + PAGE)
        return lx_err(vm, -ENOMEM,
                      "image at 0x%llx-0x%llx does not fit %llu MiB of guest memory "
                      "with a %llu KiB stack and 1 MiB of heap (use more --mem)",
                      (unsigned long long)lo, (unsigned long long)end,
                      (unsigned long long)(vm->mem_size >> 20), (unsigned long long)(stack >> 10));
    uint64_t entry = eh.e_entry + bias;
    bool entry_ok = false;
    for (unsigned i = 0; i < img.nseg; i++)
        if ((img.seg[i].perm & ELF_X) && entry >= img.seg[i].vaddr &&
            entry - img.seg[i].vaddr < img.seg[i].memsz)
            entry_ok = true;
    if (!entry_ok)
        return lx_err(vm, -ENOEXEC, "entry point 0x%llx is not in an executable segment",
                      (unsigned long long)entry);
    if (phdr_vaddr == 0)
        return lx_err(vm, -ENOEXEC, "the program headers are not inside a loaded segment");
    img.entry = entry;
    img.kernel_end = end;

    /* argv and envp, staged in the boot area. */
    struct linux_boot *lb = (struct linux_boot *)vm->staging;
    size_t room = PROCESS_STAGING_END - PROCESS_MEM_BASE - sizeof *lb, used = 0;
    static const char *const no_argv[] = {"guest", NULL};
    const char *const *argv = boot && boot->argv && boot->argv[0] ? boot->argv : no_argv;
    const char *const *env = boot ? boot->env : NULL;
    memset(lb, 0, sizeof *lb);
    for (int pass = 0; pass < 2; pass++) {
        const char *const *list = pass ? env : argv;
        for (uint32_t n = 0; list && list[n]; n++) {
            size_t l = strlen(list[n]) + 1;
            if (pass && !strchr(list[n], '='))
                return lx_err(vm, -EINVAL, "environment entry '%s' is not KEY=VALUE", list[n]);
            if (l > room - used)
                return lx_err(vm, -E2BIG, "arguments and environment larger than %zu bytes", room);
            memcpy(lb->strings + used, list[n], l);
            used += l;
            if (pass)
                lb->envc++;
            else
                lb->argc++;
        }
    }
    lb->magic = LINUX_BOOT_MAGIC;
    lb->strings_len = (uint32_t)used;
    lb->phdr = phdr_vaddr + bias;
    lb->phnum = eh.e_phnum;
    lb->phent = eh.e_phentsize;
    lb->brk_start = end;
    lb->stack_size = stack;

    /* The bundle travels after the ELF, in the same sealed image. */
    uint8_t *bundle = NULL;
    size_t blen = 0;
    if (boot && (boot->bundle || boot->nfiles)) {
        if (boot->nfiles > LX_BUNDLE_MAX_ENTRIES || (boot->nfiles && !boot->files))
            return lx_err(vm, -EINVAL, "bad file list (%zu files)", boot->nfiles);
        int rc = linux_bundle_build(boot->bundle, boot->files, boot->nfiles, &bundle, &blen);
        if (rc)
            return lx_err(vm, rc, "bundle%s%s: %s%s", boot->bundle ? " directory " : "",
                          boot->bundle ? boot->bundle : " files", strerror(-rc),
                          rc == -E2BIG || rc == -EFBIG ? " (at most 4096 entries, 64 MiB)"
                          : rc == -EINVAL || rc == -EEXIST || rc == -ENOTDIR
                              ? " (a given file's path must be absolute, without . or .., "
                                "and new)"
                              : "");
    }
    /* page-aligned: the guest moves the image's file pages into place (linux_x86_64.c) and
     * must never take a page of the bundle with them */
    size_t at = (len + 4095) & ~(size_t)4095;
    int img_fd = vm_process_legacy(vm) ? -1 : image_cache_get(elf, len, at, bundle, blen);
    if (img_fd >= 0) {
        /* program and bundle come from the cached sealed memfd: nothing more is copied */
        free(bundle);
        vm->image_fd1 = img_fd + 1;
        vm->image_len = (at + blen + 4095) & ~(size_t)4095;
        vm->elf_copy = malloc(1); /* the (empty) rest of the image */
        if (!vm->elf_copy)
            return lx_err(vm, -ENOMEM, "out of memory");
        lb->bundle_off = blen ? at : 0;
        lb->bundle_len = blen;
        vm->elf_len = 0;
        goto staged;
    }
    vm->elf_copy = calloc(1, at + blen);
    if (!vm->elf_copy) {
        free(bundle);
        return lx_err(vm, -ENOMEM, "out of memory");
    }
    memcpy(vm->elf_copy, elf, len);
    if (blen)
        memcpy(vm->elf_copy + at, bundle, blen);
    free(bundle);
    lb->bundle_off = blen ? at : 0;
    lb->bundle_len = blen;
    vm->elf_len = at + blen;
staged:
    vm->img = img;
    /* img travels to the launched guest process (launch_req), funk_guest does not */
    vm->img.has_funk = elf_note_find(elf, len, FUNK_NOTE_TYPE, NULL) == 1;
    vm->img.has_accel =
        vm->img.has_funk && elf_note_find(elf, len, FUNK_NOTE_TYPE_ACCEL, NULL) == 1;
    vm->funk_guest = vm->img.has_funk;
    vm->ndev = 0;
    for (unsigned i = 0; i < MFT_MAX_ENTRIES; i++)
        vm->dev[i].fd = -1;
    if (vm->backend == FUNK_ISOLATION_KVM) {
        int rc = linux_kvm_setup(vm); /* sets vm->err */
        if (rc)
            return rc;
    } else if (vm->img.has_funk) {
        /* the hypercall modules' set-up before the sandbox, as for a unikernel: ACCEL's agent
         * connection, which the launched guest process then carries */
        int rc = hc_setup(vm);
        if (rc)
            return lx_err(vm, rc, "preparing the funk hypercalls failed: %s", strerror(-rc));
    }
    vm->loaded = true;
    vm_log(vm,
           "loaded Linux guest (%s%s): entry 0x%llx, image 0x%llx-0x%llx, %u argument(s), %u "
           "environment entries",
           eh.e_type == ET_DYN ? "static-pie" : "static",
           vm->funk_guest ? ", funk hypercalls" : "", (unsigned long long)entry,
           (unsigned long long)lo, (unsigned long long)end, lb->argc, lb->envc);
    return 0;
}
