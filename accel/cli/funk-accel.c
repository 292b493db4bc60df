/* SPDX-License-Identifier: Apache-2.0 */
/* funk-accel: command line over libfunk-accel (plugins, classify, detect, sgemm, noop, bench). */
#include <funk/accel.h>

#include "draw.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A parser's "stop here, exit 0": it printed the usage for -h/--help. */
#define HELP_SHOWN (-1)
#define EXIT_USAGE 64 /* sysexits EX_USAGE: the exit code of a usage error in every funk binary */

static const char usage_text[] =
    "usage: funk-accel [--plugins LIST] COMMAND [ARGS]\n"
    "       funk-accel -h|--help | --version\n"
    "commands:\n"
    "  plugins                      loaded plugins, version, priority, operations, availability\n"
    "  classify IMG [--top K] [--draw OUT.png] [MODEL OPTIONS]\n"
    "                               print \"LABEL SCORE\" per line, best first\n"
    "  detect IMG [--min PCT] [--top K] [--draw OUT.png] [MODEL OPTIONS]\n"
    "                               print \"LABEL SCORE x y w h\" per line (fractions of the "
    "image)\n"
    "                               --draw: also write IMG as a PNG with labelled boxes (detect)\n"
    "                               or the best labels as a caption (classify)\n"
    "  sgemm M N K [--check] [--repeat R] [--seed S]\n"
    "                               random matrices: time, GFLOP/s, checksum (--check: vs naive)\n"
    "  noop [N]                     N no-op calls through dispatch (default 1000000): ns/op\n"
    "  bench                        noop and sgemm figures in one short run\n"
    "model options: --model FILE --labels FILE --input WxH --mean R,G,B --scale S|R,G,B\n"
    "               --channels rgb|bgr --layout nchw|nhwc --kind classifier|centernet\n"
    "Options take their value as --OPTION VALUE or --OPTION=VALUE.\n"
    "environment: FUNK_ACCEL_PLUGINS, FUNK_ACCEL_PLUGIN_PATH, FUNK_ACCEL_LOG_LEVEL, "
    "FUNK_ACCEL_PROFILE\n"
    "exit status: 0 ok, 1 the operation failed, 64 usage error\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "funk-accel: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'funk-accel --help'.\n");
    return EXIT_USAGE;
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "funk-accel: %s: %s (%d)\n", what, funk_accel_strerror(rc), rc);
    return EXIT_FAILURE;
}

static bool parse_long(const char *s, long min, long max, long *out)
{
    if (s == NULL || *s == '\0')
        return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int read_file(const char *path, void **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -errno;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    int rc = 0;
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) {
            if (ferror(f))
                rc = -EIO;
            break;
        }
        char *nb = realloc(buf, cap * 2 + 1);
        if (nb == NULL) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    fclose(f);
    if (buf == NULL)
        return -ENOMEM;
    if (rc < 0) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

/* ---- plugins --------------------------------------------------------------------------------- */

/* -h/--help as a command's only argument; commands without options use this. */
static bool wants_help(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        fputs(usage_text, stdout);
        return true;
    }
    return false;
}

static int cmd_plugins(int argc, char **argv)
{
    if (wants_help(argc, argv))
        return 0;
    if (argc > 1)
        return usage_error("plugins takes no arguments (got '%s')", argv[1]);
    int n = funk_accel_plugins(NULL, 0);
    if (n < 0)
        return fail("loading plugins", n);
    funk_accel_plugin_info *info = calloc((size_t)n + 1, sizeof(*info));
    if (info == NULL)
        return fail("plugins", -ENOMEM);
    n = funk_accel_plugins(info, (size_t)n);
    if (n == 0)
        printf("no plugins loaded (FUNK_ACCEL_PLUGINS=%s)\n",
               getenv("FUNK_ACCEL_PLUGINS") ? getenv("FUNK_ACCEL_PLUGINS") : "(default cpu:exec)");
    else
        printf("%-10s %-10s %8s  %-11s %-52s %s\n", "NAME", "VERSION", "PRIORITY", "STATUS",
               "OPERATIONS", "PATH");
    for (int i = 0; i < n; i++) {
        char ops[128] = "";
        for (int op = 0; op < FUNK_ACCEL_OP_COUNT; op++) {
            if (!(info[i].ops & (1u << op)))
                continue;
            if (ops[0])
                strncat(ops, ",", sizeof(ops) - strlen(ops) - 1);
            strncat(ops, funk_accel_op_name((funk_accel_op_id)op), sizeof(ops) - strlen(ops) - 1);
        }
        printf("%-10s %-10s %8d  %-11s %-52s %s\n", info[i].name, info[i].version, info[i].priority,
               info[i].available ? "available" : "unavailable", ops[0] ? ops : "-", info[i].path);
        /* The description carries device details (opencl/cuda: which device was chosen). */
        if (info[i].description && info[i].description[0])
            printf("%-10s %s\n", "", info[i].description);
    }
    free(info);
    return 0;
}

/* ---- classify / detect ----------------------------------------------------------------------- */

struct image_opts {
    const char *image;
    const char *model, *labels;
    const char *attr_keys[8], *attr_vals[8];
    int n_attrs;
    const char *draw;
    long top;
    long min_pct;
};

/* Reports a getopt_long failure of a subcommand (c is ':' or '?'); argv is the subcommand's. */
static int getopt_error(int c, char **argv)
{
    const char *a = argv[optind - 1];
    if (c == ':')
        return usage_error("option '%s' needs a value", a);
    /* glibc sets optopt to a known long option's value when it was given "=VALUE" it takes none */
    if (optopt != 0 && strncmp(a, "--", 2) == 0 && strchr(a, '='))
        return usage_error("option '%s' takes no value", a);
    return usage_error("unknown option '%s'", a);
}

/* Parses IMG and the options shared by classify and detect; argv[0] is the command's name. */
static int parse_image_opts(int argc, char **argv, bool detect, struct image_opts *o)
{
    enum { O_MODEL = 256, O_LABELS, O_TOP, O_MIN, O_DRAW, O_ATTR };
    static const struct option opts[] = {
        {"model", required_argument, 0, O_MODEL}, {"labels", required_argument, 0, O_LABELS},
        {"top", required_argument, 0, O_TOP},     {"min", required_argument, 0, O_MIN},
        {"draw", required_argument, 0, O_DRAW},   {"input", required_argument, 0, O_ATTR},
        {"mean", required_argument, 0, O_ATTR},   {"scale", required_argument, 0, O_ATTR},
        {"channels", required_argument, 0, O_ATTR}, {"layout", required_argument, 0, O_ATTR},
        {"kind", required_argument, 0, O_ATTR},   {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    optind = 0; /* glibc: start afresh on this argv */
    opterr = 0;
    int c, idx;
    while ((c = getopt_long(argc, argv, ":h", opts, &idx)) != -1) {
        const char *v = optarg;
        switch (c) {
        case 'h':
            fputs(usage_text, stdout);
            return HELP_SHOWN;
        case O_MODEL:
            o->model = v;
            break;
        case O_LABELS:
            o->labels = v;
            break;
        case O_DRAW:
            o->draw = v;
            break;
        case O_TOP:
            if (!parse_long(v, 1, 1000, &o->top))
                return usage_error("--top needs a number from 1 to 1000, got '%s'", v);
            break;
        case O_MIN:
            if (!detect)
                return usage_error("%s", "--min applies to detect only");
            if (!parse_long(v, 0, 100, &o->min_pct))
                return usage_error("--min needs a percentage from 0 to 100, got '%s'", v);
            break;
        case O_ATTR:
            if (o->n_attrs == (int)(sizeof(o->attr_keys) / sizeof(o->attr_keys[0])))
                return usage_error("too many model options (at '--%s')", opts[idx].name);
            o->attr_keys[o->n_attrs] = opts[idx].name;
            o->attr_vals[o->n_attrs++] = v;
            break;
        default:
            return getopt_error(c, argv);
        }
    }
    for (int i = optind; i < argc; i++) {
        if (o->image)
            return usage_error("unexpected argument '%s'", argv[i]);
        o->image = argv[i];
    }
    if (o->image == NULL)
        return usage_error("%s needs an image file", detect ? "detect" : "classify");
    if (o->model == NULL && (o->labels || o->n_attrs))
        return usage_error("%s", "--labels/--input/--mean/... describe a model: add --model FILE");
    return 0;
}

/* Session plus the optional model resource described by the options. */
static int open_model(const struct image_opts *o, funk_accel_session **s,
                      funk_accel_resource **model)
{
    int rc = funk_accel_session_new(s);
    if (rc < 0)
        return fail("creating a session", rc);
    *model = NULL;
    if (o->model == NULL)
        return 0;
    rc = funk_accel_resource_new_file(model, FUNK_ACCEL_RES_MODEL, o->model);
    if (rc < 0) {
        fprintf(stderr, "funk-accel: model %s: %s\n", o->model, funk_accel_strerror(rc));
        return EXIT_FAILURE;
    }
    if (o->labels) {
        void *text;
        size_t len;
        rc = read_file(o->labels, &text, &len);
        if (rc < 0) {
            fprintf(stderr, "funk-accel: labels %s: %s\n", o->labels, strerror(-rc));
            return EXIT_FAILURE;
        }
        rc = funk_accel_resource_set_attr(*model, "labels", text);
        free(text);
        if (rc < 0)
            return fail("setting labels", rc);
    }
    for (int i = 0; i < o->n_attrs; i++) {
        rc = funk_accel_resource_set_attr(*model, o->attr_keys[i], o->attr_vals[i]);
        if (rc < 0)
            return fail("setting a model attribute", rc);
    }
    rc = funk_accel_session_register(*s, *model);
    if (rc < 0)
        return fail("registering the model", rc);
    return 0;
}

/* Writes --draw's PNG; says where, on stderr, so stdout stays the result lines. */
static int draw_out(const struct image_opts *o, const void *img, size_t len,
                    const struct draw_item *items, size_t n, int boxes)
{
    int rc = funk_draw_png(img, len, items, n, boxes, o->draw);
    if (rc < 0) {
        fprintf(stderr, "funk-accel: --draw %s: %s\n", o->draw,
                rc == -EPROTONOSUPPORT ? "the image is neither JPEG nor PNG" : strerror(-rc));
        return EXIT_FAILURE;
    }
    fprintf(stderr, "funk-accel: wrote %s\n", o->draw);
    return 0;
}

static int cmd_image(int argc, char **argv, bool detect)
{
    struct image_opts o = {.top = 5, .min_pct = 0};
    int ret = parse_image_opts(argc, argv, detect, &o);
    if (ret)
        return ret == HELP_SHOWN ? 0 : ret;
    if (detect && o.top == 5)
        o.top = 100;
    void *img = NULL;
    size_t len = 0;
    int rc = read_file(o.image, &img, &len);
    if (rc < 0) {
        fprintf(stderr, "funk-accel: image %s: %s\n", o.image, strerror(-rc));
        return EXIT_FAILURE;
    }
    if (len == 0) {
        fprintf(stderr, "funk-accel: image %s: empty file\n", o.image);
        free(img);
        return EXIT_FAILURE;
    }
    funk_accel_session *s = NULL;
    funk_accel_resource *model = NULL;
    ret = open_model(&o, &s, &model);
    if (ret == 0 && !detect) {
        funk_accel_label *out = calloc((size_t)o.top, sizeof(*out));
        rc = out ? funk_accel_image_classify(s, model, img, len, out, (size_t)o.top) : -ENOMEM;
        if (rc < 0)
            ret = fail("classify", rc);
        for (int i = 0; i < rc; i++)
            printf("%s %.3f\n", out[i].label, out[i].score);
        if (rc >= 0 && o.draw) {
            struct draw_item items[3];
            size_t n = 0;
            for (int i = 0; i < rc && n < 3; i++)
                items[n++] = (struct draw_item){.label = out[i].label, .score = out[i].score};
            ret = draw_out(&o, img, len, items, n, 0);
        }
        free(out);
    } else if (ret == 0) {
        funk_accel_detection *out = calloc((size_t)o.top, sizeof(*out));
        rc = out ? funk_accel_image_detect(s, model, img, len, (uint32_t)o.min_pct, out,
                                           (size_t)o.top)
                 : -ENOMEM;
        if (rc < 0)
            ret = fail("detect", rc);
        for (int i = 0; i < rc; i++)
            printf("%s %.3f %.3f %.3f %.3f %.3f\n", out[i].label.label, out[i].label.score,
                   out[i].x, out[i].y, out[i].w, out[i].h);
        struct draw_item *items = rc > 0 ? calloc((size_t)rc, sizeof(*items)) : NULL;
        if (rc >= 0 && o.draw && (items || rc == 0)) {
            for (int i = 0; i < rc; i++)
                items[i] = (struct draw_item){.label = out[i].label.label,
                                              .score = out[i].label.score,
                                              .x = out[i].x, .y = out[i].y,
                                              .w = out[i].w, .h = out[i].h};
            ret = draw_out(&o, img, len, items, (size_t)rc, 1);
        } else if (rc > 0 && o.draw) {
            ret = fail("drawing", -ENOMEM);
        }
        free(items);
        free(out);
    }
    if (s)
        funk_accel_session_delete(s);
    if (model)
        funk_accel_resource_release(model);
    free(img);
    return ret;
}

/* ---- sgemm ----------------------------------------------------------------------------------- */

static void fill_random(float *x, size_t n, unsigned *seed)
{
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1103515245u + 12345u;
        x[i] = (float)((*seed >> 8) & 0xffff) / 65536.0f - 0.5f;
    }
}

static int cmd_sgemm(int argc, char **argv)
{
    long dim[3];
    int nd = 0;
    bool check = false;
    long repeat = 1, seed = 1;
    static const struct option opts[] = {
        {"check", no_argument, 0, 'c'},
        {"repeat", required_argument, 0, 'r'},
        {"seed", required_argument, 0, 's'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    optind = 0;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (opt == 'h') {
            fputs(usage_text, stdout);
            return 0;
        } else if (opt == 'c') {
            check = true;
        } else if (opt == 'r' || opt == 's') {
            if (!parse_long(optarg, 1, INT_MAX, opt == 'r' ? &repeat : &seed))
                return usage_error("--repeat/--seed need a positive number, got '%s'", optarg);
        } else {
            return getopt_error(opt, argv);
        }
    }
    for (int i = optind; i < argc; i++) {
        if (nd == 3)
            return usage_error("unexpected argument '%s'", argv[i]);
        if (!parse_long(argv[i], 1, 16384, &dim[nd]))
            return usage_error("sgemm sizes are numbers from 1 to 16384, got '%s'", argv[i]);
        nd++;
    }
    if (nd != 3)
        return usage_error("%s", "sgemm needs M N K");
    int m = (int)dim[0], n = (int)dim[1], k = (int)dim[2];
    float *a = malloc(sizeof(float) * (size_t)m * (size_t)k);
    float *b = malloc(sizeof(float) * (size_t)k * (size_t)n);
    float *c = calloc((size_t)m * (size_t)n, sizeof(float));
    funk_accel_session *s = NULL;
    int ret = 0, rc;
    if (a == NULL || b == NULL || c == NULL) {
        ret = fail("sgemm", -ENOMEM);
        goto out;
    }
    unsigned st = (unsigned)seed;
    fill_random(a, (size_t)m * (size_t)k, &st);
    fill_random(b, (size_t)k * (size_t)n, &st);
    rc = funk_accel_session_new(&s);
    if (rc < 0) {
        ret = fail("creating a session", rc);
        goto out;
    }
    double best = 1e30;
    for (long r = 0; r < repeat; r++) {
        double t0 = now_s();
        rc = funk_accel_sgemm(s, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
        double dt = now_s() - t0;
        if (rc < 0) {
            ret = fail("sgemm", rc);
            goto out;
        }
        best = dt < best ? dt : best;
    }
    double sum = 0;
    for (size_t i = 0; i < (size_t)m * (size_t)n; i++)
        sum += c[i];
    printf("sgemm %dx%dx%d: %.3f ms (%.2f GFLOP/s) checksum %.6e\n", m, n, k, best * 1e3,
           2.0 * m * n * k / best / 1e9, sum);
    if (check) {
        double maxerr = 0;
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double ref = 0;
                for (int p = 0; p < k; p++)
                    ref += (double)a[(size_t)i * k + p] * b[(size_t)p * n + j];
                double e = ref - c[(size_t)i * n + j];
                e = e < 0 ? -e : e;
                maxerr = e > maxerr ? e : maxerr;
            }
        }
        /* Single-precision sums of k products of values in [-0.5, 0.5). */
        double tol = 1e-5 * k + 1e-4;
        printf("check: max abs error %.3g (tolerance %.3g): %s\n", maxerr, tol,
               maxerr <= tol ? "ok" : "MISMATCH");
        if (maxerr > tol)
            ret = EXIT_FAILURE;
    }
out:
    if (s)
        funk_accel_session_delete(s);
    free(a);
    free(b);
    free(c);
    return ret;
}

/* ---- noop / bench ------------------------------------------------------------------------------
 */

static int run_noop(long n, double *ns_per_op)
{
    funk_accel_session *s;
    int rc = funk_accel_session_new(&s);
    if (rc < 0)
        return fail("creating a session", rc);
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        rc = funk_accel_noop(s);
        if (rc < 0)
            break;
    }
    double dt = now_s() - t0;
    funk_accel_session_delete(s);
    if (rc < 0)
        return fail("noop", rc);
    *ns_per_op = dt * 1e9 / (double)n;
    return 0;
}

static int cmd_noop(int argc, char **argv)
{
    long n = 1000000;
    if (wants_help(argc, argv))
        return 0;
    if (argc > 2)
        return usage_error("unexpected argument '%s'", argv[2]);
    if (argc == 2 && !parse_long(argv[1], 1, LONG_MAX, &n))
        return usage_error("noop N needs a positive number, got '%s'", argv[1]);
    double ns;
    int ret = run_noop(n, &ns);
    if (ret == 0)
        printf("noop: %ld calls, %.1f ns/op\n", n, ns);
    return ret;
}

static int cmd_bench(int argc, char **argv)
{
    if (wants_help(argc, argv))
        return 0;
    if (argc > 1)
        return usage_error("bench takes no arguments (got '%s')", argv[1]);
    double ns;
    int ret = run_noop(1000000, &ns);
    if (ret)
        return ret;
    printf("noop: 1000000 calls, %.1f ns/op\n", ns);
    char *args[] = {"sgemm", "256", "256", "256", "--repeat", "5", NULL};
    return cmd_sgemm(6, args);
}

int main(int argc, char **argv)
{
    const char *plugins = NULL;
    static const struct option opts[] = {
        {"plugins", required_argument, 0, 'p'},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0},
    };
    opterr = 0;
    int c;
    /* '+': options end at the command; what follows is the command's own. */
    while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage_text, stdout);
            return 0;
        } else if (c == 'V') {
            printf("funk-accel %s\n", FUNK_VERSION);
            return 0;
        } else if (c == 'p') {
            plugins = optarg;
        } else {
            return getopt_error(c, argv);
        }
    }
    int i = optind;
    if (i >= argc)
        return usage_error("%s", "missing command");
    /* NULL: the environment (FUNK_ACCEL_PLUGINS or the default list). */
    int rc = funk_accel_init(plugins);
    if (rc < 0)
        return fail("loading plugins", rc);
    const char *cmd = argv[i];
    int nargs = argc - i; /* the command's argv, its name first */
    char **args = argv + i;

    int ret;
    if (!strcmp(cmd, "plugins"))
        ret = cmd_plugins(nargs, args);
    else if (!strcmp(cmd, "classify"))
        ret = cmd_image(nargs, args, false);
    else if (!strcmp(cmd, "detect"))
        ret = cmd_image(nargs, args, true);
    else if (!strcmp(cmd, "sgemm"))
        ret = cmd_sgemm(nargs, args);
    else if (!strcmp(cmd, "noop"))
        ret = cmd_noop(nargs, args);
    else if (!strcmp(cmd, "bench"))
        ret = cmd_bench(nargs, args);
    else
        ret = usage_error("unknown command '%s'", cmd);
    funk_accel_fini();
    return ret;
}
