/*
 * main.c -- the `dagl` host: a stand-alone Lua 5.4 interpreter with dagl built in.
 *
 *   dagl [options] [script [args]]
 *
 * Shaped like Lua's own lua.c: all the work happens in pmain, called under lua_pcall; errors get
 * a traceback and "dagl: " in front, and the exit status tells success from failure. The options
 * are lua's (-e, -l, -i, -v, -E, -W, -, --) plus --threads N and --version; `--version -v` also
 * reports the OpenBLAS build and the thread count.
 *
 * Before anything runs, `require "dagl.core"` is bound to the statically linked binding with the
 * options of the command line (dagl_lua_preload: --threads, -E) and the dagl Lua library dirs are
 * put in front of package.path (DAGL_LUA_PATH replaces them).
 *
 * Ctrl-C: the host owns the SIGINT handler (installed once, for the whole run) and passes it on
 * through dagl_ctx_interrupt; see on_sigint below and docs/lua_api.md, "Interruption".
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dagl.h"
#include "dagl_lua.h"
#include "host_alloc.h"
#include "lua/lentry.h"


#define PROGNAME "dagl"

/* OpenBLAS's threading variant: 0 sequential, 1 pthreads, 2 OpenMP (from its cblas.h). */
int openblas_get_parallel(void);

/* What the command line asked for (filled by collect_args). */
typedef struct options {
    int script;      /* argv index of the script, 0 when there is none */
    int interactive; /* -i */
    int has_e;       /* at least one -e */
    int no_env;      /* -E: ignore LUA_INIT, LUA_PATH, LUA_CPATH and DAGL_LUA_PATH */
    int version;     /* 0 none, 1 the version line, 2 also the build details */
    int threads;     /* --threads N, 0 when not given */
    const char *trace; /* --trace FILE: Chrome trace JSON of every graph run (and FILE.svg) */
} options;

/* Ctrl-C. The handler stays installed from start to exit (no SIG_DFL between or after calls, as
 * lua.c has). A first SIGINT interrupts: through the dagl context once dagl is loaded
 * (dagl_ctx_interrupt: graph runs, sleeps and waits stop, the running Lua code raises
 * "interrupted"), before that with a hook on the main Lua thread as lua.c's laction sets. A second
 * one while the first is still pending (not yet raised in Lua: something does not look at it, a
 * long kernel say) prints "dagl: interrupted again; exiting" and ends the process by SIGINT, so
 * it is never killed without a word; one within COALESCE_NS of the first is the same Ctrl-C
 * delivered twice (timeout -s INT signals the process and its group) and is dropped. These are
 * the host's only statics, as a signal handler needs them: the main Lua thread (NULL once it
 * closes), the binding's context (dagl_lua_options.on_ctx; NULL before dagl loads and once it is
 * gone), whether the pre-dagl hook is pending, and when the pending interrupt came. */
static lua_State *_Atomic interrupted_L = NULL;
static dagl_ctx *_Atomic interrupted_ctx = NULL;
static volatile sig_atomic_t hook_pending = 0;
static _Atomic int64_t pending_since_ns = 0;
#define COALESCE_NS 100000000 /* 100 ms */
/* Prints "dagl: msg" (or just msg in the REPL, when pname is NULL) to stderr. */
static void l_message(const char *pname, const char *msg)
{
    if (pname) fprintf(stderr, "%s: ", pname);
    fprintf(stderr, "%s\n", msg);
    fflush(stderr);
}

/* Prints the error message on top of the stack when status is not LUA_OK; returns status. */
static int report(lua_State *L, int status)
{
    if (status != LUA_OK) {
        l_message(PROGNAME, lua_tostring(L, -1));
        dagl_l_dist_fail(L, lua_tostring(L, -1)); /* the other ranks stop naming this one */
        lua_pop(L, 1);
    }
    return status;
}

/* Monotonic nanoseconds (clock_gettime is async-signal-safe). */
static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The hook a SIGINT sets before dagl is loaded: raises "interrupted" at the running line. */
static void stop_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    hook_pending = 0;
    dagl_l_interrupted(L, dagl_l_state(L));
}

/* Whether a Ctrl-C is pending: requested and not yet raised in Lua (async-signal-safe). */
static int interrupt_pending(void)
{
    dagl_ctx *ctx = atomic_load(&interrupted_ctx);
    return ctx ? dagl_ctx_interrupt_pending(ctx) : hook_pending;
}

/* Drops a pending Ctrl-C that nothing will raise any more (the REPL, back at its prompt). */
static void clear_interrupt(lua_State *L)
{
    dagl_ctx *ctx = atomic_load(&interrupted_ctx);
    if (ctx) dagl_ctx_take_interrupt(ctx);
    if (hook_pending) lua_sethook(L, NULL, 0, 0);
    hook_pending = 0;
}

/* A second Ctrl-C while the first is pending: says so with write(2) and dies by SIGINT (the
 * default action, so a calling shell sees the signal and stops too). */
static void exit_interrupted_again(int sig)
{
    static const char msg[] = "\n" PROGNAME ": interrupted again; exiting\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    raise(sig); /* blocked inside this handler: delivered by the unblock below */
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    _exit(128 + sig);
}

/* SIGINT handler (async-signal-safe: atomics, clock_gettime, lua_sethook, write, sigaction). */
static void on_sigint(int sig)
{
    int64_t now = mono_ns();
    if (interrupt_pending()) {
        if (now - atomic_load(&pending_since_ns) >= COALESCE_NS) exit_interrupted_again(sig);
        return;
    }
    atomic_store(&pending_since_ns, now);
    dagl_ctx *ctx = atomic_load(&interrupted_ctx);
    lua_State *L = atomic_load(&interrupted_L);
    if (ctx) {
        dagl_ctx_interrupt(ctx);
    } else if (L) {
        hook_pending = 1;
        lua_sethook(L, stop_hook, LUA_MASKCOUNT, 1);
    } else {
        hook_pending = 1; /* closing down: only a second Ctrl-C does something (it exits) */
    }
}

/* Installs on_sigint for the whole run. No SA_RESTART: a read that Ctrl-C cuts short returns
 * (EINTR), so the REPL's prompt and io.read give up at once instead of after the next line. */
static void install_sigint(lua_State *L)
{
    atomic_store(&interrupted_L, L);
    struct sigaction sa = {.sa_handler = on_sigint};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
}

/* Calls the function below its narg arguments with dagl_l_msghandler underneath. */
static int docall(lua_State *L, int narg, int nres)
{
    int base = lua_gettop(L) - narg;
    lua_pushcfunction(L, dagl_l_msghandler);
    lua_insert(L, base);
    int status = lua_pcall(L, narg, nres, base);
    lua_remove(L, base);
    return status;
}

/* Runs a file (NULL: stdin) with no arguments. */
static int dofile(lua_State *L, const char *name)
{
    int status = luaL_loadfile(L, name);
    if (status == LUA_OK) status = docall(L, 0, 0);
    return report(L, status);
}

/* Runs a string as a chunk called `name`. */
static int dostring(lua_State *L, const char *s, const char *name)
{
    int status = luaL_loadbuffer(L, s, strlen(s), name);
    if (status == LUA_OK) status = docall(L, 0, 0);
    return report(L, status);
}

/* -l spec: `mod` sets global mod = require "mod"; `g=mod` sets global g = require "mod". */
static int dolibrary(lua_State *L, const char *spec)
{
    const char *eq = strchr(spec, '=');
    const char *mod = eq ? eq + 1 : spec;
    lua_getglobal(L, "require");
    lua_pushstring(L, mod);
    int status = docall(L, 1, 1);
    if (status == LUA_OK) {
        lua_pushlstring(L, spec, eq ? (size_t)(eq - spec) : strlen(spec));
        lua_insert(L, -2);
        lua_setglobal(L, lua_tostring(L, -2));
        lua_pop(L, 1);
    }
    return report(L, status);
}

/* Prints the version line; with `details`, the OpenBLAS build and the thread count too. */
static void print_version(const options *o, int details)
{
    printf("dagl %s (%s)\n", DAGL_VERSION_STRING, LUA_RELEASE);
    if (details) {
        static const char *const variants[] = {"sequential", "pthreads", "openmp"};
        int par = openblas_get_parallel();
        const char *env = getenv("DAGL_NUM_THREADS");
        int threads = o->threads;
        const char *from = "--threads";
        if (threads <= 0 && env && atoi(env) > 0) threads = atoi(env), from = "DAGL_NUM_THREADS";
        if (threads <= 0) threads = dagl_num_cores(), from = "default";
        const char *choice = dagl_blas_choice(); /* re-selects the core first when that helps */
        printf("OpenBLAS core: %s (%s)\n", dagl_blas_corename(), choice);
        printf("OpenBLAS config: %s\n", dagl_blas_config());
        printf("OpenBLAS threading: %s\n", par >= 0 && par <= 2 ? variants[par] : "unknown");
        printf("threads: %d (%s; %d cores)\n", threads, from, dagl_num_cores());
    }
    fflush(stdout);
}

/* Prints how to call dagl, after the complaint about argument `bad`. */
static void print_usage(const char *bad, const char *why)
{
    fprintf(stderr, "%s: %s '%s'\n", PROGNAME, why, bad);
    fprintf(stderr,
            "usage: %s [options] [script [args]]\n"
            "Available options are:\n"
            "  -e stat      execute string 'stat'\n"
            "  -i           enter interactive mode after executing 'script'\n"
            "  -l mod       require library 'mod' into global 'mod'\n"
            "  -l g=mod     require library 'mod' into global 'g'\n"
            "  -v           show version information (twice: with the OpenBLAS build)\n"
            "  -E           ignore environment variables\n"
            "  -W           turn warnings on\n"
            "  --threads N  use N worker threads\n"
            "  --trace F    write a trace of every graph run to F (Chrome/Perfetto JSON) and an SVG\n"
            "               timeline beside it; print a run summary at exit\n"
            "  --version    same as -v\n"
            "  --           stop handling options\n"
            "  -            stop handling options and execute stdin\n",
            PROGNAME);
    fflush(stderr);
}

/* Scans the options before the script into `o`; on a bad one prints the usage and returns 0. */
static int collect_args(int argc, char **argv, options *o)
{
    int nv = 0, verbose = 0, i;
    memset(o, 0, sizeof *o);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || strcmp(a, "-") == 0) break; /* the script (or stdin) */
        if (strcmp(a, "--") == 0) { i++; break; }
        if (strcmp(a, "--version") == 0) nv++;
        else if (strcmp(a, "--verbose") == 0) verbose = 1;
        else if (strcmp(a, "--threads") == 0 || strncmp(a, "--threads=", 10) == 0) {
            const char *v = a[9] == '=' ? a + 10 : argv[++i];
            char *end;
            if (v == NULL) return print_usage(a, "option needs an argument"), 0;
            long n = strtol(v, &end, 10);
            if (*v == '\0' || *end != '\0' || n < 1 || n > 4096)
                return print_usage(v, "bad thread count"), 0;
            o->threads = (int)n;
        } else if (strcmp(a, "--trace") == 0 || strncmp(a, "--trace=", 8) == 0) {
            o->trace = a[7] == '=' ? a + 8 : argv[++i];
            if (o->trace == NULL || *o->trace == '\0') return print_usage(a, "option needs a file name"), 0;
        } else if (a[1] == 'e' || a[1] == 'l') {
            if (a[2] == '\0' && argv[++i] == NULL) return print_usage(a, "option needs an argument"), 0;
            if (a[1] == 'e') o->has_e = 1;
        } else if (a[2] != '\0') return print_usage(a, "unrecognized option"), 0;
        else if (a[1] == 'i') o->interactive = 1;
        else if (a[1] == 'v') nv++;
        else if (a[1] == 'E') o->no_env = 1;
        else if (a[1] == 'W') continue; /* handled in order by run_args */
        else return print_usage(a, "unrecognized option"), 0;
    }
    o->script = i < argc ? i : 0;
    o->version = (nv >= 2 || verbose) ? 2 : nv;
    return 1;
}

/* Runs the -e and -l options (and -W) in command-line order, up to argv[n]. Returns 0 on error. */
static int run_args(lua_State *L, char **argv, int n)
{
    for (int i = 1; i < n; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--threads") == 0 || strcmp(a, "--trace") == 0) i++; /* skip its value */
        else if (strcmp(a, "-W") == 0) lua_warning(L, "@on", 0);
        else if (a[0] == '-' && (a[1] == 'e' || a[1] == 'l')) {
            const char *v = a[2] ? a + 2 : argv[++i];
            int status = a[1] == 'e' ? dostring(L, v, "=(command line)") : dolibrary(L, v);
            if (status != LUA_OK) return 0;
        }
    }
    return 1;
}

/* The global `arg`: the script at 0, its arguments at 1.., the interpreter and its options at
 * negative indices. With no script, the program name is at 0. */
static void create_arg_table(lua_State *L, int argc, char **argv, int script)
{
    lua_createtable(L, argc - script - 1 > 0 ? argc - script - 1 : 0, script + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

/* Pushes arg[1..n] as the script's varargs; returns n. */
static int push_args(lua_State *L)
{
    if (lua_getglobal(L, "arg") != LUA_TTABLE) luaL_error(L, "'arg' is not a table");
    int n = (int)luaL_len(L, -1);
    luaL_checkstack(L, n + 3, "too many arguments to script");
    for (int i = 1; i <= n; i++) lua_rawgeti(L, -i, i);
    lua_remove(L, -n - 1); /* the table */
    return n;
}

/* Loads and runs the script argv[0] ("-" is stdin, unless after "--") with its arguments. */
static int handle_script(lua_State *L, char **argv)
{
    const char *fname = argv[0];
    if (strcmp(fname, "-") == 0 && strcmp(argv[-1], "--") != 0) fname = NULL;
    int status = luaL_loadfile(L, fname);
    if (status == LUA_OK) {
        int n = push_args(L);
        status = docall(L, n, LUA_MULTRET);
    }
    return report(L, status);
}

/* Runs LUA_INIT_5_4 (or LUA_INIT): "@file" runs a file, anything else is code. */
static int handle_init(lua_State *L)
{
    const char *name = "=LUA_INIT_5_4";
    const char *init = getenv(name + 1);
    if (init == NULL) {
        name = "=LUA_INIT";
        init = getenv(name + 1);
    }
    if (init == NULL) return LUA_OK;
    if (init[0] == '@') return dofile(L, init + 1);
    return dostring(L, init, name);
}

/* dagl_lua_options.on_ctx: keeps the binding's context (NULL once it is gone) for on_sigint. */
static void note_ctx(void *ud, dagl_ctx *ctx)
{
    (void)ud;
    atomic_store(&interrupted_ctx, ctx);
}

/* Binds `require "dagl.core"` to the built-in binding with the command line's options (--threads,
 * -E) and puts the dagl Lua dirs in front of package.path. */
static void setup_dagl(lua_State *L, const options *o)
{
    dagl_lua_options lo = {.threads = o->threads, .no_env = o->no_env, .on_ctx = note_ctx};
    dagl_lua_preload(L, &lo);
}

/* What push_line and load_line return when Ctrl-C cut the reading of a line short. */
#define LINE_INTERRUPTED (-2)

/* REPL: reads one line (with a prompt on a terminal) and pushes it; a first line "=x" becomes
 * "return x". Returns 0 at end of input, LINE_INTERRUPTED when Ctrl-C came while reading. */
static int push_line(lua_State *L, int first)
{
    char *line = NULL;
    size_t cap = 0;
    if (isatty(STDIN_FILENO)) { /* prompt from _PROMPT / _PROMPT2 when set, as in lua */
        int unset = lua_getglobal(L, first ? "_PROMPT" : "_PROMPT2") == LUA_TNIL;
        fputs(unset ? (first ? "> " : ">> ") : luaL_tolstring(L, -1, NULL), stdout);
        fflush(stdout);
        lua_pop(L, unset ? 1 : 2);
    }
    errno = 0;
    ssize_t len = getline(&line, &cap, stdin);
    if (len < 0) {
        free(line);
        if (errno != EINTR) return 0;
        clearerr(stdin); /* the read was cut short, not the input ended */
        return LINE_INTERRUPTED;
    }
    if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
    if (first && line[0] == '=') lua_pushfstring(L, "return %s", line + 1);
    else lua_pushlstring(L, line, (size_t)len);
    free(line);
    return 1;
}

/* REPL: tries the line on top of the stack as "return <line>;". On success leaves only the
 * compiled chunk above the line; on failure leaves the stack as it was. */
static int try_return(lua_State *L)
{
    const char *code = lua_pushfstring(L, "return %s;", lua_tostring(L, -1));
    int status = luaL_loadbuffer(L, code, strlen(code), "=stdin");
    if (status == LUA_OK) lua_remove(L, -2);
    else lua_pop(L, 2);
    return status;
}

/* REPL: compiles the line as a statement, reading more lines while the chunk is incomplete
 * (a syntax error at "<eof>"); LINE_INTERRUPTED when Ctrl-C came while reading one. */
static int try_statement(lua_State *L)
{
    for (;;) {
        size_t len;
        const char *code = lua_tolstring(L, 1, &len);
        int status = luaL_loadbuffer(L, code, len, "=stdin");
        if (status != LUA_ERRSYNTAX) return status;
        const char *msg = lua_tolstring(L, -1, &len);
        if (len < 5 || strcmp(msg + len - 5, "<eof>") != 0) return status;
        lua_pop(L, 1);
        int got = push_line(L, 0);
        if (got == LINE_INTERRUPTED) return got;
        if (!got) { /* input ended inside a statement: report that error */
            return luaL_loadbuffer(L, lua_tostring(L, 1), lua_rawlen(L, 1), "=stdin");
        }
        lua_pushliteral(L, "\n");
        lua_insert(L, -2);
        lua_concat(L, 3); /* line .. "\n" .. next line, at index 1 */
    }
}

/* REPL: reads and compiles one input; leaves the chunk (or error message) alone on the stack.
 * Returns its status, -1 at end of input, or LINE_INTERRUPTED (the stack emptied). */
static int load_line(lua_State *L)
{
    lua_settop(L, 0);
    int got = push_line(L, 1);
    if (got <= 0) return got == LINE_INTERRUPTED ? got : -1;
    int status = try_return(L);
    if (status != LUA_OK) status = try_statement(L);
    if (status == LINE_INTERRUPTED) lua_settop(L, 0);
    else lua_remove(L, 1); /* the source text */
    return status;
}

/* REPL: prints the values on the stack with the global `print`. */
static void print_results(lua_State *L)
{
    int n = lua_gettop(L);
    if (n == 0) return;
    luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
    lua_getglobal(L, "print");
    lua_insert(L, 1);
    if (lua_pcall(L, n, 0, 0) != LUA_OK)
        l_message(PROGNAME, lua_pushfstring(L, "error calling 'print' (%s)", lua_tostring(L, -1)));
}

/* The read-eval-print loop: a line that is an expression prints its values. Ctrl-C while a line
 * runs raises "interrupted" in it (printed with its traceback); while reading, it drops the input
 * so far and prints a newline and a fresh prompt. */
static void repl(lua_State *L)
{
    int status;
    while ((status = load_line(L)) != -1) {
        if (status == LINE_INTERRUPTED) {
            fputs("\n", stdout);
            fflush(stdout);
        } else {
            if (status == LUA_OK) status = docall(L, 0, LUA_MULTRET);
            if (status == LUA_OK) print_results(L);
            else {
                l_message(NULL, lua_tostring(L, -1));
                lua_pop(L, 1);
            }
        }
        clear_interrupt(L); /* one that came after the line's last instruction: it is done */
    }
    lua_settop(L, 0);
    if (isatty(STDIN_FILENO)) fputs("\n", stdout);
    fflush(stdout);
}

/* Everything the host does, in protected mode; returns true when it all succeeded. */
/* --trace: starts recording (start) or stops, writes FILE and FILE's .svg, and prints the
 * summary to stderr (stop). Returns the status of the Lua code doing it. */
static int trace_step(lua_State *L, const char *file, int start)
{
    static const char *const code[] = {
        "require('dagl.core').trace_start()",
        "local json = ...; local svg = json:gsub('%.json$', '') .. '.svg'\n"
        "local st = require('dagl.core').trace_stop{json = json, svg = svg}\n"
        "io.stderr:write(st.summary, 'trace: ', json, ' and ', svg, '\\n')",
    };
    int status = luaL_loadbuffer(L, code[start ? 0 : 1], strlen(code[start ? 0 : 1]), "=(--trace)");
    if (status == LUA_OK) {
        lua_pushstring(L, file);
        status = docall(L, 1, 0);
    }
    return report(L, status);
}

/* Everything pmain runs after set-up; 0 on error. */
static int run_all(lua_State *L, int argc, char **argv, options *o)
{
    if (o->version || o->interactive) print_version(o, o->version >= 2);
    if (!o->no_env && handle_init(L) != LUA_OK) return 0;
    if (!run_args(L, argv, o->script ? o->script : argc)) return 0;
    if (o->script && handle_script(L, argv + o->script) != LUA_OK) return 0;
    if (o->interactive) repl(L);
    else if (o->script == 0 && !o->has_e && !o->version) {
        if (isatty(STDIN_FILENO)) {
            print_version(o, 0);
            repl(L);
        } else if (dofile(L, NULL) != LUA_OK) return 0;
    }
    return 1;
}

/* Runs under lua_pcall, as lua.c's pmain does, so errors while setting up are reported: options,
 * libraries and dagl, then run_all inside the optional --trace; pushes whether all went well. */
static int pmain(lua_State *L)
{
    int argc = (int)lua_tointeger(L, 1);
    char **argv = (char **)lua_touserdata(L, 2);
    options o;
    luaL_checkversion(L);
    if (!collect_args(argc, argv, &o)) return 0;
    if (o.no_env) {
        lua_pushboolean(L, 1); /* tells package to ignore LUA_PATH and LUA_CPATH */
        lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
    }
    luaL_openlibs(L);
    setup_dagl(L, &o);
    create_arg_table(L, argc, argv, o.script);
    lua_gc(L, LUA_GCRESTART);
    lua_gc(L, LUA_GCGEN, 0, 0);
    if (o.trace && trace_step(L, o.trace, 1) != LUA_OK) return 0;
    int ok = run_all(L, argc, argv, &o);
    /* the trace is written even when the script failed: that is when it helps most */
    if (o.trace && trace_step(L, o.trace, 0) != LUA_OK) ok = 0;
    lua_pushboolean(L, ok);
    return 1;
}

/* Creates the state, runs pmain under lua_pcall, and turns the outcome into the exit status. */
int main(int argc, char **argv)
{
    dagl_host_pool pool;
    lua_State *L = dagl_host_newstate(&pool);
    if (L == NULL) {
        l_message(PROGNAME, "cannot create state: not enough memory");
        return EXIT_FAILURE;
    }
    lua_gc(L, LUA_GCSTOP); /* no collection while the libraries load */
    install_sigint(L);
    lua_pushcfunction(L, pmain);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    int status = lua_pcall(L, 2, 1, 0);
    int ok = lua_toboolean(L, -1);
    report(L, status);
    atomic_store(&interrupted_L, NULL); /* no hook on a closing state */
    lua_close(L);
    dagl_host_pool_drain(&pool);
    return (status == LUA_OK && ok) ? EXIT_SUCCESS : EXIT_FAILURE;
}
