/*
 * droid: the programs of the Android-shaped guest, one static multi-call
 * binary (like toybox): the role is the name it is run by (a link in
 * /system/bin) or, as "droid ROLE ARGS", its first argument.
 *
 * Daemons:
 *   property_service BUILD_PROP  the property store: a file in /dev mapped
 *                     shared, written only here (requests over a unix
 *                     socket), read by every process from its own
 *                     read-only mapping (a seqlock per entry)
 *   logd              the log daemon: a datagram unix socket every process
 *                     writes to; "logcat --dump" prints what it received
 *   servicemanager DEV  the binder context manager of DEV (/dev/binder,
 *                     /dev/hwbinder, /dev/vndbinder): registration, lookup
 *   system_server     binder services "activity" (app attach, one-way
 *                     events, death notifications of the apps, reports)
 *                     and "echo" (synchronous calls with parcels)
 *   mediaserver       binder service "storage": file descriptors passed
 *                     through binder, both ways
 *   vendor.light      a service on /dev/hwbinder (vendor side)
 *   zygote            preloads a heap (objects, a class table, read-only
 *                     mapped boot image files), forks apps on request over
 *                     /dev/socket/zygote
 * An app (a zygote child): binder calls to the services, a JIT (a memfd
 * mapped RW and RX at two addresses, code regenerated and flushed),
 * allocation, file I/O, logging, properties; then it lives on until the
 * activity service tells it to finish.
 * Tools: setprop, getprop, waitprop, now (CLOCK_MONOTONIC in ms), logcat
 * --dump, am (the activity driver: start apps, wait, report), binderbench,
 * jitbench.
 *
 * Everything printed for the host starts with "@@HSPT "; "result" lines
 * are deterministic (sums that do not depend on the order in which the
 * processes ran), "time" lines are measurements.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/android/binder.h>

#define PROP_AREA "/dev/__properties__"
#define PROP_SOCK "/dev/socket/property_service"
#define LOGD_SOCK "/dev/socket/logdw"
#define ZYGOTE_SOCK "/dev/socket/zygote"
#define MAXAPPS 256

static const char *role = "droid";

static void die(const char *fmt, ...)
{
    char buf[256];
    int e = errno, n;
    va_list ap;

    va_start(ap, fmt);
    n = snprintf(buf, sizeof(buf), "@@HSPT error %s[%d]: ", role, getpid());
    n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
    va_end(ap);
    if (n < (int)sizeof(buf) - 40 && e) {
        n += snprintf(buf + n, sizeof(buf) - n, " (%s)", strerror(e));
    }
    if (n > (int)sizeof(buf) - 2) {
        n = sizeof(buf) - 2;
    }
    buf[n++] = '\n';
    if (write(2, buf, n) < 0) {
        /* nothing more to do */
    }
    exit(1);
}

/* One line to stdout in one write (lines of concurrent processes do not mix). */
static void out(const char *fmt, ...)
{
    char buf[512];
    int n;
    va_list ap;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(buf) - 2) {
        n = sizeof(buf) - 2;
    }
    buf[n++] = '\n';
    if (write(1, buf, n) != n) {
        die("write to stdout");
    }
}

static uint64_t now_us(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static uint32_t mix(uint32_t h, uint32_t v)
{
    h ^= v + 0x9e3779b9u + (h << 6) + (h >> 2);
    h *= 0x85ebca6bu;
    return h ^ (h >> 13);
}

static uint32_t fnv(uint32_t h, const void *p, size_t n)
{
    const uint8_t *b = p;

    while (n--) {
        h = (h ^ *b++) * 0x01000193u;
    }
    return h;
}
#define FNV0 0x811c9dc5u

/* Deterministic bytes: the pseudo-random stream of seed. */
static void fill(void *p, size_t n, uint32_t seed)
{
    uint8_t *b = p;
    uint32_t x = seed * 2654435761u + 1;

    while (n--) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        *b++ = (uint8_t)x;
    }
}

static void sleep_ms(unsigned ms)
{
    struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000 };

    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

static int unix_socket(int type, const char *path, int listen_it)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    int s = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

    if (s < 0) {
        die("socket");
    }
    strncpy(a.sun_path, path, sizeof(a.sun_path) - 1);
    if (listen_it) {
        unlink(path);
        if (bind(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
            die("bind %s", path);
        }
        chmod(path, 0666);
        if (type == SOCK_STREAM && listen(s, 64) != 0) {
            die("listen %s", path);
        }
    } else if (connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
        die("connect %s", path);
    }
    return s;
}

static void write_all(int fd, const void *p, size_t n)
{
    const char *c = p;

    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            die("write");
        }
        c += w;
        n -= w;
    }
}

/* A line from a stream socket (requests are short lines). */
static int read_line(int fd, char *buf, size_t size)
{
    size_t n = 0;

    while (n < size - 1) {
        ssize_t r = read(fd, buf + n, 1);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        if (buf[n] == '\n') {
            break;
        }
        n++;
    }
    buf[n] = 0;
    return (int)n;
}

/* ---------------------------------------------------------------- log */

static int log_fd = -1;

static void alog(const char *tag, const char *fmt, ...)
{
    char msg[256];
    int n;
    va_list ap;

    if (log_fd < 0) {
        log_fd = unix_socket(SOCK_DGRAM, LOGD_SOCK, 0);
    }
    n = snprintf(msg, sizeof(msg), "%s\t", tag);
    va_start(ap, fmt);
    n += vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(msg) - 1) {
        n = sizeof(msg) - 1;
    }
    while (send(log_fd, msg, n, 0) != n) {
        if (errno != EINTR) {
            die("log send");
        }
    }
}

/* --------------------------------------------------------- properties */

#define NPROP 128
struct prop {
    volatile uint32_t serial;   /* odd while being written */
    char name[32];
    char value[92];
};
struct prop_area {
    uint32_t magic;
    volatile uint32_t serial;
    volatile uint32_t count;
    uint32_t pad;
    struct prop p[NPROP];
};
#define PROP_MAGIC 0x504f5250u

static const struct prop_area *props;

static const struct prop_area *prop_map(void)
{
    if (!props) {
        int fd = open(PROP_AREA, O_RDONLY | O_CLOEXEC);
        void *m;
        if (fd < 0) {
            die("open " PROP_AREA);
        }
        m = mmap(NULL, sizeof(struct prop_area), PROT_READ, MAP_SHARED, fd, 0);
        close(fd);
        if (m == MAP_FAILED) {
            die("mmap " PROP_AREA);
        }
        props = m;
        if (props->magic != PROP_MAGIC) {
            die("bad property area");
        }
    }
    return props;
}

/* The value of name into val (empty if unset); returns its length or -1. */
static int prop_get(const char *name, char *val, size_t size)
{
    const struct prop_area *a = prop_map();
    uint32_t i, n = a->count;

    __sync_synchronize();
    for (i = 0; i < n && i < NPROP; i++) {
        const struct prop *p = &a->p[i];
        if (strncmp(p->name, name, sizeof(p->name)) == 0) {
            uint32_t s;
            do {
                while ((s = p->serial) & 1) {
                }
                __sync_synchronize();
                strncpy(val, p->value, size - 1);
                val[size - 1] = 0;
                __sync_synchronize();
            } while (p->serial != s);
            return (int)strlen(val);
        }
    }
    val[0] = 0;
    return -1;
}

static void prop_set(const char *name, const char *value)
{
    char req[160], ack[8];
    int s, n;

    if (strlen(name) >= 32 || strlen(value) >= 92) {
        die("property %s too long", name);
    }
    s = unix_socket(SOCK_STREAM, PROP_SOCK, 0);
    n = snprintf(req, sizeof(req), "%s=%s\n", name, value);
    write_all(s, req, n);
    if (read_line(s, ack, sizeof(ack)) < 1 || ack[0] != 'k') {
        die("setprop %s refused", name);
    }
    close(s);
}

static void prop_wait(const char *name, const char *value, unsigned timeout_ms)
{
    char v[92];
    uint64_t end = now_us() + (uint64_t)timeout_ms * 1000;

    while (prop_get(name, v, sizeof(v)) < 0 || strcmp(v, value) != 0) {
        if (now_us() > end) {
            errno = 0;
            die("timed out waiting for property %s=%s", name, value);
        }
        sleep_ms(2);
    }
}

/* Sum of the properties every process reads. */
static uint32_t prop_sum(void)
{
    static const char *names[] = { "ro.build.fingerprint", "ro.product.model",
                                   "dalvik.vm.heapsize", "ro.hardware", "persist.sys.locale" };
    uint32_t h = FNV0, i;
    char v[92];

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (prop_get(names[i], v, sizeof(v)) < 0) {
            errno = 0;
            die("property %s is not set", names[i]);
        }
        h = fnv(h, v, strlen(v));
    }
    return h;
}

/* Every program's first words: it read the property store, it logs. */
static void started(void)
{
    alog(role, "started, properties %08x", prop_sum());
}

static int property_service_main(int argc, char **argv)
{
    struct prop_area *a;
    int fd, s;
    char line[200];
    FILE *f;

    fd = open(PROP_AREA ".tmp", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || ftruncate(fd, sizeof(*a)) != 0) {
        die("create " PROP_AREA);
    }
    a = mmap(NULL, sizeof(*a), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (a == MAP_FAILED) {
        die("mmap property area");
    }
    a->magic = PROP_MAGIC;
    if (argc > 1) {
        if (!(f = fopen(argv[1], "r"))) {
            die("open %s", argv[1]);
        }
        while (fgets(line, sizeof(line), f)) {
            char *eq = strchr(line, '='), *nl = strchr(line, '\n');
            if (line[0] == '#' || !eq) {
                continue;
            }
            if (nl) {
                *nl = 0;
            }
            *eq = 0;
            if (a->count >= NPROP || strlen(line) >= 32 || strlen(eq + 1) >= 92) {
                errno = 0;
                die("%s: property %s does not fit", argv[1], line);
            }
            strcpy(a->p[a->count].name, line);
            strcpy(a->p[a->count].value, eq + 1);
            a->count++;
        }
        fclose(f);
    }
    if (rename(PROP_AREA ".tmp", PROP_AREA) != 0) {
        die("rename " PROP_AREA);
    }
    s = unix_socket(SOCK_STREAM, PROP_SOCK, 1);
    signal(SIGPIPE, SIG_IGN);
    for (;;) {
        int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
        char *eq;
        uint32_t i;

        if (c < 0) {
            if (errno == EINTR) {
                continue;
            }
            die("accept");
        }
        read_line(c, line, sizeof(line));
        eq = strchr(line, '=');
        if (strcmp(line, "--dump") == 0) {
            uint32_t h = 0;
            for (i = 0; i < a->count; i++) {
                h += fnv(fnv(FNV0, a->p[i].name, strlen(a->p[i].name)), a->p[i].value,
                         strlen(a->p[i].value));
            }
            out("@@HSPT result properties count=%u sum=%08x", a->count, h);
            alog(role, "dumped %u properties", a->count);
        } else if (eq && eq - line < 32 && strlen(eq + 1) < 92) {
            *eq = 0;
            for (i = 0; i < a->count && strcmp(a->p[i].name, line) != 0; i++) {
            }
            if (i == a->count && i < NPROP) {
                strcpy(a->p[i].name, line);
                __sync_synchronize();
                a->count++;
            }
            if (i < NPROP) {
                struct prop *p = &a->p[i];
                p->serial++;
                __sync_synchronize();
                memset(p->value, 0, sizeof(p->value));
                strcpy(p->value, eq + 1);
                __sync_synchronize();
                p->serial++;
                a->serial++;
            }
        }
        write_all(c, "k\n", 2);
        close(c);
    }
    return 0;
}

/* --------------------------------------------------------------- logd */

static int logd_main(void)
{
    struct { char tag[24]; uint32_t n; } tags[32];
    uint32_t ntags = 0, count = 0, sum = 0, i;
    char buf[512];
    int s = unix_socket(SOCK_DGRAM, LOGD_SOCK, 1);
    int bufsz = 1 << 20;

    setsockopt(s, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
    prop_sum();
    prop_set("logd.ready", "1");
    for (;;) {
        ssize_t n = recv(s, buf, sizeof(buf) - 1, 0);
        char *tab;

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            die("recv");
        }
        buf[n] = 0;
        if (strcmp(buf, "--dump\t") == 0) {
            out("@@HSPT result logd messages=%u tags=%u sum=%08x", count, ntags, sum);
            for (i = 0; i < ntags; i++) {
                out("@@HSPT result logd tag=%s messages=%u", tags[i].tag, tags[i].n);
            }
            prop_set("logd.dumped", "1");
            continue;
        }
        count++;
        sum += fnv(FNV0, buf, n);
        tab = strchr(buf, '\t');
        if (tab) {
            *tab = 0;
        }
        for (i = 0; i < ntags && strcmp(tags[i].tag, buf) != 0; i++) {
        }
        if (i == ntags && ntags < 32) {
            /* sorted, so that the dump is in one order */
            uint32_t j = ntags++;
            while (j > 0 && strcmp(tags[j - 1].tag, buf) > 0) {
                tags[j] = tags[j - 1];
                j--;
            }
            memset(tags[j].tag, 0, sizeof(tags[j].tag));
            memcpy(tags[j].tag, buf, strnlen(buf, sizeof(tags[j].tag) - 1));
            tags[j].n = 0;
            i = j;
        }
        if (i < ntags) {
            tags[i].n++;
        }
    }
    return 0;
}

/* ------------------------------------------------------------- binder */

static int bfd = -1;            /* this process's binder (one per device) */
static const char *bdev = "/dev/binder";

static int binder_open(const char *dev, size_t mapsize)
{
    struct binder_version v;
    uint32_t maxthreads = 0;
    int fd = open(dev, O_RDWR | O_CLOEXEC);

    if (fd < 0) {
        die("open %s", dev);
    }
    if (ioctl(fd, BINDER_VERSION, &v) != 0 || v.protocol_version != BINDER_CURRENT_PROTOCOL_VERSION) {
        die("%s: binder protocol %d, this program speaks %d", dev, v.protocol_version,
            BINDER_CURRENT_PROTOCOL_VERSION);
    }
    if (mmap(NULL, mapsize, PROT_READ, MAP_PRIVATE | MAP_NORESERVE, fd, 0) == MAP_FAILED) {
        die("mmap %s", dev);
    }
    if (ioctl(fd, BINDER_SET_MAX_THREADS, &maxthreads) != 0) {
        die("BINDER_SET_MAX_THREADS");
    }
    bfd = fd;
    bdev = dev;
    return fd;
}

static void binder_io(const void *w, size_t wn, void *r, size_t rn, size_t *got)
{
    struct binder_write_read bwr = {
        .write_size = wn, .write_buffer = (uintptr_t)w,
        .read_size = rn, .read_buffer = (uintptr_t)r,
    };

    while (ioctl(bfd, BINDER_WRITE_READ, &bwr) != 0) {
        if (errno != EINTR) {
            die("BINDER_WRITE_READ on %s", bdev);
        }
    }
    if (got) {
        *got = bwr.read_consumed;
    }
}

/* Commands: a u32 then its payload, put together before one write. */
struct cmds { uint8_t b[512]; size_t n; };

static void c_put(struct cmds *c, const void *p, size_t n)
{
    if (c->n + n > sizeof(c->b)) {
        errno = 0;
        die("binder command buffer full");
    }
    memcpy(c->b + c->n, p, n);
    c->n += n;
}
static void c_u32(struct cmds *c, uint32_t v) { c_put(c, &v, 4); }
static void c_ptr(struct cmds *c, binder_uintptr_t v) { c_put(c, &v, sizeof(v)); }
static void c_send(struct cmds *c)
{
    if (c->n) {
        binder_io(c->b, c->n, NULL, 0, NULL);
        c->n = 0;
    }
}

/* An outgoing parcel: data and the offsets of its objects. */
struct parcel {
    uint8_t data[8192] __attribute__((aligned(8)));
    size_t len;
    binder_size_t offs[8];
    unsigned noffs;
    int close_fd;               /* closed once the reply carrying it is sent */
};

static void p_init(struct parcel *p) { p->len = 0; p->noffs = 0; p->close_fd = -1; }
static void p_raw(struct parcel *p, const void *b, size_t n)
{
    if (p->len + ((n + 3) & ~3u) > sizeof(p->data)) {
        errno = 0;
        die("parcel full");
    }
    memcpy(p->data + p->len, b, n);
    memset(p->data + p->len + n, 0, ((n + 3) & ~3u) - n);
    p->len += (n + 3) & ~3u;
}
static void p_u32(struct parcel *p, uint32_t v) { p_raw(p, &v, 4); }
static void p_bytes(struct parcel *p, const void *b, uint32_t n) { p_u32(p, n); p_raw(p, b, n); }
static void p_str(struct parcel *p, const char *s) { p_bytes(p, s, strlen(s) + 1); }
static void p_obj(struct parcel *p, const void *o, size_t n)
{
    if (p->noffs == 8) {
        errno = 0;
        die("too many objects in a parcel");
    }
    p->offs[p->noffs++] = p->len;
    p_raw(p, o, n);
}
static void p_binder(struct parcel *p, void *node, uint32_t cookie)
{
    struct flat_binder_object o = { .hdr.type = BINDER_TYPE_BINDER,
        .flags = FLAT_BINDER_FLAG_ACCEPTS_FDS | 0x7f, .binder = (uintptr_t)node, .cookie = cookie };
    p_obj(p, &o, sizeof(o));
}
static void p_handle(struct parcel *p, uint32_t h)
{
    struct flat_binder_object o = { .hdr.type = BINDER_TYPE_HANDLE, .handle = h };
    p_obj(p, &o, sizeof(o));
}
static void p_fd(struct parcel *p, int fd)
{
    struct binder_fd_object o = { .hdr.type = BINDER_TYPE_FD, .fd = (uint32_t)fd };
    p_obj(p, &o, sizeof(o));
}

/* A received parcel, read in order; buffer is freed by rp_free. */
struct rp {
    const uint8_t *data;
    size_t len, pos;
    const binder_size_t *offs;
    size_t noffs, obj;
    binder_uintptr_t buffer;
};

static void rp_from(struct rp *r, const struct binder_transaction_data *tr)
{
    r->data = (const uint8_t *)(uintptr_t)tr->data.ptr.buffer;
    r->len = tr->data_size;
    r->offs = (const binder_size_t *)(uintptr_t)tr->data.ptr.offsets;
    r->noffs = tr->offsets_size / sizeof(binder_size_t);
    r->pos = r->obj = 0;
    r->buffer = tr->data.ptr.buffer;
}
static const void *rp_raw(struct rp *r, size_t n)
{
    const void *p = r->data + r->pos;

    if (r->pos + n > r->len) {
        errno = 0;
        die("parcel too short (%zu + %zu > %zu)", r->pos, n, r->len);
    }
    r->pos += (n + 3) & ~3u;
    return p;
}
static uint32_t rp_u32(struct rp *r) { uint32_t v; memcpy(&v, rp_raw(r, 4), 4); return v; }
static const void *rp_bytes(struct rp *r, uint32_t *n) { *n = rp_u32(r); return rp_raw(r, *n); }
static const char *rp_str(struct rp *r)
{
    uint32_t n;
    const char *s = rp_bytes(r, &n);

    if (n == 0 || s[n - 1] != 0) {
        errno = 0;
        die("bad string in parcel");
    }
    return s;
}
/* The next object: it must be where the offsets say. */
static const struct flat_binder_object *rp_obj(struct rp *r, uint32_t type)
{
    const struct flat_binder_object *o;

    if (r->obj >= r->noffs || r->offs[r->obj] != r->pos) {
        errno = 0;
        die("parcel: no object at %zu", r->pos);
    }
    r->obj++;
    o = rp_raw(r, sizeof(*o));
    if (o->hdr.type != type) {
        errno = 0;
        die("parcel: object of type %08x, expected %08x", o->hdr.type, type);
    }
    return o;
}
static void rp_free(struct rp *r)
{
    struct cmds c = { .n = 0 };

    c_u32(&c, BC_FREE_BUFFER);
    c_ptr(&c, r->buffer);
    c_send(&c);
}

/* Keeps a reference to a handle received in a parcel (before the parcel is freed). */
static void binder_acquire(uint32_t h)
{
    struct cmds c = { .n = 0 };

    c_u32(&c, BC_INCREFS);
    c_u32(&c, h);
    c_u32(&c, BC_ACQUIRE);
    c_u32(&c, h);
    c_send(&c);
}

static uint32_t oneway_failed;  /* one-way transactions the driver refused */

/* The commands every loop answers the same way. Returns 1 if handled. */
static int common_br(uint32_t cmd, const uint8_t *payload, struct cmds *reply)
{
    struct binder_ptr_cookie pc;

    switch (cmd) {
    case BR_NOOP: case BR_SPAWN_LOOPER: case BR_TRANSACTION_COMPLETE:
    case BR_CLEAR_DEATH_NOTIFICATION_DONE: case BR_ONEWAY_SPAM_SUSPECT:
        return 1;
    case BR_INCREFS: case BR_ACQUIRE:
        memcpy(&pc, payload, sizeof(pc));
        c_u32(reply, cmd == BR_INCREFS ? BC_INCREFS_DONE : BC_ACQUIRE_DONE);
        c_ptr(reply, pc.ptr);
        c_ptr(reply, pc.cookie);
        return 1;
    case BR_RELEASE: case BR_DECREFS:
        return 1;
    case BR_ERROR:
        errno = 0;
        die("BR_ERROR %d", *(const int32_t *)payload);
    }
    return 0;
}

static uint32_t calls_made;

/*
 * A transaction to handle; for a synchronous one the reply is in *reply
 * (free it with rp_free). Returns 0, or -1 if the target is dead or the
 * driver refused the transaction.
 */
static int binder_call(uint32_t handle, uint32_t code, struct parcel *p, struct rp *reply, uint32_t flags)
{
    struct cmds c = { .n = 0 };
    struct binder_transaction_data tr;
    uint8_t rb[1024] __attribute__((aligned(8)));
    int oneway = flags & TF_ONE_WAY, done = 0, res = 0;

    memset(&tr, 0, sizeof(tr));
    tr.target.handle = handle;
    tr.code = code;
    tr.flags = flags | TF_ACCEPT_FDS;
    tr.data_size = p->len;
    tr.offsets_size = p->noffs * sizeof(binder_size_t);
    tr.data.ptr.buffer = (uintptr_t)p->data;
    tr.data.ptr.offsets = (uintptr_t)p->offs;
    c_u32(&c, BC_TRANSACTION);
    c_put(&c, &tr, sizeof(tr));
    calls_made++;
    while (!done) {
        size_t got, i = 0;
        binder_io(c.b, c.n, rb, sizeof(rb), &got);
        c.n = 0;
        while (i + 4 <= got) {
            uint32_t cmd;
            memcpy(&cmd, rb + i, 4);
            i += 4;
            if (cmd == BR_TRANSACTION_COMPLETE && oneway) {
                done = 1;
            } else if (cmd == BR_REPLY) {
                memcpy(&tr, rb + i, sizeof(tr));
                if (reply && !(tr.flags & TF_STATUS_CODE)) {
                    rp_from(reply, &tr);
                } else {
                    struct rp r;
                    rp_from(&r, &tr);
                    rp_free(&r);
                    res = tr.flags & TF_STATUS_CODE ? -1 : 0;
                }
                done = 1;
            } else if (cmd == BR_DEAD_REPLY || cmd == BR_FAILED_REPLY || cmd == BR_FROZEN_REPLY) {
                res = -1;
                done = 1;
            } else if (!common_br(cmd, rb + i, &c)) {
                errno = 0;
                die("unexpected binder return %08x during a call", cmd);
            }
            i += _IOC_SIZE(cmd);
        }
    }
    c_send(&c);
    return res;
}

/* A service loop: handler answers each transaction (reply filled for a
 * synchronous one); death is told of each death notification. */
typedef void (*handler_fn)(const struct binder_transaction_data *tr, struct rp *in, struct parcel *reply);
typedef void (*death_fn)(binder_uintptr_t cookie);
static int loop_exit;

static void binder_loop(handler_fn handler, death_fn death)
{
    static struct parcel reply;
    struct cmds c = { .n = 0 };
    uint8_t rb[2048] __attribute__((aligned(8)));

    c_u32(&c, BC_ENTER_LOOPER);
    c_send(&c);
    while (!loop_exit) {
        size_t got, i = 0;
        binder_io(NULL, 0, rb, sizeof(rb), &got);
        while (i + 4 <= got) {
            uint32_t cmd;
            memcpy(&cmd, rb + i, 4);
            i += 4;
            if (cmd == BR_TRANSACTION) {
                struct binder_transaction_data tr, rtr;
                struct rp in;
                memcpy(&tr, rb + i, sizeof(tr));
                rp_from(&in, &tr);
                p_init(&reply);
                handler(&tr, &in, &reply);
                c_u32(&c, BC_FREE_BUFFER);
                c_ptr(&c, tr.data.ptr.buffer);
                if (!(tr.flags & TF_ONE_WAY)) {
                    memset(&rtr, 0, sizeof(rtr));
                    rtr.flags = TF_ACCEPT_FDS;
                    rtr.data_size = reply.len;
                    rtr.offsets_size = reply.noffs * sizeof(binder_size_t);
                    rtr.data.ptr.buffer = (uintptr_t)reply.data;
                    rtr.data.ptr.offsets = (uintptr_t)reply.offs;
                    c_u32(&c, BC_REPLY);
                    c_put(&c, &rtr, sizeof(rtr));
                }
                c_send(&c);
                if (reply.close_fd >= 0) {
                    close(reply.close_fd);
                }
            } else if (cmd == BR_DEAD_BINDER) {
                binder_uintptr_t cookie;
                memcpy(&cookie, rb + i, sizeof(cookie));
                death(cookie);
                c_u32(&c, BC_DEAD_BINDER_DONE);
                c_ptr(&c, cookie);
                c_send(&c);
            } else if (cmd == BR_DEAD_REPLY || cmd == BR_FAILED_REPLY) {
                oneway_failed++;
            } else if (!common_br(cmd, rb + i, &c)) {
                errno = 0;
                die("unexpected binder return %08x in the service loop", cmd);
            }
            i += _IOC_SIZE(cmd);
        }
        c_send(&c);
    }
}

/* ----------------------------------------------------- service manager */

enum { SM_ADD = 1, SM_GET, SM_LIST };

static struct { char name[64]; uint32_t handle; } svcs[64];
static uint32_t nsvc, sm_lookups;

static void sm_handler(const struct binder_transaction_data *tr, struct rp *in, struct parcel *reply)
{
    const char *name;
    uint32_t i, h = 0;

    switch (tr->code) {
    case SM_ADD:
        name = rp_str(in);
        h = rp_obj(in, BINDER_TYPE_HANDLE)->handle;
        if (nsvc == 64 || strlen(name) >= 64) {
            p_u32(reply, 1);
            return;
        }
        binder_acquire(h);
        snprintf(svcs[nsvc].name, 64, "%s", name);
        svcs[nsvc++].handle = h;
        alog("servicemanager", "%s: added %s", bdev, name);
        p_u32(reply, 0);
        return;
    case SM_GET:
        name = rp_str(in);
        sm_lookups++;
        for (i = 0; i < nsvc; i++) {
            if (strcmp(svcs[i].name, name) == 0) {
                p_u32(reply, 1);
                p_handle(reply, svcs[i].handle);
                return;
            }
        }
        p_u32(reply, 0);
        return;
    case SM_LIST:
        for (i = 0; i < nsvc; i++) {
            h += fnv(FNV0, svcs[i].name, strlen(svcs[i].name));
        }
        p_u32(reply, nsvc);
        p_u32(reply, h);
        return;
    }
    p_u32(reply, 0xffffffffu);
}

static int servicemanager_main(int argc, char **argv)
{
    const char *dev = argc > 1 ? argv[1] : "/dev/binder";
    char prop[32];
    int zero = 0;

    started();
    binder_open(dev, 128 << 10);
    if (ioctl(bfd, BINDER_SET_CONTEXT_MGR, &zero) != 0) {
        die("BINDER_SET_CONTEXT_MGR on %s", dev);
    }
    snprintf(prop, sizeof(prop), "sm.%s.ready", strrchr(dev, '/') + 1);
    prop_set(prop, "1");
    binder_loop(sm_handler, NULL);
    return 0;
}

static void add_service(const char *name, void *node, uint32_t cookie)
{
    struct parcel p;
    struct rp r;

    p_init(&p);
    p_str(&p, name);
    p_binder(&p, node, cookie);
    if (binder_call(0, SM_ADD, &p, &r, 0) != 0 || rp_u32(&r) != 0) {
        errno = 0;
        die("the service manager refused %s", name);
    }
    rp_free(&r);
}

/* The handle of a service (waits for it to be registered, as Android's
 * waitForService does). */
static uint32_t get_service(const char *name)
{
    uint64_t end = now_us() + 60000000;
    struct parcel p;

    for (;;) {
        struct rp r;
        p_init(&p);
        p_str(&p, name);
        if (binder_call(0, SM_GET, &p, &r, 0) != 0) {
            errno = 0;
            die("no service manager on %s", bdev);
        }
        if (rp_u32(&r) == 1) {
            uint32_t h = rp_obj(&r, BINDER_TYPE_HANDLE)->handle;
            binder_acquire(h);
            rp_free(&r);
            return h;
        }
        rp_free(&r);
        if (now_us() > end) {
            errno = 0;
            die("service %s did not appear", name);
        }
        sleep_ms(5);
    }
}

/* ------------------------------------------ system_server: activity, echo */

enum { ACT_ATTACH = 1, ACT_EVENT, ACT_REPORT, ACT_QUERY, ACT_FINISH_ALL };
enum { ECHO_ECHO = 1, ECHO_QUERY };
enum { STO_CHECK_FD = 1, STO_OPEN, STO_QUERY };
enum { APP_FINISH = 1 };
#define ATTACH_MAGIC 0x41505021u

static struct app { uint32_t handle, alive, report, launch_us; } apps[MAXAPPS];
static struct {
    uint32_t attached, alive, peak, deaths, reports, events, event_sum, report_sum;
    uint32_t binder_calls, jit_calls, jit_generated, jit_remaps, wrong, events_sent;
    uint64_t launch_us;
} act;
static struct { uint32_t calls, bytes, sum; } echo_st;
static struct { uint32_t fds_in, fds_out, sum; } sto_st;
static int node_activity, node_echo, node_storage, node_light;

static void echo_reply(struct rp *in, struct parcel *reply, uint32_t *calls, uint32_t *bytes, uint32_t *sum)
{
    uint32_t n, i;
    const uint8_t *b = rp_bytes(in, &n);
    uint8_t rev[4096];
    uint32_t h = fnv(FNV0, b, n);

    if (n > sizeof(rev)) {
        errno = 0;
        die("echo: %u bytes", n);
    }
    for (i = 0; i < n; i++) {
        rev[i] = b[n - 1 - i];
    }
    p_u32(reply, h);
    p_bytes(reply, rev, n);
    ++*calls;
    *bytes += n;
    *sum += h;
}

static void system_handler(const struct binder_transaction_data *tr, struct rp *in, struct parcel *reply)
{
    uint32_t id, i, n;

    if (tr->target.ptr == (uintptr_t)&node_echo) {
        if (tr->code == ECHO_ECHO) {
            echo_reply(in, reply, &echo_st.calls, &echo_st.bytes, &echo_st.sum);
        } else if (tr->code == ECHO_QUERY) {
            p_u32(reply, echo_st.calls);
            p_u32(reply, echo_st.bytes);
            p_u32(reply, echo_st.sum);
        }
        return;
    }
    if (tr->target.ptr != (uintptr_t)&node_activity) {
        errno = 0;
        die("transaction to an unknown node");
    }
    switch (tr->code) {
    case ACT_ATTACH: {
        struct cmds c = { .n = 0 };
        uint32_t h;
        id = rp_u32(in);
        h = rp_obj(in, BINDER_TYPE_HANDLE)->handle;
        if (id >= MAXAPPS || apps[id].alive) {
            errno = 0;
            die("attach of app %u twice", id);
        }
        binder_acquire(h);
        c_u32(&c, BC_REQUEST_DEATH_NOTIFICATION);
        c_u32(&c, h);
        c_ptr(&c, id);
        c_send(&c);
        apps[id].handle = h;
        apps[id].alive = 1;
        act.attached++;
        if (++act.alive > act.peak) {
            act.peak = act.alive;
        }
        alog("ActivityManager", "attached app %u", id);
        p_u32(reply, id ^ ATTACH_MAGIC);
        return;
    }
    case ACT_EVENT:
        id = rp_u32(in);
        act.events++;
        act.event_sum += mix(id, rp_u32(in));
        return;
    case ACT_REPORT:
        id = rp_u32(in);
        if (id >= MAXAPPS || !apps[id].alive) {
            errno = 0;
            die("report from app %u, not attached", id);
        }
        apps[id].report = rp_u32(in);
        apps[id].launch_us = rp_u32(in);
        act.binder_calls += rp_u32(in);
        act.jit_calls += rp_u32(in);
        act.jit_generated += rp_u32(in);
        act.jit_remaps += rp_u32(in);
        act.wrong += rp_u32(in);
        act.events_sent += rp_u32(in);
        act.reports++;
        act.report_sum += mix(id, apps[id].report);
        act.launch_us += apps[id].launch_us;
        p_u32(reply, 0);
        return;
    case ACT_QUERY:
        p_u32(reply, act.attached);
        p_u32(reply, act.alive);
        p_u32(reply, act.peak);
        p_u32(reply, act.deaths);
        p_u32(reply, act.reports);
        p_u32(reply, act.events);
        p_u32(reply, act.event_sum);
        p_u32(reply, act.report_sum);
        p_u32(reply, (uint32_t)(act.launch_us / 1000));
        p_u32(reply, oneway_failed);
        p_u32(reply, act.binder_calls);
        p_u32(reply, act.jit_calls);
        p_u32(reply, act.jit_generated);
        p_u32(reply, act.jit_remaps);
        p_u32(reply, act.wrong);
        p_u32(reply, act.events_sent);
        return;
    case ACT_FINISH_ALL:
        for (i = n = 0; i < MAXAPPS; i++) {
            if (apps[i].alive) {
                /* one-way, written only: the loop reads its completion */
                struct parcel *p = malloc(sizeof(*p));
                struct cmds c = { .n = 0 };
                struct binder_transaction_data t;
                p_init(p);
                p_u32(p, i);
                memset(&t, 0, sizeof(t));
                t.target.handle = apps[i].handle;
                t.code = APP_FINISH;
                t.flags = TF_ONE_WAY;
                t.data_size = p->len;
                t.data.ptr.buffer = (uintptr_t)p->data;
                t.data.ptr.offsets = (uintptr_t)p->offs;
                c_u32(&c, BC_TRANSACTION);
                c_put(&c, &t, sizeof(t));
                c_send(&c);
                free(p);
                n++;
            }
        }
        alog("ActivityManager", "finishing %u apps", n);
        p_u32(reply, n);
        return;
    }
}

static void system_death(binder_uintptr_t cookie)
{
    struct cmds c = { .n = 0 };
    uint32_t id = (uint32_t)cookie;

    if (id >= MAXAPPS || !apps[id].alive) {
        errno = 0;
        die("death notification for app %u, not alive", id);
    }
    apps[id].alive = 0;
    act.alive--;
    act.deaths++;
    c_u32(&c, BC_RELEASE);
    c_u32(&c, apps[id].handle);
    c_u32(&c, BC_DECREFS);
    c_u32(&c, apps[id].handle);
    c_send(&c);
    alog("ActivityManager", "app %u died", id);
}

static int system_server_main(void)
{
    struct parcel p;
    struct rp r;
    uint32_t h, got, i, sum = 0;

    started();
    /* The vendor side first, over /dev/hwbinder (a second binder context). */
    binder_open("/dev/hwbinder", 128 << 10);
    h = get_service("vendor.light");
    for (i = 0; i < 4; i++) {
        p_init(&p);
        p_u32(&p, i * 64);
        if (binder_call(h, 1, &p, &r, 0) != 0) {
            errno = 0;
            die("vendor.light call failed");
        }
        got = rp_u32(&r);
        rp_free(&r);
        if (got != mix(0x4c494748u, i * 64)) {
            errno = 0;
            die("vendor.light answered %08x", got);
        }
        sum = mix(sum, got);
    }
    close(bfd);
    alog("system_server", "lights %08x", sum);
    binder_open("/dev/binder", 1 << 20);
    add_service("activity", &node_activity, 1);
    add_service("echo", &node_echo, 2);
    prop_set("system_server.ready", "1");
    binder_loop(system_handler, system_death);
    return 0;
}

/* ----------------------------------------------- mediaserver: storage */

/* The content of the asset an app asks for. */
static void asset(uint8_t *b, size_t n, uint32_t id) { fill(b, n, 0xa55e7000u + id); }
#define ASSET_LEN 1536

static void storage_handler(const struct binder_transaction_data *tr, struct rp *in, struct parcel *reply)
{
    uint8_t buf[8192];
    uint32_t n, h;
    int fd;

    (void)tr;
    switch (tr->code) {
    case STO_CHECK_FD:
        fd = (int)((const struct binder_fd_object *)rp_obj(in, BINDER_TYPE_FD))->fd;
        n = rp_u32(in);
        if (n > sizeof(buf) || pread(fd, buf, n, 0) != (ssize_t)n) {
            die("storage: read of %u bytes from a passed fd", n);
        }
        close(fd);
        h = fnv(FNV0, buf, n);
        sto_st.fds_in++;
        sto_st.sum += h;
        p_u32(reply, h);
        return;
    case STO_OPEN: {
        char name[32];
        n = rp_u32(in);
        snprintf(name, sizeof(name), "asset-%u", n);
        fd = memfd_create(name, MFD_CLOEXEC);
        asset(buf, ASSET_LEN, n);
        if (fd < 0 || write(fd, buf, ASSET_LEN) != ASSET_LEN) {
            die("storage: memfd");
        }
        sto_st.fds_out++;
        p_fd(reply, fd);
        p_u32(reply, ASSET_LEN);
        reply->close_fd = fd;
        return;
    }
    case STO_QUERY:
        p_u32(reply, sto_st.fds_in);
        p_u32(reply, sto_st.fds_out);
        p_u32(reply, sto_st.sum);
        return;
    }
}

static int mediaserver_main(void)
{
    started();
    binder_open("/dev/binder", 256 << 10);
    add_service("storage", &node_storage, 3);
    prop_set("mediaserver.ready", "1");
    binder_loop(storage_handler, NULL);
    return 0;
}

static void light_handler(const struct binder_transaction_data *tr, struct rp *in, struct parcel *reply)
{
    (void)tr;
    p_u32(reply, mix(0x4c494748u, rp_u32(in)));
}

static int vendor_light_main(void)
{
    started();
    binder_open("/dev/hwbinder", 128 << 10);
    add_service("vendor.light", &node_light, 4);
    prop_set("vendor.light.ready", "1");
    binder_loop(light_handler, NULL);
    return 0;
}

/* ----------------------------------------------------------------- JIT */

/*
 * Code generated at run time into a memfd mapped twice: written through
 * the RW alias, run through the RX alias (a different address), as ART's
 * JIT code cache does. Function i computes ((x * A) + B) ^ (x >> S):
 *   movw r1, A.lo; movt r1, A.hi; mul r2, r0, r1; movw r3, B.lo;
 *   movt r3, B.hi; add r2, r2, r3; eor r0, r2, r0, lsr #S; bx lr
 */
#define JIT_WORDS 8
struct jit {
    int fd;
    size_t size;
    unsigned nf;
    uint32_t *rw, *rx, *k;      /* k: A, B, S of each function */
    uint32_t wrong, calls, remaps, generated;
};

static uint32_t movw(unsigned rd, uint32_t imm) { return 0xe3000000u | (imm >> 12 & 0xf) << 16 | rd << 12 | (imm & 0xfff); }
static uint32_t movt(unsigned rd, uint32_t imm) { return 0xe3400000u | (imm >> 12 & 0xf) << 16 | rd << 12 | (imm & 0xfff); }

static void jit_init(struct jit *j, unsigned nf)
{
    j->nf = nf;
    j->size = ((size_t)nf * JIT_WORDS * 4 + 4095) & ~(size_t)4095;
    j->fd = memfd_create("jit-cache", MFD_CLOEXEC);
    if (j->fd < 0 || ftruncate(j->fd, j->size) != 0) {
        die("jit: memfd");
    }
    j->rw = mmap(NULL, j->size, PROT_READ | PROT_WRITE, MAP_SHARED, j->fd, 0);
    j->rx = mmap(NULL, j->size, PROT_READ | PROT_EXEC, MAP_SHARED, j->fd, 0);
    j->k = calloc(nf * 3, 4);
    if (j->rw == MAP_FAILED || j->rx == MAP_FAILED || !j->k || j->rw == j->rx) {
        die("jit: mmap");
    }
    j->wrong = j->calls = j->remaps = j->generated = 0;
}

static void jit_gen(struct jit *j, unsigned i, uint32_t seed)
{
    uint32_t a = mix(seed, i) | 1, b = mix(seed ^ 0x5bd1e995u, i), s = 1 + mix(i, seed) % 31;
    uint32_t *w = j->rw + i * JIT_WORDS;

    w[0] = movw(1, a & 0xffff);
    w[1] = movt(1, a >> 16);
    w[2] = 0xe0020190u;                   /* mul r2, r0, r1 */
    w[3] = movw(3, b & 0xffff);
    w[4] = movt(3, b >> 16);
    w[5] = 0xe0822003u;                   /* add r2, r2, r3 */
    w[6] = 0xe0220020u | s << 7;          /* eor r0, r2, r0, lsr #s */
    w[7] = 0xe12fff1eu;                   /* bx lr */
    j->k[i * 3] = a;
    j->k[i * 3 + 1] = b;
    j->k[i * 3 + 2] = s;
    j->generated++;
}

/* The cache maintenance ARM needs after writing code: clean the data
 * cache through the alias written, invalidate the instruction cache
 * through the alias run (both are the cacheflush system call). */
static void jit_flush(struct jit *j, unsigned lo, unsigned hi)
{
    __builtin___clear_cache((char *)(j->rw + lo * JIT_WORDS), (char *)(j->rw + hi * JIT_WORDS));
    __builtin___clear_cache((char *)(j->rx + lo * JIT_WORDS), (char *)(j->rx + hi * JIT_WORDS));
}

static uint32_t jit_run(struct jit *j, unsigned i, uint32_t x)
{
    uint32_t (*f)(uint32_t) = (uint32_t (*)(uint32_t))(uintptr_t)(j->rx + i * JIT_WORDS);
    uint32_t got = f(x), want = ((x * j->k[i * 3]) + j->k[i * 3 + 1]) ^ (x >> j->k[i * 3 + 2]);

    j->calls++;
    j->wrong += got != want;
    return got;
}

/* Drops the executable alias for a new one at another address (the old
 * code is invalidated: the new mapping exists before the old goes). */
static void jit_remap(struct jit *j)
{
    uint32_t *nx = mmap(NULL, j->size, PROT_READ | PROT_EXEC, MAP_SHARED, j->fd, 0);

    if (nx == MAP_FAILED) {
        die("jit: remap");
    }
    munmap(j->rx, j->size);
    j->rx = nx;
    j->remaps++;
    __builtin___clear_cache((char *)j->rx, (char *)j->rx + j->size);
}

static void jit_free(struct jit *j)
{
    munmap(j->rw, j->size);
    munmap(j->rx, j->size);
    close(j->fd);
    free(j->k);
}

/* -------------------------------------------------------------- zygote */

#define NOBJ 120000
#define NCLASS 8192
#define CLASS_SLOTS 16384
struct obj { uint32_t cls, size, hash, pad; uint32_t field[]; };
struct cls { const char *name; uint32_t hash, obj; };
static struct obj **heap;
static struct cls *classes;
static const uint8_t *boot_image[3];
static size_t boot_image_len[3];
static uint32_t preload_sum;

static void class_name(char *b, size_t n, uint32_t i)
{
    snprintf(b, n, "Landroid/pkg%u/Class%u;", i % 97, i);
}

static uint32_t class_find(const char *name)
{
    uint32_t h = fnv(FNV0, name, strlen(name)), s = h % CLASS_SLOTS;

    while (classes[s].name) {
        if (classes[s].hash == h && strcmp(classes[s].name, name) == 0) {
            return s;
        }
        s = (s + 1) % CLASS_SLOTS;
    }
    return UINT32_MAX;
}

static void zygote_preload(void)
{
    static const char *images[3] = { "/system/framework/boot.art", "/system/framework/boot.oat",
                                     "/system/framework/boot-framework.art" };
    uint32_t i, sum = 0, total = 0;
    char name[64];

    heap = malloc(NOBJ * sizeof(*heap));
    classes = calloc(CLASS_SLOTS, sizeof(*classes));
    if (!heap || !classes) {
        die("zygote: preload");
    }
    for (i = 0; i < NOBJ; i++) {           /* objects of 32 to 400 bytes */
        uint32_t words = 4 + mix(i, 7) % 92, w;
        struct obj *o = malloc(sizeof(*o) + words * 4);
        if (!o) {
            die("zygote: heap");
        }
        o->cls = i % NCLASS;
        o->size = words;
        for (w = 0; w < words; w++) {
            o->field[w] = mix(i, w);
        }
        o->hash = fnv(FNV0, o->field, words * 4);
        heap[i] = o;
        sum += o->hash;
        total += sizeof(*o) + words * 4;
    }
    for (i = 0; i < NCLASS; i++) {         /* the class table */
        uint32_t h, s;
        class_name(name, sizeof(name), i);
        h = fnv(FNV0, name, strlen(name));
        s = h % CLASS_SLOTS;
        while (classes[s].name) {
            s = (s + 1) % CLASS_SLOTS;
        }
        classes[s].name = strdup(name);
        classes[s].hash = h;
        classes[s].obj = i;
        sum = mix(sum, s);
    }
    for (i = 0; i < 3; i++) {              /* the boot image, mapped read-only */
        struct stat st;
        int fd = open(images[i], O_RDONLY | O_CLOEXEC);
        const uint32_t *w;
        size_t k;
        if (fd < 0 || fstat(fd, &st) != 0) {
            die("zygote: open %s", images[i]);
        }
        boot_image[i] = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        if (boot_image[i] == MAP_FAILED) {
            die("zygote: mmap %s", images[i]);
        }
        boot_image_len[i] = st.st_size;
        w = (const uint32_t *)boot_image[i];
        for (k = 0; k < (size_t)st.st_size / 4; k += 16) {
            sum += w[k];
        }
    }
    preload_sum = sum;
    out("@@HSPT result zygote preload objects=%u heap_kb=%u classes=%u image_kb=%u sum=%08x", NOBJ,
        total >> 10, NCLASS, (unsigned)((boot_image_len[0] + boot_image_len[1] + boot_image_len[2]) >> 10), sum);
    alog("zygote", "preloaded %u objects, %u classes", NOBJ, NCLASS);
}

/* --------------------------------------------------------------- apps */

static int app_node;

static void app_handler(const struct binder_transaction_data *tr, struct rp *in, struct parcel *reply)
{
    (void)reply;
    if (tr->code == APP_FINISH) {
        alog("app", "app %u finishing", rp_u32(in));
        loop_exit = 1;
    }
}

static uint32_t echo_call(uint32_t h, const uint8_t *b, uint32_t n, uint32_t *wrong)
{
    static struct parcel p;
    struct rp r;
    uint32_t hash, m, i;
    const uint8_t *back;

    p_init(&p);
    p_bytes(&p, b, n);
    if (binder_call(h, ECHO_ECHO, &p, &r, 0) != 0) {
        errno = 0;
        die("echo call failed");
    }
    hash = rp_u32(&r);
    back = rp_bytes(&r, &m);
    *wrong += hash != fnv(FNV0, b, n) || m != n;
    for (i = 0; i < n && i < m; i++) {
        *wrong += back[i] != b[n - 1 - i];
    }
    rp_free(&r);
    return hash;
}

/* An app: the zygote's child number id, forked at t_fork. */
static void app_main(uint32_t id, uint64_t t_fork, uint32_t rounds)
{
    static struct parcel p;
    struct rp r;
    struct jit j;
    uint32_t h_act, h_echo, h_sto, sum, wrong = 0, rr, k, launch_us, i;
    uint8_t buf[8192];
    char path[64], name[64];
    int fd;

    snprintf(name, sizeof(name), "app%u", id);
    prctl(PR_SET_NAME, name);
    role = "app";
    binder_open("/dev/binder", 128 << 10);
    h_act = get_service("activity");
    p_init(&p);
    p_u32(&p, id);
    p_binder(&p, &app_node, id);
    if (binder_call(h_act, ACT_ATTACH, &p, &r, 0) != 0 || rp_u32(&r) != (id ^ ATTACH_MAGIC)) {
        errno = 0;
        die("attach of app %u failed", id);
    }
    rp_free(&r);
    launch_us = (uint32_t)(now_us() - t_fork);
    alog("app", "app %u attached", id);
    sum = mix(id, prop_sum());
    h_echo = get_service("echo");
    h_sto = get_service("storage");

    jit_init(&j, 64);
    for (k = 0; k < j.nf; k++) {
        jit_gen(&j, k, id);
    }
    jit_flush(&j, 0, j.nf);

    for (rr = 0; rr < rounds; rr++) {
        void *keep[32];
        /* binder: synchronous calls with parcels of a few hundred bytes,
         * one-way events */
        for (k = 0; k < 6; k++) {
            uint32_t n = 200 + mix(id * 131 + rr, k) % 300;
            fill(buf, n, id << 16 | rr << 8 | k);
            sum = mix(sum, echo_call(h_echo, buf, n, &wrong));
        }
        for (k = 0; k < 2; k++) {
            p_init(&p);
            p_u32(&p, id);
            p_u32(&p, rr * 16 + k);
            if (binder_call(h_act, ACT_EVENT, &p, NULL, TF_ONE_WAY) != 0) {
                errno = 0;
                die("one-way event refused");
            }
        }
        /* JIT: a quarter of the functions recompiled, every function run */
        for (k = 0; k < j.nf / 4; k++) {
            unsigned f = (rr * 16 + k * 3) % j.nf;
            jit_gen(&j, f, mix(id, rr + 1));
            jit_flush(&j, f, f + 1);
        }
        if (rr % 2 == 1) {
            jit_remap(&j);
        }
        for (k = 0; k < j.nf; k++) {
            sum = mix(sum, jit_run(&j, k, mix(k, rr)));
        }
        /* the preloaded classes and objects, shared with the zygote */
        for (k = 0; k < 200; k++) {
            uint32_t c = mix(id, rr * 1000 + k) % NCLASS, s;
            class_name(name, sizeof(name), c);
            s = class_find(name);
            if (s == UINT32_MAX || classes[s].obj != c) {
                wrong++;
                continue;
            }
            sum = mix(sum, heap[c + NCLASS * (k % 8)]->hash);
        }
        /* allocation */
        for (k = 0; k < 32; k++) {
            uint32_t n = 512 + mix(id ^ rr, k) % 3584;
            uint8_t *m = malloc(n);
            if (!m) {
                die("app: malloc");
            }
            fill(m, n, id + rr + k);
            sum = mix(sum, fnv(FNV0, m, n));
            keep[k] = m;
        }
        for (k = 0; k < 32; k++) {
            free(keep[k]);
        }
        /* file I/O in the app's data directory */
        snprintf(path, sizeof(path), "/data/data/app%u", id);
        mkdir(path, 0700);
        snprintf(path, sizeof(path), "/data/data/app%u/cache.%u", id, rr);
        fill(buf, sizeof(buf), id * 7 + rr);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
            die("app: create %s", path);
        }
        write_all(fd, buf, sizeof(buf));
        if (fsync(fd) != 0 || close(fd) != 0) {
            die("app: write %s", path);
        }
        memset(buf, 0, sizeof(buf));
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
            die("app: read %s", path);
        }
        close(fd);
        sum = mix(sum, fnv(FNV0, buf, sizeof(buf)));
        alog("app", "app %u round %u sum %08x", id, rr, sum);
    }

    /* file descriptors through binder: one to the storage service, one back */
    fd = memfd_create("upload", MFD_CLOEXEC);
    fill(buf, 2048, 0xf00d0000u + id);
    if (fd < 0 || write(fd, buf, 2048) != 2048) {
        die("app: memfd");
    }
    p_init(&p);
    p_fd(&p, fd);
    p_u32(&p, 2048);
    if (binder_call(h_sto, STO_CHECK_FD, &p, &r, 0) != 0) {
        errno = 0;
        die("storage CHECK_FD failed");
    }
    wrong += rp_u32(&r) != fnv(FNV0, buf, 2048);
    rp_free(&r);
    close(fd);
    p_init(&p);
    p_u32(&p, id);
    if (binder_call(h_sto, STO_OPEN, &p, &r, 0) != 0) {
        errno = 0;
        die("storage OPEN failed");
    }
    fd = (int)((const struct binder_fd_object *)rp_obj(&r, BINDER_TYPE_FD))->fd;
    k = rp_u32(&r);
    rp_free(&r);
    {
        uint8_t want[ASSET_LEN];
        asset(want, ASSET_LEN, id);
        if (k != ASSET_LEN || pread(fd, buf, ASSET_LEN, 0) != ASSET_LEN) {
            die("app: read of the asset's fd");
        }
        wrong += memcmp(buf, want, ASSET_LEN) != 0;
        sum = mix(sum, fnv(FNV0, buf, ASSET_LEN));
        close(fd);
    }

    wrong += j.wrong;
    jit_free(&j);
    for (i = 0; i < rounds; i++) {
        snprintf(path, sizeof(path), "/data/data/app%u/cache.%u", id, i);
        unlink(path);
    }
    /* the report carries the app's checksum and wrong count */
    p_init(&p);
    p_u32(&p, id);
    p_u32(&p, mix(sum, wrong));
    p_u32(&p, launch_us);
    p_u32(&p, calls_made + 1);
    p_u32(&p, j.calls);
    p_u32(&p, j.generated);
    p_u32(&p, j.remaps);
    p_u32(&p, wrong);
    p_u32(&p, rounds * 2);                  /* the one-way events sent */
    if (binder_call(h_act, ACT_REPORT, &p, NULL, 0) != 0) {
        errno = 0;
        die("report failed");
    }
    if (wrong) {
        out("@@HSPT result app %u wrong=%u", id, wrong);
    }
    alog("app", "app %u done, waiting", id);
    /* Live on until told to finish (a one-way call on the app's node). */
    binder_loop(app_handler, NULL);
    _exit(0);
}

static int zygote_main(void)
{
    int s;

    started();
    zygote_preload();
    s = unix_socket(SOCK_STREAM, ZYGOTE_SOCK, 1);
    signal(SIGCHLD, SIG_IGN);               /* apps are reaped by the kernel */
    prop_set("zygote.ready", "1");
    for (;;) {
        char line[64];
        unsigned id, rounds;
        uint64_t t;
        pid_t pid;
        int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);

        if (c < 0) {
            if (errno == EINTR) {
                continue;
            }
            die("zygote: accept");
        }
        read_line(c, line, sizeof(line));
        if (sscanf(line, "spawn %u %u", &id, &rounds) != 2 || id >= MAXAPPS) {
            write_all(c, "bad request\n", 12);
            close(c);
            continue;
        }
        t = now_us();
        pid = fork();
        if (pid == 0) {
            close(s);
            close(c);
            signal(SIGCHLD, SIG_DFL);
            app_main(id, t, rounds);
        }
        if (pid < 0) {
            die("zygote: fork");
        }
        snprintf(line, sizeof(line), "%d\n", pid);
        write_all(c, line, strlen(line));
        close(c);
    }
    return 0;
}

/* ------------------------------------------------------------ am, tools */

struct act_state {
    uint32_t attached, alive, peak, deaths, reports, events, event_sum, report_sum, launch_ms, failed;
    uint32_t binder_calls, jit_calls, jit_generated, jit_remaps, wrong, events_sent;
};

static void act_query(uint32_t h, struct act_state *st)
{
    struct parcel p;
    struct rp r;

    p_init(&p);
    if (binder_call(h, ACT_QUERY, &p, &r, 0) != 0) {
        errno = 0;
        die("activity query failed");
    }
    st->attached = rp_u32(&r); st->alive = rp_u32(&r); st->peak = rp_u32(&r);
    st->deaths = rp_u32(&r); st->reports = rp_u32(&r); st->events = rp_u32(&r);
    st->event_sum = rp_u32(&r); st->report_sum = rp_u32(&r); st->launch_ms = rp_u32(&r);
    st->failed = rp_u32(&r);
    st->binder_calls = rp_u32(&r); st->jit_calls = rp_u32(&r); st->jit_generated = rp_u32(&r);
    st->jit_remaps = rp_u32(&r); st->wrong = rp_u32(&r); st->events_sent = rp_u32(&r);
    rp_free(&r);
}

static void zygote_spawn(uint32_t id, uint32_t rounds)
{
    char line[64];
    int s = unix_socket(SOCK_STREAM, ZYGOTE_SOCK, 0), n;

    n = snprintf(line, sizeof(line), "spawn %u %u\n", id, rounds);
    write_all(s, line, n);
    if (read_line(s, line, sizeof(line)) < 1 || atoi(line) <= 0) {
        errno = 0;
        die("the zygote did not fork app %u: %s", id, line);
    }
    close(s);
}

/* User processes: /proc entries with a command line (kernel threads and
 * zombies have none). */
static unsigned count_processes(void)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    unsigned n = 0;

    if (!d) {
        die("opendir /proc");
    }
    while ((e = readdir(d))) {
        char path[300], c;
        int fd;
        if (e->d_name[0] < '0' || e->d_name[0] > '9') {
            continue;
        }
        snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            n += read(fd, &c, 1) == 1;
            close(fd);
        }
    }
    closedir(d);
    return n;
}

static void wait_for(uint32_t h, struct act_state *st, const char *what, uint32_t *field, uint32_t want)
{
    uint64_t end = now_us() + 600000000ull;

    for (;;) {
        act_query(h, st);
        if (*field >= want) {
            return;
        }
        if (now_us() > end) {
            errno = 0;
            die("timed out waiting for %u apps to %s (%u did)", want, what, *field);
        }
        sleep_ms(10);
    }
}

/*
 * am start N ROUNDS: N apps forked by the zygote one after another
 * without waiting (they work while the next are forked), then the peak,
 * the reports, finish and the deaths.
 * am launch N: N apps one at a time, each waited for until attached: the
 * launch time, fork to the first answered call of the app's own.
 */
static int am_main(int argc, char **argv)
{
    struct act_state st;
    uint32_t h, n, rounds, i;
    uint64_t t0 = now_us();
    int launch;

    if (argc < 3 || (strcmp(argv[1], "start") != 0 && strcmp(argv[1], "launch") != 0) ||
        (n = atoi(argv[2])) < 1 || n > MAXAPPS) {
        fprintf(stderr, "usage: am start N [ROUNDS] | am launch N (N of 1 to %d)\n", MAXAPPS);
        return 2;
    }
    started();
    launch = strcmp(argv[1], "launch") == 0;
    rounds = argc > 3 ? atoi(argv[3]) : 3;
    if (launch) {
        rounds = 0;
    }
    binder_open("/dev/binder", 128 << 10);
    h = get_service("activity");
    act_query(h, &st);
    if (st.attached) {
        errno = 0;
        die("apps were started before");
    }
    for (i = 0; i < n; i++) {
        zygote_spawn(i, rounds);
        if (launch) {
            wait_for(h, &st, "attach", &st.attached, i + 1);
        }
    }
    wait_for(h, &st, "report", &st.reports, n);
    /*
     * One-way calls to a node are delivered one at a time, each after the
     * previous one's buffer is freed, behind the synchronous calls queued
     * meanwhile: the apps' events may still be on their way. Wait for all
     * that were sent (the reports say how many).
     */
    wait_for(h, &st, "have their events delivered", &st.events, st.events_sent);
    out("@@HSPT result am apps=%u rounds=%u alive=%u processes=%u", n, rounds, st.alive, count_processes());
    if (launch) {
        out("@@HSPT time app-launch ms=%u apps=%u", st.launch_ms, n);
    } else {
        out("@@HSPT time apps ms=%u launch_ms=%u", (unsigned)((now_us() - t0) / 1000), st.launch_ms);
    }
    {
        struct parcel p;
        struct rp r;
        p_init(&p);
        if (binder_call(h, ACT_FINISH_ALL, &p, &r, 0) != 0 || rp_u32(&r) != n) {
            errno = 0;
            die("finish failed");
        }
        rp_free(&r);
    }
    wait_for(h, &st, "die", &st.deaths, n);
    out("@@HSPT result am attached=%u reports=%u deaths=%u alive=%u peak=%u events=%u "
        "event_sum=%08x report_sum=%08x failed=%u", st.attached, st.reports, st.deaths, st.alive,
        st.peak, st.events, st.event_sum, st.report_sum, st.failed);
    alog(role, "%u apps started, finished and dead", n);
    out("@@HSPT result am binder_calls=%u jit_generated=%u jit_calls=%u jit_remaps=%u wrong=%u",
        st.binder_calls, st.jit_generated, st.jit_calls, st.jit_remaps, st.wrong);
    return st.failed != 0 || st.wrong != 0;
}

/* dumpsys: every service's counters, and the service managers' lists. */
static int dumpsys_main(void)
{
    static const char *devs[3] = { "/dev/binder", "/dev/hwbinder", "/dev/vndbinder" };
    struct parcel p;
    struct rp r;
    uint32_t h, a, b, c, i;

    started();
    for (i = 0; i < 3; i++) {
        binder_open(devs[i], 128 << 10);
        p_init(&p);
        if (binder_call(0, SM_LIST, &p, &r, 0) != 0) {
            errno = 0;
            die("list of %s", devs[i]);
        }
        a = rp_u32(&r);
        b = rp_u32(&r);
        rp_free(&r);
        out("@@HSPT result dumpsys %s services=%u names=%08x", devs[i] + 5, a, b);
        if (i < 2) {
            close(bfd);
        }
    }
    close(bfd);
    binder_open("/dev/binder", 128 << 10);
    h = get_service("echo");
    p_init(&p);
    if (binder_call(h, ECHO_QUERY, &p, &r, 0) != 0) {
        errno = 0;
        die("echo query");
    }
    a = rp_u32(&r); b = rp_u32(&r); c = rp_u32(&r);
    rp_free(&r);
    out("@@HSPT result dumpsys echo calls=%u bytes=%u sum=%08x", a, b, c);
    h = get_service("storage");
    p_init(&p);
    if (binder_call(h, STO_QUERY, &p, &r, 0) != 0) {
        errno = 0;
        die("storage query");
    }
    a = rp_u32(&r); b = rp_u32(&r); c = rp_u32(&r);
    rp_free(&r);
    out("@@HSPT result dumpsys storage fds_in=%u fds_out=%u sum=%08x", a, b, c);
    return 0;
}

/* binderbench SIZE CALLS: synchronous round trips to echo. */
static int binderbench_main(int argc, char **argv)
{
    static uint8_t buf[4096];
    uint32_t size, calls, i, h, sum = 0, wrong = 0;
    uint64_t t0, us;

    if (argc < 3 || (size = atoi(argv[1])) < 4 || size > sizeof(buf) || (calls = atoi(argv[2])) < 1) {
        fprintf(stderr, "usage: binderbench SIZE(4..4096) CALLS\n");
        return 2;
    }
    started();
    binder_open("/dev/binder", 128 << 10);
    h = get_service("echo");
    t0 = now_us();
    for (i = 0; i < calls; i++) {
        buf[0] = (uint8_t)i;
        fill(buf + 1, size - 1, i & 15);
        sum = mix(sum, echo_call(h, buf, size, &wrong));
    }
    us = now_us() - t0;
    out("@@HSPT result binderbench size=%u calls=%u wrong=%u sum=%08x", size, calls, wrong, sum);
    out("@@HSPT time binder-%s ms=%u calls=%u per_s=%u", argc > 3 ? argv[3] : argv[1],
        (unsigned)(us / 1000), calls, (unsigned)(calls * 1000000ull / (us ? us : 1)));
    return wrong != 0;
}

/* jitbench N ROUNDS: generate, flush and run once N functions, ROUNDS times
 * (each a new code cache): the JIT's warm-up. */
static int jitbench_main(int argc, char **argv)
{
    uint32_t n, rounds, r, i, sum = 0, wrong = 0, calls = 0;
    uint64_t t0;

    if (argc < 3 || (n = atoi(argv[1])) < 1 || (rounds = atoi(argv[2])) < 1) {
        fprintf(stderr, "usage: jitbench FUNCTIONS ROUNDS\n");
        return 2;
    }
    started();
    t0 = now_us();
    for (r = 0; r < rounds; r++) {
        struct jit j;
        jit_init(&j, n);
        for (i = 0; i < n; i++) {
            jit_gen(&j, i, r * 7919 + 1);
        }
        jit_flush(&j, 0, n);
        for (i = 0; i < n; i++) {
            sum = mix(sum, jit_run(&j, i, i));
        }
        wrong += j.wrong;
        calls += j.calls;
        jit_free(&j);
    }
    out("@@HSPT time jit-warmup ms=%u functions=%u", (unsigned)((now_us() - t0) / 1000), n * rounds);
    out("@@HSPT result jitbench functions=%u rounds=%u calls=%u wrong=%u sum=%08x", n, rounds, calls, wrong, sum);
    return wrong != 0;
}

int main(int argc, char **argv)
{
    const char *slash = strrchr(argv[0], '/');
    char v[92];

    role = slash ? slash + 1 : argv[0];
    if (strcmp(role, "droid") == 0 && argc > 1) {
        role = argv[1];
        argc--;
        argv++;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(role, "property_service") == 0) {
        return property_service_main(argc, argv);
    } else if (strcmp(role, "logd") == 0) {
        return logd_main();
    } else if (strcmp(role, "servicemanager") == 0) {
        return servicemanager_main(argc, argv);
    } else if (strcmp(role, "system_server") == 0) {
        return system_server_main();
    } else if (strcmp(role, "mediaserver") == 0) {
        return mediaserver_main();
    } else if (strcmp(role, "vendor.light") == 0) {
        return vendor_light_main();
    } else if (strcmp(role, "zygote") == 0) {
        return zygote_main();
    } else if (strcmp(role, "am") == 0) {
        return am_main(argc, argv);
    } else if (strcmp(role, "dumpsys") == 0) {
        return dumpsys_main();
    } else if (strcmp(role, "binderbench") == 0) {
        return binderbench_main(argc, argv);
    } else if (strcmp(role, "jitbench") == 0) {
        return jitbench_main(argc, argv);
    } else if (strcmp(role, "setprop") == 0 && argc == 3) {
        prop_set(argv[1], argv[2]);
        return 0;
    } else if (strcmp(role, "getprop") == 0 && argc == 2) {
        prop_get(argv[1], v, sizeof(v));
        printf("%s\n", v);
        return 0;
    } else if (strcmp(role, "waitprop") == 0 && argc >= 3) {
        prop_wait(argv[1], argv[2], argc > 3 ? atoi(argv[3]) : 60000);
        return 0;
    } else if (strcmp(role, "now") == 0) {
        printf("%llu\n", (unsigned long long)(now_us() / 1000));
        return 0;
    } else if (strcmp(role, "log") == 0 && argc == 3) {
        alog(argv[1], "%s", argv[2]);
        return 0;
    } else if (strcmp(role, "logcat") == 0 && argc == 2 && strcmp(argv[1], "--dump") == 0) {
        /* the dump comes after every message sent before it */
        alog("--dump", "");
        return 0;
    } else if (strcmp(role, "propdump") == 0) {
        int s = unix_socket(SOCK_STREAM, PROP_SOCK, 0);
        write_all(s, "--dump\n", 7);
        read_line(s, v, sizeof(v));
        return 0;
    }
    fprintf(stderr, "droid: unknown role or arguments: %s (roles: property_service logd servicemanager "
            "system_server mediaserver vendor.light zygote am dumpsys binderbench jitbench setprop getprop "
            "waitprop now log logcat propdump)\n", role);
    return 2;
}
